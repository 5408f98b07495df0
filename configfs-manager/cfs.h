/*
 * cfs.h — LIO configfs manager: targets, TPGs, portals, user (TCMU) backstores, LUNs
 * and per-initiator ACLs under /sys/kernel/config/target.
 *
 * All functions are idempotent where the name says ensure/remove: creating what
 * exists, or removing what is gone, succeeds. Teardown follows the order configfs
 * forces (see ../shared/lio-tcmu-facts.md §3.1): mapped-LUN links, ACL lun_M dirs,
 * ACLs, LUN->backstore links, lun_N dirs, network portals, TPG, target; backstore
 * dir, then core/user_N.
 *
 * The root may be a plain temporary directory (unit tests): then attribute files are
 * created on write and regular files are deleted before rmdir. Every function returns
 * 0 or a negative errno, with a one-line human-readable reason available from
 * cfs_error(). A struct cfs is not thread-safe; callers serialise (one mutex).
 */
#ifndef SCSIPUB_CFS_H
#define SCSIPUB_CFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CFS_DEFAULT_ROOT "/sys/kernel/config/target"

struct cfs;

/* Open a manager on root (NULL = CFS_DEFAULT_ROOT). Caller owns; NULL + errno on error. */
struct cfs *cfs_open(const char *root);
void cfs_close(struct cfs *c);
/* The reason for the last failure (owned by c; valid until the next call). */
const char *cfs_error(const struct cfs *c);

/*
 * Load configfs, target_core_mod, target_core_user, iscsi_target_mod,
 * crc32c_generic and tls (kernel TLS for the portal; best effort for the last two)
 * with libkmod, mount configfs on
 * /sys/kernel/config if needed and create /etc/target/pr (LIO writes APTPL files
 * there). Returns 0 or -errno with a reason in err.
 */
int cfs_load_modules(char *err, size_t errlen);

/*
 * Ensure target `iqn` with tpgt_1, a network portal at `portal` ("A.B.C.D:PORT" or
 * "[v6]:PORT"), TPG attributes for explicit ACLs (generate_node_acls=0,
 * demo_mode_discovery=0, authentication=0, cache_dynamic_acls=0,
 * demo_mode_write_protect=1, prod_mode_write_protect=0), TPG parameters
 * HeaderDigest=DataDigest="CRC32C,None" (RFC 7143 §13.1: digests offered, not forced)
 * and enable=1.
 */
int cfs_target_ensure(struct cfs *c, const char *iqn, const char *portal);
/*
 * A target that cfs_target_ensure (or _ro, _auth) fully verified less than
 * CFS_ENSURE_TTL_MS ago through this struct cfs, with the same portal, is taken as
 * it is if its TPG directory still exists (one stat instead of about 60 system
 * calls: a burst of sessions on one target verifies it once a second). A
 * verification with other settings (another portal, or _ro after the plain one), a
 * failed one and cfs_target_remove forget it. cfs_set_ensure_ttl_ms changes the
 * interval; 0 verifies every call.
 */
#define CFS_ENSURE_TTL_MS 1000
void cfs_set_ensure_ttl_ms(struct cfs *c, unsigned ttl_ms);
/*
 * cfs_target_ensure for a read-only export: the same, but prod_mode_write_protect=1,
 * so every mapped LUN of an explicit ACL is read-only from the moment it is linked
 * (K:target_fabric_mappedlun_link); LIO then refuses commands that carry data to the
 * device (WRITE, WRITE SAME, UNMAP, COMPARE AND WRITE...) with DATA PROTECT / WRITE
 * PROTECTED, 27/00 (SPC-4 §4.5.6, K:target_core_device.c
 * transport_lookup_cmd_lun). An existing target's attribute is rewritten.
 */
int cfs_target_ensure_ro(struct cfs *c, const char *iqn, const char *portal);
/*
 * cfs_target_ensure for an account's private image (anon.h): the same, but
 * authentication=1, so every login must pass CHAP (RFC 7143 §12.1.3) with the
 * credentials of its explicit ACL (cfs_acl_set_chap); an ACL without them lets nobody
 * in. An existing target's attribute is rewritten.
 */
int cfs_target_ensure_auth(struct cfs *c, const char *iqn, const char *portal);
/* Remove the target and everything under it, in configfs order. */
int cfs_target_remove(struct cfs *c, const char *iqn);

