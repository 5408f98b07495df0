/*
 * test_loginfirst.c — when scsipub-cfgd's worker may tear a queued session down
 * (loginfirst.h), with made-up clocks:
 *  - with no login yet, at once;
 *  - not while a login is being handled (wake at the deadline), nor within the quiet
 *    time after one ends (wake at its end); after it, yes;
 *  - a deadline that has passed wins over both, and one that comes before the quiet
 *    time's end is when to wake;
 *  - logins that overlap count until the last one ends.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "loginfirst.h"

static void test_no_login(void **state)
{
	struct loginfirst l = {0};
	double wake = -1;

	(void)state;
	assert_true(loginfirst_may_run(&l, 5, 0, &wake));
	assert_true(wake == 0);
	assert_true(loginfirst_may_run(&l, 5, 15, &wake));
}

static void test_waits_for_logins(void **state)
{
	struct loginfirst l = {0};
	double wake = -1;

	(void)state;
	loginfirst_begin(&l);
	assert_false(loginfirst_may_run(&l, 100, 110, &wake));
	assert_true(wake == 110);             /* only the deadline, or the login's end */
	assert_false(loginfirst_may_run(&l, 100, 0, &wake));
	assert_true(wake == 0);
	loginfirst_end(&l, 101);
	assert_false(loginfirst_may_run(&l, 101, 110, &wake));
	assert_true(wake == 101 + LOGINFIRST_QUIET_S);
	assert_false(loginfirst_may_run(&l, 101 + LOGINFIRST_QUIET_S / 2, 110, &wake));
	assert_true(loginfirst_may_run(&l, 101 + LOGINFIRST_QUIET_S, 110, &wake));
	assert_true(loginfirst_may_run(&l, 200, 110, &wake));
}

static void test_deadline(void **state)
{
	struct loginfirst l = {0};
	double wake = -1;

	(void)state;
	loginfirst_begin(&l);
	assert_true(loginfirst_may_run(&l, 110, 110, &wake));  /* waited its longest */
	loginfirst_end(&l, 200);
	assert_true(loginfirst_may_run(&l, 200, 150, &wake));
	/* A deadline inside the quiet time is when to look again. */
	assert_false(loginfirst_may_run(&l, 200, 200 + LOGINFIRST_QUIET_S / 4, &wake));
	assert_true(wake == 200 + LOGINFIRST_QUIET_S / 4);
}

static void test_overlapping_logins(void **state)
{
	struct loginfirst l = {0};
	double wake;

	(void)state;
	loginfirst_begin(&l);
	loginfirst_begin(&l);
	loginfirst_end(&l, 10);
	assert_false(loginfirst_may_run(&l, 20, 30, &wake));  /* one still in progress */
	loginfirst_end(&l, 21);
	assert_false(loginfirst_may_run(&l, 21, 30, &wake));
	assert_true(loginfirst_may_run(&l, 22, 30, &wake));
	loginfirst_end(&l, 23);                              /* no begin: no underflow */
	assert_true(loginfirst_may_run(&l, 24, 30, &wake));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_login),
		cmocka_unit_test(test_waits_for_logins),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_overlapping_logins),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
