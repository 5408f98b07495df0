/*
 * pinpolicy.h — when a thread on the path of a session's commands should run on the
 * CPU of LIO's threads for that session's connection, and when it should not: the
 * portal's relay thread (tls-proxy/placement.h) and scsipub-tcmu's ring thread for the
 * session's disk (common/placehint.h).
 *
 * LIO binds each iSCSI connection's receive and transmit threads to one CPU
 * (drivers/target/iscsi/iscsi_target.c, iscsit_thread_get_cpumask). On that CPU, the
 * hops between them and our threads need no cross-CPU wakeup, which at queue depth 1
 * is much of a small command's time in the lab VM (README "Performance"). With large
 * commands or several in flight, two CPUs do better apart: LIO copies the next
 * command's data on one while our thread works on this one (1 MiB at QD8 through the
 * portal with the ring thread always bound: 0.39 / 0.60–0.62 of fileio against
 * 0.46–0.54 / 0.64–0.85 free, docs/performance.md).
 *
 * So a thread takes the hinted CPU after PINPOLICY_CALM_WAKES calm wakeups in a row,
 * and leaves it after PINPOLICY_BUSY_WAKES busy ones in a row; what makes a wakeup
 * calm is the caller's to say (one small command; a relay round that spliced no large
 * data segment). pinpolicy_wake is pure logic; pinpolicy_apply carries its decision
 * out on the calling thread, and pinpolicy_may_run_on is the check both callers make
 * before they take a CPU as the hint.
 */
#ifndef SCSIPUB_PINPOLICY_H
#define SCSIPUB_PINPOLICY_H

#include <sched.h>
#include <stdbool.h>

#define PINPOLICY_CALM_WAKES 8
#define PINPOLICY_BUSY_WAKES 2

struct pinpolicy {
	bool bound;        /* the caller's thread is on CPU `cpu` now */
	int cpu;           /* the hinted CPU it is bound to (when bound) */
	unsigned calm;     /* calm wakeups in a row (while free) */
	unsigned busy;     /* busy wakeups in a row (while bound) */
};

enum pinpolicy_wake {
	PINPOLICY_IDLE = 0,   /* woke for nothing (changes no count) */
	PINPOLICY_CALM,       /* one small command's worth of work */
	PINPOLICY_BUSY,       /* large data, or several commands at once */
};

enum pinpolicy_action {
	PINPOLICY_KEEP = 0,   /* leave the thread where it is */
	PINPOLICY_BIND,       /* bind it to the hinted CPU (also: move it to a new hint) */
	PINPOLICY_FREE,       /* give it back the affinity it had before */
};

/* A policy for a thread that is free (not bound). */
void pinpolicy_init(struct pinpolicy *p);

/*
 * One wakeup of the thread, of kind `w`; `hint` is the CPU of LIO's threads for the
 * connection, or -1 for none known. Returns what the caller must do now, and records
 * that it did it (a caller whose bind fails calls pinpolicy_init). A hint that is
 * withdrawn (-1) frees a bound thread at once; one that changes moves a bound thread
 * at once.
 */
enum pinpolicy_action pinpolicy_wake(struct pinpolicy *p, int hint, enum pinpolicy_wake w);

/*
 * Carry out action a (pinpolicy_wake's) on the calling thread: BIND binds it to
 * p->cpu only, FREE sets its affinity to *free_cpus (what it had before), KEEP does
 * nothing. Returns 0 or the -errno of pthread_setaffinity_np; after a failed BIND, p is
 * free again (pinpolicy_init), so a later run of calm wakeups tries once more.
 */
int pinpolicy_apply(struct pinpolicy *p, enum pinpolicy_action a, const cpu_set_t *free_cpus);

/*
 * 0 when the calling thread may run on CPU cpu (an operator's taskset or cpuset stays
 * in force), -EPERM when it may not or cpu is out of range (0..CPU_SETSIZE-1), or the
 * -errno of pthread_getaffinity_np.
 */
int pinpolicy_may_run_on(int cpu);

#endif