/*
 * The write cache of every user backstore we make (attrib/emulate_write_cache, which
 * scsipub-tcmu reports as WCE in the caching mode page, SBC-3 §6.4.5): 1 = writes
 * complete in the overlay's page cache and SYNCHRONIZE CACHE / FUA make them durable
 * (Linux initiators then send both on fsync); 0 = write-through, every write durable
 * before GOOD. Chosen by measurement (tests/lab/bench-wce.sh, README "Write
 * caching"); either value is honest, the handler does what the bit says.
 */
#define CFS_WRITE_CACHE 1

/*
 * Create user backstore `name` in its own HBA core/user_N (lowest free N, as rtslib
 * does, so targetcli coexists): write control
 * "dev_size=<size_bytes>,dev_config=<dev_config>,hw_block_size=512,
 *  hw_max_sectors=2048,max_data_area_mb=<small>,cmd_ring_size_mb=<small>,
 *  nl_reply_supported=-1", set wwn/vpd_unit_serial = serial (NULL = name),
 * attrib/emulate_write_cache = CFS_WRITE_CACHE, attrib/alua_support = 0 (the kernel's
 * ALUA off; a kernel without the attribute keeps it), then enable=1.
 * nl_reply_supported=-1 opts the device out of netlink replies: enable never waits
 * for (or fails on) any TCMU daemon's ADDED_DEVICE answer, so a running tcmu-runner
 * cannot refuse it (README "Coexistence with tcmu-runner"). A config the
 * handler refuses therefore shows at the first SCSI command, not at enable. Size in
 * BYTES.
 */
int cfs_backstore_create(struct cfs *c, const char *name, uint64_t size_bytes,
			 const char *dev_config, const char *serial);
/*
 * cfs_backstore_create for a name the caller made unique itself (anon.c: a random
 * session name whose overlay files it found absent): no listing of core/ looks for
 * the name in other HBAs, and the HBA is any free user_N, tried first after the last
 * one this context made (one mkdir each, a few at most) before cfs_backstore_create's
 * listing and lowest free N. Same arguments, units and errors.
 */
int cfs_backstore_create_new(struct cfs *c, const char *name, uint64_t size_bytes,
			     const char *dev_config, const char *serial);
/* Remove backstore `name` (wherever its user_N is) and its HBA dir. */
int cfs_backstore_remove(struct cfs *c, const char *name);
/* Find backstore `name`: 0 and its configfs path in path, or -ENOENT. */
int cfs_backstore_path(struct cfs *c, const char *name, char *path, size_t pathlen);

/* Add a TPG LUN (lowest free lun_N of tpgt_1) linked to backstore `name`; N in *lun. */
int cfs_lun_add(struct cfs *c, const char *iqn, const char *backstore, uint64_t *lun);
/*
 * The same with any free lun_N, for a TPG whose LUN numbers no initiator sees (every
 * initiator has an ACL mapping its own LUN numbers to them): it tries the number
 * after the last one this context gave (one mkdir, no listing of lun/; a few more
 * when taken) and falls back to cfs_lun_add's lowest free. Errors as cfs_lun_add.
 */
int cfs_lun_add_any(struct cfs *c, const char *iqn, const char *backstore, uint64_t *lun);
/* Remove TPG LUN N of tpgt_1 (its link, then the dir); -EBUSY, nothing changed, while
 * a mapped LUN of any ACL links to it (a look at every ACL: O(ACLs)). 0 when absent. */
int cfs_lun_remove(struct cfs *c, const char *iqn, uint64_t lun);
/* cfs_lun_remove without the look at the ACLs, for a caller that has just removed the
 * only ACL mapping it (an anonymous session's private LUN, anon.h): O(1) whatever the
 * number of sessions. Were one still mapped, LIO would drop that mapping with it. */
int cfs_lun_remove_unmapped(struct cfs *c, const char *iqn, uint64_t lun);

/*
 * Ensure ACL `initiator` in tpgt_1 with mapped LUN `mapped_lun` -> TPG lun `tpg_lun`.
 * The TPG LUN must exist (-ENOENT). If the mapped LUN already points at another TPG
 * LUN, its link is replaced (the initiator's sessions then see the new device).
 */
int cfs_acl_map(struct cfs *c, const char *iqn, const char *initiator,
		uint64_t mapped_lun, uint64_t tpg_lun);
/*
 * Set write_protect of mapped LUN `mapped_lun` of ACL `initiator` in iqn/tpgt_1 (LIO's
 * per-ACL lun attribute acls/<initiator>/lun_M/write_protect; takes effect on the
 * next command) and read it back: 0 when it reads "1" (on) or "0" (off) as asked,
 * -EIO when it does not, -ENOENT when the mapped LUN does not exist.
 */
