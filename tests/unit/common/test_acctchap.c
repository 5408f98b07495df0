/*
 * test_acctchap.c — unit tests for common/acctchap.c: an account's iSCSI credentials
 * written (0600, atomic, directory made) and read back; what the reader refuses (a
 * symlink, a file too large, malformed lines, values out of bounds) and a missing
 * file (-ENOENT).
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

#include "acctchap.h"
#include "test_tmpdir.h"

static char dir[64];

static void put(const char *text)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/3/" ACCTCHAP_FILE, dir);
	unlink(p);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_write_read(void **state)
{
	char user[ACCTCHAP_USER_MAX + 1], secret[ACCTCHAP_SECRET_MAX + 1], err[256], p[256];
	struct stat st;

	(void)state;
	assert_int_equal(acctchap_read(dir, 3, user, secret, err, sizeof(err)), -ENOENT);
	assert_int_equal(acctchap_write(dir, 3, "acme", "Abcdefghijkl0123", err, sizeof(err)), 0);
	snprintf(p, sizeof(p), "%s/3/" ACCTCHAP_FILE, dir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(acctchap_read(dir, 3, user, secret, err, sizeof(err)), 0);
	assert_string_equal(user, "acme");
	assert_string_equal(secret, "Abcdefghijkl0123");
	/* Rotation replaces it. */
	assert_int_equal(acctchap_write(dir, 3, "acme", "Zyxwvutsrq987654", err, sizeof(err)), 0);
	assert_int_equal(acctchap_read(dir, 3, user, secret, err, sizeof(err)), 0);
	assert_string_equal(secret, "Zyxwvutsrq987654");
	/* Values out of bounds are never written. */
	assert_int_equal(acctchap_write(dir, 3, "acme", "short", err, sizeof(err)), -EINVAL);
	assert_int_equal(acctchap_write(dir, 3, "a b", "Abcdefghijkl0123", err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(acctchap_write(dir, 0, "acme", "Abcdefghijkl0123", err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(acctchap_read(dir, 3, user, secret, err, sizeof(err)), 0);
	assert_string_equal(secret, "Zyxwvutsrq987654");
}

static void test_read_refuses(void **state)
{
	char user[ACCTCHAP_USER_MAX + 1], secret[ACCTCHAP_SECRET_MAX + 1], err[256], p[256];
	char big[ACCTCHAP_FILE_MAX + 64];

	(void)state;
	put("acme\n");
	assert_int_equal(acctchap_read(dir, 3, user, secret, err, sizeof(err)), -EINVAL);
	put("acme\nAbcdefghijkl0123");  /* no final newline */
	assert_int_equal(acctchap_read(dir, 3, user, secret, err, sizeof(err)), -EINVAL);
	put("acme\nAbcdefghijkl0123\nmore\n");
	assert_int_equal(acctchap_read(dir, 3, user, secret, err, sizeof(err)), -EINVAL);
	put("acme\nshort\n");
	assert_int_equal(acctchap_read(dir, 3, user, secret, err, sizeof(err)), -EINVAL);
	put("ac me\nAbcdefghijkl0123\n");
	assert_int_equal(acctchap_read(dir, 3, user, secret, err, sizeof(err)), -EINVAL);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	put(big);
	assert_int_equal(acctchap_read(dir, 3, user, secret, err, sizeof(err)), -EINVAL);
	/* A symlink (to a file a less privileged writer wants read) is refused. */
	snprintf(p, sizeof(p), "%s/3/" ACCTCHAP_FILE, dir);
	unlink(p);
	assert_int_equal(symlink("/etc/hostname", p), 0);
	assert_int_equal(acctchap_read(dir, 3, user, secret, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "symbolic link"));
	unlink(p);
	snprintf(p, sizeof(p), "%s/3", dir);
	rmdir(p);
}

static int setup(void **state)
{
	(void)state;
	return test_mkdtemp(dir, sizeof(dir), "acctchap") ? 0 : -1;
}

static int teardown(void **state)
{
	char p[256];

	(void)state;
	snprintf(p, sizeof(p), "%s/3/" ACCTCHAP_FILE, dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/3", dir);
	rmdir(p);
	return test_rmdir_flat(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_read),
		cmocka_unit_test(test_read_refuses),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
