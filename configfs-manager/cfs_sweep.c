/*
 * cfs_sweep.c — remove what a crashed portal leaked: mapped LUNs / ACLs, TPG LUNs and
 * user backstores tied to backstores named <prefix>*, in configfs teardown order
 * (lio-tcmu-facts.md §3.1). Everything else (targetcli's objects) is left alone.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfs_priv.h"

struct sweep {
	struct cfs *c;
	const char *prefix;
	unsigned removed;
	int first;           /* first failure (0 = none) */
	char reason[sizeof(((struct cfs *)0)->err)];
};

static void note(struct sweep *s, int r)
{
	if (r && !s->first) {
		s->first = r;
		snprintf(s->reason, sizeof(s->reason), "%s", s->c->err);
	}
}

/* True when the link in dir rel points at core/user_K/<prefix>*. */
static bool links_swept_dev(struct sweep *s, const char *rel)
{
	char parent[CFS_NAME_MAX + 1], leaf[CFS_NAME_MAX + 1];
	uint64_t k;
	bool yes;

	s->c->err_hold++;
	yes = cfs_link_tail(s->c, rel, parent, sizeof(parent), leaf, sizeof(leaf)) == 0 &&
	      cfs_parse_index(parent, "user_", &k) == 0 && cfs_has_prefix(leaf, s->prefix);
	s->c->err_hold--;
	return yes;
}

/* The mapped-LUN dir rel links to one of the TPG LUNs in swept[n] (as "lun_N"). */
static bool links_swept_lun(struct sweep *s, const char *rel, const uint64_t *swept, size_t n)
{
	char parent[CFS_NAME_MAX + 1], leaf[CFS_NAME_MAX + 1];
	uint64_t lun;
	size_t i;
	int r;

	s->c->err_hold++;
	r = cfs_link_tail(s->c, rel, parent, sizeof(parent), leaf, sizeof(leaf));
	s->c->err_hold--;
	if (r || strcmp(parent, "lun") || cfs_parse_index(leaf, "lun_", &lun))
		return false;
	for (i = 0; i < n; i++)
		if (swept[i] == lun)
			return true;
	return false;
}

/* One ACL: drop the mapped LUNs that point at swept TPG LUNs; the whole ACL when
 * every one of its (at least one) mapped LUNs did. */
static void sweep_acl(struct sweep *s, const char *tpg, const char *init,
		      const uint64_t *swept, size_t n)
{
	struct cfs_names mapped;
	char acl[PATH_MAX], m[PATH_MAX];
	size_t i, total = 0, hit = 0;
	uint64_t idx;
	int r;

	r = cfs_rel(s->c, acl, sizeof(acl), "%s/acls/%s", tpg, init);
	if (!r)
		r = cfs_list(s->c, &mapped, CFS_DIRS, acl);
	if (r) {
		note(s, r);
		return;
	}
	for (i = 0; i < mapped.n; i++) {
		if (cfs_parse_index(mapped.v[i], "lun_", &idx))
			continue;
		total++;
		if (cfs_rel(s->c, m, sizeof(m), "%s/%s", acl, mapped.v[i]) == 0 &&
		    links_swept_lun(s, m, swept, n))
			hit++;
	}
	if (hit && hit == total) {
		r = cfs_acl_remove_at(s->c, tpg, init);
		note(s, r);
		if (!r)
			s->removed += (unsigned)hit + 1;
	} else if (hit) {
		for (i = 0; i < mapped.n; i++) {
			if (cfs_parse_index(mapped.v[i], "lun_", &idx) ||
			    cfs_rel(s->c, m, sizeof(m), "%s/%s", acl, mapped.v[i]) ||
			    !links_swept_lun(s, m, swept, n))
				continue;
			r = cfs_mapped_remove_at(s->c, acl, mapped.v[i]);
			note(s, r);
			if (!r)
				s->removed++;
		}
	}
	cfs_names_free(&mapped);
}

