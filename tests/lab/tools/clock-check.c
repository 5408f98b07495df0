/*
 * clock-check: is CLOCK_MONOTONIC one clock across the guest's CPUs, and what does a
 * reading cost? Run in the lab VM by lab_boot (tests/lab/lab.sh) when the guest keeps
 * time with the TSC (tsc=reliable, LAB_TSC=1).
 *
 * Two threads, each bound to its own CPU (the first two the process may run on), pass
 * a timestamp back and forth ROUNDS times: each reads CLOCK_MONOTONIC after it sees
 * the other's reading and counts it as a step backwards when it is smaller. With one
 * CPU there is nothing to compare and the check passes. Then ROUNDS readings in a row
 * on one CPU give the cost of one.
 *
 * Usage: clock-check [ROUNDS]   (default 200000; 1..100000000)
 * Prints "handoffs=N backwards=B handoff_ns=H read_ns=R cpus=A,B" and exits 0 when
 * B is 0, 1 when the clock stepped backwards, 2 on a usage or system error.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monotime.h"

struct relay {
	_Atomic int64_t stamp;     /* the last reading, ns (monotime_ns) */
	_Atomic int turn;          /* whose turn: 0 or 1 */
	long rounds;               /* handoffs per thread */
	int cpu[2];
	long long backwards[2];
	int err[2];
};

struct side {
	struct relay *r;
	int me;
};

static void *pass(void *arg)
{
	struct side *s = arg;
	struct relay *r = s->r;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(r->cpu[s->me], &set);
	r->err[s->me] = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	for (long i = 0; i < r->rounds; i++) {
		int64_t prev, t;

		while (atomic_load(&r->turn) != s->me)
			;
		prev = atomic_load(&r->stamp);
		t = monotime_ns();
		if (t < prev)
			r->backwards[s->me]++;
		atomic_store(&r->stamp, t);
		atomic_store(&r->turn, !s->me);
	}
	return NULL;
}

/* The first two CPUs this process may run on; -1 when there is only one. */
static int two_cpus(int cpu[2])
{
	cpu_set_t set;
	int n = 0;

	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return -errno;
	for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
		if (CPU_ISSET(c, &set))
			cpu[n++] = c;
	return n == 2 ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct relay r = { .rounds = 200000 };
	struct side side[2] = { { &r, 0 }, { &r, 1 } };
	pthread_t th[2];
	int64_t t0;
	long long handoff_ns = 0, read_ns, backwards = 0, handoffs = 0;
	char *end;
	int rc;

	if (argc > 2 || (argc == 2 && ((r.rounds = strtol(argv[1], &end, 10)) < 1 ||
				       r.rounds > 100000000 || *end))) {
		fprintf(stderr, "usage: clock-check [ROUNDS 1..100000000]\n");
		return 2;
	}
	rc = two_cpus(r.cpu);
	if (rc < -1) {
		fprintf(stderr, "clock-check: sched_getaffinity: %s\n", strerror(-rc));
		return 2;
	}
	if (rc == 0) {
		t0 = monotime_ns();
		for (int i = 0; i < 2; i++) {
			rc = pthread_create(&th[i], NULL, pass, &side[i]);
			if (rc) {
				fprintf(stderr, "clock-check: pthread_create: %s\n", strerror(rc));
				return 2;
			}
		}
		for (int i = 0; i < 2; i++)
			pthread_join(th[i], NULL);
		if (r.err[0] || r.err[1]) {
			fprintf(stderr, "clock-check: cannot bind a thread to CPU %d or %d\n",
				r.cpu[0], r.cpu[1]);
			return 2;
		}
		handoffs = 2 * r.rounds;
		handoff_ns = (monotime_ns() - t0) / handoffs;
		backwards = r.backwards[0] + r.backwards[1];
	}
	t0 = monotime_ns();
	for (long i = 0; i < r.rounds; i++)
		(void)monotime_ns();
	read_ns = (monotime_ns() - t0) / r.rounds;
	printf("handoffs=%lld backwards=%lld handoff_ns=%lld read_ns=%lld cpus=%d,%d\n",
	       handoffs, backwards, handoff_ns, read_ns, handoffs ? r.cpu[0] : -1,
	       handoffs ? r.cpu[1] : -1);
	return backwards ? 1 : 0;
}
