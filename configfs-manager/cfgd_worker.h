/*
 * cfgd_worker.h — scsipub-cfgd's sessions made ahead and torn down behind: the pools
 * of pre-made sessions (--pool, poolspec.h, sized by poolsize.h), the queue of
 * sessions waiting for teardown, and the one worker thread that serves both. It tears
 * queued sessions down in order once no login is arriving (loginfirst.h), answering
 * each anon_destroy that waits for it, and refills the pools one session at a time.
 * Each step holds cfs_mu only for its own configfs sequence (anon.h), so a login whose
 * pool is empty waits for one step at most.
 *
 * Locking (cfgd_state.h): "holds mu" is the caller holding s->mu; a function that
 * takes the mutexes itself is called with neither held.
 */
#ifndef SCSIPUB_CFGD_WORKER_H
#define SCSIPUB_CFGD_WORKER_H

#include "anontarget.h"
#include "cfgd_state.h"

/* Tear down x (already out of every table: anon_destroy under cfs_mu), log why
 * (x->why), take a live session out of s->n_sessions (under mu) and free x. The caller
 * holds neither mutex. */
void cfgd_sess_teardown(struct cfgd_server *s, struct sess *x);

/* Queue x (out of every table, counted in n_sessions until torn down) for teardown by
 * the worker, noting why (a string literal) and when, and wake the worker. The caller
 * holds mu and has checked s->worker_on. */
void cfgd_sess_enqueue(struct cfgd_server *s, struct sess *x, const char *why);

/* Tear down every session in list (linked by next; may be NULL): queued for the
 * worker when it runs, else here, one after the other. The caller holds neither
 * mutex. */
void cfgd_sess_retire(struct cfgd_server *s, struct sess *list, const char *why);

/* Take every pre-made session of pool p out of it, into a list linked by next (NULL
 * when empty), for cfgd_sess_retire. The caller holds mu. */
struct sess *cfgd_pool_drain(struct pool *p);

/*
 * A pre-made session of t's pool for a login, out of the pool (the caller owns it), or
 * NULL: no pool for t, or none ready. The login counts in the pool's burst
 * (poolsize.h); the worker is woken when that grows the pool. Sessions made for
 * another version of t (a LUN's size changed with its image) are drained into *stale
 * for the caller to retire. The caller holds mu.
 */
struct sess *cfgd_pool_take(struct cfgd_server *s, const struct anontarget *t,
			    struct sess **stale);

/* Start the worker thread and the pipe it wakes the serve loop through (s->wake).
 * 0, or a negative errno (pipe2, pthread_create) with nothing started. */
int cfgd_worker_start(struct cfgd_server *s);

/* Stop and join the worker and close its pipe. Queued teardowns stay queued for
 * cfgd_server_free, their clients no longer answered. The caller holds neither mutex. */
void cfgd_worker_stop(struct cfgd_server *s);

#endif
