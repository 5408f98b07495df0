/*
 * cfgd_worker.c — scsipub-cfgd's pools of pre-made sessions, its teardown queue and
 * the worker thread that serves both (see cfgd_worker.h).
 */
#include "cfgd_worker.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "monotime.h"

/*
 * A pool that still has sessions ready after a login took one waits this long
 * (seconds) before making the replacement, so that making it (configfs, a new TCMU
 * device: tens of ms of CPU) does not compete with the rest of that login (the portal
 * connecting to LIO, LIO's login). An empty pool is refilled at once.
 */
#define POOL_REFILL_DELAY_S 0.2
#define POOL_RETRY_S 5.0   /* after a failed make, the pool waits this long */

void cfgd_sess_teardown(struct cfgd_server *s, struct sess *x)
{
	double t0 = monotime_sec();

	pthread_mutex_lock(&s->cfs_mu);
	anon_destroy(s->cfg.cfs, &s->cfg.anon, s->exports, &x->a);
	pthread_mutex_unlock(&s->cfs_mu);
	if (x->owner)
		plog("session destroy: initiator %s (as %s) peer %s target %s backstore %s "
		     "(%s)%s", x->client, x->a.initiator, x->peer, x->a.target, x->a.backstore,
		     x->why, s->cfg.anon.keep_overlays ? " (overlay kept)" : "");
	else
		plog("pre-made session %s of %s removed (%s)", x->a.backstore, x->a.target,
		     x->why);
	plog_debug("teardown of %s took %.1f ms", x->a.backstore, (monotime_sec() - t0) * 1e3);
	if (x->owner) {  /* a pre-made session was never counted */
		pthread_mutex_lock(&s->mu);
		s->n_sessions--;
		pthread_mutex_unlock(&s->mu);
	}
	free(x);
}

void cfgd_sess_enqueue(struct cfgd_server *s, struct sess *x, const char *why)
{
	x->why = why;
	x->queued_at = monotime_sec();
	x->next = NULL;
	*s->queue_tail = x;
	s->queue_tail = &x->next;
	pthread_cond_signal(&s->work_cv);
}

void cfgd_sess_retire(struct cfgd_server *s, struct sess *list, const char *why)
{
	pthread_mutex_lock(&s->mu);
	if (s->worker_on) {
		while (list) {
			struct sess *x = list;

			list = x->next;
			cfgd_sess_enqueue(s, x, why);
		}
	}
	pthread_mutex_unlock(&s->mu);
	while (list) {
		struct sess *x = list;

		list = x->next;
		x->why = why;
		cfgd_sess_teardown(s, x);
	}
}

struct sess *cfgd_pool_drain(struct pool *p)
{
	struct sess *list = p->ready;

	p->ready = NULL;
	p->tail = &p->ready;
	p->n_ready = 0;
	return list;
}

/* The oldest pre-made session of pool p (not empty), out of it. Caller holds s->mu. */
static struct sess *pool_pop(struct pool *p)
{
	struct sess *x = p->ready;

	p->ready = x->next;
	if (!p->ready)
		p->tail = &p->ready;
	p->n_ready--;
	x->next = NULL;
	return x;
}

struct sess *cfgd_pool_take(struct cfgd_server *s, const struct anontarget *t,
			    struct sess **stale)
{
	for (unsigned i = 0; i < s->n_pools; i++) {
		struct pool *p = &s->pools[i];
		struct sess *x = p->ready;
		unsigned before = p->size.target;
		bool same;

		if (strcmp(p->spec.iqn, t->iqn))
			continue;
		if (poolsize_login(&p->size, monotime_sec()) > before)
			pthread_cond_signal(&s->work_cv);
		if (!x)
			return NULL;
		same = x->a.n_luns == t->n_luns;
		for (unsigned l = 0; same && l < t->n_luns; l++)
			same = x->a.luns[l].size_bytes == t->lun[l].size_bytes;
		if (!same) {
			*stale = cfgd_pool_drain(p);
			return NULL;
		}
		pool_pop(p);
		if (!p->refill_at)  /* the first take of a burst sets when to refill */
			p->refill_at = monotime_sec() + POOL_REFILL_DELAY_S;
		return x;
	}
	return NULL;
}

/* Earlier of *next and at (0 = none). */
static void earliest(double *next, double at)
{
	if (at && (!*next || at < *next))
		*next = at;
}

/* A pool short of sessions and not waiting out a failure or a refill delay
 * (POOL_REFILL_DELAY_S: none while it is empty), or NULL; *next_retry is the earliest
 * time a waiting one may go on or a grown one shrinks (0: none). Caller holds s->mu. */
static struct pool *pool_short(struct cfgd_server *s, double now, double *next_retry)
{
	*next_retry = 0;
	for (unsigned i = 0; i < s->n_pools; i++) {
		struct pool *p = &s->pools[i];
		double at = p->retry_at, shrink_at;
		unsigned want = poolsize_target(&p->size, now, &shrink_at);

		earliest(next_retry, shrink_at);
		if (p->n_ready >= want) {
			p->refill_at = 0;
			if (want != p->logged) {
				plog("pool %s: keeping %u ready (%s)", p->spec.iqn, want,
				     want > p->spec.count ? "grown for a burst of logins"
							 : "no burst needed more lately");
				p->logged = want;
			}
			continue;
		}
		if (p->n_ready && p->refill_at > at)
			at = p->refill_at;
		if (at <= now) {
			p->refill_at = 0;
			return p;
		}
		earliest(next_retry, at);
	}
	return NULL;
}

/* Queue the oldest pre-made sessions of every pool beyond its size now (a grown pool
 * shrinking back, poolsize.h) for teardown. Caller holds s->mu; the worker runs. */