int cfs_acl_set_write_protect(struct cfs *c, const char *iqn, const char *initiator,
			      uint64_t mapped_lun, int on);
/* Remove ACL `initiator` (mapped LUN links and dirs first). Ends its LIO sessions. */
int cfs_acl_remove(struct cfs *c, const char *iqn, const char *initiator);

/*
 * NOP-In keepalive of explicit ACL `initiator` of iqn/tpgt_1 (issue 4): LIO sends a
 * NOP-In after interval_s seconds without traffic on a connection and drops the
 * connection when no NOP-Out answers it within timeout_s seconds, so a half-open
 * session dies after about interval_s + timeout_s. Writes attrib/nopin_timeout =
 * interval_s and attrib/nopin_response_timeout = timeout_s (values that already match
 * are not rewritten). LIO accepts CFS_NOPIN_MIN_S..CFS_NOPIN_MAX_S for both
 * (K:iscsi/iscsi_target_nodeattrib.c; nopin_timeout 0 switches NOP-Ins off, which
 * this call does not offer): -EINVAL outside; -ENOENT when the ACL does not exist.
 * Demo-mode dynamic ACLs have no configfs directory: LIO gives them its compiled-in
 * 15 s / 30 s (K:iscsit_set_default_node_attribues), which no attribute changes.
 */
#define CFS_NOPIN_MIN_S 3
#define CFS_NOPIN_MAX_S 60
#define CFS_NOPIN_INTERVAL_S 5   /* default interval, seconds */
#define CFS_NOPIN_TIMEOUT_S 5    /* default response timeout, seconds */
int cfs_acl_set_nopin(struct cfs *c, const char *iqn, const char *initiator,
		      unsigned interval_s, unsigned timeout_s);

/*
 * Callback for cfs_list_*: return 0 to continue, non-zero to stop (the list call then
 * still returns 0). Names are sorted in version order; the string is valid during
 * the call only.
 */
typedef int (*cfs_name_cb)(const char *name, void *arg);
/* Every user backstore name (across all user_N). */
int cfs_list_backstores(struct cfs *c, cfs_name_cb cb, void *arg);
/* Every ACL initiator IQN of target iqn/tpgt_1 (-ENOENT when the TPG is missing). */
int cfs_list_acls(struct cfs *c, const char *iqn, cfs_name_cb cb, void *arg);
/*
 * Callback for cfs_list_lun_backstores: TPG LUN lun links backstore core/<hba>/<dev>.
 * Return 0 to continue, non-zero to stop (the list call then still returns 0). The
 * strings are valid during the call only.
 */
typedef int (*cfs_lun_cb)(void *arg, uint64_t lun, const char *hba, const char *dev);
/*
 * Every TPG LUN lun_N of target iqn/tpgt_1 that links a backstore, in LUN order
 * (a lun_N without a link is skipped; a missing target, TPG or lun/ lists nothing).
 * Only reads configfs: no privilege needed. Returns 0, or -errno with a reason (a bad
 * IQN, configfs unreadable).
 */
int cfs_list_lun_backstores(struct cfs *c, const char *iqn, cfs_lun_cb cb, void *arg);

/*
 * Additions to the contract above.
 */

/*
 * Treat the root as a plain directory even if it is configfs (unit tests): attribute
 * files are created on write, default groups are made by mkdir, regular files are
 * deleted before rmdir, and the backstore index lock is <root>/.backstore.lock instead
 * of /var/run/rtslib_backstore.lock. Without this call the mode is chosen on first use
 * by statfs(root) (configfs magic -> real configfs, anything else -> plain).
 */
void cfs_force_plain(struct cfs *c);

/* Every target IQN under iscsi/ (0 with no calls when the fabric dir is absent). */
int cfs_list_targets(struct cfs *c, cfs_name_cb cb, void *arg);

/*
 * A list of names (configfs object names, session ids): what cfs_list_* walks found,
 * for callers that act on them after the walk (removing objects while listing them is
 * not safe). Zero-initialise it; free it with cfs_names_free. Entries are malloc'd
 * NUL-terminated copies, in the order added.
 */
struct cfs_names {
	char **v;
	size_t n, cap;
	int err;   /* -ENOMEM once an append failed */
};
/* Append a copy of name; with unique, a name already in the list is not added again
 * (0, linear search: for small lists). 0 or -ENOMEM (list unchanged, l->err set). */
