/*
 * anon.h — the LIO objects behind each anonymous connection (provisioning policy for
 * the anonymous tier; owned by scsipub-cfgd, cfgd.h). Which anonymous targets exist
 * and what their LUNs export is common/anontarget.h.
 *
 * Private means private: every Normal-session connection to a private anonymous
 * target (blank, image.<name>, multi) gets its own copy-on-write disks, whatever the
 * initiator says about itself. The InitiatorName a client sends is not an identity
 * (defaults are shared by every libiscsi, QEMU or cloned Pi image; names travel in
 * clear), so each connection gets a fresh initiator identity for LIO, ANON_PREFIX +
 * 32 hex digits from getrandom (128 bits), which the portal writes into the relayed
 * Login Request, and objects for that name only: per LUN i a user backstore "sp" +
 * the first 16 hex digits of SHA-256(LIO name "\n" TargetName) (LUN 0) or of
 * SHA-256(LIO name "\n" TargetName "\n" i) (LUN i > 0), its overlay
 * <state>/overlays/<backstore>.ovl and bitmap <state>/overlays/<backstore>.bitmap and
 * a TPG LUN of the target linked to it, and an explicit ACL for the LIO name mapping
 * LUN i to LUN i's TPG LUN (../shared/lio-tcmu-facts.md §4). LIO's I_T nexus is
 * (InitiatorName, ISID), so a second connection can neither share the disks nor
 * reinstate (end) another connection's session, whatever name, letter case or ISID
 * it sends.
 *
 * Shared read-only exports (ro.<name>): one backstore "spro" + 16 hex digits of
 * SHA-256("ro\n" TargetName) over the catalog image, with one TPG LUN, serves every
 * session of the export; its target has prod_mode_write_protect=1
 * (cfs_target_ensure_ro). Each session still gets its own LIO name and its own ACL
 * (its I_T nexus; removing the ACL ends exactly that session) whose LUN 0 maps the
 * shared TPG LUN with write_protect=1 (read back before the session is handed out),
 * so LIO answers every write DATA PROTECT / WRITE PROTECTED (27/00) before the
 * handler sees it. The backstore's overlay and bitmap files exist because the
 * handler's dev_config needs them (tcmu-handler/cow_config.h), but nothing is ever
 * written to the overlay: its write limit is 1 byte, so even a write that reached the
 * handler would get the same sense (cow.h: -EDQUOT before any byte lands). The
 * shared objects are made by the first session of an export and counted per session
 * (struct anon_exports); the last session's teardown removes the TPG LUN, the
 * backstore and its files, so an idle export costs nothing (no ring, no descriptors)
 * and a new first session starts from the catalog image as it is then. Per session
 * an export costs one ACL and one mapped LUN, no backstore and no descriptor in the
 * handler, which scales to thousands of sessions.
 *
 * Accounts' private images (p.<account>.<name>, anontarget_resolve_account) are
 * provisioned like image.<name>, one private COW LUN per connection over the image
 * file, in a target made by cfs_target_ensure_auth (authentication=1); the session's
 * ACL carries the account's one-way CHAP (cfs_acl_set_chap) before it is handed out,
 * so LIO checks the credentials on the login the portal relays. The target goes with
 * its last session (nothing is left of a deleted image).
 *
 * Session handle: struct anon_session.backstore is "sp" + the LUN-0 hash above for
 * every kind; for private targets it is also LUN 0's backstore name, for a shared
 * export just the session's key (scsipub-cfgd's protocol calls it "backstore").
 *
 * Kept overlays (keep_overlays) are never handed to another connection: names are
 * never reused, and a name whose files exist is not used.
 *
 * Locking: anon_create and anon_destroy hold flock(<state>/configfs.lock) (prov_lock)
 * for their configfs sequence. struct cfs and struct anon_exports are not
 * thread-safe: callers serialise their use (scsipub-cfgd: one mutex). Errors:
 * negative errno, with a one-line reason in err.
 */
#ifndef SCSIPUB_ANON_H
#define SCSIPUB_ANON_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "anontarget.h"
#include "catalog.h"
#include "statelayout.h"

struct cfs;

