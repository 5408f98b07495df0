/*
 * test_pinpolicy.c — when a thread runs on LIO's CPU for its connection (pinpolicy.h).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "pinpolicy.h"

#define CALM PINPOLICY_CALM
#define BUSY PINPOLICY_BUSY
#define IDLE PINPOLICY_IDLE

/* n wakeups of kind w; returns the last action. */
static enum pinpolicy_action wakes(struct pinpolicy *p, int hint, unsigned n,
				   enum pinpolicy_wake w)
{
	enum pinpolicy_action a = PINPOLICY_KEEP;

	while (n--)
		a = pinpolicy_wake(p, hint, w);
	return a;
}

static void test_no_hint_never_binds(void **state)
{
	struct pinpolicy p;

	(void)state;
	pinpolicy_init(&p);
	assert_int_equal(wakes(&p, -1, 100, CALM), PINPOLICY_KEEP);
	assert_false(p.bound);
}

static void test_binds_after_calm_wakes(void **state)
{
	struct pinpolicy p;

	(void)state;
	pinpolicy_init(&p);
	/* Calm wakeups (queue depth 1, small commands): bound on the PINPOLICY_CALM_WAKES-th. */
	assert_int_equal(wakes(&p, 3, PINPOLICY_CALM_WAKES - 1, CALM), PINPOLICY_KEEP);
	assert_false(p.bound);
	assert_int_equal(pinpolicy_wake(&p, 3, CALM), PINPOLICY_BIND);
	assert_true(p.bound);
	assert_int_equal(p.cpu, 3);
	/* Staying calm keeps it; idle wakeups change nothing. */
	assert_int_equal(wakes(&p, 3, 50, CALM), PINPOLICY_KEEP);
	assert_int_equal(wakes(&p, 3, 5, IDLE), PINPOLICY_KEEP);
	assert_true(p.bound);
}

static void test_busy_wake_resets_the_calm_count(void **state)
{
	struct pinpolicy p;

	(void)state;
	pinpolicy_init(&p);
	assert_int_equal(wakes(&p, 1, PINPOLICY_CALM_WAKES - 1, CALM), PINPOLICY_KEEP);
	assert_int_equal(pinpolicy_wake(&p, 1, BUSY), PINPOLICY_KEEP);  /* two at once */
	assert_int_equal(wakes(&p, 1, PINPOLICY_CALM_WAKES - 1, CALM), PINPOLICY_KEEP);
	assert_int_equal(pinpolicy_wake(&p, 1, BUSY), PINPOLICY_KEEP);
	assert_int_equal(wakes(&p, 1, PINPOLICY_CALM_WAKES - 1, CALM), PINPOLICY_KEEP);
	assert_false(p.bound);
	assert_int_equal(pinpolicy_wake(&p, 1, CALM), PINPOLICY_BIND);
}

static void test_streams_free_it(void **state)
{
	struct pinpolicy p;

	(void)state;
	pinpolicy_init(&p);
	assert_int_equal(wakes(&p, 0, PINPOLICY_CALM_WAKES, CALM), PINPOLICY_BIND);
	/* One busy wakeup alone is not enough (hysteresis)... */
	assert_int_equal(pinpolicy_wake(&p, 0, BUSY), PINPOLICY_KEEP);
	assert_int_equal(pinpolicy_wake(&p, 0, CALM), PINPOLICY_KEEP);
	assert_int_equal(pinpolicy_wake(&p, 0, BUSY), PINPOLICY_KEEP);
	assert_true(p.bound);
	/* ...PINPOLICY_BUSY_WAKES in a row are (1 MiB at QD8, several queued). */
	assert_int_equal(wakes(&p, 0, PINPOLICY_BUSY_WAKES - 1, BUSY), PINPOLICY_FREE);
	assert_false(p.bound);
	assert_int_equal(wakes(&p, 0, 100, BUSY), PINPOLICY_KEEP);
	assert_int_equal(wakes(&p, 0, 100, BUSY), PINPOLICY_KEEP);
	assert_false(p.bound);
	/* Back to queue depth 1: bound again. */
	assert_int_equal(wakes(&p, 0, PINPOLICY_CALM_WAKES, CALM), PINPOLICY_BIND);
}

static void test_hint_changes(void **state)
{
	struct pinpolicy p;

	(void)state;
	pinpolicy_init(&p);
	assert_int_equal(wakes(&p, 0, PINPOLICY_CALM_WAKES, CALM), PINPOLICY_BIND);
	/* A new hint moves a bound thread at once; a withdrawn one frees it. */
	assert_int_equal(pinpolicy_wake(&p, 1, CALM), PINPOLICY_BIND);
	assert_int_equal(p.cpu, 1);
	assert_int_equal(pinpolicy_wake(&p, 1, CALM), PINPOLICY_KEEP);
	assert_int_equal(pinpolicy_wake(&p, -1, IDLE), PINPOLICY_FREE);
	assert_false(p.bound);
	assert_int_equal(pinpolicy_wake(&p, -1, IDLE), PINPOLICY_KEEP);
}

/* Bound to one CPU, then back to the affinity it had; KEEP changes nothing. */
static void *apply_thread(void *arg)
{
	struct pinpolicy p;
	cpu_set_t start, set;
	int hi = -1;

	(void)arg;
	assert_int_equal(pthread_getaffinity_np(pthread_self(), sizeof(start), &start), 0);
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &start))
			hi = i;
	assert_true(hi >= 0);
	pinpolicy_init(&p);
	assert_int_equal(pinpolicy_apply(&p, wakes(&p, hi, PINPOLICY_CALM_WAKES, CALM), &start), 0);
	assert_int_equal(pthread_getaffinity_np(pthread_self(), sizeof(set), &set), 0);
	assert_int_equal(CPU_COUNT(&set), 1);
	assert_true(CPU_ISSET(hi, &set));
	assert_int_equal(pinpolicy_apply(&p, PINPOLICY_KEEP, &start), 0);
	assert_int_equal(pthread_getaffinity_np(pthread_self(), sizeof(set), &set), 0);
	assert_int_equal(CPU_COUNT(&set), 1);
	assert_int_equal(pinpolicy_apply(&p, wakes(&p, hi, PINPOLICY_BUSY_WAKES, BUSY), &start), 0);
	assert_int_equal(pthread_getaffinity_np(pthread_self(), sizeof(set), &set), 0);
	assert_true(CPU_EQUAL(&set, &start));
	/* The check made before a CPU is taken as the hint. */
	assert_int_equal(pinpolicy_may_run_on(hi), 0);
	assert_int_equal(pinpolicy_may_run_on(-1), -EPERM);
	assert_int_equal(pinpolicy_may_run_on(CPU_SETSIZE), -EPERM);
	return NULL;
}

/* In a thread of its own, so the test runner's affinity is unchanged. */
static void test_apply(void **state)
{
	pthread_t th;

	(void)state;
	assert_int_equal(pthread_create(&th, NULL, apply_thread, NULL), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_hint_never_binds),
		cmocka_unit_test(test_binds_after_calm_wakes),
		cmocka_unit_test(test_busy_wake_resets_the_calm_count),
		cmocka_unit_test(test_streams_free_it),
		cmocka_unit_test(test_hint_changes),
		cmocka_unit_test(test_apply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
