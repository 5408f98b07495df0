/*
 * test_cow_config.c — unit tests for tcmu-handler/cow_config.c: parsing with and
 * without the "cow/" prefix, every rejection case, and format/parse round trips.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cow_config.h"

static void test_parse_full(void **state)
{
	struct cow_config c;
	char err[256] = "";

	(void)state;
	assert_int_equal(cow_config_parse("cow/size=67108864;overlay=/var/o/s1.img;"
					  "bitmap=/var/o/s1.bits;base=/srv/img/debian.iso;"
					  "limit=1048576", &c, err, sizeof(err)), 0);
	assert_int_equal(c.size_bytes, 67108864);
	assert_int_equal(c.limit_bytes, 1048576);
	assert_string_equal(c.overlay, "/var/o/s1.img");
	assert_string_equal(c.bitmap, "/var/o/s1.bits");
	assert_string_equal(c.base, "/srv/img/debian.iso");
}

static void test_parse_without_prefix_any_order(void **state)
{
	struct cow_config c;
	char err[256] = "";

	(void)state;
	assert_int_equal(cow_config_parse("bitmap=/b;limit=0;overlay=/o;size=512",
					  &c, err, sizeof(err)), 0);
	assert_int_equal(c.size_bytes, 512);
	assert_int_equal(c.limit_bytes, 0);
	assert_string_equal(c.overlay, "/o");
	assert_string_equal(c.bitmap, "/b");
	assert_string_equal(c.base, ""); /* blank disk */
}

static void test_parse_minimal_blank(void **state)
{
	struct cow_config c;

	(void)state;
	memset(&c, 0x5a, sizeof(c)); /* everything not given must be reset */
	assert_int_equal(cow_config_parse("cow/size=1024;overlay=/o;bitmap=/b", &c, NULL, 0), 0);
	assert_int_equal(c.size_bytes, 1024);
	assert_int_equal(c.limit_bytes, 0);
	assert_string_equal(c.base, "");
	/* Largest 64-bit multiple of 512 and leading zeros are plain numbers. */
	assert_int_equal(cow_config_parse("size=18446744073709551104;overlay=/o;bitmap=/b;"
					  "limit=000", &c, NULL, 0), 0);
	assert_true(c.size_bytes == 18446744073709551104ull);
}

static void test_parse_path_lengths(void **state)
{
	char s[600], p255[256], p256[257];
	struct cow_config c;
	char err[256] = "";

	(void)state;
	memset(p255, 'a', 255);
	p255[0] = '/';
	p255[255] = '\0';
	memset(p256, 'a', 256);
	p256[0] = '/';
	p256[256] = '\0';
	snprintf(s, sizeof(s), "size=512;overlay=%s;bitmap=/b", p255);
	assert_int_equal(cow_config_parse(s, &c, err, sizeof(err)), 0);
	assert_string_equal(c.overlay, p255);
	snprintf(s, sizeof(s), "size=512;overlay=/o;bitmap=/b;base=%s", p256);
	assert_int_equal(cow_config_parse(s, &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "too long"));
}

struct bad {
	const char *s;
	const char *why; /* expected in the error message */
};

