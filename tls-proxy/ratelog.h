/*
 * ratelog.h — "log this at most once per window per (peer, what)" for events that
 * anyone on the Internet can trigger at will (logins to unknown targets).
 *
 * A fixed table of RATELOG_SLOTS entries, each a 64-bit hash of (peer, what) and the
 * time it was last logged. When the table is full the stalest slot is reused, so
 * memory stays bounded whatever the peers do; an evicted key may log again early.
 * Time is passed in by the caller (seconds, any monotonic clock) so tests can inject
 * it. Thread-safe.
 */
#ifndef SCSIPUB_RATELOG_H
#define SCSIPUB_RATELOG_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define RATELOG_SLOTS 1024
#define RATELOG_WINDOW_S 300   /* seconds: 5 minutes */

struct ratelog;

/* A table suppressing repeats for window_s seconds. NULL on allocation failure. */
struct ratelog *ratelog_new(unsigned window_s);
void ratelog_free(struct ratelog *r);

/*
 * True when (peer, what) was not logged within the last window_s seconds before now,
 * and records now as its last time; false to suppress.
 */
bool ratelog_allow(struct ratelog *r, const char *peer, const char *what, time_t now);

#endif
