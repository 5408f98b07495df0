/*
 * test_catalog.c — unit tests for common/catalog.c: target suffix naming, and a
 * scan of a temporary images tree (recursion, extensions, hidden and empty files,
 * sizes rounded up to 512, first-wins on colliding names, blank always first).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"

static char dir[64];

static void mkfile(const char *rel, size_t size)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	f = fopen(p, "w");
	assert_non_null(f);
	for (size_t i = 0; i < size; i++)
		fputc('x', f);
	fclose(f);
}

static void mkd(const char *rel)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	assert_int_equal(mkdir(p, 0755), 0);
}

static void test_suffix(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(catalog_suffix("debian.iso", out, sizeof(out)), 0);
	assert_string_equal(out, "debian");
	assert_int_equal(catalog_suffix("Linux/Debian 12_amd64.IMG", out, sizeof(out)), 0);
	assert_string_equal(out, "linux.debian-12-amd64");
	assert_int_equal(catalog_suffix("a/b/c.v1.2.img", out, sizeof(out)), 0);
	assert_string_equal(out, "a.b.c.v1.2");
	assert_int_equal(catalog_suffix("caf\xc3\xa9.img", out, sizeof(out)), 0);
	assert_string_equal(out, "caf--");
	assert_int_equal(catalog_suffix("notes.txt", out, sizeof(out)), -EINVAL);
	assert_int_equal(catalog_suffix(".img", out, sizeof(out)), -EINVAL);
	assert_int_equal(catalog_suffix("d/.iso", out, sizeof(out)), -EINVAL);
	assert_int_equal(catalog_suffix("abcdef.img", out, 6), -ENAMETOOLONG);
	assert_int_equal(catalog_suffix("abcdef.img", out, 7), 0);
}

static void test_scan(void **state)
{
	struct catalog c;
	const struct catalog_entry *e;
	char want[256];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/cat-test-%s", "");
	memset(dir + strlen(dir), 'X', 6); /* mkdtemp template */
	dir[strlen("/tmp/cat-test-") + 6] = '\0';
	assert_non_null(mkdtemp(dir));
	mkfile("debian.iso", 1000);
	mkfile("notes.txt", 10);
	mkfile(".hidden.img", 10);
	mkfile("empty.img", 0);
	mkfile("dup.img", 512);
	mkfile("dup.iso", 2048);      /* same suffix: dup.img (sorted first) wins */
	mkfile("bad;name.img", 512);  /* cannot go into a dev_config */
	mkd("Sub");
	mkd("Sub/Deeper");
	mkfile("Sub/Deeper/Tiny Disk.IMG", 1);
	mkd(".git");
	mkfile(".git/x.img", 10);

	assert_int_equal(catalog_scan(dir, &c), 0);
	assert_int_equal(c.n, 4);
	assert_string_equal(c.v[0].iqn, "iqn.2025-01.pub.scsipub:blank");
	assert_string_equal(c.v[0].path, "");
	assert_int_equal(c.v[0].size_bytes, 67108864);
	assert_string_equal(c.v[1].iqn, "iqn.2025-01.pub.scsipub:image.debian");
	assert_string_equal(c.v[2].iqn, "iqn.2025-01.pub.scsipub:image.dup");
	assert_string_equal(c.v[3].iqn, "iqn.2025-01.pub.scsipub:image.sub.deeper.tiny-disk");

	e = catalog_find(&c, "iqn.2025-01.pub.scsipub:image.debian");
	assert_non_null(e);
	assert_int_equal(e->size_bytes, 1024);
	snprintf(want, sizeof(want), "%s/debian.iso", dir);
	assert_string_equal(e->path, want);
	e = catalog_find(&c, "iqn.2025-01.pub.scsipub:image.dup");
	assert_int_equal(e->size_bytes, 512);
	snprintf(want, sizeof(want), "%s/dup.img", dir);
	assert_string_equal(e->path, want);
	assert_int_equal(catalog_find(&c, "iqn.2025-01.pub.scsipub:image.sub.deeper.tiny-disk")
				 ->size_bytes, 512);
	assert_null(catalog_find(&c, "iqn.2025-01.pub.scsipub:image.notes"));
	assert_null(catalog_find(&c, "iqn.2025-01.pub.scsipub:image.empty"));
	catalog_free(&c);

	/* A trailing slash changes nothing; a missing directory leaves blank alone. */
	snprintf(want, sizeof(want), "%s/", dir);
	assert_int_equal(catalog_scan(want, &c), 0);
	assert_int_equal(c.n, 4);
	snprintf(want, sizeof(want), "%s/Sub/Deeper/Tiny Disk.IMG", dir);
	assert_string_equal(c.v[3].path, want);
	catalog_free(&c);
	assert_int_equal(catalog_scan("/nonexistent/scsipub-images", &c), 0);
	assert_int_equal(c.n, 1);
	assert_non_null(catalog_find(&c, CATALOG_BLANK_IQN));
	catalog_free(&c);

	/* catalog_scan_for: a login to blank reads no directory; others see the images. */
	assert_int_equal(catalog_scan_for(dir, CATALOG_BLANK_IQN, &c), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.v[0].size_bytes, CATALOG_BLANK_SIZE);
	catalog_free(&c);
	assert_int_equal(catalog_scan_for(dir, "iqn.2025-01.pub.scsipub:image.debian", &c), 0);
	assert_int_equal(c.n, 4);
	catalog_free(&c);
	assert_int_equal(catalog_scan_for(dir, NULL, &c), 0);
	assert_int_equal(c.n, 4);
	catalog_free(&c);

	snprintf(want, sizeof(want), "rm -rf '%s'", dir);
	assert_int_equal(system(want), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_suffix),
		cmocka_unit_test(test_scan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
