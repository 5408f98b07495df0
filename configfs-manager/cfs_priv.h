/*
 * cfs_priv.h — internals shared by the configfs manager's modules.
 *
 * Every path below is relative to the manager's root (c->root, e.g.
 * /sys/kernel/config/target) and given as a printf format plus arguments. Two modes:
 *  - real configfs (statfs f_type == CONFIGFS_MAGIC): the kernel creates default
 *    groups (attrib/, lun/, wwn/ ...) and attribute files itself; attribute files are
 *    never created and objects are removed with rmdir alone;
 *  - plain directory (unit tests, or forced): default groups are made by mkdir,
 *    attribute files are created on write, regular files are deleted before rmdir,
 *    and rmdir of a directory that a symlink in the tree points at fails with -EBUSY
 *    as configfs does.
 * Every function returns 0 (or a count) or a negative errno, with the reason in c->err.
 */
#ifndef SCSIPUB_CFS_PRIV_H
#define SCSIPUB_CFS_PRIV_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfs.h"

#define CFS_CONFIGFS_MAGIC 0x62656570
#define CFS_IQN_MAX 223          /* ISCSI_IQN_LEN - 1 */
#define CFS_NAME_MAX 255         /* longest directory name we create */
#define CFS_DEV_CONFIG_MAX 255   /* TCMU_CONFIG_LEN - 1 */
#define CFS_SERIAL_MAX 253       /* INQUIRY_VPD_SERIAL_LEN - 1, kernel needs strlen < 254 */
#define CFS_HBA_INDEX_MAX 1048576u /* rtslib's bound on core/<plugin>_<index> */
#define CFS_ALIAS_LEN 10         /* symlink names, as rtslib's aliases */
#define CFS_TPG_FMT "iscsi/%s/tpgt_1"
#define CFS_LUN_MAX 65535u       /* rtslib/targetcli cap TPG LUNs at 0-65535 */
#define CFS_LUN_PROBES 4u        /* cfs_lun_add_any: mkdirs before it lists lun/ */
#define CFS_HBA_PROBES 4u        /* cfs_backstore_create_new: mkdirs before it lists core/ */
#define CFS_PORTAL_MAX 64        /* "[v6 address]:port" */
#define CFS_ENSURED_MAX 8        /* targets whose last verification is remembered */
/* Small per-device TCMU areas (K:target_core_user.c defaults are 1024 MiB data area
 * and an 8 MiB eagerly vzalloc'd ring; see lio-tcmu-facts.md §1.2 and §4). */
#define CFS_MAX_DATA_AREA_MB 16
#define CFS_CMD_RING_SIZE_MB 1
/* 1 MiB per command (LIO fileio allows 8): advisory for TCMU, the handler reports it
 * as MAXIMUM TRANSFER LENGTH in VPD B0; well inside the 16 MiB data area. */
#define CFS_HW_MAX_SECTORS 2048
#define CFS_RTSLIB_LOCK "/var/run/rtslib_backstore.lock"
#define CFS_PLAIN_LOCK ".backstore.lock"

enum cfs_mode { CFS_MODE_UNKNOWN, CFS_MODE_REAL, CFS_MODE_PLAIN };

/*
 * Where a backstore lives (cfs_backstore.c): core/<hba>/<name>. Learnt when this
 * context creates or finds a backstore, dropped when it removes one or finds the entry
 * wrong. sole: this context made the HBA for it, so the HBA holds that device only.
 */
struct cfs_hint {
	char name[CFS_NAME_MAX + 1];
	char hba[32];
	bool sole;
};

struct cfs {
	char root[PATH_MAX];     /* absolute, no trailing slash */
	enum cfs_mode mode;
	int err_hold;            /* > 0: keep the current reason (rollback in progress) */
	char err[1024];
	struct cfs_hint *hints;  /* backstore locations, unordered */
	size_t n_hints, cap_hints;
	/* Targets cfs_target_ensure* verified lately (cfs_target.c), oldest replaced. */
	struct cfs_ensured {
		char iqn[CFS_IQN_MAX + 1];
		char portal[CFS_PORTAL_MAX + 1];
		const void *attrs;       /* which ensure (its attribute table) */
		int64_t at_ms;           /* monotime_ms of the verification */
	} ensured[CFS_ENSURED_MAX];
	unsigned ensure_ttl_ms;  /* cfs_set_ensure_ttl_ms; 0 = verify every time */
	uint64_t lun_next;       /* cfs_lun_add_any: the LUN number it tries first */
	uint64_t hba_next;       /* cfs_backstore_create_new: the HBA index it tries first */
};

