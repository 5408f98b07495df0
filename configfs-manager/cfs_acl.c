/*
 * cfs_acl.c — explicit initiator ACLs and their mapped LUNs:
 * tpgt_1/acls/<initiator>/lun_M holding one symlink to tpgt_1/lun/lun_N
 * (lio-tcmu-facts.md §3.1, §4; K:target_fabric_mappedlun_link). The mapped number M
 * is what the initiator sees; N is the TPG's LUN.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfs_priv.h"

/* Link acl/<mapped>/<alias> -> tpg/lun/<tpglun>. */
static int map_link(struct cfs *c, const char *tpg, const char *mrel, const char *tpglun)
{
	char target[PATH_MAX], link[PATH_MAX], alias[CFS_ALIAS_LEN + 1];
	int r;

	r = cfs_rel(c, target, sizeof(target), "%s/lun/%s", tpg, tpglun);
	if (r)
		return r;
	cfs_alias(target, alias);
	r = cfs_rel(c, link, sizeof(link), "%s/%s", mrel, alias);
	if (!r)
		r = cfs_symlink(c, target, link);
	return r;
}

int cfs_acl_map(struct cfs *c, const char *iqn, const char *initiator,
		uint64_t mapped_lun, uint64_t tpg_lun)
{
	char tpg[PATH_MAX], acl[PATH_MAX], mrel[PATH_MAX], want[32];
	char parent[CFS_NAME_MAX + 1], old[CFS_NAME_MAX + 1];
	bool made_acl = false, made_m = false, had_old = false;
	int r;

	r = cfs_tpg_path(c, iqn, true, tpg);
	if (!r)
		r = cfs_check_name(c, "initiator IQN", initiator, CFS_IQN_MAX);
	if (r)
		return r;
	snprintf(want, sizeof(want), "lun_%" PRIu64, tpg_lun);
	if (!cfs_is_dir(c, "%s/lun/%s", tpg, want))
		return cfs_fail(c, -ENOENT, "TPG LUN %s/%s/lun/%s does not exist", c->root, tpg,
				want);
	r = cfs_rel(c, acl, sizeof(acl), "%s/acls/%s", tpg, initiator);
	if (!r)
		r = cfs_rel(c, mrel, sizeof(mrel), "%s/lun_%" PRIu64, acl, mapped_lun);
	if (!r)
		r = cfs_mkdir(c, &made_acl, "%s", acl);
	if (!r)
		r = cfs_make_groups(c, acl, cfs_acl_groups);
	if (!r)
		r = cfs_mkdir(c, &made_m, "%s", mrel);
	if (r)
		goto undo;
	if (!made_m) {
		c->err_hold++;
		had_old = cfs_link_tail(c, mrel, parent, sizeof(parent), old, sizeof(old)) == 0;
		c->err_hold--;
		if (had_old && !strcmp(parent, "lun") && !strcmp(old, want))
			return 0;
		/* Remap: the kernel drops the old device from the initiator's view
		 * (REPORTED LUNS DATA HAS CHANGED) and the new link adds the new one. */
		r = cfs_unlink_links(c, mrel);
		if (r)
			return r;
	}
	r = map_link(c, tpg, mrel, want);
	if (!r)
		return 0;
undo:
	c->err_hold++;
	if (had_old && !strcmp(parent, "lun"))
		map_link(c, tpg, mrel, old);
	else if (made_m)
		cfs_rmdir_obj(c, mrel, cfs_no_groups);
	if (made_acl)
		cfs_rmdir_obj(c, acl, cfs_acl_groups);
	c->err_hold--;
	return r;
}

int cfs_mapped_remove_at(struct cfs *c, const char *acl, const char *mapped)
{
	char rel[PATH_MAX];
	int r;

	r = cfs_rel(c, rel, sizeof(rel), "%s/%s", acl, mapped);
	if (!r)
		r = cfs_unlink_links(c, rel);
	if (!r)
		r = cfs_rmdir_obj(c, rel, cfs_no_groups);
	return r;
}

int cfs_acl_remove_at(struct cfs *c, const char *tpg, const char *initiator)
{
	struct cfs_names mapped;
	char acl[PATH_MAX];
	size_t i;
	uint64_t m;
	int r;

	r = cfs_rel(c, acl, sizeof(acl), "%s/acls/%s", tpg, initiator);
	if (r)
		return r;
	if (!cfs_is_dir(c, "%s", acl))
		return 0;
	r = cfs_list(c, &mapped, CFS_DIRS, acl);
	if (r)
		return r;
	for (i = 0; !r && i < mapped.n; i++)
		if (cfs_parse_index(mapped.v[i], "lun_", &m) == 0)
			r = cfs_mapped_remove_at(c, acl, mapped.v[i]);
	cfs_names_free(&mapped);
	/* rmdir of the ACL ends its sessions (core_tpg_del_initiator_node_acl, §3.2). */
	if (!r)
		r = cfs_rmdir_obj(c, acl, cfs_acl_groups);
	return r;
}

