/*
 * loginfirst.h — when scsipub-cfgd's worker tears a released session down: after the
 * logins that are arriving, not between them.
 *
 * Logins and teardowns take the same configfs lock, and a teardown (unlinking the
 * LUN, the ACL, the TPG and the target, removing the TCMU device) takes tens of ms of
 * CPU under TCG. When a burst of sessions ends while another burst logs in (a rack of
 * machines power-cycling together), the worker tearing the old sessions down one after
 * the other would make each new login wait for at least one teardown: 200 logins to
 * a read-only shared export took 10.7 s at p99 that way against 1.3 s alone
 * (bench-perf.sh, 2026-12-05). So a queued teardown waits while a login is being
 * handled and for LOGINFIRST_QUIET_S seconds after each one (the rest of that login,
 * the portal's and LIO's part, runs then, and the next login of a burst arrives
 * meanwhile), but never past its deadline: the caller gives LOGINFIRST_MAX_WAIT_S
 * after it was queued, or now when the session limit is reached (a login refused for
 * the limit waits for the places that teardowns give back). A released session stays
 * counted in the session limit until it is torn down, so what the wait holds is
 * bounded by --max-sessions.
 *
 * Times are monotime_sec() values (seconds, monotonic) passed in by the caller, so the
 * rules can be tested with made-up clocks. Not thread-safe: the caller locks.
 */
#ifndef SCSIPUB_LOGINFIRST_H
#define SCSIPUB_LOGINFIRST_H

#include <stdbool.h>

#define LOGINFIRST_QUIET_S 0.2      /* after a login, teardowns wait this long */
#define LOGINFIRST_MAX_WAIT_S 10.0  /* a queued teardown waits at most this long */

struct loginfirst {
	unsigned in_progress;  /* logins being handled now */
	double last_end;       /* when the last one ended; 0 = none yet */
};

/* A login's handling begins (before it may take the configfs lock). */
void loginfirst_begin(struct loginfirst *l);

/* A login's handling ended at now (seconds), whether it succeeded or not. */
void loginfirst_end(struct loginfirst *l, double now);

/*
 * Whether a teardown whose deadline (seconds; 0 = none) is as given may start at now.
 * When it may not, *wake is when to ask again: the end of the quiet time or the
 * deadline, whichever comes first; 0 when only a loginfirst_end can change the
 * answer (a login in progress and no deadline).
 */
bool loginfirst_may_run(const struct loginfirst *l, double now, double deadline,
			double *wake);

#endif
