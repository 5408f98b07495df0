/*
 * cfs_ls.c — a readable tree of targets and user backstores, for operators and tests.
 *
 *   targets:
 *     iqn.2025-01.pub.scsipub:blank
 *       tpgt_1 enable=1
 *         portal 127.0.0.1:3262
 *         lun_0 -> user_0/sp1
 *         acl iqn.1993-08.org.debian:01:abc
 *           lun_0 -> lun_0
 *   backstores:
 *     sp1 hba=user_0 enable=1 serial=sp1
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfs_priv.h"

/* The kernel shows "T10 VPD Unit Serial Number: <serial>" (target_wwn_vpd_unit_serial_show). */
#define SERIAL_SHOW_PREFIX "T10 VPD Unit Serial Number: "

/* Read an attribute for display: its value, "-" when empty, "?" when unreadable. */
static const char *show(struct cfs *c, char *buf, size_t len, const char *rel)
{
	int r;

	c->err_hold++;
	r = cfs_read(c, buf, len, "%s", rel);
	c->err_hold--;
	if (r)
		return "?";
	return buf[0] ? buf : "-";
}

/* Print "<name> -> <parent>/<leaf>" for the link in dir rel (or "(no link)"). */
static void print_link(struct cfs *c, FILE *out, int indent, const char *name,
		       const char *rel, bool with_parent)
{
	char parent[CFS_NAME_MAX + 1], leaf[CFS_NAME_MAX + 1];
	int r;

	c->err_hold++;
	r = cfs_link_tail(c, rel, parent, sizeof(parent), leaf, sizeof(leaf));
	c->err_hold--;
	if (r)
		fprintf(out, "%*s%s (no link)\n", indent, "", name);
	else if (with_parent)
		fprintf(out, "%*s%s -> %s/%s\n", indent, "", name, parent, leaf);
	else
		fprintf(out, "%*s%s -> %s\n", indent, "", name, leaf);
}

static int ls_tpg(struct cfs *c, FILE *out, const char *tpg, const char *tpgname)
{
	struct cfs_names names, mapped;
	char rel[PATH_MAX], val[64];
	uint64_t *luns, idx;
	size_t i, j, n;
	int r;

	r = cfs_rel(c, rel, sizeof(rel), "%s/enable", tpg);
	if (r)
		return r;
	fprintf(out, "    %s enable=%s\n", tpgname, show(c, val, sizeof(val), rel));
	r = cfs_rel(c, rel, sizeof(rel), "%s/np", tpg);
	if (!r)
		r = cfs_list(c, &names, CFS_DIRS, rel);
	if (r)
		return r;
	for (i = 0; i < names.n; i++)
		fprintf(out, "      portal %s\n", names.v[i]);
	cfs_names_free(&names);

	r = cfs_rel(c, rel, sizeof(rel), "%s/lun", tpg);
	if (!r)
		r = cfs_list_indexes(c, rel, "lun_", &luns, &n);
	if (r)
		return r;
	for (i = 0; !r && i < n; i++) {
		char name[32];

		snprintf(name, sizeof(name), "lun_%" PRIu64, luns[i]);
		r = cfs_rel(c, rel, sizeof(rel), "%s/lun/%s", tpg, name);
		if (!r)
			print_link(c, out, 6, name, rel, true);
	}
	free(luns);
	if (r)
		return r;

	r = cfs_rel(c, rel, sizeof(rel), "%s/acls", tpg);
	if (!r)
		r = cfs_list(c, &names, CFS_DIRS, rel);
	if (r)
		return r;
	for (i = 0; !r && i < names.n; i++) {
		char acl[PATH_MAX];

		fprintf(out, "      acl %s\n", names.v[i]);
		r = cfs_rel(c, acl, sizeof(acl), "%s/acls/%s", tpg, names.v[i]);
		if (!r)
			r = cfs_list(c, &mapped, CFS_DIRS, acl);
		if (r)
			break;
		for (j = 0; !r && j < mapped.n; j++) {
			if (cfs_parse_index(mapped.v[j], "lun_", &idx))
				continue;
			r = cfs_rel(c, rel, sizeof(rel), "%s/%s", acl, mapped.v[j]);
			if (!r)
				print_link(c, out, 8, mapped.v[j], rel, false);
		}
		cfs_names_free(&mapped);
	}
	cfs_names_free(&names);
	return r;
}

static int ls_targets(struct cfs *c, FILE *out)
{
	struct cfs_names targets;
	char tgt[PATH_MAX], tpg[PATH_MAX], name[32];
	uint64_t *tpgts;
	size_t i, j, n;
	int r;

	r = cfs_list_target_dirs(c, &targets);
	if (r)
		return r;
	fprintf(out, "targets:%s\n", targets.n ? "" : " (none)");
	for (i = 0; !r && i < targets.n; i++) {
		fprintf(out, "  %s\n", targets.v[i]);
		r = cfs_rel(c, tgt, sizeof(tgt), "iscsi/%s", targets.v[i]);
		if (!r)
			r = cfs_list_indexes(c, tgt, "tpgt_", &tpgts, &n);
		if (r)
			break;
		for (j = 0; !r && j < n; j++) {
			snprintf(name, sizeof(name), "tpgt_%" PRIu64, tpgts[j]);
			r = cfs_rel(c, tpg, sizeof(tpg), "%s/%s", tgt, name);
			if (!r)
				r = ls_tpg(c, out, tpg, name);
		}
		free(tpgts);
	}
	cfs_names_free(&targets);
	return r;
}

static int ls_backstores(struct cfs *c, FILE *out)
{
	struct cfs_names hbas, devs;
	char rel[PATH_MAX], en[16], serial[300];
	size_t i, j, shown = 0;
	const char *sv;
	int r;

	r = cfs_list_hbas(c, &hbas, true);
	if (r)
		return r;
	fprintf(out, "backstores:\n");
	for (i = 0; !r && i < hbas.n; i++) {
		r = cfs_rel(c, rel, sizeof(rel), "core/%s", hbas.v[i]);
		if (!r)
			r = cfs_list(c, &devs, CFS_DIRS, rel);
		if (r)
			break;
		for (j = 0; !r && j < devs.n; j++) {
			const char *ev;

			r = cfs_rel(c, rel, sizeof(rel), "core/%s/%s/enable", hbas.v[i],
				    devs.v[j]);
			if (r)
				break;
			ev = show(c, en, sizeof(en), rel);
			r = cfs_rel(c, rel, sizeof(rel), "core/%s/%s/wwn/vpd_unit_serial",
				    hbas.v[i], devs.v[j]);
			if (r)
				break;
			sv = show(c, serial, sizeof(serial), rel);
			if (cfs_has_prefix(sv, SERIAL_SHOW_PREFIX))
				sv += strlen(SERIAL_SHOW_PREFIX);
			fprintf(out, "  %s hba=%s enable=%s serial=%s\n", devs.v[j], hbas.v[i], ev,
				*sv ? sv : "-");
			shown++;
		}
		cfs_names_free(&devs);
	}
	cfs_names_free(&hbas);
	if (!r && !shown)
		fprintf(out, "  (none)\n");
	return r;
}

int cfs_ls(struct cfs *c, FILE *out)
{
	int r;

	r = cfs_ready(c);
	if (!r)
		r = ls_targets(c, out);
	if (!r)
		r = ls_backstores(c, out);
	if (!r && fflush(out) == EOF)
		r = cfs_fail(c, -errno, "writing the listing: %s", strerror(errno));
	return r;
}
