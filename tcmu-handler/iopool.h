/*
 * iopool.h — the handler's command threads: a fixed number of threads, shared by
 * every device, that run queued jobs in the order they were queued (GLib's
 * GThreadPool underneath). device.c queues one job per SCSI command read off a ring,
 * so several commands of one device, and of many devices, run at once; how far they
 * may overlap is device.c's business (its per-device lock, scsi_cmd_shares_lu).
 *
 * Thread safety: iopool_run may be called from any thread; iopool_free from one
 * thread once no other thread queues any more.
 */
#ifndef SCSIPUB_IOPOOL_H
#define SCSIPUB_IOPOOL_H

#include <stddef.h>

/* Most threads one pool may have. */
#define IOPOOL_MAX_THREADS 64

struct iopool;

/* A job: runs on one of the pool's threads with the arg it was queued with. */
typedef void (*iopool_fn)(void *arg);

/*
 * Start a pool of `threads` threads (1..IOPOOL_MAX_THREADS), all of them at once, so a
 * job never waits for a thread to be created. Returns the pool (caller owns;
 * iopool_free) or NULL with a one-line reason in err (errlen bytes): a bad count, or
 * threads that could not be started.
 */
struct iopool *iopool_new(unsigned threads, iopool_fn fn, char *err, size_t errlen);

/*
 * Queue arg for fn on pool p. Returns 0, or -EAGAIN when it could not be queued (the
 * caller then runs it itself).
 */
int iopool_run(struct iopool *p, void *arg);

/* Run every queued job, stop the threads and free p. NULL is allowed. */
void iopool_free(struct iopool *p);

#endif
