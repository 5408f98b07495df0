/*
 * test_provplace.c — the portal's CPU hint for a provisioned target's disks
 * (provplace.h): given while every connection of the target is on one CPU, withdrawn
 * when they are on several, given again when they agree again.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "placehint.h"
#include "provplace.h"

#define T1 "iqn.2025-01.pub.scsipub:s.abc"
#define T2 "iqn.2025-01.pub.scsipub:s.def"

/* What the tell function was given, one line per call: "<target> <cpu|-> <disks...> (<conns>)". */
struct told {
	char line[16][256];
	unsigned n;
};

static void tell(void *arg, const char *target, int cpu,
		 const char (*disks)[PROVTARGET_DISK_LEN], unsigned n_disks, unsigned conns)
{
	struct told *t = arg;
	char *p;
	size_t left;
	int k;

	assert_true(t->n < 16);
	p = t->line[t->n++];
	left = sizeof(t->line[0]);
	k = cpu == PLACEHINT_NONE ? snprintf(p, left, "%s -", target) :
		snprintf(p, left, "%s %d", target, cpu);
	for (unsigned i = 0; i < n_disks; i++)
		k += snprintf(p + k, left - (size_t)k, " %s", disks[i]);
	snprintf(p + k, left - (size_t)k, " (%u)", conns);
}

static const char two[2][PROVTARGET_DISK_LEN] = { "pvabcl0", "pvabcl1" };
static const char three[3][PROVTARGET_DISK_LEN] = { "pvabcl0", "pvabcl1", "pvabcl2" };
static const char other[1][PROVTARGET_DISK_LEN] = { "pvdefl0" };

static void test_one_connection(void **state)
{
	struct told t = { .n = 0 };
	struct provplace *pp = provplace_new(tell, &t);
	int a;

	(void)state;
	assert_non_null(pp);
	assert_int_equal(provplace_enter(pp, T1, &a, 1, two, 2), 0);
	assert_int_equal(t.n, 1);
	assert_string_equal(t.line[0], T1 " 1 pvabcl0 pvabcl1 (1)");
	assert_int_equal(provplace_targets(pp), 1);
	/* Entered again with the same CPU and disks: nothing new to tell. */
	assert_int_equal(provplace_enter(pp, T1, &a, 1, two, 2), 0);
	assert_int_equal(t.n, 1);
	/* Gone: forgotten, and the hint is left as it was. */
	provplace_leave(pp, T1, &a);
	assert_int_equal(t.n, 1);
	assert_int_equal(provplace_targets(pp), 0);
	/* The next connection, on the other CPU, gives a new one. */
	assert_int_equal(provplace_enter(pp, T1, &a, 0, two, 2), 0);
	assert_int_equal(t.n, 2);
	assert_string_equal(t.line[1], T1 " 0 pvabcl0 pvabcl1 (1)");
	provplace_free(pp);
}

static void test_several_cpus(void **state)
{
	struct told t = { .n = 0 };
	struct provplace *pp = provplace_new(tell, &t);
	int a, b, c;

	(void)state;
	assert_int_equal(provplace_enter(pp, T1, &a, 0, two, 2), 0);
	/* A second connection on the same CPU: the hint stands. */
	assert_int_equal(provplace_enter(pp, T1, &b, 0, two, 2), 0);
	assert_int_equal(t.n, 1);
	/* A third on the other CPU: withdrawn for every disk. */
	assert_int_equal(provplace_enter(pp, T1, &c, 1, two, 2), 0);
	assert_int_equal(t.n, 2);
	assert_string_equal(t.line[1], T1 " - pvabcl0 pvabcl1 (3)");
	/* One of the two on CPU 0 goes: still two CPUs. */
	provplace_leave(pp, T1, &a);
	assert_int_equal(t.n, 2);
	/* The one on CPU 1 goes: the one left is on CPU 0 again. */
	provplace_leave(pp, T1, &c);
	assert_int_equal(t.n, 3);
	assert_string_equal(t.line[2], T1 " 0 pvabcl0 pvabcl1 (1)");
	/* A key that never entered, or another target's leave, changes nothing. */
	provplace_leave(pp, T1, &a);
	provplace_leave(pp, T2, &b);
	assert_int_equal(t.n, 3);
	assert_int_equal(provplace_targets(pp), 1);
	provplace_leave(pp, T1, &b);
	assert_int_equal(provplace_targets(pp), 0);
	assert_int_equal(t.n, 3);
	provplace_free(pp);
}