/* Default groups the kernel makes under an object (made by mkdir in plain mode). */
extern const char *const cfs_tpg_groups[];
extern const char *const cfs_acl_groups[];
extern const char *const cfs_dev_groups[];
extern const char *const cfs_no_groups[];

/* ---- cfs_core.c: object, reasons, names ---- */

/* Record reason (printf) unless err_hold; returns err (a negative errno). */
int cfs_fail(struct cfs *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Decide the mode on first use: statfs(root); -ENOENT etc. when root is missing. */
int cfs_ready(struct cfs *c);
/* True in plain-directory mode. */
bool cfs_plain(const struct cfs *c);
/*
 * Check a name used as one path component: non-empty, at most max bytes, no '/',
 * no control characters, not "." or "..". -EINVAL / -ENAMETOOLONG with a reason
 * naming `what`.
 */
int cfs_check_name(struct cfs *c, const char *what, const char *s, size_t max);
/* Format a path relative to the root into buf; -ENAMETOOLONG with a reason. */
int cfs_rel(struct cfs *c, char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Absolute path root/rel into buf (PATH_MAX); -ENAMETOOLONG with a reason. */
int cfs_abs(struct cfs *c, char *buf, const char *rel);
/* A stable 10-hex-digit link name derived from s (out: CFS_ALIAS_LEN + 1 bytes). */
void cfs_alias(const char *s, char *out);
/* Parse "<prefix><decimal>" strictly (no sign, no junk); 0 or -EINVAL. */
int cfs_parse_index(const char *name, const char *prefix, uint64_t *n);
/* True for an HBA directory name "<plugin>_<index>" (user_0, fileio_3, rd_mcp_1). */
bool cfs_hba_index(const char *name, uint64_t *index);
/* True when name starts with prefix. */
bool cfs_has_prefix(const char *name, const char *prefix);

/* ---- cfs_tpg.c: finding a TPG ---- */
/*
 * The TPG dir of target iqn (CFS_TPG_FMT) into tpg (PATH_MAX bytes), after checking
 * the IQN as a name. must_exist: -ENOENT with a reason when the TPG is missing.
 */
int cfs_tpg_path(struct cfs *c, const char *iqn, bool must_exist, char *tpg);
/* (cfs_lun.c) cfs_list_lun_backstores for the TPG dir tpg (relative, as cfs_tpg_path gives it). */
int cfs_tpg_lun_backstores(struct cfs *c, const char *tpg, cfs_lun_cb cb, void *arg);

/* ---- cfs_fs.c: filesystem operations ---- */

/* True when the relative path is a directory (no reason recorded). */
bool cfs_is_dir(struct cfs *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* mkdir one level; EEXIST is success; *created (may be NULL) says whether it was made. */
int cfs_mkdir(struct cfs *c, bool *created, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* mkdir every missing component below the root; *created: the last one was made. */
int cfs_mkdir_p(struct cfs *c, bool *created, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* In plain mode, mkdir the default groups under rel; nothing in real configfs. */
int cfs_make_groups(struct cfs *c, const char *rel, const char *const *groups);
/* Write val to an attribute in ONE write(); plain mode creates the file (and a missing
 * default-group parent, one level). */
int cfs_write(struct cfs *c, const char *val, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Read an attribute (trailing whitespace stripped) into buf of len bytes. */
int cfs_read(struct cfs *c, char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The longest attribute text cfs_ensure() compares, in bytes (longer: written). */
#define CFS_ENSURE_READ_MAX 511
/*
 * Write val to an attribute unless it already reads val (trailing whitespace
 * stripped), with one open for both (configfs text attributes take a write as the
 * whole value). Not readable: written as cfs_write() does. 0, or -errno with a reason
 * naming the path.
 */
int cfs_ensure(struct cfs *c, const char *val, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/*
 * Read the attribute rel as it is, NULs included (dynamic_sessions holds them), into
 * buf: at most len bytes, *got of them read (no terminator added). 0, or -errno of
 * open/read with a reason naming the path.
 */
int cfs_read_raw(struct cfs *c, const char *rel, char *buf, size_t len, size_t *got);
/*
 * Remove the object directory rel: missing is success; plain mode first deletes
 * regular files in it and in its default groups (and those groups). -EBUSY (a link
 * points at it) and -ENOTEMPTY (children left) come with a reason naming the path.
 */
int cfs_rmdir_obj(struct cfs *c, const char *rel, const char *const *groups);
/* Create symlink `link_rel` -> absolute root/target_rel. */
int cfs_symlink(struct cfs *c, const char *target_rel, const char *link_rel);
/* Unlink every symlink in directory rel (missing dir or links are success). */
int cfs_unlink_links(struct cfs *c, const char *rel);
/*
 * The last two components of the first symlink's target in directory rel, e.g.
 * "user_0" and "sp1" for a LUN, "lun" and "lun_3" for a mapped LUN. -ENOENT if the
 * directory holds no symlink.
 */
int cfs_link_tail(struct cfs *c, const char *rel, char *parent, size_t plen,
		  char *leaf, size_t llen);

/* ---- cfs_dir.c: directory listings ---- */

enum cfs_kind { CFS_DIRS, CFS_LINKS };

/* Entries of the given kind in rel (missing dir = empty list) into out (struct
 * cfs_names of cfs.h, overwritten), sorted in version order (lun_2 before lun_10);
 * caller frees with cfs_names_free. */
int cfs_list(struct cfs *c, struct cfs_names *out, enum cfs_kind kind, const char *rel);
/* qsort comparator for char * arrays: version order (strverscmp). */
int cfs_names_cmp(const void *a, const void *b);
/* Target IQN directories under iscsi/ (skipping discovery_auth). */
int cfs_list_target_dirs(struct cfs *c, struct cfs_names *out);
/* HBA directories under core/ ("<plugin>_<index>"); user_only keeps user_* only. */
int cfs_list_hbas(struct cfs *c, struct cfs_names *out, bool user_only);
/* The same in readdir's order, for lookups that need no order: sorting in version
 * order took longer than the listing itself with a thousand HBAs under TCG. */
int cfs_scan_hbas(struct cfs *c, struct cfs_names *out, bool user_only);
/* Indexes of the "<prefix><N>" directories in rel, sorted ascending; caller frees. */
int cfs_list_indexes(struct cfs *c, const char *rel, const char *prefix,
		     uint64_t **out, size_t *n);
/* The same from names already listed (a listing serving more than one question). */
int cfs_names_indexes(struct cfs *c, const struct cfs_names *names, const char *prefix,
		      uint64_t **out, size_t *n);
/* Lowest index not in the sorted array idx[n]. */
uint64_t cfs_lowest_free(const uint64_t *idx, size_t n);
/* The index after k, or 0 once k is last (the largest index allowed): where the
 * *_any / *_new probes try next. */
uint64_t cfs_index_after(uint64_t k, uint64_t last);

/*
 * How to claim a free "<prefix>N" directory (cfs_claim_index): the probes' next index
 * and its bound, and the caller's listing, mkdir and refusal.
 */
struct cfs_claim {
	uint64_t *next;   /* where the probes start; moved past each index they try */
	uint64_t last;    /* the largest index allowed */
	unsigned probes;  /* mkdirs at *next, one index after another, before any listing */
	/* The indexes taken, sorted ascending, in *idx (freed by cfs_claim_index), or
	 * -errno with a reason. */
	int (*list)(struct cfs *c, void *arg, uint64_t **idx, size_t *n);
	/* mkdir index k: 0 with *made, 0 without it when k exists, or -errno. */
	int (*make)(struct cfs *c, void *arg, uint64_t k, bool *made);
	/* The reason when no index up to last is free (cfs_fail, -ENOSPC). */
	int (*full)(struct cfs *c, void *arg);
	void *arg;
};
/*
 * Make the directory of a free index: up to w->probes mkdirs from *w->next on (no
 * listing while they find one free); otherwise one listing, then the lowest index not
 * in it, skipping any made in between, and *w->next past the highest listed. The index
 * made in *out. 0, or the -errno of list, make or full.
 */
int cfs_claim_index(struct cfs *c, const struct cfs_claim *w, uint64_t *out);

/* ---- cfs_backstore.c, cfs_lun.c, cfs_acl.c: internals for sweep and ls ---- */

/*
 * Find backstore `name`: its HBA dir (e.g. "user_0") in hba (hlen bytes); user_only as
 * above. Looks where c last saw it first (struct cfs_hint: one stat), else into every
 * HBA but those c made for another device. -ENOENT when not found, -ENAMETOOLONG.
 */
int cfs_backstore_find(struct cfs *c, const char *name, bool user_only,
		       char *hba, size_t hlen);
/* Remove TPG LUN lun_N under the TPG dir tpg (its link, then the dir). */
int cfs_lun_remove_at(struct cfs *c, const char *tpg, uint64_t lun);
/* Remove one mapped LUN dir (its links, then the dir) of ACL dir acl. */
int cfs_mapped_remove_at(struct cfs *c, const char *acl, const char *mapped);
/* Remove ACL `initiator` under the TPG dir tpg, mapped LUNs first. */
int cfs_acl_remove_at(struct cfs *c, const char *tpg, const char *initiator);

#endif