int cfs_names_add(struct cfs_names *l, const char *name, bool unique);
/* cfs_name_cb appending every name to arg (a struct cfs_names *); out of memory
 * stops the walk and sets ->err. */
int cfs_names_collect(const char *name, void *arg);
/* Free the entries; the list is empty and reusable afterwards. NULL is ignored. */
void cfs_names_free(struct cfs_names *l);
/* cfs_name_cb counting the names: *(unsigned *)arg + 1 per call. */
int cfs_names_count(const char *name, void *arg);

/*
 * Remove objects leaked by a crashed portal, in configfs order: in every target's
 * TPGs, each ACL whose mapped LUNs all point at TPG LUNs linked to user backstores
 * named `prefix`* (only those mapped LUNs when the ACL also maps other LUNs), then
 * those TPG LUNs, then every user backstore named `prefix`* with its HBA dir.
 * Targets, ACLs without mapped LUNs and anything linked to other backstores
 * (targetcli's own objects) are left alone. Run it only while no portal is serving.
 * prefix must be non-empty (-EINVAL). Continues past failures and returns the first
 * one; *removed (may be NULL) gets the number of objects removed (mapped LUNs and
 * ACLs, TPG LUNs, backstores).
 */
int cfs_sweep(struct cfs *c, const char *prefix, unsigned *removed);

/*
 * Print a tree of targets (TPGs, portals, LUNs with their backstores, ACLs with their
 * mapped LUNs) and user backstores (HBA, enable, serial) to out. 0 or -errno.
 */
int cfs_ls(struct cfs *c, FILE *out);

/*
 * Provisioned (demo-mode) targets, issue 3 (docs/provisioned.md).
 */

/* CHAP secret bounds for cfs_target_ensure_demo (LIO accepts up to 255 bytes;
 * 12 is the Windows initiator's minimum). */
#define CFS_CHAP_SECRET_MIN 12
#define CFS_CHAP_SECRET_MAX 255
#define CFS_CHAP_USER_MAX 255

/*
 * Ensure target `iqn` with tpgt_1 and a network portal at `portal` as
 * cfs_target_ensure does, but with TPG attributes for demo mode with one-way CHAP
 * (lio-tcmu-facts.md §3.1: tpgt auth/ is used for dynamic ACLs only):
 * generate_node_acls=1, cache_dynamic_acls=1, demo_mode_write_protect=0,
 * prod_mode_write_protect=0, demo_mode_discovery=0, authentication=1,
 * auth/userid=chap_user, auth/password=chap_secret, the digest parameters of
 * cfs_target_ensure, then enable=1.
 * chap_user: 1..CFS_CHAP_USER_MAX printable ASCII without spaces; chap_secret:
 * CFS_CHAP_SECRET_MIN..CFS_CHAP_SECRET_MAX printable ASCII without spaces (-EINVAL
 * with a reason otherwise). Idempotent: only values that differ are written (the
 * kernel rejects enable=1 on an enabled TPG); a changed secret is written in place.
 * A target created by this call is removed again on failure. 0 or -errno.
 */
int cfs_target_ensure_demo(struct cfs *c, const char *iqn, const char *portal,
			   const char *chap_user, const char *chap_secret);

/*
 * Call cb with each initiator IQN listed in iqn/tpgt_1/dynamic_sessions (the
 * demo-mode sessions; entries separated by "\n\0", K:target_show_dynamic_sessions).
 * An empty file makes no calls. -ENOENT with a reason when the TPG is missing.
 * The string is valid during the call only; cb returning non-zero stops the walk
 * (the call still returns 0).
 */
int cfs_target_sessions(struct cfs *c, const char *iqn, cfs_name_cb cb, void *arg);

/*
 * Ensure TPG LUN lun_<lun> of iqn/tpgt_1 linked to user backstore `backstore`
 * (lun 0..65535). Success when it already links to that backstore; -EEXIST with a
 * reason when lun_<lun> exists linked to another backstore (or holds no link);
 * -ENOENT when the TPG or the backstore is missing. A lun dir made by this call is
 * removed again on failure.
 */
int cfs_lun_add_at(struct cfs *c, const char *iqn, const char *backstore, uint64_t lun);

/*
 * Persistent Reservations, issue 4 (docs/persistent-reservations.md; lio-tcmu-facts.md
 * §2). LIO's SPC-4 PR emulation runs in the kernel for TCMU devices (pgr_support=1);
 * these calls only make its state observable and restorable.
 */

