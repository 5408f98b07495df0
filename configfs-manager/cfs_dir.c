/*
 * cfs_dir.c — directory listings: sorted name lists of objects, HBAs and indexes (and
 * unsorted HBA lists for lookups).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cfs_priv.h"

int cfs_names_cmp(const void *a, const void *b)
{
	return strverscmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void cfs_names_free(struct cfs_names *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
	l->err = 0;
}

int cfs_names_add(struct cfs_names *l, const char *name, bool unique)
{
	char *s;

	if (unique)
		for (size_t i = 0; i < l->n; i++)
			if (!strcmp(l->v[i], name))
				return 0;
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 16;
		char **nv = realloc(l->v, nc * sizeof(*nv));

		if (!nv)
			return l->err = -ENOMEM;
		l->v = nv;
		l->cap = nc;
	}
	s = strdup(name);
	if (!s)
		return l->err = -ENOMEM;
	l->v[l->n++] = s;
	return 0;
}

int cfs_names_collect(const char *name, void *arg)
{
	return cfs_names_add(arg, name, false) != 0;
}

/* cfs_list, in readdir's order when !sorted. */
static int list_dir(struct cfs *c, struct cfs_names *out, enum cfs_kind kind, const char *rel,
		    bool sorted)
{
	char abs[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int r;

	*out = (struct cfs_names){ 0 };
	r = cfs_ready(c);
	if (r)
		return r;
	r = cfs_abs(c, abs, rel);
	if (r)
		return r;
	d = opendir(abs);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		return cfs_fail(c, -errno, "opendir %s: %s", abs, strerror(errno));
	}
	while ((de = readdir(d))) {
		unsigned char t = de->d_type;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (t == DT_UNKNOWN) {
			if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			t = S_ISDIR(st.st_mode) ? DT_DIR : S_ISLNK(st.st_mode) ? DT_LNK : DT_REG;
		}
		if ((kind == CFS_DIRS && t != DT_DIR) || (kind == CFS_LINKS && t != DT_LNK))
			continue;
		r = cfs_names_add(out, de->d_name, false);
		if (r) {
			closedir(d);
			cfs_names_free(out);
			return cfs_fail(c, r, "listing %s: %s", abs, strerror(-r));
		}
	}
	closedir(d);
	if (sorted && out->n)
		qsort(out->v, out->n, sizeof(*out->v), cfs_names_cmp);
	return 0;
}

int cfs_list(struct cfs *c, struct cfs_names *out, enum cfs_kind kind, const char *rel)
{
	return list_dir(c, out, kind, rel, true);
}

/* Keep only the names for which keep() is true, preserving order. */
static void filter(struct cfs_names *names, bool (*keep)(const char *))
{
	size_t i, j = 0;

	for (i = 0; i < names->n; i++) {
		if (keep(names->v[i]))
			names->v[j++] = names->v[i];
		else
			free(names->v[i]);
	}
	names->n = j;
}

static bool not_discovery(const char *name)
{
	return strcmp(name, "discovery_auth") != 0;
}

static bool is_hba(const char *name)
{
	return cfs_hba_index(name, NULL);
}

static bool is_user_hba(const char *name)
{
	uint64_t i;

	return cfs_parse_index(name, "user_", &i) == 0;
}

int cfs_list_target_dirs(struct cfs *c, struct cfs_names *out)
{
	int r = cfs_list(c, out, CFS_DIRS, "iscsi");

	if (!r)
		filter(out, not_discovery);
	return r;
}

int cfs_scan_hbas(struct cfs *c, struct cfs_names *out, bool user_only)
{
	int r = list_dir(c, out, CFS_DIRS, "core", false);

	if (!r)
		filter(out, user_only ? is_user_hba : is_hba);
	return r;
}

int cfs_list_hbas(struct cfs *c, struct cfs_names *out, bool user_only)
{
	int r = cfs_scan_hbas(c, out, user_only);

	if (!r && out->n)
		qsort(out->v, out->n, sizeof(*out->v), cfs_names_cmp);
	return r;
}

int cfs_names_indexes(struct cfs *c, const struct cfs_names *names, const char *prefix,
		      uint64_t **out, size_t *n)
{
	uint64_t *v;
	size_t i, k = 0;

	*out = NULL;
	*n = 0;
	if (!names->n)
		return 0;
	v = calloc(names->n, sizeof(*v));
	if (!v)
		return cfs_fail(c, -ENOMEM, "indexes of %s*: %s", prefix, strerror(ENOMEM));
	for (i = 0; i < names->n; i++)
		if (cfs_parse_index(names->v[i], prefix, &v[k]) == 0)
			k++;
	if (!k) {
		free(v);
		return 0;
	}
	qsort(v, k, sizeof(*v), cmp_u64);
	*out = v;
	*n = k;
	return 0;
}

int cfs_list_indexes(struct cfs *c, const char *rel, const char *prefix,
		     uint64_t **out, size_t *n)
{
	struct cfs_names names;
	int r;

	*out = NULL;
	*n = 0;
	r = cfs_list(c, &names, CFS_DIRS, rel);
	if (r)
		return r;
	r = cfs_names_indexes(c, &names, prefix, out, n);
	cfs_names_free(&names);
	return r;
}

uint64_t cfs_index_after(uint64_t k, uint64_t last)
{
	return k >= last ? 0 : k + 1;
}

int cfs_claim_index(struct cfs *c, const struct cfs_claim *w, uint64_t *out)
{
	uint64_t *idx = NULL, k;
	size_t n = 0, i;
	bool made = false;
	int r = 0;

	for (i = 0; !r && !made && i < w->probes; i++) {
		k = *w->next;
		*w->next = cfs_index_after(k, w->last);
		r = w->make(c, w->arg, k, &made);
		if (!r && made)
			*out = k;
	}
	if (!r && !made) {
		r = w->list(c, w->arg, &idx, &n);
		if (!r && n)
			*w->next = cfs_index_after(idx[n - 1], w->last);
	}
	for (k = cfs_lowest_free(idx, n); !r && !made; k++) {
		for (i = 0; i < n && idx[i] != k; i++)
			;
		if (i < n)
			continue;
		if (k > w->last) {
			r = w->full(c, w->arg);
			break;
		}
		r = w->make(c, w->arg, k, &made);
		if (!r && made)
			*out = k;
	}
	free(idx);
	return r;
}

uint64_t cfs_lowest_free(const uint64_t *idx, size_t n)
{
	uint64_t want = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (idx[i] == want)
			want++;
		else if (idx[i] > want)
			break;
	}
	return want;
}

int cfs_names_count(const char *name, void *arg)
{
	(void)name;
	(*(unsigned *)arg)++;
	return 0;
}
