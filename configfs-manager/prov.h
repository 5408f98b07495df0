/*
 * prov.h — provisioned targets (issue 3, docs/provisioned.md): one iSCSI target
 * iqn.2025-01.pub.scsipub:s.<id> per API session, in demo mode with one-way CHAP,
 * with one COW user backstore pv<id>l<i> per image as TPG LUN i.
 *
 * Layout owned by this module (nothing else touches "pv*" objects):
 *  - configfs: iscsi/<iqn>/tpgt_1 (np at the LIO loopback portal, demo-mode attributes,
 *    auth/userid + auth/password), lun/lun_<i> -> core/user_K/pv<id>l<i>;
 *  - files: <state>/sessions/<id>/lun<i>.ovl and lun<i>.bitmap (the overlays, kept
 *    across prov_session_create calls so a persistent session survives restarts).
 *
 * Locking: every function here that changes configfs holds
 * flock(<state>/configfs.lock, LOCK_EX) for its duration, the same lock the portal
 * takes around its own provisioning (prov_lock). flock locks belong to the open file,
 * so a process must NOT hold prov_lock() while calling these (it would deadlock on
 * itself). struct cfs is not thread-safe: callers serialise use of one struct cfs
 * (one mutex), or give each thread its own.
 *
 * Link with libcfs.a and libtcmuh.a (cow_config_format) and `pkg-config --libs
 * libkmod`. All functions return 0 (or a count) or a negative errno; with an err
 * buffer, a one-line reason is left there (NUL-terminated, truncated to errlen).
 */
#ifndef SCSIPUB_PROV_H
#define SCSIPUB_PROV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "statelayout.h"

struct cfs;
struct cfs_names;

#define PROV_IQN_PREFIX "iqn.2025-01.pub.scsipub:s."
#define PROV_ID_MAX 32           /* session id: [a-z0-9]{1,32} */
#define PROV_LUNS_MAX 256        /* LUNs per session */
#define PROV_BACKSTORE_PREFIX "pv"
#define PROV_SESSIONS_SUBDIR STATE_SESSIONS
#define PROV_LOCK_FILE STATE_CONFIGFS_LOCK
/* Buffer for prov_target_iqn: prefix + id + NUL. */
#define PROV_IQN_LEN (sizeof(PROV_IQN_PREFIX) + PROV_ID_MAX)

struct aptpl_state;

struct prov_lun {
	const char *base_path;   /* read-only base image; NULL = blank disk */
	uint64_t size_bytes;     /* device size in bytes, multiple of 512, > 0 */
	/* Persistent Reservation state to put back when this call creates the target
	 * (restore after a restart or reboot; aptpl.h), or NULL. Not owned. */
	const struct aptpl_state *pr;
};

/*
 * PRgeneration restore (issue 4): the kernel restarts a device's PRgeneration at 0 and
 * counts one per restored registration, so a restore first activates
 * (generation - registrations) placeholder registrations of this initiator on an
 * explicit ACL and removes that ACL again (its registrations go without a generation
 * bump). At most PROV_PR_PAD_MAX placeholders per session, given to its LUNs in
 * order (each is one configfs write, and the kernel holds them all until the ACL
 * goes: ~10 s and ~40 MiB for 65536 under TCG), so a generation past that restores
 * lower than it was.
 */
#define PROV_PR_PAD_INITIATOR "iqn.2025-01.pub.scsipub:pr-generation"
#define PROV_PR_PAD_MAX 65536

struct prov_session {
	const char *id;                /* [a-z0-9]{1,32} */
	const char *chap_user;         /* see cfs_target_ensure_demo for the charset */
	const char *chap_secret;       /* 12..255 printable ASCII, no spaces */
	const struct prov_lun *luns;   /* LUN i = luns[i] */
	unsigned n_luns;               /* 1..PROV_LUNS_MAX */
	uint64_t write_limit_bytes;    /* per LUN, bytes of overlay data; 0 = none */
};

/* The PRgeneration placeholders LUN `lun` of s gets (above): its generation minus its
 * registrations, within what the LUNs before it left of PROV_PR_PAD_MAX. */
unsigned prov_pr_pad_count(const struct prov_session *s, unsigned lun);

/*
 * Create (or complete) session s: the overlay dir <state_dir>/sessions/<id> (0700),
 * for each LUN i a backstore pv<id>l<i> whose dev_config (cow_config_format) names
 * overlay lun<i>.ovl, bitmap lun<i>.bitmap, the base image and the write limit
 * (existing overlay files are kept: their data survives), the target
 * prov_target_iqn(id) via cfs_target_ensure_demo with its portal at lio_portal
 * ("127.0.0.1:3262") and CHAP, and TPG LUN i -> backstore i (cfs_lun_add_at).
 * Every backstore this call creates gets attrib/force_pr_aptpl=1 before its LUN is
 * linked, so LIO's PR emulation writes each PR change to <db_root>/pr/aptpl_<backstore
 * name> (the unit serial), which pr-store captures. When this call creates the target
 * and luns[i].pr holds state, that state is restored before any login is possible:
 * each registration is queued in pr/res_aptpl_metadata (cfs_pr_preload), the LUNs are
 * linked, PRgeneration is padded (PROV_PR_PAD_INITIATOR), and every registered
 * initiator gets an explicit ACL with all the session's LUNs mapped (mapped LUN i ->
 * TPG LUN i, as demo mode maps them) and the session's CHAP credentials, which makes
 * its registrations and the reservation live at once (lio-tcmu-facts.md §2). A
 * backstore that exists while the target does not is re-created for such a restore.
 * Idempotent: pieces that exist are kept, missing ones are made (used to restore
 * sessions at restart). On failure, what this call created is removed again (target
 * or LUNs, backstores, new overlay files and dir) and a reason is left in err.
 * -EINVAL for a bad id, LUN count, size, or CHAP credentials; -ENAMETOOLONG when
 * a dev_config would exceed 255 characters (keep state_dir and base paths short).
 */
