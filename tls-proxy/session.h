/*
 * session.h — per-(initiator, target) LIO objects behind each normal session.
 *
 * A session is one COW device for one initiator on one target: user backstore
 * "sp" + the first 16 hex digits of SHA-256(InitiatorName "\n" TargetName) (so the
 * same pair always maps to the same name, and a crashed portal's leftovers can be
 * swept by prefix), its overlay <state>/overlays/<name>.ovl and bitmap
 * <state>/overlays/<name>.bitmap, a TPG LUN of the target linked to it, and an
 * explicit ACL for the initiator mapping LUN 0 to that TPG LUN
 * (../shared/lio-tcmu-facts.md §4: explicit ACLs give each initiator its own LUN 0).
 *
 * The manager keeps a table of live sessions keyed by backstore name with a
 * reference count: each connection acquires, a second connection of the same
 * initiator to the same target shares the session, and the last release tears it
 * down (ACL, LUN, backstore, then the overlay and bitmap unless keep_overlays).
 * One mutex in the manager serialises the table and every cfs call (struct cfs is
 * not thread-safe); provisioning may block while the TCMU handler answers `enable`.
 */
#ifndef SCSIPUB_SESSION_H
#define SCSIPUB_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"

struct cfs;

#define SESSION_NAME_PREFIX "sp"
#define SESSION_NAME_LEN 18          /* "sp" + 16 hex digits */
#define SESSION_OVERLAY_SUBDIR "overlays"

/* The backstore name for (initiator, target) into out. 0, or -EIO if hashing failed. */
int session_name(const char *initiator, const char *target, char out[SESSION_NAME_LEN + 1]);

struct session_cfg {
	struct cfs *cfs;          /* used under the manager's mutex only; not owned */
	const char *state_dir;    /* overlays go to <state_dir>/overlays */
	const char *lio_portal;   /* LIO's network portal, "A.B.C.D:PORT" */
	uint64_t write_limit;     /* bytes of overlay data per session, 0 = unlimited */
	bool keep_overlays;       /* keep overlay + bitmap at teardown and creation */
	/* NOP-In keepalive of each session's ACL (cfs_acl_set_nopin), seconds, 3..60;
	 * nopin_interval 0 leaves LIO's defaults. */
	unsigned nopin_interval, nopin_timeout;
};

struct session_mgr;
struct session;

/* A manager (copies cfg's strings). NULL + errno on failure. */
struct session_mgr *session_mgr_new(const struct session_cfg *cfg);
/* Tear down every remaining session (as the last release would), then free. */
void session_mgr_free(struct session_mgr *m);

/*
 * Get the session of initiator on target t (from the catalog), provisioning it on
 * first use: remove leftover overlay files (unless keep_overlays), ensure the target
 * with its portal at lio_portal, create the backstore (dev_config from
 * cow_config_format: size t->size_bytes, base t->path, limit write_limit), add a TPG
 * LUN, map it as LUN 0 in the initiator's ACL and set its NOP-In keepalive (when
 * nopin_interval is set). On failure everything created is rolled back and a reason
 * is left in err. Returns 0 with *out, or a negative errno.
 */
int session_acquire(struct session_mgr *m, const char *initiator,
		    const struct catalog_entry *t, const char *peer, struct session **out,
		    char *err, size_t errlen);
/* Drop one reference; the last one tears the session down. */
void session_release(struct session_mgr *m, struct session *s, const char *peer);

/* The backstore name of a session (valid while referenced). */
const char *session_backstore(const struct session *s);
/* Number of live sessions. */
size_t session_count(struct session_mgr *m);

/*
 * Delete every regular file in <state_dir>/overlays (leftovers of a previous run),
 * creating the directory (0700) if missing. Returns the number deleted, or -errno.
 */
int session_clean_overlays(const char *state_dir);

#endif
