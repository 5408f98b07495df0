/*
 * test_pinpolicy.c — when a device's ring thread runs on LIO's CPU (pinpolicy.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "pinpolicy.h"

#define SMALL 4096u
#define LARGE (1024u * 1024)

/* n wakeups of one command of `bytes` each; returns the last action. */
static enum pinpolicy_action wakes(struct pinpolicy *p, int hint, unsigned n, unsigned cmds,
				   size_t bytes)
{
	enum pinpolicy_action a = PINPOLICY_KEEP;

	while (n--)
		a = pinpolicy_wake(p, hint, cmds, bytes);
	return a;
}

static void test_no_hint_never_binds(void **state)
{
	struct pinpolicy p;

	(void)state;
	pinpolicy_init(&p);
	assert_int_equal(wakes(&p, -1, 100, 1, SMALL), PINPOLICY_KEEP);
	assert_false(p.bound);
}

static void test_binds_after_calm_wakes(void **state)
{
	struct pinpolicy p;

	(void)state;
	pinpolicy_init(&p);
	/* Queue depth 1, small commands: bound on the PINPOLICY_CALM_WAKES-th wakeup. */
	assert_int_equal(wakes(&p, 3, PINPOLICY_CALM_WAKES - 1, 1, SMALL), PINPOLICY_KEEP);
	assert_false(p.bound);
	assert_int_equal(pinpolicy_wake(&p, 3, 1, SMALL), PINPOLICY_BIND);
	assert_true(p.bound);
	assert_int_equal(p.cpu, 3);
	/* Staying calm keeps it; spurious wakeups change nothing. */
	assert_int_equal(wakes(&p, 3, 50, 1, PINPOLICY_SMALL_BYTES), PINPOLICY_KEEP);
	assert_int_equal(wakes(&p, 3, 5, 0, 0), PINPOLICY_KEEP);
	assert_true(p.bound);
}

static void test_busy_wake_resets_the_calm_count(void **state)
{
	struct pinpolicy p;

	(void)state;
	pinpolicy_init(&p);
	assert_int_equal(wakes(&p, 1, PINPOLICY_CALM_WAKES - 1, 1, SMALL), PINPOLICY_KEEP);
	assert_int_equal(pinpolicy_wake(&p, 1, 2, SMALL), PINPOLICY_KEEP);  /* two at once */
	assert_int_equal(wakes(&p, 1, PINPOLICY_CALM_WAKES - 1, 1, SMALL), PINPOLICY_KEEP);
	assert_int_equal(pinpolicy_wake(&p, 1, 1, PINPOLICY_SMALL_BYTES + 1), PINPOLICY_KEEP);
	assert_int_equal(wakes(&p, 1, PINPOLICY_CALM_WAKES - 1, 1, SMALL), PINPOLICY_KEEP);
	assert_false(p.bound);
	assert_int_equal(pinpolicy_wake(&p, 1, 1, SMALL), PINPOLICY_BIND);
}

static void test_streams_free_it(void **state)
{
	struct pinpolicy p;

	(void)state;
	pinpolicy_init(&p);
	assert_int_equal(wakes(&p, 0, PINPOLICY_CALM_WAKES, 1, SMALL), PINPOLICY_BIND);
	/* One large command alone is not enough (hysteresis)... */
	assert_int_equal(pinpolicy_wake(&p, 0, 1, LARGE), PINPOLICY_KEEP);
	assert_int_equal(pinpolicy_wake(&p, 0, 1, SMALL), PINPOLICY_KEEP);
	assert_int_equal(pinpolicy_wake(&p, 0, 1, LARGE), PINPOLICY_KEEP);
	assert_true(p.bound);
	/* ...PINPOLICY_BUSY_WAKES in a row are: 1 MiB at QD8, or several queued. */
	assert_int_equal(wakes(&p, 0, PINPOLICY_BUSY_WAKES - 1, 1, LARGE), PINPOLICY_FREE);
	assert_false(p.bound);
	assert_int_equal(wakes(&p, 0, 100, 1, LARGE), PINPOLICY_KEEP);
	assert_int_equal(wakes(&p, 0, 100, 8, SMALL), PINPOLICY_KEEP);
	assert_false(p.bound);
	/* Back to queue depth 1: bound again. */
	assert_int_equal(wakes(&p, 0, PINPOLICY_CALM_WAKES, 1, SMALL), PINPOLICY_BIND);
}

static void test_hint_changes(void **state)
{
	struct pinpolicy p;

	(void)state;
	pinpolicy_init(&p);
	assert_int_equal(wakes(&p, 0, PINPOLICY_CALM_WAKES, 1, SMALL), PINPOLICY_BIND);
	/* A new hint moves a bound thread at once; a withdrawn one frees it. */
	assert_int_equal(pinpolicy_wake(&p, 1, 1, SMALL), PINPOLICY_BIND);
	assert_int_equal(p.cpu, 1);
	assert_int_equal(pinpolicy_wake(&p, 1, 1, SMALL), PINPOLICY_KEEP);
	assert_int_equal(pinpolicy_wake(&p, -1, 0, 0), PINPOLICY_FREE);
	assert_false(p.bound);
	assert_int_equal(pinpolicy_wake(&p, -1, 0, 0), PINPOLICY_KEEP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_hint_never_binds),
		cmocka_unit_test(test_binds_after_calm_wakes),
		cmocka_unit_test(test_busy_wake_resets_the_calm_count),
		cmocka_unit_test(test_streams_free_it),
		cmocka_unit_test(test_hint_changes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