static void sweep_tpg(struct sweep *s, const char *tpg)
{
	struct cfs_names acls;
	char rel[PATH_MAX];
	uint64_t *luns = NULL, *swept = NULL;
	size_t n = 0, ns = 0, i;
	int r;

	r = cfs_rel(s->c, rel, sizeof(rel), "%s/lun", tpg);
	if (!r)
		r = cfs_list_indexes(s->c, rel, "lun_", &luns, &n);
	if (r) {
		note(s, r);
		return;
	}
	if (n) {
		swept = calloc(n, sizeof(*swept));
		if (!swept) {
			free(luns);
			note(s, cfs_fail(s->c, -ENOMEM, "sweep: %s", strerror(ENOMEM)));
			return;
		}
	}
	for (i = 0; i < n; i++)
		if (cfs_rel(s->c, rel, sizeof(rel), "%s/lun/lun_%" PRIu64, tpg, luns[i]) == 0 &&
		    links_swept_dev(s, rel))
			swept[ns++] = luns[i];
	free(luns);
	if (!ns) {
		free(swept);
		return;
	}
	r = cfs_rel(s->c, rel, sizeof(rel), "%s/acls", tpg);
	if (!r)
		r = cfs_list(s->c, &acls, CFS_DIRS, rel);
	if (r) {
		note(s, r);
		free(swept);
		return;
	}
	for (i = 0; i < acls.n; i++)
		sweep_acl(s, tpg, acls.v[i], swept, ns);
	cfs_names_free(&acls);
	for (i = 0; i < ns; i++) {
		r = cfs_lun_remove_at(s->c, tpg, swept[i]);
		note(s, r);
		if (!r)
			s->removed++;
	}
	free(swept);
}

static void sweep_backstores(struct sweep *s)
{
	struct cfs_names hbas, devs;
	char rel[PATH_MAX];
	size_t i, j;
	int r;

	r = cfs_list_hbas(s->c, &hbas, true);
	if (r) {
		note(s, r);
		return;
	}
	for (i = 0; i < hbas.n; i++) {
		r = cfs_rel(s->c, rel, sizeof(rel), "core/%s", hbas.v[i]);
		if (!r)
			r = cfs_list(s->c, &devs, CFS_DIRS, rel);
		if (r) {
			note(s, r);
			continue;
		}
		for (j = 0; j < devs.n; j++) {
			if (!cfs_has_prefix(devs.v[j], s->prefix))
				continue;
			r = cfs_backstore_remove(s->c, devs.v[j]);
			note(s, r);
			if (!r)
				s->removed++;
		}
		cfs_names_free(&devs);
	}
	cfs_names_free(&hbas);
}

int cfs_sweep(struct cfs *c, const char *prefix, unsigned *removed)
{
	struct sweep s = { .c = c, .prefix = prefix };
	struct cfs_names targets;
	char tgt[PATH_MAX], tpg[PATH_MAX];
	uint64_t *tpgts;
	size_t i, j, n;
	int r;

	if (removed)
		*removed = 0;
	if (!prefix || !*prefix)
		return cfs_fail(c, -EINVAL, "sweep prefix is empty");
	r = cfs_ready(c);
	if (!r)
		r = cfs_list_target_dirs(c, &targets);
	if (r)
		return r;
	for (i = 0; i < targets.n; i++) {
		r = cfs_rel(c, tgt, sizeof(tgt), "iscsi/%s", targets.v[i]);
		if (!r)
			r = cfs_list_indexes(c, tgt, "tpgt_", &tpgts, &n);
		if (r) {
			note(&s, r);
			continue;
		}
		for (j = 0; j < n; j++)
			if (cfs_rel(c, tpg, sizeof(tpg), "%s/tpgt_%" PRIu64, tgt, tpgts[j]) == 0)
				sweep_tpg(&s, tpg);
		free(tpgts);
	}
	cfs_names_free(&targets);
	sweep_backstores(&s);
	if (removed)
		*removed = s.removed;
	if (s.first)
		snprintf(c->err, sizeof(c->err), "%s", s.reason);
	return s.first;
}
