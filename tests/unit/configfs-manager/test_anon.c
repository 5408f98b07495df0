/*
 * test_anon.c — unit tests for configfs-manager/anon.c: backstore name hashing
 * (stable, known SHA-256 prefix, distinct per pair), per-connection initiator names,
 * stale overlay cleanup, kept overlay files never handed out again, and rollback of a
 * failed provisioning, against a plain temporary configfs tree (cfs_force_plain).
 * The whole path portal -> scsipub-cfgd -> configfs is tested in
 * tests/unit/tls-proxy/test_session.c.
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
#include "anon.h"

#include "test_sesstree.h"

static void test_name(void **state)
{
	char a[ANON_BACKSTORE_LEN + 1], b[ANON_BACKSTORE_LEN + 1];

	(void)state;
	/* sha256("iqn.1993-08.org.debian:01:abc\niqn.2025-01.pub.scsipub:blank") */
	assert_int_equal(anon_backstore_name("iqn.1993-08.org.debian:01:abc",
				      "iqn.2025-01.pub.scsipub:blank", a), 0);
	assert_string_equal(a, "spf989fb399da394f7");
	assert_int_equal(strlen(a), ANON_BACKSTORE_LEN);
	assert_int_equal(anon_backstore_name("iqn.a", "iqn.b", b), 0);
	assert_string_equal(b, "sp658fde5878c8f513");
	/* Order matters. */
	assert_int_equal(anon_backstore_name("iqn.b", "iqn.a", a), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(anon_backstore_name("iqn.a", "iqn.b", a), 0);
	assert_string_equal(a, b); /* stable */
}

static void test_clean_overlays(void **state)
{
	char p[256];

	(void)state;
	/* Creates the directory, then deletes only regular files in it. */
	assert_int_equal(anon_clean_overlays(tmp), 0);
	snprintf(p, sizeof(p), "%s/overlays/old.ovl", tmp);
	touch(p);
	snprintf(p, sizeof(p), "%s/overlays/old.bitmap", tmp);
	touch(p);
	snprintf(p, sizeof(p), "%s/overlays/keepdir", tmp);
	mkdir(p, 0700);
	assert_int_equal(anon_clean_overlays(tmp), 2);
	assert_true(exists("%s/overlays/%s%s", "keepdir", ""));
	assert_false(exists("%s/overlays/%s%s", "old.ovl", ""));
	rmdir(p);
}

/*
 * A plain temporary configfs tree <tmp>/configfs<n> and state directory <tmp>/state<n>
 * (root and state_dir: 128 bytes each), and sc filled for them. Returns the cfs.
 */
static struct cfs *plain_tree(const char *n, char *root, char *state_dir, struct anon_cfg *sc)
{
	struct cfs *c;

	snprintf(root, 128, "%s/configfs%s", tmp, n);
	snprintf(state_dir, 128, "%s/state%s", tmp, n);
	assert_int_equal(mkdir(root, 0755), 0);
	c = cfs_open(root);
	assert_non_null(c);
	cfs_force_plain(c);
	memset(sc, 0, sizeof(*sc));
	sc->state_dir = state_dir;
	sc->lio_portal = "127.0.0.1:3262";
	return c;
}

static void test_anon_name(void **state)
{
	char a[ANON_NAME_LEN + 1], b[ANON_NAME_LEN + 1];
	size_t plen = strlen(ANON_PREFIX);

	(void)state;
	assert_int_equal(anon_initiator_name(a), 0);
	assert_int_equal(anon_initiator_name(b), 0);
	assert_int_equal(strlen(a), ANON_NAME_LEN);
	assert_memory_equal(a, ANON_PREFIX, plen);
	assert_int_equal(strspn(a + plen, "0123456789abcdef"), 32); /* 128 bits, lowercase */
	assert_string_not_equal(a, b);
}

static void test_keep_overlays_never_reused(void **state)
{
	char root[128], state_dir[128], ovl[300], name[ANON_BACKSTORE_LEN + 1];
	struct catalog_entry blank = { .iqn = CATALOG_BLANK_IQN, .path = "",
				       .size_bytes = CATALOG_BLANK_SIZE };
	struct anon_cfg sc;
	struct anon_session s;
	struct cfs *c;
	char err[512] = "";

	(void)state;
	c = plain_tree("3", root, state_dir, &sc);
	sc.keep_overlays = true;
	assert_int_equal(anon_create(c, &sc, &blank, &s, err, sizeof(err)), 0);
	snprintf(name, sizeof(name), "%s", s.backstore);
	snprintf(ovl, sizeof(ovl), "%s/overlays/%s.ovl", state_dir, name);
	assert_string_equal(s.overlay, ovl);
	touch(ovl);
	anon_destroy(c, &sc, &s);
	assert_int_equal(access(ovl, F_OK), 0); /* kept (the crash test's option) */
	/* The same client again: a new, empty disk; the kept file is not its. */
	assert_int_equal(anon_create(c, &sc, &blank, &s, err, sizeof(err)), 0);
	assert_string_not_equal(s.backstore, name);
	anon_destroy(c, &sc, &s);
	cfs_close(c);
}

