/*
 * provplace.h — one CPU hint for the disks of a provisioned target, given while all
 * of the target's live connections agree on it.
 *
 * LIO runs each iSCSI connection's threads on one CPU (placement.h), and scsipub-tcmu
 * serves a backstore from one worker thread, which does best on that CPU
 * (common/placehint.h). An anonymous session's disks serve one connection; the LUNs of
 * a provisioned target (iqn...:s.<id>, provtarget.h) serve all of its connections: a
 * failover cluster's nodes, a re-login beside a stale session. So the portal keeps,
 * per provisioned target, the CPU of each of its connections that has one, and the
 * hint it gave last:
 *   - every such connection on CPU c: the hint is c;
 *   - two or more CPUs: the hint is withdrawn (PLACEHINT_NONE), the worker goes back
 *     to the scheduler;
 *   - the last connection gone: the target is forgotten, its last hint left as it was
 *     (no commands come then), and the next connection gives a new one.
 * The caller's tell function carries out each change (placehint_send per disk), under
 * the table's lock, so the changes reach scsipub-tcmu in the order they were made.
 *
 * Bounds: one entry per live connection that has a CPU (the portal's connection caps
 * bound those), and per target the disk names of its last entry (at most the
 * caller's `max` of provtarget_disks).
 */
#ifndef SCSIPUB_PROVPLACE_H
#define SCSIPUB_PROVPLACE_H

#include "provtarget.h"

struct provplace;

/*
 * Carry out a change of target's hint: cpu (a CPU, or PLACEHINT_NONE to withdraw)
 * for each of its n_disks disks; conns is how many connections the target has now.
 * Called with the table's lock held: it must not call back into provplace.
 */
typedef void (*provplace_tell_fn)(void *arg, const char *target, int cpu,
				  const char (*disks)[PROVTARGET_DISK_LEN], unsigned n_disks,
				  unsigned conns);

/* An empty table whose changes go to tell(arg, ...). NULL when out of memory. */
struct provplace *provplace_new(provplace_tell_fn tell, void *arg);

/* Free the table (no tell). NULL is fine. */
void provplace_free(struct provplace *pp);

/*
 * Connection `key` (any pointer unique among live connections) to provisioned target
 * `target` has learnt that LIO's threads for it run on CPU cpu (>= 0); disks[0..n) are
 * the target's backstores as read now (provtarget_disks; copied). Tells the target's
 * new hint when it changed, or when the disks differ from those told last (a LUN
 * added). A key entered before for the target keeps one entry, with the new CPU.
 * Returns 0, -EINVAL for a NULL argument or a negative cpu, -ENOMEM (nothing changed).
 */
int provplace_enter(struct provplace *pp, const char *target, const void *key, int cpu,
		    const char (*disks)[PROVTARGET_DISK_LEN], unsigned n);

/*
 * Connection `key` to `target` has ended: its entry goes, and the hint is told again
 * when the rest now agree on another one (e.g. the one left on CPU c after the
 * connection on the other CPU went). The last one gone forgets the target. A key not
 * entered is ignored.
 */
void provplace_leave(struct provplace *pp, const char *target, const void *key);

/* How many targets the table holds now (for tests and the bound above). */
unsigned provplace_targets(struct provplace *pp);

#endif