static const struct bad bad_configs[] = {
	{ "", "empty" },
	{ "cow/", "empty" },
	{ "size=512;overlay=/o;bitmap=/b;colour=red", "unknown key 'colour'" },
	{ "size=512;overlay=/o;bitmap=/b;SIZE=512", "unknown key" },
	{ "file/size=512;overlay=/o;bitmap=/b", "unknown key" },
	{ "size=512;overlay=/o;bitmap=/b;size=1024", "duplicate key 'size'" },
	{ "size=512;overlay=/o;bitmap=/b;base=/x;base=/y", "duplicate key 'base'" },
	{ "overlay=/o;bitmap=/b", "missing key 'size'" },
	{ "size=512;bitmap=/b", "missing key 'overlay'" },
	{ "size=512;overlay=/o;base=/x", "missing key 'bitmap'" },
	{ "size=abc;overlay=/o;bitmap=/b", "bad number for size" },
	{ "size=-512;overlay=/o;bitmap=/b", "bad number for size" },
	{ "size=+512;overlay=/o;bitmap=/b", "bad number for size" },
	{ "size= 512;overlay=/o;bitmap=/b", "bad number for size" },
	{ "size=512k;overlay=/o;bitmap=/b", "bad number for size" },
	{ "size=0x200;overlay=/o;bitmap=/b", "bad number for size" },
	{ "size=;overlay=/o;bitmap=/b", "bad number for size" },
	{ "size=18446744073709551616;overlay=/o;bitmap=/b", "bad number for size" },
	{ "size=512;overlay=/o;bitmap=/b;limit=-1", "bad number for limit" },
	{ "size=512;overlay=/o;bitmap=/b;limit=1.5", "bad number for limit" },
	{ "size=512;overlay=/o;bitmap=/b;ro=2", "ro must be 0 or 1" },
	{ "size=512;overlay=/o;bitmap=/b;ro=", "ro must be 0 or 1" },
	{ "size=512;overlay=/o;bitmap=/b;ro=01", "ro must be 0 or 1" },
	{ "size=512;overlay=/o;bitmap=/b;ro=1;ro=1", "duplicate key 'ro'" },
	{ "size=0;overlay=/o;bitmap=/b", "must not be 0" },
	{ "size=1000;overlay=/o;bitmap=/b", "not a multiple of 512" },
	{ "size=512;overlay=/o,x;bitmap=/b", "forbidden character" },
	{ "size=512;overlay=/o;bitmap=/b:x", "forbidden character" },
	{ "size=512;overlay=/o;bitmap=/b;base=/x\n", "forbidden character" },
	{ "size=512;overlay=;bitmap=/b", "empty path for overlay" },
	{ "size=512;overlay=/o;bitmap=/b;base=", "empty path for base" },
	{ "size=512;;overlay=/o;bitmap=/b", "empty field" },
	{ "size=512;overlay=/o;bitmap=/b;", "empty field" },
	{ "size=512;overlay=/o;bitmap=/b;base", "not key=value" },
};

static void test_parse_rejects(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_configs) / sizeof(bad_configs[0]); i++) {
		const struct bad *b = &bad_configs[i];
		struct cow_config c;
		char err[256] = "";
		int rc = cow_config_parse(b->s, &c, err, sizeof(err));

		if (rc != -EINVAL || !strstr(err, b->why))
			print_error("config #%zu \"%s\": rc %d, err \"%s\"\n", i, b->s, rc, err);
		assert_int_equal(rc, -EINVAL);
		assert_non_null(strstr(err, b->why));
		assert_null(strchr(err, '\n')); /* one line */
	}
}

static void test_parse_null_and_small_err(void **state)
{
	struct cow_config c;
	char err[8];

	(void)state;
	assert_int_equal(cow_config_parse(NULL, &c, NULL, 0), -EINVAL);
	assert_int_equal(cow_config_parse("size=1", &c, err, sizeof(err)), -EINVAL);
	assert_int_equal(strlen(err), sizeof(err) - 1); /* truncated, terminated */
}

static void fill(struct cow_config *c, uint64_t size, uint64_t limit,
		 const char *overlay, const char *bitmap, const char *base)
{
	memset(c, 0, sizeof(*c));
	c->size_bytes = size;
	c->limit_bytes = limit;
	snprintf(c->overlay, sizeof(c->overlay), "%s", overlay);
	snprintf(c->bitmap, sizeof(c->bitmap), "%s", bitmap);
	snprintf(c->base, sizeof(c->base), "%s", base);
}

static void test_format_round_trip(void **state)
{
	struct cow_config in, out;
	char buf[COW_CONFIG_MAX + 1], err[256] = "";
	int n;

	(void)state;
	fill(&in, 4194304, 2097152, "/var/lib/scsipub/o/1", "/var/lib/scsipub/b/1",
	     "/srv/img/x.iso");
	n = cow_config_format(&in, buf, sizeof(buf));
	assert_string_equal(buf, "cow/size=4194304;overlay=/var/lib/scsipub/o/1;"
			    "bitmap=/var/lib/scsipub/b/1;base=/srv/img/x.iso;limit=2097152");
	assert_int_equal(n, (int)strlen(buf));
	assert_int_equal(cow_config_parse(buf, &out, err, sizeof(err)), 0);
	assert_memory_equal(&in, &out, sizeof(in));

	/* A write-protected LU: ro=1 last; parsed back. ro=0 is the default. */
	in.read_only = 1;
	n = cow_config_format(&in, buf, sizeof(buf));
	assert_string_equal(buf, "cow/size=4194304;overlay=/var/lib/scsipub/o/1;"
			    "bitmap=/var/lib/scsipub/b/1;base=/srv/img/x.iso;limit=2097152;ro=1");
	assert_int_equal(cow_config_parse(buf, &out, err, sizeof(err)), 0);
	assert_int_equal(out.read_only, 1);
	assert_memory_equal(&in, &out, sizeof(in));
	assert_int_equal(cow_config_parse("size=512;overlay=/o;bitmap=/b;ro=0", &out, err,
					  sizeof(err)), 0);
	assert_int_equal(out.read_only, 0);

	/* Blank and unlimited: base and limit are left out. */
	fill(&in, 512, 0, "/o", "/b", "");
	n = cow_config_format(&in, buf, sizeof(buf));
	assert_string_equal(buf, "cow/size=512;overlay=/o;bitmap=/b");
	assert_int_equal(n, (int)strlen(buf));
	assert_int_equal(cow_config_parse(buf, &out, err, sizeof(err)), 0);
	assert_memory_equal(&in, &out, sizeof(in));
}

