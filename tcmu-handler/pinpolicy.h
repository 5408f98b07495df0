/*
 * pinpolicy.h — when a device's ring thread should run on the CPU of LIO's threads
 * for the connection that uses it (common/placehint.h), and when it should not.
 *
 * On LIO's CPU, a command that LIO's receive thread puts in the ring wakes the ring
 * thread without a cross-CPU wakeup, and so does its completion on the way back: at
 * queue depth 1 that is most of a small command's time in the lab VM (README
 * "Performance"). With several commands in flight, or large ones, the two CPUs are
 * better used apart: LIO copies the next command's data while the handler runs this
 * one (1 MiB at QD8 through the portal: 0.39 / 0.62 of fileio bound against 0.66–0.71 /
 * 0.70–0.81 free, docs/performance.md). So the ring thread takes the hinted CPU only
 * after PINPOLICY_CALM_WAKES wakeups in a row that each brought one command of at
 * most PINPOLICY_SMALL_BYTES of data, and leaves it after PINPOLICY_BUSY_WAKES in a
 * row that brought more. Pure logic: the caller applies the decision.
 */
#ifndef SCSIPUB_PINPOLICY_H
#define SCSIPUB_PINPOLICY_H

#include <stdbool.h>
#include <stddef.h>

#define PINPOLICY_SMALL_BYTES (128u * 1024)  /* a readahead-sized read still counts */
#define PINPOLICY_CALM_WAKES  8
#define PINPOLICY_BUSY_WAKES  2

struct pinpolicy {
	bool bound;        /* the caller's thread is on CPU `cpu` now */
	int cpu;           /* the hinted CPU it is bound to (when bound) */
	unsigned calm;     /* calm wakeups in a row (while free) */
	unsigned busy;     /* busy wakeups in a row (while bound) */
};

enum pinpolicy_action {
	PINPOLICY_KEEP = 0,   /* leave the thread where it is */
	PINPOLICY_BIND,       /* bind it to the hinted CPU (also: move it to a new hint) */
	PINPOLICY_FREE,       /* give it back its whole affinity */
};

/* A policy for a thread that is free (not bound). */
void pinpolicy_init(struct pinpolicy *p);

/*
 * One wakeup of the ring thread: it took `cmds` commands off the ring (0: a spurious
 * wakeup, which changes nothing), the largest carrying `max_bytes` bytes of data
 * (data-out or data-in buffer length); `hint` is the CPU the device was hinted at, or
 * -1 for none. Returns what the caller must do now, and records that it did it. A hint
 * that is withdrawn (-1) frees a bound thread at once; one that changes moves a bound
 * thread at once.
 */
enum pinpolicy_action pinpolicy_wake(struct pinpolicy *p, int hint, unsigned cmds,
				     size_t max_bytes);

#endif
