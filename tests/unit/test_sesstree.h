/*
 * test_sesstree.h — a temporary directory per test group for session provisioning
 * tests (configfs-manager/test_anon.c, tls-proxy/test_session.c): plain configfs
 * trees and state directories live under `tmp`. Include after cmocka.h; use
 * setup/teardown as the group's setup and teardown.
 */
#ifndef SCSIPUB_TEST_SESSTREE_H
#define SCSIPUB_TEST_SESSTREE_H

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>

#include "test_tmpdir.h"

static char tmp[64];

/* Whether the path fmt (printf with tmp, a, b) exists (lstat). */
static inline bool exists(const char *fmt, const char *a, const char *b)
{
	char p[512];
	struct stat st;

	snprintf(p, sizeof(p), fmt, tmp, a, b);
	return lstat(p, &st) == 0;
}

/*
 * The entries of <root>/iscsi/<target>/tpgt_1/<sub> (names not starting with '.'):
 * their number (0 when the directory does not exist); the first max names go to
 * names, a flat array of max strings of len bytes each (names may be NULL).
 */
static inline int tpg_entries(const char *root, const char *target, const char *sub,
			      char *names, size_t len, int max)
{
	char p[512];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(p, sizeof(p), "%s/iscsi/%s/tpgt_1/%s", root, target, sub);
	d = opendir(p);
	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			if (names && n < max)
				snprintf(names + (size_t)n * len, len, "%.200s", e->d_name);
			n++;
		}
	closedir(d);
	return n;
}

/* Create an empty file (as the handler creates overlays). */
static inline void touch(const char *path)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fclose(f);
}

static inline int setup(void **state)
{
	(void)state;
	return test_mkdtemp(tmp, sizeof(tmp), "sess-test") ? 0 : -1;
}

static inline int teardown(void **state)
{
	(void)state;
	return test_rmtree(tmp);
}

#endif