static void test_format_length_limits(void **state)
{
	struct cow_config c;
	char buf[512], big[300];
	/* "cow/size=512;overlay=" + P + ";bitmap=/b" is 31 + strlen(P) characters. */
	const size_t fixed = strlen("cow/size=512;overlay=;bitmap=/b");

	(void)state;
	memset(big, 'p', sizeof(big));
	big[0] = '/';
	big[COW_CONFIG_MAX - fixed] = '\0';
	fill(&c, 512, 0, big, "/b", "");
	assert_int_equal(cow_config_format(&c, buf, sizeof(buf)), COW_CONFIG_MAX);
	assert_int_equal(strlen(buf), COW_CONFIG_MAX);

	big[COW_CONFIG_MAX - fixed] = 'p';
	big[COW_CONFIG_MAX - fixed + 1] = '\0';
	fill(&c, 512, 0, big, "/b", "");
	assert_int_equal(cow_config_format(&c, buf, sizeof(buf)), -ENAMETOOLONG);
	assert_string_equal(buf, "");

	/* Three long paths, each valid alone. */
	memset(big, 'q', 100);
	big[0] = '/';
	big[100] = '\0';
	fill(&c, 512, 0, big, big, big);
	assert_int_equal(cow_config_format(&c, buf, sizeof(buf)), -ENAMETOOLONG);

	/* A short config into a buffer too small for it. */
	fill(&c, 512, 0, "/o", "/b", "");
	assert_int_equal(cow_config_format(&c, buf, 10), -ENAMETOOLONG);
	assert_int_equal(cow_config_format(&c, buf, strlen("cow/size=512;overlay=/o;bitmap=/b")),
			 -ENAMETOOLONG);
	assert_int_equal(cow_config_format(&c, buf, strlen("cow/size=512;overlay=/o;bitmap=/b") + 1),
			 (int)strlen("cow/size=512;overlay=/o;bitmap=/b"));

	/* A path without its terminating NUL. */
	memset(c.base, 'x', sizeof(c.base));
	assert_int_equal(cow_config_format(&c, buf, sizeof(buf)), -ENAMETOOLONG);
}

static void test_format_rejects(void **state)
{
	struct cow_config c;
	char buf[COW_CONFIG_MAX + 1];

	(void)state;
	fill(&c, 512, 0, "/o;x", "/b", "");
	assert_int_equal(cow_config_format(&c, buf, sizeof(buf)), -EINVAL);
	fill(&c, 512, 0, "/o", "/b,x", "");
	assert_int_equal(cow_config_format(&c, buf, sizeof(buf)), -EINVAL);
	fill(&c, 512, 0, "/o", "/b", "/x:y");
	assert_int_equal(cow_config_format(&c, buf, sizeof(buf)), -EINVAL);
	fill(&c, 512, 0, "/o", "/b", "/x\ny");
	assert_int_equal(cow_config_format(&c, buf, sizeof(buf)), -EINVAL);
	/* Output that parse would refuse is never produced. */
	fill(&c, 0, 0, "/o", "/b", "");
	assert_int_equal(cow_config_format(&c, buf, sizeof(buf)), -EINVAL);
	fill(&c, 1000, 0, "/o", "/b", "");
	assert_int_equal(cow_config_format(&c, buf, sizeof(buf)), -EINVAL);
	fill(&c, 512, 0, "", "/b", "");
	assert_int_equal(cow_config_format(&c, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(cow_config_format(NULL, buf, sizeof(buf)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_full),
		cmocka_unit_test(test_parse_without_prefix_any_order),
		cmocka_unit_test(test_parse_minimal_blank),
		cmocka_unit_test(test_parse_path_lengths),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_parse_null_and_small_err),
		cmocka_unit_test(test_format_round_trip),
		cmocka_unit_test(test_format_length_limits),
		cmocka_unit_test(test_format_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
