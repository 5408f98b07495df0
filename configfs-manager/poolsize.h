/*
 * poolsize.h — how many pre-made sessions a pool (poolspec.h) keeps ready right now.
 *
 * A pool set as TARGET=COUNT:MAX keeps COUNT sessions ready until a burst of logins
 * to its target needs more: it then keeps as many as the largest recent burst had
 * logins (at most MAX), so that the next burst of that size (a rack of machines that
 * power-cycle together, a cluster that reboots) finds its sessions made. When no burst
 * has needed more than COUNT for POOLSIZE_KEEP_S seconds (the keep time), the pool goes back to COUNT
 * and the surplus sessions are removed. With MAX = COUNT (TARGET=COUNT) the size never
 * changes.
 *
 * A burst is what arrives in one window of POOLSIZE_WINDOW_S seconds, starting at the
 * first login after the last window ended (scsipub-cfgd reads requests one at a time,
 * so a burst it serves over several seconds still falls in one window, while a trickle
 * of one login every few seconds stays small). Every login counts, whether it took a
 * pre-made session or had one made for it. What a client can make us spend this way is
 * bounded by MAX (the operator's choice, POOLSPEC_TOTAL_MAX in all) and by the
 * portal's per-address login limits.
 *
 * Times are monotime_sec() values (seconds, monotonic); the caller passes them in, so
 * the rules can be tested with made-up clocks. Not thread-safe: the caller locks.
 */
#ifndef SCSIPUB_POOLSIZE_H
#define SCSIPUB_POOLSIZE_H

#define POOLSIZE_WINDOW_S 10.0     /* the logins of one window are one burst */
#define POOLSIZE_KEEP_S 600.0      /* a grown pool keeps its size this long after a burst */

struct poolsize {
	unsigned count, max;  /* the setting: count <= max */
	unsigned target;      /* sessions to keep ready now: count..max */
	unsigned burst;       /* logins in the current (or last) window */
	double window_at;     /* when that window began; 0 = none yet */
	double big_at;        /* when a burst last needed more than count; 0 = never */
	double keep_s;        /* the keep time, seconds */
};

/* Start at count ready sessions; max < count is taken as max = count; keep_s <= 0 is
 * taken as POOLSIZE_KEEP_S. */
void poolsize_init(struct poolsize *z, unsigned count, unsigned max, double keep_s);

/*
 * A login to the pool's target at now (seconds). Counts it in the current window (a new
 * one when that began POOLSIZE_WINDOW_S or more ago) and returns the target, raised
 * to the window's count of logins (at most max) when that is larger.
 */
unsigned poolsize_login(struct poolsize *z, double now);

/*
 * The number of sessions to keep ready at now: back to count once the keep time
 * passed since the last burst that needed more than count. *shrink_at (may be
 * NULL) is when that will happen for a grown pool, 0 when the pool is at count.
 */
unsigned poolsize_target(struct poolsize *z, double now, double *shrink_at);

#endif
