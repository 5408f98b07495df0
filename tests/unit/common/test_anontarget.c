/*
 * test_anontarget.c — unit tests for common/anontarget.c: the kind each anonymous
 * target name announces, the multi-images setting's syntax, resolution against a
 * catalog (blank, image.<name>, multi with the default and an explicit setting, ro.<name>
 * of images only), the SendTargets order of anontarget_each (never an account's image)
 * and an account's private image resolved against a private image directory (its
 * file, its size, the account's CHAP; missing image, missing or bad credentials).
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

#include "anontarget.h"
#include "test_tmpdir.h"

#define P CATALOG_IQN_PREFIX

/* A catalog as catalog_scan makes it: blank, then images sorted by IQN. */
static struct catalog_entry entries[4];
static struct catalog cat3 = { entries, 3 };   /* blank, image.a, image.b */
static struct catalog cat2 = { entries, 2 };   /* blank, image.a */

static int setup(void **state)
{
	(void)state;
	memset(entries, 0, sizeof(entries));
	snprintf(entries[0].iqn, sizeof(entries[0].iqn), "%s", CATALOG_BLANK_IQN);
	entries[0].size_bytes = CATALOG_BLANK_SIZE;
	snprintf(entries[1].iqn, sizeof(entries[1].iqn), "%s", CATALOG_IMAGE_PREFIX "a");
	snprintf(entries[1].path, sizeof(entries[1].path), "/c/a.img");
	entries[1].size_bytes = 1024;
	snprintf(entries[2].iqn, sizeof(entries[2].iqn), "%s", CATALOG_IMAGE_PREFIX "b");
	snprintf(entries[2].path, sizeof(entries[2].path), "/c/b.iso");
	entries[2].size_bytes = 2048;
	return 0;
}

static void test_kind(void **state)
{
	(void)state;
	assert_int_equal(anontarget_kind(P "blank"), ANONTARGET_PRIVATE);
	assert_int_equal(anontarget_kind(P "image.deb-12"), ANONTARGET_PRIVATE);
	assert_int_equal(anontarget_kind(P "multi"), ANONTARGET_MULTI);
	assert_int_equal(anontarget_kind(P "ro.deb-12"), ANONTARGET_SHARED_RO);
	assert_int_equal(anontarget_kind(P "image."), ANONTARGET_NONE);
	assert_int_equal(anontarget_kind(P "ro."), ANONTARGET_NONE);
	assert_int_equal(anontarget_kind(P "s.abc"), ANONTARGET_NONE);
	assert_int_equal(anontarget_kind(P "multix"), ANONTARGET_NONE);
	assert_int_equal(anontarget_kind(P "blank2"), ANONTARGET_NONE);
	assert_int_equal(anontarget_kind("iqn.2099-01.other:ro.x"), ANONTARGET_NONE);
	assert_int_equal(anontarget_kind(NULL), ANONTARGET_NONE);
	assert_int_equal(anontarget_kind(P "p.7.ci-pi"), ANONTARGET_ACCOUNT);
	assert_int_equal(anontarget_kind(P "p.07.ci-pi"), ANONTARGET_NONE);
	assert_int_equal(anontarget_kind(P "p.7"), ANONTARGET_NONE);
	assert_int_equal(anontarget_kind(P "p.x.ci"), ANONTARGET_NONE);
	assert_string_equal(anontarget_kind_name(ANONTARGET_ACCOUNT), "account");
	assert_string_equal(anontarget_kind_name(ANONTARGET_SHARED_RO), "ro");
	assert_string_equal(anontarget_kind_name(ANONTARGET_MULTI), "multi");
	assert_string_equal(anontarget_kind_name(ANONTARGET_PRIVATE), "private");
}

