/*
 * cfs_tpg.c — reading a target's TPG (iscsi/<iqn>/tpgt_1; lio-tcmu-facts.md §3.1,
 * K:iscsi/iscsi_target_configfs.c): its path, checked to exist, and its demo-mode
 * sessions. Below the modules that make and remove TPG objects (cfs_target.c,
 * cfs_lun.c, cfs_acl.c), which all find a TPG through here.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cfs_priv.h"

int cfs_tpg_path(struct cfs *c, const char *iqn, bool must_exist, char *tpg)
{
	int r = cfs_check_name(c, "target IQN", iqn, CFS_IQN_MAX);

	if (!r)
		r = cfs_rel(c, tpg, PATH_MAX, CFS_TPG_FMT, iqn);
	if (!r)
		r = cfs_ready(c);
	if (r)
		return r;
	if (must_exist && !cfs_is_dir(c, "%s", tpg))
		return cfs_fail(c, -ENOENT, "target %s has no TPG (%s/%s missing)", iqn, c->root,
				tpg);
	return 0;
}

int cfs_target_sessions(struct cfs *c, const char *iqn, cfs_name_cb cb, void *arg)
{
	char tpg[PATH_MAX], rel[PATH_MAX], buf[8192];
	size_t got, i = 0;
	int r;

	r = cfs_tpg_path(c, iqn, true, tpg);
	if (!r)
		r = cfs_rel(c, rel, sizeof(rel), "%s/dynamic_sessions", tpg);
	if (r)
		return r;
	c->err_hold++;
	/* Each entry is "<iqn>\n\0" (K:target_show_dynamic_sessions; at most a page). */
	r = cfs_read_raw(c, rel, buf, sizeof(buf) - 1, &got);
	c->err_hold--;
	/* Plain mode: no file means no sessions (the kernel always has it). */
	if (r == -ENOENT && cfs_plain(c))
		return 0;
	if (r)
		return cfs_fail(c, r, "read %s/%s: %s", c->root, rel, strerror(-r));
	buf[got] = '\0';
	/* Separators are '\n' and '\0' alike; empty entries are skipped. */
	while (i < got) {
		char *e = buf + i;
		size_t n = strcspn(e, "\n");

		i += n + 1;
		e[n] = '\0';
		while (n && (e[n - 1] == ' ' || e[n - 1] == '\r'))
			e[--n] = '\0';
		if (n && cb(e, arg))
			break;
	}
	return 0;
}
