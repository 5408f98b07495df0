/*
 * test_ratelog.c — unit tests for tls-proxy/ratelog.c with injected time: once per
 * window per (peer, target), independent keys, and a bounded table under a flood of
 * distinct keys.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>

#include "ratelog.h"

static void test_once_per_window(void **state)
{
	struct ratelog *r = ratelog_new(RATELOG_WINDOW_S);
	time_t t0 = 1000000;

	(void)state;
	assert_non_null(r);
	assert_true(ratelog_allow(r, "192.0.2.1", "iqn.x:nope", t0));
	assert_false(ratelog_allow(r, "192.0.2.1", "iqn.x:nope", t0));
	assert_false(ratelog_allow(r, "192.0.2.1", "iqn.x:nope", t0 + 299));
	/* Other target, other peer: their own budget. */
	assert_true(ratelog_allow(r, "192.0.2.1", "iqn.x:other", t0 + 10));
	assert_true(ratelog_allow(r, "192.0.2.2", "iqn.x:nope", t0 + 10));
	/* The separator keeps ("ab","c") and ("a","bc") apart. */
	assert_true(ratelog_allow(r, "ab", "c", t0));
	assert_true(ratelog_allow(r, "a", "bc", t0));
	/* After 5 minutes it logs again, once. */
	assert_true(ratelog_allow(r, "192.0.2.1", "iqn.x:nope", t0 + 300));
	assert_false(ratelog_allow(r, "192.0.2.1", "iqn.x:nope", t0 + 301));
	/* A clock that went back does not suppress forever. */
	assert_true(ratelog_allow(r, "192.0.2.1", "iqn.x:nope", t0 - 5000));
	ratelog_free(r);
}

static void test_bounded_flood(void **state)
{
	struct ratelog *r = ratelog_new(RATELOG_WINDOW_S);
	char t[32];

	(void)state;
	assert_true(ratelog_allow(r, "198.51.100.9", "iqn.victim", 10));
	/* A flood of distinct targets is logged once each and evicts the stalest. */
	for (int i = 0; i < RATELOG_SLOTS * 3; i++) {
		snprintf(t, sizeof(t), "iqn.flood.%d", i);
		assert_true(ratelog_allow(r, "198.51.100.1", t, 20 + i / 100));
		assert_false(ratelog_allow(r, "198.51.100.1", t, 20 + i / 100));
	}
	/* The early key was evicted, so it may log again (memory stayed bounded). */
	assert_true(ratelog_allow(r, "198.51.100.9", "iqn.victim", 100));
	ratelog_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_once_per_window),
		cmocka_unit_test(test_bounded_flood),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