static void pool_trim(struct cfgd_server *s, double now)
{
	for (unsigned i = 0; i < s->n_pools; i++) {
		struct pool *p = &s->pools[i];
		unsigned want = poolsize_target(&p->size, now, NULL);

		while (p->n_ready > want)
			cfgd_sess_enqueue(s, pool_pop(p), "its pool shrank");
	}
}

/* Make one session for pool p (the worker; holds neither mutex). */
static void pool_make(struct cfgd_server *s, struct pool *p)
{
	struct sess *x = calloc(1, sizeof(*x));
	struct anontarget t;
	struct catalog cat;
	char err[512] = "out of memory";
	int r = x ? 0 : -ENOMEM;

	if (r == 0) {
		r = catalog_scan_for(s->cfg.images_dir, p->spec.iqn, &cat);
		if (r < 0) {
			snprintf(err, sizeof(err), "catalog %s: %s", s->cfg.images_dir,
				 strerror(-r));
		} else {
			r = anontarget_resolve(&cat, s->cfg.multi_images, p->spec.iqn, &t);
			catalog_free(&cat);
			if (r < 0)
				snprintf(err, sizeof(err), "not in the catalog");
		}
	}
	if (r == 0) {
		pthread_mutex_lock(&s->cfs_mu);
		r = anon_create(s->cfg.cfs, &s->cfg.anon, s->exports, &t, &x->a, err,
				sizeof(err));
		pthread_mutex_unlock(&s->cfs_mu);
	}
	pthread_mutex_lock(&s->mu);
	if (r == 0) {
		x->next = NULL;
		*p->tail = x;
		p->tail = &x->next;
		p->n_ready++;
		if (p->retry_at)
			plog("pool %s: making sessions again", p->spec.iqn);
		p->retry_at = 0;
		x = NULL;
	} else {
		if (!p->retry_at)  /* once per run of failures */
			plog("pool %s: cannot make a session: %s; retrying every %.0f s",
			     p->spec.iqn, err, POOL_RETRY_S);
		p->retry_at = monotime_sec() + POOL_RETRY_S;
	}
	pthread_mutex_unlock(&s->mu);
	free(x);
}

/* Tell c, whose anon_destroy the worker finished, and free it for the serve loop. */
static void reply_done(struct cfgd_server *s, struct cfgd_client *c)
{
	char buf[64];
	size_t n = cfgd_resp_emit(cfgd_resp_ok(), buf, sizeof(buf));
	bool sent = send(c->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0;

	pthread_mutex_lock(&s->mu);
	c->busy = false;
	c->broken = !sent;
	pthread_mutex_unlock(&s->mu);
	if (write(s->wake[1], "w", 1) < 0 && errno != EAGAIN)
		plog("waking the serve loop: %s", strerror(errno));
}

/* Whether the worker may tear x, the oldest queued session, down at now (loginfirst.h:
 * not while logins arrive, unless it waited its longest or the session limit is
 * reached); else *wake is when to look again (0: when told). Caller holds s->mu. */
static bool teardown_may_run(struct cfgd_server *s, const struct sess *x, double now,
			     double *wake)
{
	double deadline = s->n_sessions >= s->cfg.max_sessions
				  ? now
				  : x->queued_at + LOGINFIRST_MAX_WAIT_S;

	return loginfirst_may_run(&s->lf, now, deadline, wake);
}

/* The worker thread (cfgd_worker.h): one teardown or one pool's session a step, the
 * teardowns first once they may run, the pools meanwhile and when none is queued. */
static void *worker_main(void *arg)
{
	struct cfgd_server *s = arg;

	pthread_mutex_lock(&s->mu);
	while (!s->stopping) {
		struct sess *x = s->queue;
		struct pool *p;
		double now = monotime_sec(), next, wake = 0;

		if (x && teardown_may_run(s, x, now, &wake)) {
			struct cfgd_client *c = x->reply_to;

			s->queue = x->next;
			if (!s->queue)
				s->queue_tail = &s->queue;
			pthread_mutex_unlock(&s->mu);
			cfgd_sess_teardown(s, x);
			if (c)
				reply_done(s, c);
			pthread_mutex_lock(&s->mu);
			continue;
		}
		if (!x) {
			pool_trim(s, now);
			if (s->queue)
				continue;
		}
		p = pool_short(s, now, &next);
		if (p) {
			pthread_mutex_unlock(&s->mu);
			pool_make(s, p);
			pthread_mutex_lock(&s->mu);
			continue;
		}
		earliest(&next, wake);
		if (next) {
			struct timespec ts = { .tv_sec = (time_t)next,
					       .tv_nsec = (long)((next - (double)(time_t)next) * 1e9) };

			pthread_cond_timedwait(&s->work_cv, &s->mu, &ts);
		} else {
			pthread_cond_wait(&s->work_cv, &s->mu);
		}
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int cfgd_worker_start(struct cfgd_server *s)
{
	int r;

	if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	s->stopping = false;
	r = pthread_create(&s->worker, NULL, worker_main, s);
	if (r) {
		close(s->wake[0]);
		close(s->wake[1]);
		s->wake[0] = s->wake[1] = -1;
		return -r;
	}
	pthread_mutex_lock(&s->mu);
	s->worker_on = true;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

void cfgd_worker_stop(struct cfgd_server *s)
{
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_cond_signal(&s->work_cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->worker, NULL);
	pthread_mutex_lock(&s->mu);
	s->worker_on = false;
	for (struct sess *x = s->queue; x; x = x->next)
		x->reply_to = NULL;
	pthread_mutex_unlock(&s->mu);
	close(s->wake[0]);
	close(s->wake[1]);
	s->wake[0] = s->wake[1] = -1;
}