static void test_multi_check(void **state)
{
	char err[256] = "";

	(void)state;
	assert_int_equal(anontarget_multi_check("", err, sizeof(err)), 0);
	assert_int_equal(anontarget_multi_check(NULL, err, sizeof(err)), 0);
	assert_int_equal(anontarget_multi_check("a,blank", err, sizeof(err)), 0);
	assert_int_equal(anontarget_multi_check("deb-12.x,b", err, sizeof(err)), 0);
	assert_int_equal(anontarget_multi_check("a", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "multi-images"));
	assert_int_equal(anontarget_multi_check("a,b,c", err, sizeof(err)), -EINVAL);
	assert_int_equal(anontarget_multi_check("a,", err, sizeof(err)), -EINVAL);
	assert_int_equal(anontarget_multi_check(",a", err, sizeof(err)), -EINVAL);
	assert_int_equal(anontarget_multi_check("A,b", err, sizeof(err)), -EINVAL);
	assert_int_equal(anontarget_multi_check("a b,c", err, sizeof(err)), -EINVAL);
}

static void test_resolve(void **state)
{
	struct anontarget t;

	(void)state;
	assert_int_equal(anontarget_resolve(&cat3, NULL, P "blank", &t), 0);
	assert_int_equal(t.kind, ANONTARGET_PRIVATE);
	assert_int_equal(t.n_luns, 1);
	assert_int_equal(t.lun[0].size_bytes, CATALOG_BLANK_SIZE);
	assert_int_equal(anontarget_resolve(&cat3, NULL, P "image.b", &t), 0);
	assert_string_equal(t.lun[0].path, "/c/b.iso");
	assert_int_equal(anontarget_resolve(&cat3, NULL, P "image.c", &t), -ENOENT);
	/* ro.<name>: the image, read-only; never blank, never a missing image. */
	assert_int_equal(anontarget_resolve(&cat3, NULL, P "ro.a", &t), 0);
	assert_int_equal(t.kind, ANONTARGET_SHARED_RO);
	assert_string_equal(t.iqn, P "ro.a");
	assert_string_equal(t.lun[0].path, "/c/a.img");
	assert_int_equal(t.n_luns, 1);
	assert_int_equal(anontarget_resolve(&cat3, NULL, P "ro.blank", &t), -ENOENT);
	assert_int_equal(anontarget_resolve(&cat3, NULL, P "ro.c", &t), -ENOENT);
	assert_int_equal(anontarget_resolve(&cat3, NULL, P "s.abc", &t), -ENOENT);
	/* multi, default: the first two images. */
	assert_int_equal(anontarget_resolve(&cat3, "", P "multi", &t), 0);
	assert_int_equal(t.kind, ANONTARGET_MULTI);
	assert_int_equal(t.n_luns, 2);
	assert_string_equal(t.lun[0].path, "/c/a.img");
	assert_string_equal(t.lun[1].path, "/c/b.iso");
	/* ... and none with fewer than two images. */
	assert_int_equal(anontarget_resolve(&cat2, "", P "multi", &t), -ENOENT);
	/* multi, set: in the order given, blank allowed, every name must exist. */
	assert_int_equal(anontarget_resolve(&cat2, "a,blank", P "multi", &t), 0);
	assert_string_equal(t.lun[0].path, "/c/a.img");
	assert_string_equal(t.lun[1].iqn, CATALOG_BLANK_IQN);
	assert_int_equal(anontarget_resolve(&cat3, "b,a", P "multi", &t), 0);
	assert_string_equal(t.lun[0].path, "/c/b.iso");
	assert_int_equal(anontarget_resolve(&cat2, "a,b", P "multi", &t), -ENOENT);
	assert_int_equal(anontarget_resolve(&cat3, "a;b", P "multi", &t), -EINVAL);
}

struct seen {
	char v[16][CATALOG_IQN_MAX + 1];
	int n;
	int stop_at;
};

static int collect(const char *iqn, void *arg)
{
	struct seen *s = arg;

	snprintf(s->v[s->n++], sizeof(s->v[0]), "%s", iqn);
	return s->n == s->stop_at ? 7 : 0;
}