int prov_session_create(struct cfs *c, const char *state_dir, const char *lio_portal,
			const struct prov_session *s, char *err, size_t errlen);

/*
 * Destroy session id: the target (disabling the TPG ends its LIO sessions), every
 * backstore pv<id>l<N>, its APTPL file <db_root>/pr/aptpl_pv<id>l<N>, and the
 * directory <state_dir>/sessions/<id> with its files.
 * Idempotent: what is gone already counts as removed. 0 or -errno (continues past
 * failures and returns the first).
 */
int prov_session_destroy(struct cfs *c, const char *state_dir, const char *id, char *err,
			 size_t errlen);

/*
 * Number of initiators logged in to session id's target right now (entries of
 * tpgt_1/dynamic_sessions; one per I_T nexus), or -ENOENT when the target is
 * missing, -EINVAL for a bad id, or another -errno. Takes no lock (read only).
 */
int prov_session_connections(struct cfs *c, const char *id);

/*
 * Successful logins to session id's target since it was created: LIO's per-target
 * counter iscsi/<iqn>/fabric_statistics/iscsi_login_stats/accepts (RFC 4544
 * iscsiTgtLoginAccepts), into *accepts. It only grows, so a watcher polling
 * dynamic_sessions can tell that a connection came and went between two polls.
 * 0, -ENOENT when the target or the counter is missing (a plain test tree),
 * -EINVAL for a bad id or an unreadable value. Takes no lock (read only).
 */
int prov_session_logins(struct cfs *c, const char *id, uint64_t *accepts);

/*
 * Bytes the overlays of session id allocate on disk (st_blocks of
 * <state_dir>/sessions/<id>/lun*.ovl, in bytes); 0 for a bad id or a missing
 * directory. Takes no lock (read only).
 */
uint64_t prov_session_written(const char *state_dir, const char *id);

/*
 * Callback for prov_janitor: 1 when session id is live or suspended (keep it), 0 when
 * unknown (remove it), negative on error (keep it: the janitor never removes what it
 * cannot prove unknown).
 */
typedef int (*prov_known_fn)(void *arg, const char *id);

/*
 * Remove every provisioned session whose id known() calls unknown: targets named
 * PROV_IQN_PREFIX<id>, backstores pv<id>l<N> and directories <state_dir>/sessions/<id>
 * (each found independently, so half-made leftovers go too) via prov_session_destroy.
 * Objects not matching those patterns (anonymous "sp*" sessions, targetcli's) are
 * never touched. *removed (may be NULL) gets the number of session ids removed.
 * Continues past failures and returns the first.
 */
int prov_janitor(struct cfs *c, const char *state_dir, prov_known_fn known, void *arg,
		 unsigned *removed, char *err, size_t errlen);

/*
 * The ids of every provisioned session found in configfs (targets, backstores) or as
 * <state_dir>/sessions/<id>, sorted (strcmp) and without repeats, appended to *ids (a
 * zeroed list; the caller frees it with cfs_names_free, also after an error). Takes
 * the configfs lock. 0 or -errno with a reason.
 */
int prov_session_ids(struct cfs *c, const char *state_dir, struct cfs_names *ids, char *err,
		     size_t errlen);

/*
 * The target IQN of session id into buf (len bytes, PROV_IQN_LEN is enough).
 * Returns buf, or NULL for a bad id or a short buffer.
 */
const char *prov_target_iqn(const char *id, char *buf, size_t len);

/*
 * Split a backstore name "pv<id>l<N>" into the session id (id: PROV_ID_MAX + 1 bytes)
 * and LUN N (lun may be NULL). The id may itself hold 'l' and digits, so the separator
 * is the last 'l'. false for any other name.
 */
bool prov_parse_backstore(const char *name, char *id, uint64_t *lun);

/* 1 when id matches [a-z0-9]{1,32}, else 0. */
int prov_id_valid(const char *id);

/*
 * Take flock(<state_dir>/configfs.lock, LOCK_EX), creating the file (0600) if missing,
 * waiting as long as another process holds it. Returns the lock's fd (>= 0; release
 * with prov_unlock) or -errno. Used by the portal around its configfs changes.
 */
int prov_lock(const char *state_dir);
/* Release a lock from prov_lock (closes fd; fd < 0 is ignored). */
void prov_unlock(int fd);

#endif
