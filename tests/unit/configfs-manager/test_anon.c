/*
 * test_anon.c — unit tests for configfs-manager/anon.c: backstore name hashing
 * (stable, known SHA-256 prefix, distinct per pair), per-connection initiator names,
 * stale overlay cleanup, kept overlay files never handed out again, rollback of a
 * failed provisioning, the two private LUNs of multi and the reference-counted shared
 * read-only export of ro.<name> (one backstore for every session, write_protect on
 * each session's mapped LUN, removed with the last session), an account's private
 * image (CHAP required by the TPG, written into each session's own ACL, the target
 * gone with its last session), against a plain
 * temporary configfs tree (cfs_force_plain).
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

#include "anontarget.h"
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

/* An anonymous target of kind k with n LUNs over e[0..n). */
static struct anontarget target_of(const char *iqn, enum anontarget_kind k,
				   const struct catalog_entry *e, unsigned n)
{
	struct anontarget t;

	memset(&t, 0, sizeof(t));
	snprintf(t.iqn, sizeof(t.iqn), "%s", iqn);
	t.kind = k;
	for (unsigned i = 0; i < n; i++)
		t.lun[i] = e[i];
	t.n_luns = n;
	return t;
}

static const struct catalog_entry blank_entry = { .iqn = CATALOG_BLANK_IQN, .path = "",
						  .size_bytes = CATALOG_BLANK_SIZE };

static void test_keep_overlays_never_reused(void **state)
{
	char root[128], state_dir[128], ovl[300], name[ANON_BACKSTORE_LEN + 1];
	struct anontarget blank = target_of(CATALOG_BLANK_IQN, ANONTARGET_PRIVATE, &blank_entry, 1);
	struct anon_cfg sc;
	struct anon_session s;
	struct cfs *c;
	char err[512] = "";

	(void)state;
	c = plain_tree("3", root, state_dir, &sc);
	sc.keep_overlays = true;
	assert_int_equal(anon_create(c, &sc, NULL, &blank, &s, err, sizeof(err)), 0);
	snprintf(name, sizeof(name), "%s", s.backstore);
	assert_string_equal(s.luns[0].backstore, name); /* the handle is LUN 0's backstore */
	assert_int_equal(s.n_luns, 1);
	snprintf(ovl, sizeof(ovl), "%s/overlays/%s.ovl", state_dir, name);
	touch(ovl);
	anon_destroy(c, &sc, NULL, &s);
	assert_int_equal(access(ovl, F_OK), 0); /* kept (the crash test's option) */
	/* The same client again: a new, empty disk; the kept file is not its. */
	assert_int_equal(anon_create(c, &sc, NULL, &blank, &s, err, sizeof(err)), 0);
	assert_string_not_equal(s.backstore, name);
	anon_destroy(c, &sc, NULL, &s);
	cfs_close(c);
}

static void test_provision_failure_rolls_back(void **state)
{
	char root[128], state_dir[128], path[512];
	struct anontarget bad = target_of(CATALOG_BLANK_IQN, ANONTARGET_PRIVATE, &blank_entry, 1);
	struct anon_cfg sc;
	struct anon_session s;
	struct cfs *c;
	char err[512] = "";

	(void)state;
	c = plain_tree("2", root, state_dir, &sc);
	/* A base path that cannot go into a dev_config fails before configfs is touched. */
	snprintf(bad.lun[0].path, sizeof(bad.lun[0].path), "/images/a;b.img");
	assert_true(anon_create(c, &sc, NULL, &bad, &s, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "dev_config"));
	/* A portal configfs rejects fails after nothing of ours was left behind. */
	sc.lio_portal = "not-an-address";
	bad.lun[0].path[0] = '\0';
	assert_true(anon_create(c, &sc, NULL, &bad, &s, err, sizeof(err)) < 0);
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
	assert_int_equal(cfs_target_ensure(c, ANONTARGET_MULTI_IQN, "127.0.0.1:3262"), 0);
	assert_int_equal(cfs_target_ensure_ro(c, ANONTARGET_RO_PREFIX "x", "127.0.0.1:3262"), 0);
	mkacl(root, ANONTARGET_MULTI_IQN, ANON_PREFIX "0123456789abcdef0123456789abcdef");
	mkacl(root, ANONTARGET_RO_PREFIX "x", ANON_PREFIX "0123456789abcdef0123456789abcdef");
	mkacl(root, prov, ANON_PREFIX "00112233445566778899aabbccddeeff");
	assert_int_equal(anon_sweep_acls(c, &removed), 0);
	assert_int_equal(removed, 4);
	assert_true(exists("%s/configfs4/iscsi/%s/tpgt_1/acls/iqn.2099-01.operator:keep", CATALOG_BLANK_IQN, ""));
	assert_true(exists("%s/configfs4/iscsi/%s/tpgt_1/acls/" ANON_PREFIX "00112233445566778899aabbccddeeff", prov, ""));
	assert_false(exists("%s/configfs4/iscsi/%s/tpgt_1/acls/" ANON_PREFIX "00112233445566778899aabbccddeeff", CATALOG_BLANK_IQN, ""));
	assert_int_equal(anon_sweep_acls(c, &removed), 0);
	assert_int_equal(removed, 0);
	cfs_close(c);
}

