/*
 * test_placement.c — unit tests for tls-proxy/placement.c: the CPU that received the
 * last segment on a loopback TCP socket is found without touching the thread's
 * affinity, and a thread is bound to it, and to nothing when no CPU is known (AF_UNIX)
 * or when that CPU is outside its current affinity (binding and letting go:
 * test_pinpolicy.c).
 * Each case runs in a thread of its own, so the test runner's affinity is unchanged.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_tcp.h"

#include "pinpolicy.h"
#include "placement.h"

/* The CPUs the calling thread may run on, lowest and highest. */
static void cpu_bounds(int *lo, int *hi)
{
	cpu_set_t set;

	assert_int_equal(pthread_getaffinity_np(pthread_self(), sizeof(set), &set), 0);
	*lo = *hi = -1;
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &set)) {
			if (*lo < 0)
				*lo = i;
			*hi = i;
		}
	assert_true(*lo >= 0);
}

static void pin_self(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	assert_int_equal(pthread_setaffinity_np(pthread_self(), sizeof(set), &set), 0);
}

/*
 * One case, run in a thread of its own: send one byte while pinned to send_cpu
 * (loopback input is processed on the sender's CPU), read it on the other end, then,
 * limited to own_cpu (-1: back to the runner's CPUs), ask for the receiving socket's
 * CPU and bind to it when one is given.
 */
struct follow_case {
	int send_cpu, own_cpu;
	int seen;           /* SO_INCOMING_CPU as the test reads it */
	int asked;          /* placement_socket_cpu's result */
	bool asked_kept;    /* ...which left the thread's affinity as it was */
	int bind;           /* pinpolicy_apply's result binding there (not called: 1) */
	int bound;          /* the thread's only CPU afterwards, or -1: several */
};

/* The relay's way to a CPU: calm wakeups until pinpolicy says BIND, then apply it. */
static int bind_calm(int cpu, const cpu_set_t *free_cpus)
{
	struct pinpolicy p;
	enum pinpolicy_action a = PINPOLICY_KEEP;

	pinpolicy_init(&p);
	for (int i = 0; i < PINPOLICY_CALM_WAKES; i++)
		a = pinpolicy_wake(&p, cpu, PINPOLICY_CALM);
	assert_int_equal(a, PINPOLICY_BIND);
	return pinpolicy_apply(&p, a, free_cpus);
}

static void *follow_thread(void *arg)
{
	struct follow_case *fc = arg;
	socklen_t len = sizeof(fc->seen);
	cpu_set_t set, start;
	char c = 'x';
	int a, b;

	assert_int_equal(pthread_getaffinity_np(pthread_self(), sizeof(start), &start), 0);
	assert_int_equal(test_tcp_pair(&a, &b), 0);
	pin_self(fc->send_cpu);
	assert_int_equal(write(a, &c, 1), 1);
	assert_int_equal(read(b, &c, 1), 1);
	if (fc->own_cpu >= 0)
		pin_self(fc->own_cpu);
	else  /* back to the runner's CPUs before following */
		assert_int_equal(pthread_setaffinity_np(pthread_self(), sizeof(start), &start),
				 0);
	assert_int_equal(getsockopt(b, SOL_SOCKET, SO_INCOMING_CPU, &fc->seen, &len), 0);
	assert_int_equal(pthread_getaffinity_np(pthread_self(), sizeof(start), &start), 0);
	fc->asked = placement_socket_cpu(b);
	assert_int_equal(pthread_getaffinity_np(pthread_self(), sizeof(set), &set), 0);
	fc->asked_kept = CPU_EQUAL(&set, &start);
	fc->bind = fc->asked >= 0 ? bind_calm(fc->asked, &start) : 1;
	assert_int_equal(pthread_getaffinity_np(pthread_self(), sizeof(set), &set), 0);
	fc->bound = -1;
	if (CPU_COUNT(&set) == 1)
		for (int i = 0; i < CPU_SETSIZE; i++)
			if (CPU_ISSET(i, &set))
				fc->bound = i;
	close(a);
	close(b);
	return NULL;
}

static void run_case(struct follow_case *fc)
{
	pthread_t th;

	assert_int_equal(pthread_create(&th, NULL, follow_thread, fc), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
}

/* The receiving socket's CPU, which is the sender's, becomes the thread's only one. */
static void test_follows_sender_cpu(void **state)
{
	int lo, hi;

	(void)state;
	cpu_bounds(&lo, &hi);
	for (int cpu = lo; cpu <= hi; cpu += hi > lo ? hi - lo : 1) {
		struct follow_case fc = { .send_cpu = cpu, .own_cpu = -1 };

		run_case(&fc);
		assert_int_equal(fc.seen, cpu);
		assert_int_equal(fc.asked, cpu);
		assert_true(fc.asked_kept);
		assert_int_equal(fc.bind, 0);
		assert_int_equal(fc.bound, cpu);
	}
}

/* A CPU outside the thread's affinity is not taken; the affinity stays as it was. */
static void test_outside_affinity_refused(void **state)
{
	struct follow_case fc;
	int lo, hi;

	(void)state;
	cpu_bounds(&lo, &hi);
	if (lo == hi)
		skip(); /* one CPU: nothing outside it */
	fc = (struct follow_case){ .send_cpu = hi, .own_cpu = lo };
	run_case(&fc);
	assert_int_equal(fc.seen, hi);
	assert_int_equal(fc.asked, -EPERM);
	assert_true(fc.asked_kept);
	assert_int_equal(fc.bind, 1);
	assert_int_equal(fc.bound, lo);
}

/* A socket with no receiving CPU (AF_UNIX never records one): -EAGAIN, no change. */
static void test_unknown_cpu(void **state)
{
	cpu_set_t before, after;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[0], "x", 1), 1);
	assert_int_equal(pthread_getaffinity_np(pthread_self(), sizeof(before), &before), 0);
	assert_int_equal(placement_socket_cpu(sv[1]), -EAGAIN);
	assert_int_equal(pthread_getaffinity_np(pthread_self(), sizeof(after), &after), 0);
	assert_true(CPU_EQUAL(&before, &after));
	close(sv[0]);
	close(sv[1]);
	/* Not a socket at all: getsockopt's error. */
	assert_int_equal(placement_socket_cpu(-1), -EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_follows_sender_cpu),
		cmocka_unit_test(test_outside_affinity_refused),
		cmocka_unit_test(test_unknown_cpu),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
