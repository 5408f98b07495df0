/*
 * test_provsweep.c — unit tests for tls-proxy/provsweep.c on a plain temporary
 * configfs tree: a pair is swept only when its last relay ends, names are compared
 * case-blind and swept lowercased, a live session or an explicit ACL is left alone,
 * the configfs lock file is used, and errors come back with a reason.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "test_tmpdir.h"

#include "cfs.h"
#include "provsweep.h"

#define TIQN "iqn.2025-01.pub.scsipub:s.sweep1"
#define TPGD "iscsi/" TIQN "/tpgt_1"

struct t {
	char root[PATH_MAX];   /* configfs root */
	char state[PATH_MAX];  /* state dir (configfs.lock) */
	struct provsweep *s;
};

static const char *P(struct t *t, const char *fmt, ...)
{
	static char buf[PATH_MAX];
	size_t n = strlen(t->root);
	va_list ap;

	memcpy(buf, t->root, n);
	buf[n++] = '/';
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	return buf;
}

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	struct cfs *c;
	uint64_t lun;

	assert_non_null(t);
	assert_non_null(test_mkdtemp(t->root, sizeof(t->root), "test_provsweep_cfs"));
	assert_non_null(test_mkdtemp(t->state, sizeof(t->state), "test_provsweep_state"));
	c = cfs_open(t->root);
	assert_non_null(c);
	assert_int_equal(cfs_target_ensure_demo(c, TIQN, "127.0.0.1:3262", "u1", "secret-123456"),
			 0);
	assert_int_equal(cfs_backstore_create(c, "pvsweep1l0", 1 << 20, "cow/size=1048576", NULL),
			 0);
	assert_int_equal(cfs_lun_add(c, TIQN, "pvsweep1l0", &lun), 0);
	assert_int_equal(cfs_acl_map(c, TIQN, "iqn.x:explicit", 0, lun), 0);
	cfs_close(c);
	t->s = provsweep_new(t->root, t->state);
	assert_non_null(t->s);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;

	provsweep_free(t->s);
	test_rmtree(t->root);
	test_rmtree(t->state);
	free(t);
	return 0;
}

static bool isdir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void test_last_relay_sweeps(void **state)
{
	struct t *t = *state;
	char err[256] = "";

	/* Two relays of one pair (any letter case): only the last one's end sweeps. */
	assert_int_equal(provsweep_enter(t->s, TIQN, "iqn.x:Twice"), 0);
	assert_int_equal(provsweep_enter(t->s, TIQN, "iqn.x:twice"), 0);
	assert_int_equal(provsweep_leave(t->s, TIQN, "iqn.x:twice", err, sizeof(err)), 0);
	assert_int_equal(provsweep_leave(t->s, TIQN, "iqn.x:TWICE", err, sizeof(err)), 1);
	/* Nothing left in acls/ but the explicit ACL; the lock file was used. */
	assert_false(isdir(P(t, "%s/acls/iqn.x:twice", TPGD)));
	assert_false(isdir(P(t, "%s/acls/iqn.x:Twice", TPGD)));
	assert_true(isdir(P(t, "%s/acls/iqn.x:explicit", TPGD)));
	{
		char lock[PATH_MAX + 32];
		struct stat st;

		snprintf(lock, sizeof(lock), "%s/configfs.lock", t->state);
		assert_int_equal(stat(lock, &st), 0);
	}
	/* A leave without an enter, or a second leave, does nothing. */
	assert_int_equal(provsweep_leave(t->s, TIQN, "iqn.x:twice", err, sizeof(err)), 0);
	assert_int_equal(provsweep_leave(t->s, TIQN, "iqn.x:never", NULL, 0), 0);
	/* Pairs are per target: another target's relay of the same name does not hold it. */
	assert_int_equal(provsweep_enter(t->s, "iqn.2025-01.pub.scsipub:s.other", "iqn.x:n"), 0);
	assert_int_equal(provsweep_enter(t->s, TIQN, "iqn.x:n"), 0);
	assert_int_equal(provsweep_leave(t->s, TIQN, "iqn.x:n", err, sizeof(err)), 1);
	/* ...and that target is gone from configfs: an error with a reason. */
	assert_int_equal(provsweep_leave(t->s, "iqn.2025-01.pub.scsipub:s.other", "iqn.x:n", err,
					 sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "s.other"));
}

static void test_left_alone(void **state)
{
	struct t *t = *state;
	static const char sess[] = "iqn.x:live\n";
	char err[256] = "";
	FILE *f = fopen(P(t, "%s/dynamic_sessions", TPGD), "w");

	assert_non_null(f);
	assert_int_equal(fwrite(sess, 1, sizeof(sess) - 1, f), sizeof(sess) - 1);
	fclose(f);
	/* A name with a live session (LIO lists it lowercased) is not swept. */
	assert_int_equal(provsweep_enter(t->s, TIQN, "IQN.X:LIVE"), 0);
	assert_int_equal(provsweep_leave(t->s, TIQN, "IQN.X:LIVE", err, sizeof(err)), 0);
	/* Nor is an explicit ACL. */
	assert_int_equal(provsweep_enter(t->s, TIQN, "iqn.x:explicit"), 0);
	assert_int_equal(provsweep_leave(t->s, TIQN, "iqn.x:explicit", err, sizeof(err)), 0);
	assert_true(isdir(P(t, "%s/acls/iqn.x:explicit/lun_0", TPGD)));
	/* Without a state dir (no lock file) it sweeps all the same. */
	{
		struct provsweep *s = provsweep_new(t->root, NULL);

		assert_non_null(s);
		assert_int_equal(provsweep_enter(s, TIQN, "iqn.x:nolock"), 0);
		assert_int_equal(provsweep_leave(s, TIQN, "iqn.x:nolock", NULL, 0), 1);
		provsweep_free(s);
	}
	provsweep_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_last_relay_sweeps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_left_alone, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
