/*
 * test_cfgd_pool.c — scsipub-cfgd's pre-made sessions (--pool, poolspec.h) and its
 * worker thread (cfgd_worker.h), served on a temporary Unix socket by a thread over a
 * plain configfs tree:
 *  - the --pool syntax: short and whole target names, counts, and every refusal;
 *  - the worker fills the pool; a login takes a pre-made session (its ACL existed
 *    before the request), which is not counted as a session until taken, and the
 *    worker makes its replacement;
 *  - anon_destroy is answered only when the teardown is done (the ACL is gone when the
 *    response arrives), and the same connection is served again afterwards;
 *  - --max-sessions still bounds live sessions while pre-made ones wait;
 *  - a pool set with a MAX grows to the size of a burst of logins, and after the keep
 *    time shrinks back, its surplus pre-made sessions removed;
 *  - a connection that ends leaves nothing of its sessions; shutdown removes the pool.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "anon.h"
#include "catalog.h"
#include "cfgd_client.h"
#include "cfgd_server.h"
#include "cfgd_test.h"
#include "cfs.h"
#include "poolspec.h"

#include "test_sesstree.h"

static void test_poolspec(void **state)
{
	struct poolspec ps[POOLSPEC_TARGETS_MAX];
	char err[256];
	unsigned n = 99;

	(void)state;
	assert_int_equal(poolspec_parse("", ps, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	assert_int_equal(poolspec_parse("blank=4,image.deb12=2," ANONTARGET_MULTI_IQN "=1", ps,
					&n, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_string_equal(ps[0].iqn, CATALOG_BLANK_IQN);
	assert_int_equal(ps[0].count, 4);
	assert_string_equal(ps[1].iqn, CATALOG_IMAGE_PREFIX "deb12");
	assert_int_equal(ps[1].count, 2);
	assert_string_equal(ps[2].iqn, ANONTARGET_MULTI_IQN);
	assert_int_equal(ps[0].max, 4);  /* no MAX: the size never changes */
	assert_int_equal(poolspec_parse("blank=4:200,image.deb12=1:1", ps, &n, err, sizeof(err)),
			 0);
	assert_int_equal(n, 2);
	assert_int_equal(ps[0].count, 4);
	assert_int_equal(ps[0].max, 200);
	assert_int_equal(ps[1].count, 1);
	assert_int_equal(ps[1].max, 1);
	static const char *const bad[] = {
		"blank", "blank=", "=3", "blank=0", "blank=-1", "blank=2x", "blank=1025",
		"ro.deb12=2",                 /* shared export: not poolable */
		"p.1.disk=2",                 /* an account's image */
		"s.abc=1", "image.=1",        /* no anonymous target */
		"blank=1,blank=2",            /* twice */
		"blank=600,multi=600",        /* more than 1024 in all */
		"blank=1:600,multi=1:600",    /* MAXes: more than 1024 in all */
		"blank=4:", "blank=4:3", "blank=4:1025", "blank=4:x", "blank=4:-5",
		"blank=:4", "blank=4:5:6",
		"image.a=1,image.b=1,image.c=1,image.d=1,image.e=1,image.f=1,image.g=1,"
		"image.h=1,image.i=1",        /* nine targets */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(poolspec_parse(bad[i], ps, &n, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "pool: "));
	}
}

/* Entries of <root>/iscsi/blank/tpgt_1/acls; names[] (may be NULL) gets up to 8. */
static int acls(const char *root, char names[][CFGD_NAME_MAX + 1])
{
	return tpg_entries(root, CATALOG_BLANK_IQN, "acls", names ? names[0] : NULL,
			   CFGD_NAME_MAX + 1, 8);
}

/* Poll (1 ms apart, at most seconds s; not a timing assertion) until blank has want
 * ACLs. */
static int wait_acls_for(const char *root, int want, int seconds)
{
	for (int i = 0; i < seconds * 1000 && acls(root, NULL) != want; i++)
		usleep(1000);
	return acls(root, NULL);
}

/* wait_acls_for at most 10 s. */
static int wait_acls(const char *root, int want)
{
	return wait_acls_for(root, want, 10);
}

static bool named(char names[][CFGD_NAME_MAX + 1], int n, const char *x)
{
	for (int i = 0; i < n && i < 8; i++)
		if (!strcmp(names[i], x))
			return true;
	return false;
}

/* A daemon with the one pool ps (keep_s: its keep time, 0 = the default) on a plain
 * tree, its files under tmp named after tag; root and sock (128 bytes each) get its
 * configfs root and socket. */
static void pool_daemon_start(struct daemon *d, const char *tag, const struct poolspec *ps,
			      double keep_s, char *root, char *sock)
{
	char st[128], images[128];

	snprintf(root, 128, "%s/%s-configfs", tmp, tag);
	snprintf(st, sizeof(st), "%s/%s-state", tmp, tag);
	snprintf(images, sizeof(images), "%s/%s-images", tmp, tag);
	snprintf(sock, 128, "%s/%s.sock", tmp, tag);
	assert_int_equal(mkdir(images, 0755), 0);
	cfgd_test_pool = ps;
	cfgd_test_n_pool = 1;
	cfgd_test_pool_keep_s = keep_s;
	daemon_start_at(d, sock, root, st, images, NULL, 0);
	cfgd_test_pool = NULL;
	cfgd_test_n_pool = 0;
	cfgd_test_pool_keep_s = 0;
}