#define ANON_BACKSTORE_PREFIX "sp"
#define ANON_BACKSTORE_LEN 18        /* "sp" + 16 hex digits */
#define ANON_SHARED_PREFIX "spro"    /* shared read-only exports (also "sp*") */
#define ANON_SHARED_LEN 20           /* "spro" + 16 hex digits */
#define ANON_OVERLAY_SUBDIR STATE_OVERLAYS
/* The per-connection initiator names given to LIO: prefix + 32 lowercase hex digits. */
#define ANON_PREFIX "iqn.2025-01.pub.scsipub:anon."
#define ANON_NAME_LEN (sizeof(ANON_PREFIX) - 1 + 32)

struct anon_cfg {
	const char *state_dir;    /* overlays go to <state_dir>/overlays */
	const char *lio_portal;   /* LIO's network portal, "A.B.C.D:PORT" */
	uint64_t write_limit;     /* bytes each private overlay may allocate (whole
				     filesystem blocks, counted by the handler), 0 = unlimited */
	bool keep_overlays;       /* keep overlay + bitmap at teardown and creation */
	/* NOP-In keepalive of each session's ACL (cfs_acl_set_nopin), seconds, 3..60;
	 * nopin_interval 0 leaves LIO's defaults. */
	unsigned nopin_interval, nopin_timeout;
};

/* One LUN of a session. */
struct anon_lun {
	char backstore[ANON_SHARED_LEN + 1];      /* its backstore (shared: the export's) */
	uint64_t lun;                             /* TPG LUN number */
	uint64_t size_bytes;
};

/* One anonymous session: what anon_create made, what anon_destroy removes. */
struct anon_session {
	char backstore[ANON_BACKSTORE_LEN + 1];   /* the session's handle (see above) */
	char initiator[ANON_NAME_LEN + 1];        /* the LIO name (ACL) */
	char target[CATALOG_IQN_MAX + 1];
	enum anontarget_kind kind;
	struct anon_lun luns[ANONTARGET_LUNS_MAX]; /* mapped LUN i = luns[i] */
	unsigned n_luns;
};

/* The shared read-only exports in use and their session counts (anon_exports_new). */
struct anon_exports;

/* An empty table (caller frees with anon_exports_free), or NULL when out of memory. */
struct anon_exports *anon_exports_new(void);
/* Free the table (not the LIO objects: destroy the sessions first). NULL is fine. */
void anon_exports_free(struct anon_exports *ex);
/* Sessions of shared export target now (0 when it has no LIO objects). */
unsigned anon_exports_sessions(const struct anon_exports *ex, const char *target);

/* The backstore name for (initiator, target) into out. 0, or -EIO if hashing failed. */
int anon_backstore_name(const char *initiator, const char *target,
			char out[ANON_BACKSTORE_LEN + 1]);

/* A fresh LIO initiator name (ANON_PREFIX + 128 random bits in hex) into out.
 * 0, or -errno when getrandom fails. */
int anon_initiator_name(char out[ANON_NAME_LEN + 1]);

/*
 * Make the session of one connection on anonymous target t (anontarget_resolve, or
 * anontarget_resolve_account for an account's image): a fresh LIO name (again while
 * its overlay files exist) and the target with its portal at cfg->lio_portal, then
 *  - private kinds and an account's image: per LUN i the backstore (cowstore_create:
 *    size, base t->lun[i], limit cfg->write_limit) and a TPG LUN, mapped as the
 *    ACL's LUN i;
 *  - shared read-only: the export's backstore and TPG LUN unless ex holds them
 *    already, mapped as the ACL's LUN 0 with write_protect=1, and ex's count + 1;
 * then, for an account's image, the ACL's CHAP (t->chap_user, t->chap_secret: -EINVAL
 * before anything is made when they are not valid), then the ACL's NOP-In keepalive.
 * On failure everything this call created is rolled back. 0 with *out filled, or
 * -errno with a reason in err (-EINVAL for a shared target without ex, or a target
 * without LUNs).
 */
int anon_create(struct cfs *c, const struct anon_cfg *cfg, struct anon_exports *ex,
		const struct anontarget *t, struct anon_session *out, char *err, size_t errlen);

/* Remove what exists of s: its ACL, then private LUNs with their backstores, overlays
 * and bitmaps (unless cfg->keep_overlays), or for a shared export ex's count - 1 and,
 * at 0, its TPG LUN, backstore and files. Failures are logged and the rest is still
 * removed. */
void anon_destroy(struct cfs *c, const struct anon_cfg *cfg, struct anon_exports *ex,
		  const struct anon_session *s);

/*
 * Remove every ACL named ANON_PREFIX* from the anonymous targets (anontarget_kind):
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
