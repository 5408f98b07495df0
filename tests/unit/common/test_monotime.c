/*
 * test_monotime.c — unit tests for common/monotime.c: every unit reads the same clock
 * (a reading in ms, s or fractional seconds lies between nanosecond readings taken
 * just before and just after it), and readings never go back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "monotime.h"

static void test_units_agree(void **state)
{
	int64_t before, after, ms, s;
	double sec;

	(void)state;
	before = monotime_ns();
	ms = monotime_ms();
	s = monotime_s();
	sec = monotime_sec();
	after = monotime_ns();
	assert_true(before / 1000000 <= ms && ms <= after / 1000000);
	assert_true(before / 1000000000 <= s && s <= after / 1000000000);
	assert_true((double)before / 1e9 - 1e-6 <= sec && sec <= (double)after / 1e9 + 1e-6);
}

static void test_never_goes_back(void **state)
{
	int64_t prev = monotime_ns(), now;
	int i;

	(void)state;
	for (i = 0; i < 100000; i++) {
		now = monotime_ns();
		assert_true(now >= prev);
		prev = now;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_units_agree),
		cmocka_unit_test(test_never_goes_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