static void test_pool_sessions(void **state)
{
	struct poolspec ps[1] = { { CATALOG_BLANK_IQN, 2, 2 } };
	char root[128], sock[128], err[512] = "";
	char pre[8][CFGD_NAME_MAX + 1];
	struct cfgd_anon a, a2, a3;
	struct daemon d;
	int fd, fd2, n;

	(void)state;
	pool_daemon_start(&d, "fixed", ps, 0, root, sock);

	/* The worker fills the pool: two ACLs wait, no session is counted. */
	assert_int_equal(wait_acls(root, 2), 2);
	n = acls(root, pre);
	assert_int_equal(n, 2);
	assert_int_equal(cfgd_server_sessions(d.srv), 0);
	fd = cfgd_connect(sock, err, sizeof(err));
	assert_true(fd >= 0);
	assert_int_equal(cfgd_anon_count(fd, CATALOG_BLANK_IQN, err, sizeof(err)), 0);

	/* A login takes one of them; the worker makes its replacement. */
	assert_int_equal(cfgd_anon_create(fd, CATALOG_BLANK_IQN, "iqn.x:a", "192.0.2.1", &a,
					  err, sizeof(err)), 0);
	assert_true(named(pre, n, a.initiator));
	assert_int_equal(a.n_disks, 1);   /* a pre-made session's one disk is its own */
	assert_string_equal(a.disks[0], a.backstore);
	assert_int_equal(cfgd_anon_count(fd, CATALOG_BLANK_IQN, err, sizeof(err)), 1);
	assert_int_equal(wait_acls(root, 3), 3);

	/* anon_destroy is answered when the teardown is done; the connection is served
	 * again after it. */
	assert_int_equal(cfgd_anon_destroy(fd, a.backstore, err, sizeof(err)), 0);
	assert_false(exists("%s/fixed-configfs/iscsi/%s/tpgt_1/acls/%s", CATALOG_BLANK_IQN,
			    a.initiator));
	assert_int_equal(cfgd_server_sessions(d.srv), 0);
	assert_int_equal(cfgd_anon_destroy(fd, a.backstore, err, sizeof(err)), -ENOENT);
	n = acls(root, pre);
	assert_int_equal(n, 2);
	assert_int_equal(cfgd_anon_create(fd, CATALOG_BLANK_IQN, "iqn.x:a", "192.0.2.1", &a,
					  err, sizeof(err)), 0);
	assert_true(named(pre, n, a.initiator));

	/* --max-sessions (2 here) bounds live sessions, pre-made ones waiting or not. */
	fd2 = cfgd_connect(sock, err, sizeof(err));
	assert_true(fd2 >= 0);
	assert_int_equal(cfgd_anon_create(fd2, CATALOG_BLANK_IQN, "iqn.x:b", "192.0.2.2", &a2,
					  err, sizeof(err)), 0);
	assert_string_not_equal(a.initiator, a2.initiator);
	assert_int_equal(cfgd_anon_create(fd2, CATALOG_BLANK_IQN, "iqn.x:c", "192.0.2.3", &a3,
					  err, sizeof(err)), -EMFILE);
	assert_non_null(strstr(err, "max-sessions"));
	assert_int_equal(wait_acls(root, 4), 4);  /* 2 live + the pool of 2 */

	/* A connection that ends: its session goes (the worker tears it down). */
	close(fd2);
	for (int i = 0; i < 10000 && cfgd_server_sessions(d.srv) != 1; i++)
		usleep(1000);
	assert_int_equal(cfgd_server_sessions(d.srv), 1);
	assert_int_equal(wait_acls(root, 3), 3);
	assert_false(exists("%s/fixed-configfs/iscsi/%s/tpgt_1/acls/%s", CATALOG_BLANK_IQN,
			    a2.initiator));

	/* Shutdown: the live session and the pool are removed. */
	close(fd);
	daemon_stop(&d);
	assert_int_equal(acls(root, NULL), 0);
	{
		struct cfs *c = cfs_open(root);
		unsigned left = 99;  /* objects a sweep still finds */

		assert_non_null(c);
		cfs_force_plain(c);
		assert_int_equal(cfs_sweep(c, ANON_BACKSTORE_PREFIX, &left), 0);
		cfs_close(c);
		assert_int_equal(left, 0);
	}
}

static void test_pool_grows(void **state)
{
	struct poolspec ps[1] = { { CATALOG_BLANK_IQN, 1, 2 } };
	char root[128], sock[128], err[512] = "";
	struct cfgd_anon a, a2;
	char names[8][CFGD_NAME_MAX + 1];
	struct daemon d;
	int fd;

	(void)state;
	pool_daemon_start(&d, "grow", ps, 3, root, sock);  /* keeps its size 3 s */

	/* blank=1:2: one waits; a burst of two logins grows the pool to two. */
	assert_int_equal(wait_acls(root, 1), 1);
	fd = cfgd_connect(sock, err, sizeof(err));
	assert_true(fd >= 0);
	assert_int_equal(cfgd_anon_create(fd, CATALOG_BLANK_IQN, "iqn.x:a", "192.0.2.1", &a,
					  err, sizeof(err)), 0);
	assert_int_equal(cfgd_anon_create(fd, CATALOG_BLANK_IQN, "iqn.x:b", "192.0.2.2", &a2,
					  err, sizeof(err)), 0);
	assert_int_equal(wait_acls(root, 4), 4);  /* 2 live + the pool grown to 2 */

	/* The keep time passes: the pool shrinks back to one, the live sessions stay. */
	assert_int_equal(wait_acls_for(root, 3, 20), 3);  /* past the keep time */
	assert_int_equal(acls(root, names), 3);
	assert_true(named(names, 3, a.initiator));
	assert_true(named(names, 3, a2.initiator));
	assert_int_equal(cfgd_server_sessions(d.srv), 2);

	close(fd);
	daemon_stop(&d);
	assert_int_equal(acls(root, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_poolspec),
		cmocka_unit_test(test_pool_sessions),
		cmocka_unit_test(test_pool_grows),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
