/*
 * test_tmpdir.h — a fresh private directory for one unit test.
 */
#ifndef SCSIPUB_TEST_TMPDIR_H
#define SCSIPUB_TEST_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#endif