int cfs_acl_remove(struct cfs *c, const char *iqn, const char *initiator)
{
	char tpg[PATH_MAX];
	int r;

	r = cfs_tpg_path(c, iqn, false, tpg);
	if (!r)
		r = cfs_check_name(c, "initiator IQN", initiator, CFS_IQN_MAX);
	if (r)
		return r;
	return cfs_acl_remove_at(c, tpg, initiator);
}

/* The TPG dir of iqn into tpg (PATH_MAX) when ACL `initiator` exists there; -ENOENT
 * (or a name error) with a reason otherwise. */
static int acl_existing(struct cfs *c, const char *iqn, const char *initiator, char *tpg)
{
	int r = cfs_tpg_path(c, iqn, true, tpg);

	if (!r)
		r = cfs_check_name(c, "initiator IQN", initiator, CFS_IQN_MAX);
	if (!r && !cfs_is_dir(c, "%s/acls/%s", tpg, initiator))
		r = cfs_fail(c, -ENOENT, "ACL %s of %s does not exist", initiator, iqn);
	return r;
}

int cfs_acl_set_chap(struct cfs *c, const char *iqn, const char *initiator,
		     const char *chap_user, const char *chap_secret)
{
	char tpg[PATH_MAX];
	int r = cfs_check_chap(c, chap_user, chap_secret);

	if (!r)
		r = acl_existing(c, iqn, initiator, tpg);
	if (!r)
		r = cfs_write(c, chap_user, "%s/acls/%s/auth/userid", tpg, initiator);
	if (!r)
		r = cfs_write(c, chap_secret, "%s/acls/%s/auth/password", tpg, initiator);
	return r;
}

int cfs_acl_set_nopin(struct cfs *c, const char *iqn, const char *initiator,
		      unsigned interval_s, unsigned timeout_s)
{
	const struct { const char *attr; unsigned val; } set[] = {
		{ "nopin_response_timeout", timeout_s },
		{ "nopin_timeout", interval_s },
	};
	char tpg[PATH_MAX], val[16];
	int r;

	if (interval_s < CFS_NOPIN_MIN_S || interval_s > CFS_NOPIN_MAX_S ||
	    timeout_s < CFS_NOPIN_MIN_S || timeout_s > CFS_NOPIN_MAX_S)
		return cfs_fail(c, -EINVAL, "NOP-In interval %u s / timeout %u s: LIO accepts "
				"%d..%d s", interval_s, timeout_s, CFS_NOPIN_MIN_S,
				CFS_NOPIN_MAX_S);
	r = acl_existing(c, iqn, initiator, tpg);
	if (r)
		return r;
	for (size_t i = 0; !r && i < sizeof(set) / sizeof(set[0]); i++) {
		snprintf(val, sizeof(val), "%u", set[i].val);
		r = cfs_ensure(c, val, "%s/acls/%s/attrib/%s", tpg, initiator, set[i].attr);
	}
	return r;
}

int cfs_acl_set_write_protect(struct cfs *c, const char *iqn, const char *initiator,
			      uint64_t mapped_lun, int on)
{
	const char *want = on ? "1" : "0";
	char tpg[PATH_MAX], cur[16];
	int r;

	r = acl_existing(c, iqn, initiator, tpg);
	if (r)
		return r;
	if (!cfs_is_dir(c, "%s/acls/%s/lun_%" PRIu64, tpg, initiator, mapped_lun))
		return cfs_fail(c, -ENOENT, "ACL %s has no mapped LUN %" PRIu64, initiator,
				mapped_lun);
	r = cfs_write(c, want, "%s/acls/%s/lun_%" PRIu64 "/write_protect", tpg, initiator,
		      mapped_lun);
	if (!r)
		r = cfs_read(c, cur, sizeof(cur), "%s/acls/%s/lun_%" PRIu64 "/write_protect", tpg,
			     initiator, mapped_lun);
	if (!r && strcmp(cur, want))
		r = cfs_fail(c, -EIO, "ACL %s mapped LUN %" PRIu64 ": write_protect reads '%s' "
			     "after writing %s", initiator, mapped_lun, cur, want);
	return r;
}

