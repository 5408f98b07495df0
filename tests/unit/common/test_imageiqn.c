/*
 * test_imageiqn.c — the private-image IQN (imageiqn.h, issue 11): format, parse,
 * round trip, and every malformed name refused (the parser takes a Login Request's
 * TargetName, so it is fed hostile input here); the image's file path.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "imageiqn.h"

static void test_format(void **st)
{
	char buf[IMAGEIQN_MAX];

	(void)st;
	assert_non_null(imageiqn_format(42, "ci-pi-abc123", buf, sizeof(buf)));
	assert_string_equal(buf, "iqn.2025-01.pub.scsipub:p.42.ci-pi-abc123");
	assert_non_null(imageiqn_format(7, "debian.12-arm64", buf, sizeof(buf)));
	assert_string_equal(buf, "iqn.2025-01.pub.scsipub:p.7.debian.12-arm64");
	assert_null(strchr(buf, '/'));
}

static void test_format_bounds(void **st)
{
	char name[64], buf[IMAGEIQN_MAX], small[30];

	(void)st;
	memset(name, 'z', 63);
	name[63] = '\0';
	assert_non_null(imageiqn_format(INT64_MAX, name, buf, sizeof(buf)));
	assert_int_equal(strlen(buf), sizeof(buf) - 1); /* IMAGEIQN_MAX is exact */
	assert_true(strlen(buf) <= 223);               /* RFC 7143 §4.2.7.1 */
	assert_null(imageiqn_format(1, "x", small, 10));
	assert_string_equal(small, "");
	assert_null(imageiqn_format(0, "x", buf, sizeof(buf)));
	assert_string_equal(buf, "");
	assert_null(imageiqn_format(-1, "x", buf, sizeof(buf)));
	assert_null(imageiqn_format(1, "Upper", buf, sizeof(buf)));
	assert_null(imageiqn_format(1, "a/b", buf, sizeof(buf)));
	assert_null(imageiqn_format(1, "", buf, sizeof(buf)));
	assert_null(imageiqn_format(1, ".x", buf, sizeof(buf)));
}

static void test_parse_roundtrip(void **st)
{
	static const char *const names[] = { "a", "ci-pi-abc123", "x.y.z", "0", "9-9.9" };
	static const int64_t ids[] = { 1, 42, 1000000007, INT64_MAX };
	char buf[IMAGEIQN_MAX], name[64];
	int64_t id;
	size_t i, j;

	(void)st;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		for (j = 0; j < sizeof(ids) / sizeof(ids[0]); j++) {
			assert_non_null(imageiqn_format(ids[j], names[i], buf, sizeof(buf)));
			id = 0;
			name[0] = '\0';
			assert_int_equal(imageiqn_parse(buf, &id, name, sizeof(name)), 0);
			assert_true(id == ids[j]);
			assert_string_equal(name, names[i]);
		}
}

static void test_parse_refuses(void **st)
{
	static const char *const bad[] = {
		"",
		"iqn.2025-01.pub.scsipub:image.x",
		"iqn.2025-01.pub.scsipub:s.abc",
		"iqn.2025-01.pub.scsipub:p.",
		"iqn.2025-01.pub.scsipub:p.42",
		"iqn.2025-01.pub.scsipub:p.42.",
		"iqn.2025-01.pub.scsipub:p..x",
		"iqn.2025-01.pub.scsipub:p.0.x",
		"iqn.2025-01.pub.scsipub:p.042.x",
		"iqn.2025-01.pub.scsipub:p.-1.x",
		"iqn.2025-01.pub.scsipub:p.+1.x",
		"iqn.2025-01.pub.scsipub:p.1a.x",
		"iqn.2025-01.pub.scsipub:p.9223372036854775808.x",
		"iqn.2025-01.pub.scsipub:p.99999999999999999999.x",
		"iqn.2025-01.pub.scsipub:p.1.X",
		"iqn.2025-01.pub.scsipub:p.1.a/b",
		"iqn.2025-01.pub.scsipub:p.1.a b",
		"iqn.2025-01.pub.scsipub:p.1..x",
		"IQN.2025-01.PUB.SCSIPUB:P.1.x",
		"iqn.2025-01.pub.scsipub:P.1.x",
		"iqn.2025-01.pub.scsipub:p.1.zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
	};
	char name[64] = "untouched";
	int64_t id = -7;
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (imageiqn_parse(bad[i], &id, name, sizeof(name)) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
		assert_true(id == -7);
		assert_string_equal(name, "untouched");
	}
	assert_int_equal(imageiqn_parse(NULL, &id, name, sizeof(name)), -EINVAL);
	/* a name that does not fit the caller's buffer */
	assert_int_equal(imageiqn_parse("iqn.2025-01.pub.scsipub:p.1.abcdef", &id, name, 4),
			 -EINVAL);
	assert_string_equal(name, "untouched");
}

static void test_path(void **st)
{
	char buf[64];

	(void)st;
	assert_int_equal(imageiqn_path("/s/images", 42, "ci.pi", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/s/images/42/ci.pi.img");
	assert_int_equal(imageiqn_path("/s/images", 0, "ci", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(imageiqn_path("/s/images", 1, "../x", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(imageiqn_path("/s/images", 1, "a/b", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(imageiqn_path("/s/images", 1, "ci", buf, 8), -ENAMETOOLONG);
	assert_true(imageiqn_name_valid("a"));
	assert_false(imageiqn_name_valid(".a"));
	assert_false(imageiqn_name_valid("A"));
	assert_false(imageiqn_name_valid(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_bounds),
		cmocka_unit_test(test_parse_roundtrip),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
