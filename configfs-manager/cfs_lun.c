/*
 * cfs_lun.c — TPG LUNs: tpgt_1/lun/lun_N holding one symlink to core/user_K/<dev>
 * (lio-tcmu-facts.md §3.1). The kernel only accepts the link once the device is
 * enabled (K:target_fabric_port_link, -ENODEV).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfs_priv.h"

/*
 * Link the TPG LUN lunrel (just made by the caller) to the backstore devrel (both
 * relative to the configfs root); when the link fails, remove lunrel again and
 * return the link's error.
 */
static int link_dev(struct cfs *c, const char *lunrel, const char *devrel)
{
	char link[PATH_MAX], alias[CFS_ALIAS_LEN + 1];
	int r;

	cfs_alias(devrel, alias);
	r = cfs_rel(c, link, sizeof(link), "%s/%s", lunrel, alias);
	if (!r)
		r = cfs_symlink(c, devrel, link);
	if (r) {
		c->err_hold++;
		cfs_rmdir_obj(c, lunrel, cfs_no_groups);
		c->err_hold--;
	}
	return r;
}

/* Make lun_<k> in tpg: 0 with *made (false: it exists) and the path in lunrel. */
static int lun_mkdir(struct cfs *c, const char *tpg, uint64_t k, char *lunrel, size_t len,
		     bool *made)
{
	int r = cfs_rel(c, lunrel, len, "%s/lun/lun_%" PRIu64, tpg, k);

	return r ? r : cfs_mkdir(c, made, "%s", lunrel);
}

/* A TPG LUN to claim (struct cfs_claim): lun_N of tpg, its path into lunrel. */
struct lun_claim {
	const char *iqn, *tpg;
	char *lunrel;
	size_t len;
};

static int lun_list(struct cfs *c, void *arg, uint64_t **idx, size_t *n)
{
	const struct lun_claim *a = arg;
	char rel[PATH_MAX];
	int r = cfs_rel(c, rel, sizeof(rel), "%s/lun", a->tpg);

	return r ? r : cfs_list_indexes(c, rel, "lun_", idx, n);
}

static int lun_make(struct cfs *c, void *arg, uint64_t k, bool *made)
{
	const struct lun_claim *a = arg;

	return lun_mkdir(c, a->tpg, k, a->lunrel, a->len, made);
}

static int lun_full(struct cfs *c, void *arg)
{
	const struct lun_claim *a = arg;

	return cfs_fail(c, -ENOSPC, "target %s has no free LUN number (0-%u)", a->iqn,
			CFS_LUN_MAX);
}

/*
 * Add a LUN to tpg: any free number (cfs_lun_add_any) tries c->lun_next and the few
 * after it, one mkdir each; otherwise, and when those were taken, the lowest free
 * number from a listing of lun/, after which c->lun_next points past the highest.
 */
static int lun_add(struct cfs *c, const char *iqn, const char *backstore, bool any,
		   uint64_t *lun)
{
	char tpg[PATH_MAX], lunrel[PATH_MAX], devrel[PATH_MAX], hba[CFS_NAME_MAX + 1];
	struct lun_claim a = { .iqn = iqn, .tpg = tpg, .lunrel = lunrel,
			       .len = sizeof(lunrel) };
	const struct cfs_claim w = { .next = &c->lun_next, .last = CFS_LUN_MAX,
				     .probes = any ? CFS_LUN_PROBES : 0, .list = lun_list,
				     .make = lun_make, .full = lun_full, .arg = &a };
	int r;

	r = cfs_tpg_path(c, iqn, true, tpg);
	if (!r)
		r = cfs_check_name(c, "backstore name", backstore, CFS_NAME_MAX);
	if (!r)
		r = cfs_backstore_find(c, backstore, true, hba, sizeof(hba));
	if (!r)
		r = cfs_rel(c, devrel, sizeof(devrel), "core/%s/%s", hba, backstore);
	if (!r)
		r = cfs_claim_index(c, &w, lun);
	return r ? r : link_dev(c, lunrel, devrel);
}

int cfs_lun_add(struct cfs *c, const char *iqn, const char *backstore, uint64_t *lun)
{
	return lun_add(c, iqn, backstore, false, lun);
}

int cfs_lun_add_any(struct cfs *c, const char *iqn, const char *backstore, uint64_t *lun)
{
	return lun_add(c, iqn, backstore, true, lun);
}

/* -EBUSY when a mapped LUN of any ACL of tpg links to lun_<lun> (checked before the
 * LUN's own link goes, so a refused removal changes nothing). */
static int lun_mapped(struct cfs *c, const char *tpg, uint64_t lun)
{
	struct cfs_names acls, mapped;
	char rel[PATH_MAX], want[32], parent[CFS_NAME_MAX + 1], leaf[CFS_NAME_MAX + 1];
	size_t i, j;
	int r, busy = 0;

	snprintf(want, sizeof(want), "lun_%" PRIu64, lun);
	r = cfs_rel(c, rel, sizeof(rel), "%s/acls", tpg);
	if (!r)
		r = cfs_list(c, &acls, CFS_DIRS, rel);
	if (r)
		return r;
	for (i = 0; !r && !busy && i < acls.n; i++) {
		mapped = (struct cfs_names){ 0 };
		r = cfs_rel(c, rel, sizeof(rel), "%s/acls/%s", tpg, acls.v[i]);
		if (!r)
			r = cfs_list(c, &mapped, CFS_DIRS, rel);
		for (j = 0; !r && !busy && j < mapped.n; j++) {
			char m[PATH_MAX];
			uint64_t ml;

			if (cfs_parse_index(mapped.v[j], "lun_", &ml))
				continue;
			if (cfs_rel(c, m, sizeof(m), "%s/%s", rel, mapped.v[j]))
				continue;
			c->err_hold++;
			if (cfs_link_tail(c, m, parent, sizeof(parent), leaf, sizeof(leaf)) == 0 &&
			    !strcmp(parent, "lun") && !strcmp(leaf, want))
				busy = 1;
			c->err_hold--;
			if (busy)
				r = cfs_fail(c, -EBUSY, "TPG LUN %s/%s/lun/%s is still mapped by "
					     "ACL %s as %s", c->root, tpg, want, acls.v[i],
					     mapped.v[j]);
		}
		cfs_names_free(&mapped);
	}
	cfs_names_free(&acls);
	return r;
}