/* The first line of file fmt (printf with tmp, a, b) into buf, or "" when unreadable. */
static void slurp_line(char *buf, size_t len, const char *fmt, const char *a, const char *b)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), fmt, tmp, a, b);
	buf[0] = '\0';
	f = fopen(p, "r");
	if (!f)
		return;
	if (!fgets(buf, (int)len, f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}

/* multi: two private LUNs per session, mapped as LUN 0 and LUN 1; no two sessions
 * share a backstore; teardown removes all of them with their files. */
static void test_multi_two_private_luns(void **state)
{
	char root[128], state_dir[128], path[512], err[512] = "";
	struct catalog_entry e[2] = { blank_entry, blank_entry };
	struct anontarget t;
	struct anon_cfg sc;
	struct anon_session a, b;
	struct cfs *c;

	(void)state;
	c = plain_tree("5", root, state_dir, &sc);
	e[1].size_bytes = 1048576;
	t = target_of(ANONTARGET_MULTI_IQN, ANONTARGET_MULTI, e, 2);
	assert_int_equal(anon_create(c, &sc, NULL, &t, &a, err, sizeof(err)), 0);
	assert_int_equal(anon_create(c, &sc, NULL, &t, &b, err, sizeof(err)), 0);
	assert_int_equal(a.n_luns, 2);
	assert_int_equal(a.kind, ANONTARGET_MULTI);
	assert_string_equal(a.luns[0].backstore, a.backstore);
	assert_string_not_equal(a.luns[0].backstore, a.luns[1].backstore);
	assert_string_not_equal(a.luns[0].backstore, b.luns[0].backstore);
	assert_string_not_equal(a.luns[1].backstore, b.luns[1].backstore);
	assert_int_equal(a.luns[1].size_bytes, 1048576);
	for (unsigned i = 0; i < 2; i++) {
		char m[16];

		assert_int_equal(cfs_backstore_path(c, a.luns[i].backstore, path, sizeof(path)), 0);
		assert_int_equal(cfs_backstore_path(c, b.luns[i].backstore, path, sizeof(path)), 0);
		snprintf(m, sizeof(m), "lun_%u", i);
		assert_true(exists("%s/configfs5/iscsi/" ANONTARGET_MULTI_IQN "/tpgt_1/acls/%s/%s",
				   a.initiator, m));
	}
	/* Four distinct TPG LUNs: a and b never see each other's disks. */
	assert_true(a.luns[0].lun != b.luns[0].lun && a.luns[1].lun != b.luns[1].lun &&
		    a.luns[0].lun != a.luns[1].lun && b.luns[0].lun != b.luns[1].lun);
	anon_destroy(c, &sc, NULL, &a);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(cfs_backstore_path(c, a.luns[i].backstore, path, sizeof(path)),
				 -ENOENT);
		assert_false(exists("%s/state5/overlays/%s.ovl%s", a.luns[i].backstore, ""));
		assert_int_equal(cfs_backstore_path(c, b.luns[i].backstore, path, sizeof(path)), 0);
	}
	assert_false(exists("%s/configfs5/iscsi/" ANONTARGET_MULTI_IQN "/tpgt_1/acls/%s%s",
			    a.initiator, ""));
	anon_destroy(c, &sc, NULL, &b);
	{
		unsigned removed = 99;

		assert_int_equal(cfs_sweep(c, ANON_BACKSTORE_PREFIX, &removed), 0);
		assert_int_equal(removed, 0);
	}
	cfs_close(c);
}

/* The control line (dev_config, limit...) written to backstore name, into buf. */
static void control_of(struct cfs *c, const char *name, char *buf, size_t len)
{
	char path[512], ctl[600];

	assert_int_equal(cfs_backstore_path(c, name, path, sizeof(path)), 0);
	snprintf(ctl, sizeof(ctl), "%s/control", path);
	slurp_line(buf, len, "%s%s", ctl + strlen(tmp), "");
}

