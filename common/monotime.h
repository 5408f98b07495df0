/*
 * monotime.h — the time on CLOCK_MONOTONIC, for deadlines, intervals, rate windows
 * and timeouts: it never jumps when the wall clock is set, and it starts at an
 * arbitrary point (compare two readings, never show one as a date). The one place
 * every program of the project reads it.
 *
 * Thread-safe; no errors (CLOCK_MONOTONIC always exists on Linux).
 */
#ifndef SCSIPUB_MONOTIME_H
#define SCSIPUB_MONOTIME_H

#include <stdint.h>

/* Nanoseconds. */
int64_t monotime_ns(void);

/* Milliseconds, rounded down. */
int64_t monotime_ms(void);

/* Whole seconds, rounded down. */
int64_t monotime_s(void);

/* Seconds with their fraction (for pthread_cond_timedwait on a CLOCK_MONOTONIC cond). */
double monotime_sec(void);

#endif
