/*
 * test_session.c — unit tests for tls-proxy/session.c: backstore name hashing
 * (stable, known SHA-256 prefix, distinct per pair), stale overlay cleanup, and
 * provisioning against a plain temporary configfs tree (cfs_force_plain): the
 * target, backstore, TPG LUN and an ACL for a fresh per-connection name with LUN 0
 * appear; a second connection with the same InitiatorName gets a session of its own;
 * release removes the objects and the overlay files; kept overlay files are never
 * handed out again.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "cfs.h"
#include "session.h"

static char tmp[64];

static bool exists(const char *fmt, const char *a, const char *b)
{
	char p[512];
	struct stat st;

	snprintf(p, sizeof(p), fmt, tmp, a, b);
	return lstat(p, &st) == 0;
}

static void touch(const char *path)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/sess-test-%s", "");
	memset(tmp + strlen(tmp), 'X', 6); /* mkdtemp template */
	tmp[strlen("/tmp/sess-test-") + 6] = '\0';
	return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd);
}

static void test_name(void **state)
{
	char a[SESSION_NAME_LEN + 1], b[SESSION_NAME_LEN + 1];

	(void)state;
	/* sha256("iqn.1993-08.org.debian:01:abc\niqn.2025-01.pub.scsipub:blank") */
	assert_int_equal(session_name("iqn.1993-08.org.debian:01:abc",
				      "iqn.2025-01.pub.scsipub:blank", a), 0);
	assert_string_equal(a, "spf989fb399da394f7");
	assert_int_equal(strlen(a), SESSION_NAME_LEN);
	assert_int_equal(session_name("iqn.a", "iqn.b", b), 0);
	assert_string_equal(b, "sp658fde5878c8f513");
	/* Order matters. */
	assert_int_equal(session_name("iqn.b", "iqn.a", a), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(session_name("iqn.a", "iqn.b", a), 0);
	assert_string_equal(a, b); /* stable */
}

static void test_clean_overlays(void **state)
{
	char p[256];

	(void)state;
	/* Creates the directory, then deletes only regular files in it. */
	assert_int_equal(session_clean_overlays(tmp), 0);
	snprintf(p, sizeof(p), "%s/overlays/old.ovl", tmp);
	touch(p);
	snprintf(p, sizeof(p), "%s/overlays/old.bitmap", tmp);
	touch(p);
	snprintf(p, sizeof(p), "%s/overlays/keepdir", tmp);
	mkdir(p, 0700);
	assert_int_equal(session_clean_overlays(tmp), 2);
	assert_true(exists("%s/overlays/%s%s", "keepdir", ""));
	assert_false(exists("%s/overlays/%s%s", "old.ovl", ""));
	rmdir(p);
}

/*
 * A plain temporary configfs tree <tmp>/configfs<n> and state directory <tmp>/state<n>
 * (root and state_dir: 128 bytes each), and sc filled for them. Returns the cfs.
 */
static struct cfs *plain_tree(const char *n, char *root, char *state_dir, struct session_cfg *sc)
{
	struct cfs *c;

	snprintf(root, 128, "%s/configfs%s", tmp, n);
	snprintf(state_dir, 128, "%s/state%s", tmp, n);
	assert_int_equal(mkdir(root, 0755), 0);
	c = cfs_open(root);
	assert_non_null(c);
	cfs_force_plain(c);
	memset(sc, 0, sizeof(*sc));
	sc->cfs = c;
	sc->state_dir = state_dir;
	sc->lio_portal = "127.0.0.1:3262";
	return c;
}

static void test_anon_name(void **state)
{
	char a[SESSION_ANON_NAME_LEN + 1], b[SESSION_ANON_NAME_LEN + 1];
	size_t plen = strlen(SESSION_ANON_PREFIX);

	(void)state;
	assert_int_equal(session_anon_name(a), 0);
	assert_int_equal(session_anon_name(b), 0);
	assert_int_equal(strlen(a), SESSION_ANON_NAME_LEN);
	assert_memory_equal(a, SESSION_ANON_PREFIX, plen);
	assert_int_equal(strspn(a + plen, "0123456789abcdef"), 32); /* 128 bits, lowercase */
	assert_string_not_equal(a, b);
}

/* <root>/iscsi/<target>/tpgt_1/acls has exactly one entry, copied to name. */
static void one_acl(const char *root, char *name, size_t len)
{
	char p[512];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(p, sizeof(p), "%s/iscsi/%s/tpgt_1/acls", root, CATALOG_BLANK_IQN);
	d = opendir(p);
	assert_non_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(name, len, "%s", e->d_name);
			n++;
		}
	closedir(d);
	assert_int_equal(n, 1);
}