static void test_each(void **state)
{
	struct seen s = { .stop_at = -1 };

	(void)state;
	assert_int_equal(anontarget_each(&cat3, NULL, collect, &s), 0);
	assert_int_equal(s.n, 6);
	assert_string_equal(s.v[0], P "blank");
	assert_string_equal(s.v[1], P "image.a");
	assert_string_equal(s.v[2], P "image.b");
	assert_string_equal(s.v[3], P "multi");
	assert_string_equal(s.v[4], P "ro.a");
	assert_string_equal(s.v[5], P "ro.b");
	/* multi only where it resolves. */
	memset(&s, 0, sizeof(s));
	s.stop_at = -1;
	assert_int_equal(anontarget_each(&cat2, NULL, collect, &s), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.v[2], P "ro.a");
	memset(&s, 0, sizeof(s));
	s.stop_at = -1;
	assert_int_equal(anontarget_each(&cat2, "a,blank", collect, &s), 0);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.v[2], P "multi");
	/* The callback stops the walk. */
	memset(&s, 0, sizeof(s));
	s.stop_at = 2;
	assert_int_equal(anontarget_each(&cat3, NULL, collect, &s), 7);
	assert_int_equal(s.n, 2);
}

/* p.<account>.<name> against a private image directory laid out as the API makes it. */
static void test_resolve_account(void **state)
{
	char dir[64], p[256], q[256], err[256];
	struct anontarget t;
	FILE *f;

	(void)state;
	assert_non_null(test_mkdtemp(dir, sizeof(dir), "anontarget"));
	/* Not a private-image name, or no such image. */
	assert_int_equal(anontarget_resolve_account(dir, P "blank", &t, err, sizeof(err)),
			 -ENOENT);
	assert_int_equal(anontarget_resolve_account(dir, P "p.7.ci", &t, err, sizeof(err)),
			 -ENOENT);
	/* Catalog resolution never serves one. */
	assert_int_equal(anontarget_resolve(&cat3, NULL, P "p.7.ci", &t), -ENOENT);
	snprintf(p, sizeof(p), "%s/7", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/7/ci.img", dir);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs("not a multiple of 512", f);
	fclose(f);
	/* The image but no credentials: refused (nobody could pass CHAP). */
	assert_int_equal(anontarget_resolve_account(dir, P "p.7.ci", &t, err, sizeof(err)),
			 -EACCES);
	assert_string_equal(t.chap_secret, "");
	assert_int_equal(acctchap_write(dir, 7, "acme", "Secret-12345678", err, sizeof(err)), 0);
	assert_int_equal(anontarget_resolve_account(dir, P "p.7.ci", &t, err, sizeof(err)), 0);
	assert_int_equal(t.kind, ANONTARGET_ACCOUNT);
	assert_string_equal(t.iqn, P "p.7.ci");
	assert_int_equal(t.n_luns, 1);
	assert_string_equal(t.lun[0].path, p);
	assert_int_equal(t.lun[0].size_bytes, 512);
	assert_string_equal(t.chap_user, "acme");
	assert_string_equal(t.chap_secret, "Secret-12345678");
	/* Another account's id: not its image. */
	assert_int_equal(anontarget_resolve_account(dir, P "p.8.ci", &t, err, sizeof(err)),
			 -ENOENT);
	/* A symlink in place of the image, or of the account's directory, is no image:
	 * the root handler is never pointed through one (e.g. at /etc/shadow). */
	snprintf(q, sizeof(q), "%s/7/evil.img", dir);
	assert_int_equal(symlink(p, q), 0);
	assert_int_equal(anontarget_resolve_account(dir, P "p.7.evil", &t, err, sizeof(err)),
			 -ENOENT);
	unlink(q);
	snprintf(q, sizeof(q), "%s/9", dir);
	assert_int_equal(symlink("7", q), 0);
	assert_int_equal(anontarget_resolve_account(dir, P "p.9.ci", &t, err, sizeof(err)),
			 -ENOENT);
	unlink(q);
	unlink(p);
	snprintf(p, sizeof(p), "%s/7/" ACCTCHAP_FILE, dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/7", dir);
	rmdir(p);
	assert_int_equal(test_rmdir_flat(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kind),
		cmocka_unit_test(test_multi_check),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_each),
		cmocka_unit_test(test_resolve_account),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
