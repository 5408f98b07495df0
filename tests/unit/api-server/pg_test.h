/*
 * pg_test.h — a throwaway PostgreSQL cluster for one unit test binary, made by
 * scripts/pg-local.sh in a mkdtemp directory (a few seconds to start).
 */
#ifndef SCSIPUB_PG_TEST_H
#define SCSIPUB_PG_TEST_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_tmpdir.h"

struct pg_test {
	char dir[PATH_MAX];
	char script[PATH_MAX];
	char url[PATH_MAX + 64];
};

/*
 * Find scripts/pg-local.sh above this executable (the build tree lives in the
 * repository), start a cluster in a new temporary directory, and leave its libpq URL
 * in pg->url. 0, or -1 with a message on stderr.
 */
static inline int pg_test_start(struct pg_test *pg)
{
	char exe[PATH_MAX], cmd[4 * PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;
	FILE *f;

	memset(pg, 0, sizeof(*pg));
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	while ((slash = strrchr(exe, '/')) && slash != exe) {
		*slash = '\0';
		snprintf(pg->script, sizeof(pg->script), "%.*s/scripts/pg-local.sh",
			 PATH_MAX - 24, exe);
		if (access(pg->script, X_OK) == 0)
			break;
		pg->script[0] = '\0';
	}
	if (!pg->script[0]) {
		fprintf(stderr, "pg_test: scripts/pg-local.sh not found above %s\n", exe);
		return -1;
	}
	if (!test_mkdtemp(pg->dir, sizeof(pg->dir), "test_pg"))
		return -1;
	snprintf(cmd, sizeof(cmd), "'%s' start '%s' >&2", pg->script, pg->dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "pg_test: %s failed\n", cmd);
		return -1;
	}
	snprintf(cmd, sizeof(cmd), "'%s' url '%s'", pg->script, pg->dir);
	f = popen(cmd, "r");
	if (!f || !fgets(pg->url, sizeof(pg->url), f)) {
		if (f)
			pclose(f);
		return -1;
	}
	pclose(f);
	pg->url[strcspn(pg->url, "\n")] = '\0';
	return 0;
}

/* Stop the cluster and remove its directory. */
static inline void pg_test_stop(struct pg_test *pg)
{
	char cmd[4 * PATH_MAX];

	if (!pg->dir[0])
		return;
	snprintf(cmd, sizeof(cmd), "'%s' stop '%s' >&2; rm -rf '%s'", pg->script, pg->dir,
		 pg->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "pg_test: cleanup of %s failed\n", pg->dir);
}

#endif