static void test_provision_and_teardown(void **state)
{
	char root[128], state_dir[128], ovl[256], bmp[256], path[512], acl[256];
	const char *ini = "iqn.2025-01.test:client";
	struct catalog_entry blank = { .iqn = CATALOG_BLANK_IQN, .path = "",
				       .size_bytes = CATALOG_BLANK_SIZE };
	struct session_cfg sc;
	struct session_mgr *m;
	struct session *s1, *s2;
	struct cfs *c;
	char err[512] = "", want[SESSION_NAME_LEN + 1], name1[SESSION_NAME_LEN + 1];
	const char *name, *lio1;

	(void)state;
	c = plain_tree("", root, state_dir, &sc);
	sc.write_limit = 1048576;
	m = session_mgr_new(&sc);
	assert_non_null(m);
	assert_int_equal(session_clean_overlays(state_dir), 0);

	assert_int_equal(session_acquire(m, ini, &blank, "192.0.2.5", &s1, err, sizeof(err)), 0);
	name = session_backstore(s1);
	lio1 = session_lio_initiator(s1);
	/* LIO knows the session by its own name, not by what the client sent. */
	assert_memory_equal(lio1, SESSION_ANON_PREFIX, strlen(SESSION_ANON_PREFIX));
	assert_string_not_equal(lio1, ini);
	assert_int_equal(session_name(lio1, CATALOG_BLANK_IQN, want), 0);
	assert_string_equal(name, want);
	snprintf(name1, sizeof(name1), "%s", name);
	snprintf(ovl, sizeof(ovl), "%s/overlays/%s.ovl", state_dir, want);
	snprintf(bmp, sizeof(bmp), "%s/overlays/%s.bitmap", state_dir, want);
	assert_int_equal(session_count(m), 1);
	/* Provisioning took the configfs lock shared with the api-server (prov.h). */
	snprintf(path, sizeof(path), "%s/configfs.lock", state_dir);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(cfs_backstore_path(c, name, path, sizeof(path)), 0);
	one_acl(root, acl, sizeof(acl));
	assert_string_equal(acl, lio1);
	assert_false(exists("%s/configfs/iscsi/%s/tpgt_1/acls/%s", CATALOG_BLANK_IQN, ini));
	assert_true(exists("%s/configfs/iscsi/%s/tpgt_1/np/%s", CATALOG_BLANK_IQN, "127.0.0.1:3262"));
	assert_true(exists("%s/configfs/iscsi/%s/tpgt_1/acls/%s/lun_0", CATALOG_BLANK_IQN, lio1));
	assert_true(exists("%s/configfs/iscsi/%s/tpgt_1/lun/lun_0%s", CATALOG_BLANK_IQN, ""));
	{
		/* The dev_config written to the backstore names our overlay files. */
		char ctl[600], buf[1024] = "";
		FILE *f;

		snprintf(ctl, sizeof(ctl), "%s/control", path);
		f = fopen(ctl, "r");
		if (f) {
			size_t n = fread(buf, 1, sizeof(buf) - 1, f);

			buf[n] = '\0';
			fclose(f);
			assert_non_null(strstr(buf, "dev_size=67108864"));
			assert_non_null(strstr(buf, ovl));
			assert_non_null(strstr(buf, bmp));
			assert_non_null(strstr(buf, "limit=1048576"));
		}
	}

	/* The handler would create these; teardown must delete them. */
	touch(ovl);
	touch(bmp);

	/* A second connection with the same InitiatorName: a session of its own. */
	assert_int_equal(session_acquire(m, ini, &blank, "192.0.2.5", &s2, err, sizeof(err)), 0);
	assert_ptr_not_equal(s1, s2);
	assert_string_not_equal(session_lio_initiator(s2), lio1);
	assert_string_not_equal(session_backstore(s2), name1);
	assert_int_equal(session_count(m), 2);
	assert_true(exists("%s/configfs/iscsi/%s/tpgt_1/acls/%s", CATALOG_BLANK_IQN,
			   session_lio_initiator(s2)));
	session_release(m, s2, "192.0.2.5");
	assert_int_equal(session_count(m), 1);
	/* The first one is untouched by the second one's end. */
	assert_true(exists("%s/configfs/iscsi/%s/tpgt_1/acls/%s", CATALOG_BLANK_IQN, lio1));
	assert_int_equal(access(ovl, F_OK), 0);

	/* Release: ACL, LUN, backstore and files gone; the target stays. */
	snprintf(acl, sizeof(acl), "%s", lio1);
	session_release(m, s1, "192.0.2.5");
	assert_int_equal(session_count(m), 0);
	assert_false(exists("%s/configfs/iscsi/%s/tpgt_1/acls/%s", CATALOG_BLANK_IQN, acl));
	assert_int_equal(cfs_backstore_path(c, want, path, sizeof(path)), -ENOENT);
	assert_true(exists("%s/configfs/iscsi/%s/tpgt_1%s", CATALOG_BLANK_IQN, ""));
	assert_int_not_equal(access(ovl, F_OK), 0);
	assert_int_not_equal(access(bmp, F_OK), 0);
	{
		unsigned removed = 99;

		/* Nothing leaked for a sweep to find. */
		assert_int_equal(cfs_sweep(c, SESSION_NAME_PREFIX, &removed), 0);
		assert_int_equal(removed, 0);
	}

	/* A session still open at shutdown is torn down by session_mgr_free. */
	assert_int_equal(session_acquire(m, ini, &blank, "192.0.2.5", &s1, err, sizeof(err)), 0);
	snprintf(acl, sizeof(acl), "%s", session_lio_initiator(s1));
	assert_true(exists("%s/configfs/iscsi/%s/tpgt_1/acls/%s", CATALOG_BLANK_IQN, acl));
	session_mgr_free(m);
	assert_false(exists("%s/configfs/iscsi/%s/tpgt_1/acls/%s", CATALOG_BLANK_IQN, acl));
	cfs_close(c);
}

