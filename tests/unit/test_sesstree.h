/*
 * test_sesstree.h — a temporary directory per test group for session provisioning
 * tests (configfs-manager/test_anon.c, tls-proxy/test_session.c): plain configfs
 * trees and state directories live under `tmp`. Include after cmocka.h; use
 * setup/teardown as the group's setup and teardown.
 */
#ifndef SCSIPUB_TEST_SESSTREE_H
#define SCSIPUB_TEST_SESSTREE_H

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
