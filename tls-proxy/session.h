/*
 * session.h — the private LIO objects behind each anonymous connection.
 *
 * Private means private: every Normal-session connection to an anonymous target
 * (blank, image.<name>) gets its own copy-on-write disk, whatever the initiator says
 * about itself. The InitiatorName a client sends is not an identity (defaults are
 * shared by every libiscsi, QEMU or cloned Pi image; names travel in clear), so the
 * portal gives each connection a fresh initiator identity for LIO,
 * SESSION_ANON_PREFIX + 32 hex digits from getrandom (128 bits), rewrites the relayed
 * Login Request to carry it (login_rewrite_initiator) and provisions for that name
 * only: user backstore "sp" + the first 16 hex digits of SHA-256(LIO name "\n"
 * TargetName), its overlay <state>/overlays/<name>.ovl and bitmap
 * <state>/overlays/<name>.bitmap, a TPG LUN of the target linked to it, and an
 * explicit ACL for the LIO name mapping LUN 0 to that TPG LUN
 * (../shared/lio-tcmu-facts.md §4). LIO's I_T nexus is (InitiatorName, ISID), so a
 * second connection can neither share the disk nor reinstate (end) another
 * connection's session, whatever name, letter case or ISID it sends.
 *
 * A session lives exactly as long as its connection: session_release tears it down
 * (ACL, LUN, backstore, then the overlay and bitmap unless keep_overlays). Kept
 * overlays are never handed to another connection: names are never reused, and a
 * name whose files exist is not used. One mutex in the manager serialises the table
 * and every cfs call (struct cfs is not thread-safe); provisioning may block while the
 * TCMU handler answers `enable`.
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
/* The per-connection initiator names given to LIO: prefix + 32 lowercase hex digits. */
#define SESSION_ANON_PREFIX "iqn.2025-01.pub.scsipub:anon."
#define SESSION_ANON_NAME_LEN (sizeof(SESSION_ANON_PREFIX) - 1 + 32)

/* The backstore name for (initiator, target) into out. 0, or -EIO if hashing failed. */
int session_name(const char *initiator, const char *target, char out[SESSION_NAME_LEN + 1]);

struct session_cfg {
	struct cfs *cfs;          /* used under the manager's mutex only; not owned */
	const char *state_dir;    /* overlays go to <state_dir>/overlays */
	const char *lio_portal;   /* LIO's network portal, "A.B.C.D:PORT" */
	uint64_t write_limit;     /* bytes the overlay may allocate (whole filesystem blocks,
				     counted by the handler), 0 = unlimited */
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
 * A fresh LIO initiator name (SESSION_ANON_PREFIX + 128 random bits in hex) into out.
 * 0, or -errno when getrandom fails.
 */
int session_anon_name(char out[SESSION_ANON_NAME_LEN + 1]);

/*
 * Make the private session of one connection on target t (from the catalog):
 * client_initiator is the name the client sent, kept for logs only. Picks a fresh
 * LIO name (session_anon_name; again while its overlay files exist), ensures the
 * target with its portal at lio_portal, creates the backstore (dev_config from
 * cow_config_format: size t->size_bytes, base t->path, limit write_limit), adds a
 * TPG LUN, maps it as LUN 0 in the LIO name's ACL and sets its NOP-In keepalive
 * (when nopin_interval is set). On failure everything created is rolled back and a
 * reason is left in err. Returns 0 with *out (owned by the manager until
 * session_release), or a negative errno.
 */
int session_acquire(struct session_mgr *m, const char *client_initiator,
		    const struct catalog_entry *t, const char *peer, struct session **out,
		    char *err, size_t errlen);
/* The connection ended: tear the session down (NULL is ignored). */
void session_release(struct session_mgr *m, struct session *s, const char *peer);

/* The backstore name of a session (valid until session_release). */
const char *session_backstore(const struct session *s);
/* The initiator name LIO knows the session by (valid until session_release). */
const char *session_lio_initiator(const struct session *s);
/* Number of live sessions. */
size_t session_count(struct session_mgr *m);

/*
 * Delete every regular file in <state_dir>/overlays (leftovers of a previous run),
 * creating the directory (0700) if missing. Returns the number deleted, or -errno.
 */
int session_clean_overlays(const char *state_dir);

#endif
