/*
 * anon.h — the private LIO objects behind each anonymous connection (provisioning
 * policy for the anonymous tier; owned by scsipub-cfgd, cfgd.h).
 *
 * Private means private: every Normal-session connection to an anonymous target
 * (blank, image.<name>) gets its own copy-on-write disk, whatever the initiator says
 * about itself. The InitiatorName a client sends is not an identity (defaults are
 * shared by every libiscsi, QEMU or cloned Pi image; names travel in clear), so each
 * connection gets a fresh initiator identity for LIO, ANON_PREFIX + 32 hex digits from
 * getrandom (128 bits), which the portal writes into the relayed Login Request, and
 * objects for that name only: user backstore "sp" + the first 16 hex digits of
 * SHA-256(LIO name "\n" TargetName), its overlay <state>/overlays/<name>.ovl and bitmap
 * <state>/overlays/<name>.bitmap, a TPG LUN of the target linked to it, and an
 * explicit ACL for the LIO name mapping LUN 0 to that TPG LUN
 * (../shared/lio-tcmu-facts.md §4). LIO's I_T nexus is (InitiatorName, ISID), so a
 * second connection can neither share the disk nor reinstate (end) another
 * connection's session, whatever name, letter case or ISID it sends.
 *
 * Kept overlays (keep_overlays) are never handed to another connection: names are
 * never reused, and a name whose files exist is not used.
 *
 * Locking: anon_create and anon_destroy hold flock(<state>/configfs.lock) (prov_lock)
 * for their configfs sequence. struct cfs is not thread-safe: callers serialise use of
 * one struct cfs. Errors: negative errno, with a one-line reason in err.
 */
#ifndef SCSIPUB_ANON_H
#define SCSIPUB_ANON_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "statelayout.h"

struct cfs;

#define ANON_BACKSTORE_PREFIX "sp"
#define ANON_BACKSTORE_LEN 18        /* "sp" + 16 hex digits */
#define ANON_OVERLAY_SUBDIR STATE_OVERLAYS
/* The per-connection initiator names given to LIO: prefix + 32 lowercase hex digits. */
#define ANON_PREFIX "iqn.2025-01.pub.scsipub:anon."
#define ANON_NAME_LEN (sizeof(ANON_PREFIX) - 1 + 32)

struct anon_cfg {
	const char *state_dir;    /* overlays go to <state_dir>/overlays */
	const char *lio_portal;   /* LIO's network portal, "A.B.C.D:PORT" */
	uint64_t write_limit;     /* bytes the overlay may allocate (whole filesystem blocks,
				     counted by the handler), 0 = unlimited */
	bool keep_overlays;       /* keep overlay + bitmap at teardown and creation */
	/* NOP-In keepalive of each session's ACL (cfs_acl_set_nopin), seconds, 3..60;
	 * nopin_interval 0 leaves LIO's defaults. */
	unsigned nopin_interval, nopin_timeout;
};

/* One anonymous session: what anon_create made, what anon_destroy removes. */
struct anon_session {
	char backstore[ANON_BACKSTORE_LEN + 1];
	char initiator[ANON_NAME_LEN + 1];        /* the LIO name (ACL) */
	char target[CATALOG_IQN_MAX + 1];
	char overlay[PATH_MAX];
	char bitmap[PATH_MAX];
	uint64_t lun;                             /* TPG LUN number */
	uint64_t size_bytes;
};

/* The backstore name for (initiator, target) into out. 0, or -EIO if hashing failed. */
int anon_backstore_name(const char *initiator, const char *target,
			char out[ANON_BACKSTORE_LEN + 1]);

/* A fresh LIO initiator name (ANON_PREFIX + 128 random bits in hex) into out.
 * 0, or -errno when getrandom fails. */
int anon_initiator_name(char out[ANON_NAME_LEN + 1]);

/*
 * Make the private session of one connection on catalog entry t: a fresh LIO name
 * (again while its overlay files exist), the target with its portal at
 * cfg->lio_portal, the backstore (cowstore_create: size t->size_bytes, base t->path,
 * limit cfg->write_limit), a TPG LUN, LUN 0 of the LIO name's ACL mapped to it and its
 * NOP-In keepalive. On failure everything created is rolled back. 0 with *out filled,
 * or -errno with a reason in err.
 */
int anon_create(struct cfs *c, const struct anon_cfg *cfg, const struct catalog_entry *t,
		struct anon_session *out, char *err, size_t errlen);

/* Remove what exists of s: ACL, LUN, backstore, then overlay and bitmap unless
 * cfg->keep_overlays. Failures are logged and the rest is still removed. */
void anon_destroy(struct cfs *c, const struct anon_cfg *cfg, const struct anon_session *s);

/*
 * Remove every ACL named ANON_PREFIX* from the anonymous targets (blank, image.<name>):
 * what a crash, or a targetcli saveconfig restored at boot by rtslib-fb-targetctl,
 * left behind without its session (docs/targetcli.md). Run at the daemon's start,
 * before any session exists. *removed gets the count. 0 or the first -errno.
 */
int anon_sweep_acls(struct cfs *c, unsigned *removed);

/*
 * Delete every regular file in <state_dir>/overlays (leftovers of a previous run),
 * creating the directory (0700) if missing. Returns the number deleted, or -errno.
 */
int anon_clean_overlays(const char *state_dir);

#endif
