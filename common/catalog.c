/*
 * catalog.c — blank + images directory scan (see catalog.h).
 */
#include "catalog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *image_ext(const char *name)
{
	size_t n = strlen(name);

	if (n > 4 && (!strcasecmp(name + n - 4, ".img") || !strcasecmp(name + n - 4, ".iso")))
		return name + n - 4;
	return NULL;
}

int catalog_suffix(const char *relpath, char *out, size_t outlen)
{
	const char *ext = image_ext(relpath);
	size_t n, i;

	if (!ext || ext == relpath || ext[-1] == '/')
		return -EINVAL;
	n = (size_t)(ext - relpath);
	if (n + 1 > outlen)
		return -ENAMETOOLONG;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)relpath[i];

		if (c == '/')
			c = '.';
		else if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
			c = '-';
		out[i] = (char)c;
	}
	out[n] = '\0';
	return 0;
}

const struct catalog_entry *catalog_find(const struct catalog *c, const char *iqn)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->v[i].iqn, iqn))
			return &c->v[i];
	return NULL;
}

void catalog_free(struct catalog *c)
{
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

struct scan {
	struct catalog *c;
	size_t cap;
	int err;
};

static bool path_ok(const char *p)
{
	return strlen(p) <= CATALOG_PATH_MAX && !strpbrk(p, ";,:\n");
}

static int add(struct scan *s, const char *iqn, const char *path, uint64_t size)
{
	struct catalog *c = s->c;

	if (c->n == CATALOG_MAX_ENTRIES)
		return 0;
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->v[i].iqn, iqn))
			return 0; /* suffix taken by an earlier (sorted) file */
	if (c->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct catalog_entry *v = realloc(c->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->v = v;
		s->cap = cap;
	}
	snprintf(c->v[c->n].iqn, sizeof(c->v[c->n].iqn), "%s", iqn);
	snprintf(c->v[c->n].path, sizeof(c->v[c->n].path), "%s", path);
	c->v[c->n].size_bytes = (size + 511) / 512 * 512;
	c->n++;
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void walk(struct scan *s, const char *root, const char *rel, int depth)
{
	char dirpath[PATH_MAX];
	struct dirent **ents = NULL;
	int n;

	if (depth > CATALOG_MAX_DEPTH || s->err)
		return;
	snprintf(dirpath, sizeof(dirpath), "%s%s%s", root, rel[0] ? "/" : "", rel);
	n = scandir(dirpath, &ents, NULL, by_name);
	if (n < 0)
		return;
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		char relp[PATH_MAX], full[PATH_MAX], suffix[CATALOG_IQN_MAX + 1];
		char iqn[CATALOG_IQN_MAX + 16];
		struct stat lst, st;

		if (name[0] == '.' || s->err)
			continue;
		if (snprintf(relp, sizeof(relp), "%s%s%s", rel, rel[0] ? "/" : "", name) >=
			    (int)sizeof(relp) ||
		    snprintf(full, sizeof(full), "%s/%s", root, relp) >= (int)sizeof(full))
			continue;
		if (lstat(full, &lst) < 0)
			continue;
		if (S_ISDIR(lst.st_mode)) {
			walk(s, root, relp, depth + 1);
			continue;
		}
		if (!image_ext(name) || stat(full, &st) < 0 || !S_ISREG(st.st_mode) ||
		    st.st_size <= 0 || !path_ok(full))
			continue;
		if (catalog_suffix(relp, suffix, sizeof(suffix)) < 0)
			continue;
		if (snprintf(iqn, sizeof(iqn), "%s%s", CATALOG_IMAGE_PREFIX, suffix) >
		    CATALOG_IQN_MAX)
			continue;
		s->err = add(s, iqn, full, (uint64_t)st.st_size);
	}
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
}

static int by_iqn(const void *a, const void *b)
{
	return strcmp(((const struct catalog_entry *)a)->iqn, ((const struct catalog_entry *)b)->iqn);
}

int catalog_scan(const char *dir, struct catalog *out)
{
	struct scan s = { .c = out };
	char root[PATH_MAX];
	size_t n;

	memset(out, 0, sizeof(*out));
	s.err = add(&s, CATALOG_BLANK_IQN, "", CATALOG_BLANK_SIZE);
	if (dir && dir[0] && !s.err) {
		snprintf(root, sizeof(root), "%s", dir);
		n = strlen(root);
		while (n > 1 && root[n - 1] == '/')
			root[--n] = '\0';
		walk(&s, root, "", 0);
	}
	if (s.err) {
		catalog_free(out);
		return s.err;
	}
	if (out->n > 2)
		qsort(out->v + 1, out->n - 1, sizeof(*out->v), by_iqn);
	return 0;
}

int catalog_scan_for(const char *dir, const char *iqn, struct catalog *out)
{
	return catalog_scan(iqn && !strcmp(iqn, CATALOG_BLANK_IQN) ? NULL : dir, out);
}