/* ro.<name>: one backstore and TPG LUN shared by every session, each session its own
 * ACL whose LUN 0 is write-protected; counted; the last session removes the export. */
static void test_shared_ro_export(void **state)
{
	const char *iqn = ANONTARGET_RO_PREFIX "deb";
	char root[128], state_dir[128], path[512], buf[1024], err[512] = "";
	struct catalog_entry img = { .iqn = CATALOG_IMAGE_PREFIX "deb", .path = "/srv/deb.img",
				     .size_bytes = 4194304 };
	struct anontarget t = target_of(iqn, ANONTARGET_SHARED_RO, &img, 1);
	struct anon_exports *ex = anon_exports_new();
	struct anon_session s[3];
	struct anon_cfg sc;
	struct cfs *c;

	(void)state;
	assert_non_null(ex);
	c = plain_tree("6", root, state_dir, &sc);
	sc.write_limit = 1048576;
	sc.keep_overlays = true; /* never applies to the shared export's empty files */
	/* Without a table a shared export cannot be counted: refused. */
	assert_int_equal(anon_create(c, &sc, NULL, &t, &s[0], err, sizeof(err)), -EINVAL);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(anon_create(c, &sc, ex, &t, &s[i], err, sizeof(err)), 0);
		assert_int_equal(anon_exports_sessions(ex, iqn), (unsigned)i + 1);
		assert_int_equal(s[i].n_luns, 1);
		assert_int_equal(s[i].kind, ANONTARGET_SHARED_RO);
		assert_memory_equal(s[i].luns[0].backstore, ANON_SHARED_PREFIX,
				    strlen(ANON_SHARED_PREFIX));
		assert_int_equal(strlen(s[i].luns[0].backstore), ANON_SHARED_LEN);
		assert_string_equal(s[i].luns[0].backstore, s[0].luns[0].backstore);
		assert_int_equal(s[i].luns[0].lun, s[0].luns[0].lun);
		/* The handle is per session, never the shared backstore. */
		assert_string_not_equal(s[i].backstore, s[i].luns[0].backstore);
		slurp_line(buf, sizeof(buf), "%s/configfs6/iscsi/%s/tpgt_1/acls/%s/lun_0/write_protect",
			   iqn, s[i].initiator);
		assert_string_equal(buf, "1");
	}
	assert_string_not_equal(s[0].backstore, s[1].backstore);
	assert_string_not_equal(s[0].initiator, s[1].initiator);
	/* Every mapped LUN of the target is born read-only. */
	slurp_line(buf, sizeof(buf), "%s/configfs6/iscsi/%s/tpgt_1/attrib/prod_mode_write_protect%s",
		   iqn, "");
	assert_string_equal(buf, "1");
	/* One backstore, one TPG LUN; the handler refuses writes too (limit 1 byte). */
	control_of(c, s[0].luns[0].backstore, buf, sizeof(buf));
	assert_non_null(strstr(buf, "base=/srv/deb.img"));
	assert_non_null(strstr(buf, "limit=1"));
	assert_null(strstr(buf, "limit=1048576"));
	assert_true(exists("%s/configfs6/iscsi/%s/tpgt_1/lun/lun_0%s", iqn, ""));
	assert_false(exists("%s/configfs6/iscsi/%s/tpgt_1/lun/lun_1%s", iqn, ""));
	/* A session's end removes its ACL only. */
	anon_destroy(c, &sc, ex, &s[1]);
	assert_int_equal(anon_exports_sessions(ex, iqn), 2);
	assert_false(exists("%s/configfs6/iscsi/%s/tpgt_1/acls/%s", iqn, s[1].initiator));
	assert_true(exists("%s/configfs6/iscsi/%s/tpgt_1/acls/%s", iqn, s[0].initiator));
	assert_int_equal(cfs_backstore_path(c, s[0].luns[0].backstore, path, sizeof(path)), 0);
	anon_destroy(c, &sc, ex, &s[0]);
	anon_destroy(c, &sc, ex, &s[2]);
	/* The last one removes the export: backstore, TPG LUN and files. */
	assert_int_equal(anon_exports_sessions(ex, iqn), 0);
	assert_int_equal(cfs_backstore_path(c, s[0].luns[0].backstore, path, sizeof(path)),
			 -ENOENT);
	assert_false(exists("%s/configfs6/iscsi/%s/tpgt_1/lun/lun_0%s", iqn, ""));
	assert_false(exists("%s/state6/overlays/%s.ovl%s", s[0].luns[0].backstore, ""));
	assert_false(exists("%s/state6/overlays/%s.bitmap%s", s[0].luns[0].backstore, ""));
	/* And the next first session makes it again. */
	assert_int_equal(anon_create(c, &sc, ex, &t, &s[0], err, sizeof(err)), 0);
	assert_int_equal(anon_exports_sessions(ex, iqn), 1);
	anon_destroy(c, &sc, ex, &s[0]);
	assert_int_equal(anon_exports_sessions(ex, iqn), 0);
	anon_exports_free(ex);
	cfs_close(c);
}