/* Remove tpg's lun_<lun>; first -EBUSY if an ACL maps it, when check_mapped. */
static int lun_remove_at(struct cfs *c, const char *tpg, uint64_t lun, bool check_mapped)
{
	char rel[PATH_MAX];
	int r;

	r = cfs_rel(c, rel, sizeof(rel), "%s/lun/lun_%" PRIu64, tpg, lun);
	if (r)
		return r;
	if (!cfs_is_dir(c, "%s", rel))
		return 0;
	r = check_mapped ? lun_mapped(c, tpg, lun) : 0;
	/* Unlinking the backstore waits for the LUN's in-flight I/O (transport_clear_lun_ref). */
	if (!r)
		r = cfs_unlink_links(c, rel);
	if (!r)
		r = cfs_rmdir_obj(c, rel, cfs_no_groups);
	return r;
}

int cfs_lun_remove_at(struct cfs *c, const char *tpg, uint64_t lun)
{
	return lun_remove_at(c, tpg, lun, true);
}

/* lun_remove_at in tpgt_1 of target iqn. */
static int lun_remove(struct cfs *c, const char *iqn, uint64_t lun, bool check_mapped)
{
	char tpg[PATH_MAX];
	int r = cfs_tpg_path(c, iqn, false, tpg);

	return r ? r : lun_remove_at(c, tpg, lun, check_mapped);
}

int cfs_lun_remove(struct cfs *c, const char *iqn, uint64_t lun)
{
	return lun_remove(c, iqn, lun, true);
}

int cfs_lun_remove_unmapped(struct cfs *c, const char *iqn, uint64_t lun)
{
	return lun_remove(c, iqn, lun, false);
}

int cfs_lun_add_at(struct cfs *c, const char *iqn, const char *backstore, uint64_t lun)
{
	char tpg[PATH_MAX], lunrel[PATH_MAX], devrel[PATH_MAX], hba[CFS_NAME_MAX + 1];
	char parent[CFS_NAME_MAX + 1], leaf[CFS_NAME_MAX + 1];
	bool made = false;
	int r;

	r = cfs_tpg_path(c, iqn, true, tpg);
	if (!r)
		r = cfs_check_name(c, "backstore name", backstore, CFS_NAME_MAX);
	if (!r && lun > CFS_LUN_MAX)
		r = cfs_fail(c, -EINVAL, "LUN %" PRIu64 " is out of range (0-%u)", lun,
			     CFS_LUN_MAX);
	if (!r)
		r = cfs_backstore_find(c, backstore, true, hba, sizeof(hba));
	if (!r)
		r = cfs_rel(c, devrel, sizeof(devrel), "core/%s/%s", hba, backstore);
	if (!r)
		r = cfs_rel(c, lunrel, sizeof(lunrel), "%s/lun/lun_%" PRIu64, tpg, lun);
	if (!r)
		r = cfs_mkdir(c, &made, "%s", lunrel);
	if (r)
		return r;
	if (!made) {
		c->err_hold++;
		r = cfs_link_tail(c, lunrel, parent, sizeof(parent), leaf, sizeof(leaf));
		c->err_hold--;
		if (r == 0 && !strcmp(parent, hba) && !strcmp(leaf, backstore))
			return 0;
		if (r == 0)
			return cfs_fail(c, -EEXIST, "TPG LUN %s/%s is linked to %s/%s, not %s",
					c->root, lunrel, parent, leaf, backstore);
		return cfs_fail(c, -EEXIST, "TPG LUN %s/%s exists without a backstore link",
				c->root, lunrel);
	}
	return link_dev(c, lunrel, devrel);
}

int cfs_tpg_lun_backstores(struct cfs *c, const char *tpg, cfs_lun_cb cb, void *arg)
{
	struct cfs_names luns;
	char rel[PATH_MAX], lun[PATH_MAX], hba[CFS_NAME_MAX + 1], dev[CFS_NAME_MAX + 1];
	bool stop = false;
	uint64_t n;
	int r;

	r = cfs_rel(c, rel, sizeof(rel), "%s/lun", tpg);
	if (!r)
		r = cfs_list(c, &luns, CFS_DIRS, rel);
	if (r)
		return r;
	for (size_t i = 0; !stop && i < luns.n; i++) {
		int linked;

		if (cfs_parse_index(luns.v[i], "lun_", &n) ||
		    cfs_rel(c, lun, sizeof(lun), "%s/%s", rel, luns.v[i]))
			continue;
		c->err_hold++;  /* a LUN without a link is no error here */
		linked = cfs_link_tail(c, lun, hba, sizeof(hba), dev, sizeof(dev)) == 0;
		c->err_hold--;
		if (linked)
			stop = cb(arg, n, hba, dev) != 0;
	}
	cfs_names_free(&luns);
	return 0;
}

int cfs_list_lun_backstores(struct cfs *c, const char *iqn, cfs_lun_cb cb, void *arg)
{
	char tpg[PATH_MAX];
	int r = cfs_tpg_path(c, iqn, false, tpg);

	return r ? r : cfs_tpg_lun_backstores(c, tpg, cb, arg);
}
