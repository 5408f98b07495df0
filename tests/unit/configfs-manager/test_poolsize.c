/*
 * test_poolsize.c — the size of a pool of pre-made sessions over time (poolsize.h),
 * with made-up clocks:
 *  - TARGET=COUNT never changes size, whatever arrives;
 *  - a trickle of logins (a few per window) leaves the pool at COUNT;
 *  - a burst grows it to the burst's size, at most MAX, counted per window;
 *  - a later window does not undo the growth; the keep time after the last big burst
 *    does, and shrink_at says when;
 *  - a MAX below COUNT and a keep time of 0 take their defaults.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "poolsize.h"

static void test_fixed(void **state)
{
	struct poolsize z;
	double at = 7;

	(void)state;
	poolsize_init(&z, 4, 4, 0);
	assert_int_equal(poolsize_target(&z, 1, &at), 4);
	assert_true(at == 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(poolsize_login(&z, 1 + i * 0.001), 4);
	assert_int_equal(poolsize_target(&z, 2, &at), 4);
	assert_true(at == 0);
}

static void test_trickle(void **state)
{
	struct poolsize z;

	(void)state;
	poolsize_init(&z, 4, 200, 0);
	/* One login every 3 s: 4 in a 10 s window at most. */
	for (int i = 0; i < 100; i++)
		assert_int_equal(poolsize_login(&z, 100 + i * 3.0), 4);
	assert_int_equal(poolsize_target(&z, 500, NULL), 4);
}

static void test_burst_grows_and_shrinks(void **state)
{
	struct poolsize z;
	double at = 0;

	(void)state;
	poolsize_init(&z, 4, 200, 600);
	/* 150 logins within 3 s: one window; the size follows the count up. */
	for (int i = 1; i <= 150; i++)
		assert_int_equal(poolsize_login(&z, 1000 + i * 0.02), i > 4 ? i : 4);
	assert_int_equal(poolsize_target(&z, 1010, &at), 150);
	assert_true(at > 1602.9 && at < 1603.1);  /* the last big login + the keep time */
	/* A smaller burst in a later window keeps the size; a bigger one is capped at MAX. */
	for (int i = 0; i < 20; i++)
		assert_int_equal(poolsize_login(&z, 1100 + i * 0.01), 150);
	assert_int_equal(poolsize_target(&z, 1101, &at), 150);
	assert_true(at > 1699.9 && at < 1700.3);  /* that burst needed more than COUNT */
	for (int i = 0; i < 300; i++)
		poolsize_login(&z, 1200 + i * 0.01);
	assert_int_equal(poolsize_target(&z, 1210, &at), 200);
	/* The keep time after the last big burst (ended 1202.99): back to COUNT. */
	assert_int_equal(poolsize_target(&z, 1802.5, NULL), 200);
	assert_int_equal(poolsize_target(&z, 1803.5, &at), 4);
	assert_true(at == 0);
	/* Only a window with more than COUNT logins grows it again. */
	for (int i = 0; i < 4; i++)
		assert_int_equal(poolsize_login(&z, 2000 + i), 4);
	assert_int_equal(poolsize_login(&z, 2005), 5);
}

static void test_defaults(void **state)
{
	struct poolsize z;
	double at = 0;

	(void)state;
	poolsize_init(&z, 8, 2, -1);  /* MAX below COUNT: COUNT; keep time: the default */
	assert_int_equal(z.max, 8);
	for (int i = 0; i < 50; i++)
		assert_int_equal(poolsize_login(&z, 10 + i * 0.01), 8);
	poolsize_init(&z, 1, 10, 0);
	for (int i = 0; i < 3; i++)
		poolsize_login(&z, 10 + i * 0.01);
	assert_int_equal(poolsize_target(&z, 11, &at), 3);
	assert_true(at > 10.01 + POOLSIZE_KEEP_S && at < 10.03 + POOLSIZE_KEEP_S);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed),
		cmocka_unit_test(test_trickle),
		cmocka_unit_test(test_burst_grows_and_shrinks),
		cmocka_unit_test(test_defaults),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