static void test_provision_failure_rolls_back(void **state)
{
	char root[128], state_dir[128], path[512];
	struct catalog_entry bad = { .iqn = CATALOG_BLANK_IQN, .size_bytes = CATALOG_BLANK_SIZE };
	struct anon_cfg sc;
	struct anon_session s;
	struct cfs *c;
	char err[512] = "";

	(void)state;
	c = plain_tree("2", root, state_dir, &sc);
	/* A base path that cannot go into a dev_config fails before configfs is touched. */
	snprintf(bad.path, sizeof(bad.path), "/images/a;b.img");
	assert_true(anon_create(c, &sc, &bad, &s, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "dev_config"));
	/* A portal configfs rejects fails after nothing of ours was left behind. */
	sc.lio_portal = "not-an-address";
	bad.path[0] = '\0';
	assert_true(anon_create(c, &sc, &bad, &s, err, sizeof(err)) < 0);
	assert_int_equal(cfs_backstore_path(c, "sp", path, sizeof(path)), -ENOENT);
	{
		unsigned removed = 99;

		assert_int_equal(cfs_sweep(c, ANON_BACKSTORE_PREFIX, &removed), 0);
		assert_int_equal(removed, 0);
	}
	cfs_close(c);
}

/* An ACL directory as a restore would leave it (no mapped LUN). */
static void mkacl(const char *root, const char *iqn, const char *initiator)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/iscsi/%s/tpgt_1/acls", root, iqn);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/iscsi/%s/tpgt_1/acls/%s", root, iqn, initiator);
	assert_int_equal(mkdir(p, 0755), 0);
}

/* Leftover anonymous ACLs (a restored saveconfig) go; other ACLs and targets stay. */
static void test_sweep_acls(void **state)
{
	char root[128], state_dir[128];
	struct anon_cfg sc;
	struct cfs *c;
	unsigned removed = 99;
	const char *img = "iqn.2025-01.pub.scsipub:image.x", *prov = "iqn.2025-01.pub.scsipub:s.abc";

	(void)state;
	c = plain_tree("4", root, state_dir, &sc);
	assert_int_equal(cfs_target_ensure(c, CATALOG_BLANK_IQN, "127.0.0.1:3262"), 0);
	assert_int_equal(cfs_target_ensure(c, img, "127.0.0.1:3262"), 0);
	assert_int_equal(cfs_target_ensure(c, prov, "127.0.0.1:3262"), 0);
	mkacl(root, CATALOG_BLANK_IQN, ANON_PREFIX "00112233445566778899aabbccddeeff");
	mkacl(root, img, ANON_PREFIX "ffeeddccbbaa99887766554433221100");
	mkacl(root, CATALOG_BLANK_IQN, "iqn.2099-01.operator:keep");
	mkacl(root, prov, ANON_PREFIX "00112233445566778899aabbccddeeff");
	assert_int_equal(anon_sweep_acls(c, &removed), 0);
	assert_int_equal(removed, 2);
	assert_true(exists("%s/configfs4/iscsi/%s/tpgt_1/acls/iqn.2099-01.operator:keep", CATALOG_BLANK_IQN, ""));
	assert_true(exists("%s/configfs4/iscsi/%s/tpgt_1/acls/" ANON_PREFIX "00112233445566778899aabbccddeeff", prov, ""));
	assert_false(exists("%s/configfs4/iscsi/%s/tpgt_1/acls/" ANON_PREFIX "00112233445566778899aabbccddeeff", CATALOG_BLANK_IQN, ""));
	assert_int_equal(anon_sweep_acls(c, &removed), 0);
	assert_int_equal(removed, 0);
	cfs_close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_clean_overlays),
		cmocka_unit_test(test_anon_name),
		cmocka_unit_test(test_keep_overlays_never_reused),
		cmocka_unit_test(test_provision_failure_rolls_back),
		cmocka_unit_test(test_sweep_acls),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