/*
 * attrib/force_pr_aptpl=1 on user backstore `backstore`: every PERSISTENT RESERVE OUT
 * that changes state then rewrites <db_root>/pr/aptpl_<unit serial> (the change feed
 * pr-store watches). The kernel accepts it only while the device is not exported (no
 * TPG LUN links it): call between cfs_backstore_create and cfs_lun_add_at. 0 or -errno
 * with a reason.
 */
int cfs_pr_force_aptpl(struct cfs *c, const char *backstore);

/*
 * Queue one registration for restore: write `line` (aptpl_format_reg) to
 * pr/res_aptpl_metadata of `backstore`. The kernel keeps it pending and makes it live
 * (with its reservation, if res_holder=1) when a mapped LUN of the same initiator IQN,
 * target IQN, TPG tag, mapped LUN and TPG LUN appears. Only before the device is
 * exported (else -EINVAL from the kernel). 0 or -errno with a reason.
 */
int cfs_pr_preload(struct cfs *c, const char *backstore, const char *line);

/*
 * PRgeneration of `backstore` (pr/res_pr_generation, printed 0x%08x; SPC-4 §6.16.2)
 * into *gen. 0, -ENOENT when the backstore is missing, -EINVAL for an unreadable value.
 */
int cfs_pr_generation(struct cfs *c, const char *backstore, uint32_t *gen);

/*
 * The target core's db_root (<root>/dbroot; /etc/target or /var/target) into buf of
 * len bytes; the APTPL files are in <db_root>/pr. 0 or -errno with a reason.
 */
int cfs_dbroot(struct cfs *c, char *buf, size_t len);

/*
 * One-way CHAP for explicit ACL `initiator` of iqn/tpgt_1 (acls/<initiator>/auth/userid
 * and password; an explicit ACL in a demo-mode TPG does not use the TPG's auth/). The
 * ACL must exist (-ENOENT). Same charset rules as cfs_target_ensure_demo. 0 or -errno.
 */
int cfs_acl_set_chap(struct cfs *c, const char *iqn, const char *initiator,
		     const char *chap_user, const char *chap_secret);

/*
 * Free the demo-mode (dynamic) node ACL LIO keeps for `initiator` in iqn/tpgt_1, if it
 * carries nothing: LIO makes one per InitiatorName at the first Login PDU, before CHAP,
 * and with generate_node_acls=1 (which forces cache_dynamic_acls=1) keeps it after the
 * login failed or the session ended (lio-tcmu-facts.md §2, §4). Dynamic ACLs have no
 * configfs directory; mkdir acls/<initiator> turns one into an explicit ACL and the
 * rmdir frees it. Nothing is done (returns 0) when the TPG is not in demo mode, an
 * explicit ACL of that name exists, dynamic_sessions lists the name (compared
 * case-blind), or the name holds a PR registration on a device behind one of the
 * TPG's LUNs (registrations live on the ACL and must survive a logout). Pass the name
 * as LIO stores it (it lowercases the InitiatorName of a login). Callers serialise
 * against logins of the same name. 1 when an ACL was removed (or was absent: the
 * mkdir made a fresh one), 0 when left alone, -errno with a reason.
 */
int cfs_acl_sweep_dynamic(struct cfs *c, const char *iqn, const char *initiator);

/*
 * One-way CHAP credentials as LIO takes them: user 1..CFS_CHAP_USER_MAX and secret
 * CFS_CHAP_SECRET_MIN..CFS_CHAP_SECRET_MAX printable ASCII without spaces. 0, or
 * -EINVAL with a reason naming the user or the secret (cfs_core.c).
 */
int cfs_check_chap(struct cfs *c, const char *user, const char *secret);

/*
 * Whether initiator's explicit ACL in iqn/tpgt_1 has a session now: its info attribute
 * reads other than "No active iSCSI Session" (K:lio_target_nacl_info_show). 1, 0, or
 * -errno (-ENOENT: no such ACL). Leaves cfs_error alone on success.
 */
int cfs_acl_logged_in(struct cfs *c, const char *iqn, const char *initiator);

/*
 * Successful logins to target iqn since it was made: LIO's counter
 * iscsi/<iqn>/fabric_statistics/iscsi_login_stats/accepts (RFC 4544
 * iscsiTgtLoginAccepts) into *accepts. 0, -ENOENT (target or counter missing),
 * -EINVAL for an unreadable value.
 */
int cfs_target_login_accepts(struct cfs *c, const char *iqn, uint64_t *accepts);

#endif