int cfs_list_acls(struct cfs *c, const char *iqn, cfs_name_cb cb, void *arg)
{
	struct cfs_names names;
	char tpg[PATH_MAX], rel[PATH_MAX];
	size_t i;
	int r;

	r = cfs_tpg_path(c, iqn, true, tpg);
	if (!r)
		r = cfs_rel(c, rel, sizeof(rel), "%s/acls", tpg);
	if (!r)
		r = cfs_list(c, &names, CFS_DIRS, rel);
	if (r)
		return r;
	for (i = 0; i < names.n; i++)
		if (cb(names.v[i], arg))
			break;
	cfs_names_free(&names);
	return 0;
}

struct find_name {
	const char *name;
	bool found;
};

static int session_cb(const char *name, void *arg)
{
	struct find_name *f = arg;

	if (strcasecmp(name, f->name))
		return 0;
	f->found = true;
	return 1;
}

/* Whether text (pr/res_pr_registered_i_pts: "iSCSI Node: <name>[,i,0x<isid>] Key: ...")
 * names initiator. LIO compares IQNs case-blind here as in its ACL lookup. */
static bool names_node(const char *text, const char *initiator)
{
	size_t n = strlen(initiator);

	for (const char *p = strstr(text, "Node: "); p; p = strstr(p + 1, "Node: ")) {
		p += 6;
		if (!strncasecmp(p, initiator, n) && (p[n] == ',' || p[n] == ' ' ||
						       p[n] == '\n' || p[n] == '\0'))
			return true;
	}
	return false;
}

struct holds_arg {
	struct cfs *c;
	const char *initiator;
	bool holds;
	char text[8192];
};

/* cfs_lun_cb: stop at the first device whose registrations name the initiator. */
static int lun_holds(void *arg, uint64_t lun, const char *hba, const char *dev)
{
	struct holds_arg *h = arg;
	int r;

	(void)lun;
	/* No PR file (plain mode): nothing held there. */
	h->c->err_hold++;
	r = cfs_read(h->c, h->text, sizeof(h->text), "core/%s/%s/pr/res_pr_registered_i_pts",
		     hba, dev);
	h->c->err_hold--;
	h->holds = !r && names_node(h->text, h->initiator);
	return h->holds;
}

/* *holds: initiator has a PR registration on the device behind a TPG LUN of tpg. */
static int holds_registration(struct cfs *c, const char *tpg, const char *initiator,
			      bool *holds)
{
	struct holds_arg h = { .c = c, .initiator = initiator };
	int r = cfs_tpg_lun_backstores(c, tpg, lun_holds, &h);

	*holds = h.holds;
	return r;
}

int cfs_acl_sweep_dynamic(struct cfs *c, const char *iqn, const char *initiator)
{
	struct find_name f = { initiator, false };
	char tpg[PATH_MAX], acl[PATH_MAX], cur[16];
	bool holds, made = false;
	int r;

	r = cfs_tpg_path(c, iqn, true, tpg);
	if (!r)
		r = cfs_check_name(c, "initiator IQN", initiator, CFS_IQN_MAX);
	if (r)
		return r;
	/* Only a demo-mode TPG makes dynamic ACLs. */
	c->err_hold++;
	r = cfs_read(c, cur, sizeof(cur), "%s/attrib/generate_node_acls", tpg);
	c->err_hold--;
	if (r || strcmp(cur, "1"))
		return 0;
	/* An explicit ACL (PR restore, the PR pad) is not ours to touch. */
	if (cfs_is_dir(c, "%s/acls/%s", tpg, initiator))
		return 0;
	r = cfs_target_sessions(c, iqn, session_cb, &f);
	if (r)
		return r;
	if (f.found)
		return 0;
	r = holds_registration(c, tpg, initiator, &holds);
	if (r || holds)
		return r;
	/*
	 * mkdir acls/<initiator> turns the cached dynamic ACL of that name into an explicit
	 * one (or makes a new, empty one); rmdir then frees it with its LUN entries
	 * (K:core_tpg_add_initiator_node_acl, core_tpg_del_initiator_node_acl).
	 */
	r = cfs_rel(c, acl, sizeof(acl), "%s/acls/%s", tpg, initiator);
	if (!r)
		r = cfs_mkdir(c, &made, "%s", acl);
	if (!r && !made)
		return 0; /* appeared meanwhile: explicit, someone else's */
	if (!r)
		r = cfs_make_groups(c, acl, cfs_acl_groups);
	if (!r || made) {
		int r2 = cfs_acl_remove_at(c, tpg, initiator);

		if (!r)
			r = r2;
	}
	return r ? r : 1;
}

int cfs_acl_logged_in(struct cfs *c, const char *iqn, const char *initiator)
{
	char info[256];
	int r = cfs_read(c, info, sizeof(info), "iscsi/%s/tpgt_1/acls/%s/info", iqn, initiator);

	if (r < 0)
		return r;
	return info[0] && strncmp(info, "No active", 9) ? 1 : 0;
}
