/*
 * test_tmpdir.h — a fresh private directory for one unit test.
 */
#ifndef SCSIPUB_TEST_TMPDIR_H
#define SCSIPUB_TEST_TMPDIR_H

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Create a new directory "/tmp/<prefix>.<6 random characters>" (mkdtemp(3)) and
 * leave its path in buf (len bytes). Returns buf, or NULL when it does not fit or
 * mkdtemp fails (errno set).
 */
static inline char *test_mkdtemp(char *buf, size_t len, const char *prefix)
{
	int n = snprintf(buf, len, "/tmp/%s.", prefix);

	if (n < 0 || (size_t)n + 7 > len)
		return NULL;
	memset(buf + n, 'X', 6); /* the template suffix mkdtemp replaces */
	buf[n + 6] = '\0';
	return mkdtemp(buf);
}

/*
 * Remove the regular files directly inside dir (test directories are flat), then dir
 * itself. Returns rmdir's result: 0, or -1 with errno set (e.g. ENOTEMPTY when a
 * subdirectory was left).
 */
static inline int test_rmdir_flat(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[4096];

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	return rmdir(dir);
}

static inline int test_rmtree_one(const char *p, const struct stat *st, int flag,
				  struct FTW *f)
{
	(void)st;
	(void)f;
	return flag == FTW_DP ? rmdir(p) : unlink(p);
}

/*
 * Remove dir and everything below it (depth first, symlinks not followed). 0, or -1
 * when a walk step failed.
 */
static inline int test_rmtree(const char *dir)
{
	return nftw(dir, test_rmtree_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