static void test_keep_overlays_never_reused(void **state)
{
	char root[128], state_dir[128], ovl[300], name[SESSION_NAME_LEN + 1];
	struct catalog_entry blank = { .iqn = CATALOG_BLANK_IQN, .path = "",
				       .size_bytes = CATALOG_BLANK_SIZE };
	struct session_cfg sc;
	struct session_mgr *m;
	struct session *s;
	struct cfs *c;
	char err[512] = "";

	(void)state;
	c = plain_tree("3", root, state_dir, &sc);
	sc.keep_overlays = true;
	m = session_mgr_new(&sc);
	assert_non_null(m);
	assert_int_equal(session_acquire(m, "iqn.x:same", &blank, "p", &s, err, sizeof(err)), 0);
	snprintf(name, sizeof(name), "%s", session_backstore(s));
	snprintf(ovl, sizeof(ovl), "%s/overlays/%s.ovl", state_dir, name);
	touch(ovl);
	session_release(m, s, "p");
	assert_int_equal(access(ovl, F_OK), 0); /* kept (the crash test's option) */
	/* The same client again: a new, empty disk; the kept file is not its. */
	assert_int_equal(session_acquire(m, "iqn.x:same", &blank, "p", &s, err, sizeof(err)), 0);
	assert_string_not_equal(session_backstore(s), name);
	session_release(m, s, "p");
	session_mgr_free(m);
	cfs_close(c);
}

static void test_provision_failure_rolls_back(void **state)
{
	char root[128], state_dir[128], path[512];
	struct catalog_entry bad = { .iqn = CATALOG_BLANK_IQN, .size_bytes = CATALOG_BLANK_SIZE };
	struct session_cfg sc;
	struct session_mgr *m;
	struct session *s = NULL;
	struct cfs *c;
	char err[512] = "";

	(void)state;
	c = plain_tree("2", root, state_dir, &sc);
	m = session_mgr_new(&sc);
	/* A base path that cannot go into a dev_config fails before configfs is touched. */
	snprintf(bad.path, sizeof(bad.path), "/images/a;b.img");
	assert_true(session_acquire(m, "iqn.x:y", &bad, "192.0.2.9", &s, err, sizeof(err)) < 0);
	assert_null(s);
	assert_non_null(strstr(err, "dev_config"));
	assert_int_equal(session_count(m), 0);
	/* A portal configfs rejects fails after nothing of ours was left behind. */
	sc.lio_portal = "not-an-address";
	session_mgr_free(m);
	m = session_mgr_new(&sc);
	bad.path[0] = '\0';
	assert_true(session_acquire(m, "iqn.x:y", &bad, "192.0.2.9", &s, err, sizeof(err)) < 0);
	assert_int_equal(session_count(m), 0);
	assert_int_equal(cfs_backstore_path(c, "sp", path, sizeof(path)), -ENOENT);
	{
		unsigned removed = 99;

		assert_int_equal(cfs_sweep(c, SESSION_NAME_PREFIX, &removed), 0);
		assert_int_equal(removed, 0);
	}
	session_mgr_free(m);
	cfs_close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_clean_overlays),
		cmocka_unit_test(test_anon_name),
		cmocka_unit_test(test_provision_and_teardown),
		cmocka_unit_test(test_keep_overlays_never_reused),
		cmocka_unit_test(test_provision_failure_rolls_back),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