static void test_targets_apart(void **state)
{
	struct told t = { .n = 0 };
	struct provplace *pp = provplace_new(tell, &t);
	int a, b;

	(void)state;
	/* The same CPU on two targets, then another: each target keeps its own hint. */
	assert_int_equal(provplace_enter(pp, T1, &a, 0, two, 2), 0);
	assert_int_equal(provplace_enter(pp, T2, &b, 1, other, 1), 0);
	assert_int_equal(t.n, 2);
	assert_string_equal(t.line[1], T2 " 1 pvdefl0 (1)");
	assert_int_equal(provplace_targets(pp), 2);
	/* A connection moving to another CPU (entered again) moves its target's hint. */
	assert_int_equal(provplace_enter(pp, T2, &b, 0, other, 1), 0);
	assert_int_equal(t.n, 3);
	assert_string_equal(t.line[2], T2 " 0 pvdefl0 (1)");
	provplace_free(pp);  /* with targets in it: nothing told */
	assert_int_equal(t.n, 3);
}

static void test_disks_change(void **state)
{
	struct told t = { .n = 0 };
	struct provplace *pp = provplace_new(tell, &t);
	int a, b;

	(void)state;
	assert_int_equal(provplace_enter(pp, T1, &a, 1, two, 2), 0);
	/* A LUN was added before the next connection: all three are told, same CPU. */
	assert_int_equal(provplace_enter(pp, T1, &b, 1, three, 3), 0);
	assert_int_equal(t.n, 2);
	assert_string_equal(t.line[1], T1 " 1 pvabcl0 pvabcl1 pvabcl2 (2)");
	/* A target with no LUNs read: told with none (the caller sends nothing). */
	provplace_leave(pp, T1, &a);
	provplace_leave(pp, T1, &b);
	assert_int_equal(provplace_enter(pp, T1, &a, 0, NULL, 0), 0);
	assert_int_equal(t.n, 3);
	assert_string_equal(t.line[2], T1 " 0 (1)");
	provplace_free(pp);
}

static void test_bad_arguments(void **state)
{
	struct told t = { .n = 0 };
	struct provplace *pp = provplace_new(tell, &t);
	int a;

	(void)state;
	assert_null(provplace_new(NULL, NULL));
	assert_int_equal(provplace_enter(pp, T1, &a, -1, two, 2), -EINVAL);
	assert_int_equal(provplace_enter(pp, T1, &a, PLACEHINT_NONE, two, 2), -EINVAL);
	assert_int_equal(provplace_enter(pp, NULL, &a, 0, two, 2), -EINVAL);
	assert_int_equal(provplace_enter(pp, T1, NULL, 0, two, 2), -EINVAL);
	assert_int_equal(provplace_enter(pp, T1, &a, 0, NULL, 2), -EINVAL);
	assert_int_equal(provplace_enter(NULL, T1, &a, 0, two, 2), -EINVAL);
	assert_int_equal(t.n, 0);
	assert_int_equal(provplace_targets(pp), 0);
	provplace_leave(NULL, T1, &a);
	provplace_leave(pp, NULL, &a);
	provplace_free(pp);
	provplace_free(NULL);
}

/* Many connections entering and leaving at once: the table ends empty, and every
 * tell of one target alternates sensibly (no two identical hints in a row). */
struct racer {
	struct provplace *pp;
	int id;
	int failed;          /* enters that did not return 0 (checked by the main thread) */
};

static void *race(void *arg)
{
	struct racer *r = arg;

	for (int i = 0; i < 200; i++) {
		if (provplace_enter(r->pp, T1, r, r->id % 2, two, 2) != 0)
			r->failed++;
		provplace_leave(r->pp, T1, r);
	}
	return NULL;
}

struct seq {
	pthread_mutex_t mu;
	int last;
	unsigned n;
	int repeated;
};

static void tell_seq(void *arg, const char *target, int cpu,
		     const char (*disks)[PROVTARGET_DISK_LEN], unsigned n_disks, unsigned conns)
{
	struct seq *s = arg;

	(void)target;
	(void)disks;
	(void)n_disks;
	(void)conns;
	pthread_mutex_lock(&s->mu);
	/* A repeat is only right after the target was forgotten (hint left as it was). */
	if (s->n && cpu == s->last && conns > 1)
		s->repeated = 1;
	s->last = cpu;
	s->n++;
	pthread_mutex_unlock(&s->mu);
}

static void test_concurrent(void **state)
{
	struct seq s = { .mu = PTHREAD_MUTEX_INITIALIZER, .last = -3 };
	struct provplace *pp = provplace_new(tell_seq, &s);
	struct racer r[4];
	pthread_t th[4];

	(void)state;
	for (int i = 0; i < 4; i++) {
		r[i] = (struct racer){ .pp = pp, .id = i };
		assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(r[i].failed, 0);
	}
	assert_int_equal(provplace_targets(pp), 0);
	assert_true(s.n >= 1);
	assert_int_equal(s.repeated, 0);
	provplace_free(pp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_connection),
		cmocka_unit_test(test_several_cpus),
		cmocka_unit_test(test_targets_apart),
		cmocka_unit_test(test_disks_change),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_concurrent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