/* p.<account>.<name>: per connection a private COW LUN as for image.<name>, in a target
 * with authentication=1; each session's ACL carries the account's CHAP; without valid
 * credentials nothing is made; the last session's end removes the target. */
static void test_account_image(void **state)
{
	const char *iqn = "iqn.2025-01.pub.scsipub:p.7.ci-pi";
	char root[128], state_dir[128], path[512], buf[1024], err[512] = "";
	struct catalog_entry img = { .path = "/srv/images/7/ci-pi.img", .size_bytes = 8388608 };
	struct anontarget t = target_of(iqn, ANONTARGET_ACCOUNT, &img, 1);
	struct anon_session s[2];
	struct anon_cfg sc;
	struct cfs *c;

	(void)state;
	c = plain_tree("7", root, state_dir, &sc);
	/* No (or malformed) credentials: refused before anything exists. */
	assert_int_equal(anon_create(c, &sc, NULL, &t, &s[0], err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "CHAP"));
	snprintf(t.chap_user, sizeof(t.chap_user), "short");
	snprintf(t.chap_secret, sizeof(t.chap_secret), "tooshort");
	assert_int_equal(anon_create(c, &sc, NULL, &t, &s[0], err, sizeof(err)), -EINVAL);
	assert_false(exists("%s/configfs7/iscsi/%s%s", iqn, ""));
	snprintf(t.chap_user, sizeof(t.chap_user), "acme");
	snprintf(t.chap_secret, sizeof(t.chap_secret), "Abcdefghijkl0123456789xy");
	for (int i = 0; i < 2; i++) {
		assert_int_equal(anon_create(c, &sc, NULL, &t, &s[i], err, sizeof(err)), 0);
		assert_int_equal(s[i].kind, ANONTARGET_ACCOUNT);
		assert_int_equal(s[i].n_luns, 1);
		assert_string_equal(s[i].backstore, s[i].luns[0].backstore);
		slurp_line(buf, sizeof(buf), "%s/configfs7/iscsi/%s/tpgt_1/acls/%s/auth/userid",
			   iqn, s[i].initiator);
		assert_string_equal(buf, "acme");
		slurp_line(buf, sizeof(buf), "%s/configfs7/iscsi/%s/tpgt_1/acls/%s/auth/password",
			   iqn, s[i].initiator);
		assert_string_equal(buf, "Abcdefghijkl0123456789xy");
	}
	assert_string_not_equal(s[0].backstore, s[1].backstore);
	slurp_line(buf, sizeof(buf), "%s/configfs7/iscsi/%s/tpgt_1/attrib/authentication%s", iqn,
		   "");
	assert_string_equal(buf, "1");
	slurp_line(buf, sizeof(buf), "%s/configfs7/iscsi/%s/tpgt_1/attrib/generate_node_acls%s",
		   iqn, "");
	assert_string_equal(buf, "0");
	control_of(c, s[0].luns[0].backstore, buf, sizeof(buf));
	assert_non_null(strstr(buf, "base=/srv/images/7/ci-pi.img"));
	/* One session's end leaves the other and the target. */
	anon_destroy(c, &sc, NULL, &s[0]);
	assert_false(exists("%s/configfs7/iscsi/%s/tpgt_1/acls/%s", iqn, s[0].initiator));
	assert_int_equal(cfs_backstore_path(c, s[0].luns[0].backstore, path, sizeof(path)),
			 -ENOENT);
	assert_true(exists("%s/configfs7/iscsi/%s/tpgt_1/acls/%s", iqn, s[1].initiator));
	anon_destroy(c, &sc, NULL, &s[1]);
	assert_false(exists("%s/configfs7/iscsi/%s%s", iqn, ""));
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
		cmocka_unit_test(test_multi_two_private_luns),
		cmocka_unit_test(test_shared_ro_export),
		cmocka_unit_test(test_account_image),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
