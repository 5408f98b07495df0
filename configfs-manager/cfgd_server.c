/*
 * cfgd_server.c — scsipub-cfgd's request handling and its connection loop (see
 * cfgd_server.h).
 */
#include "cfgd_server.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "anontarget.h"
#include "catalog.h"
#include "cfgd_proto.h"
#include "cfs.h"
#include "log.h"
#include "aptpl.h"
#include "prov.h"
#include "provtarget.h"
#include "monotime.h"
#include "poolsize.h"
#include "loginfirst.h"

/* An anonymous session: live (owner set), pre-made (in a pool: owner NULL, not counted
 * in n_sessions), or retiring (in the teardown queue, owner as it was; reply_to, when
 * set, waits for its anon_destroy response). */
struct sess {
	struct sess *next;
	struct cfgd_client *owner;
	struct cfgd_client *reply_to;
	const char *why;              /* a string literal: why it is torn down */
	double queued_at;             /* when it was queued for teardown (monotime_sec) */
	struct anon_session a;
	char client[CFGD_NAME_MAX + 1];
	char peer[CFGD_PEER_MAX + 1];
};

struct cfgd_client {
	struct cfgd_client *next;
	pid_t pid;
	uid_t uid;
	int fd;
	bool busy;      /* a deferred request's response is owed: not polled meanwhile */
	bool broken;    /* the worker could not send it a response: close it */
	struct cfgd_server *srv;
};

/* Sessions made in advance for one target (poolspec.h). */
struct pool {
	struct poolspec spec;
	struct sess *ready, **tail;   /* pre-made sessions, owner NULL, oldest first */
	unsigned n_ready;
	struct poolsize size;         /* how many to keep ready now (grows with bursts) */
	unsigned logged;              /* the size last logged as reached */
	double retry_at;              /* after a failed make: not before (monotime_sec); 0 = none */
	double refill_at;             /* after a take that left some ready: not before; 0 = none */
};

/*
 * A pool that still has sessions ready after a login took one waits this long
 * (seconds) before making the replacement, so that making it (configfs, a new TCMU
 * device: tens of ms of CPU) does not compete with the rest of that login (the portal
 * connecting to LIO, LIO's login). An empty pool is refilled at once.
 */
#define POOL_REFILL_DELAY_S 0.2
#define POOL_RETRY_S 5.0   /* after a failed make, the pool waits this long */

struct cfgd_server {
	pthread_mutex_t mu;      /* the tables below: sessions, clients, queue, pools */
	pthread_mutex_t cfs_mu;  /* configfs changes and the exports table; taken before mu */
	pthread_cond_t work_cv;  /* the worker's: teardown queued, pool short, stop */
	pthread_t worker;
	bool worker_on, stopping;
	int wake[2];             /* worker -> serve loop: a busy client is free again */
	struct sess *queue, **queue_tail;  /* sessions waiting for teardown, in order */
	struct loginfirst lf;    /* logins being handled: teardowns wait (loginfirst.h) */
	struct pool pools[POOLSPEC_TARGETS_MAX];
	unsigned n_pools;
	struct cfgd_server_cfg cfg;
	char images_dir[PATH_MAX];
	char multi_images[2 * CATALOG_IQN_MAX + 2];
	char private_dir[PATH_MAX];
	char state_dir[PATH_MAX];
	char lio_portal[128];
	struct sess *sessions;
	size_t n_sessions;
	struct anon_exports *exports;   /* shared read-only exports' session counts */
	struct cfgd_client *clients;
	unsigned n_clients;
};

struct cfgd_server *cfgd_server_new(const struct cfgd_server_cfg *cfg)
{
	struct cfgd_server *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->exports = anon_exports_new();
	if (!s->exports) {
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->cfs_mu, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&s->work_cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	s->wake[0] = s->wake[1] = -1;
	s->queue_tail = &s->queue;
	s->n_pools = cfg->n_pool < POOLSPEC_TARGETS_MAX ? cfg->n_pool : POOLSPEC_TARGETS_MAX;
	for (unsigned i = 0; i < s->n_pools; i++) {
		s->pools[i].spec = cfg->pool[i];
		s->pools[i].tail = &s->pools[i].ready;
		poolsize_init(&s->pools[i].size, cfg->pool[i].count, cfg->pool[i].max,
			      cfg->pool_keep_s);
		s->pools[i].logged = cfg->pool[i].count;
	}
	s->cfg = *cfg;
	s->cfg.pool = NULL;
	s->cfg.n_pool = 0;
	snprintf(s->multi_images, sizeof(s->multi_images), "%s",
		 cfg->multi_images ? cfg->multi_images : "");
	s->cfg.multi_images = s->multi_images;
	snprintf(s->images_dir, sizeof(s->images_dir), "%s", cfg->images_dir);
	snprintf(s->state_dir, sizeof(s->state_dir), "%s", cfg->anon.state_dir);
	snprintf(s->lio_portal, sizeof(s->lio_portal), "%s", cfg->anon.lio_portal);
	snprintf(s->private_dir, sizeof(s->private_dir), "%s",
		 cfg->private_dir ? cfg->private_dir : "");
	s->cfg.images_dir = s->images_dir;
	s->cfg.private_dir = s->private_dir;
	s->cfg.anon.state_dir = s->state_dir;
	s->cfg.anon.lio_portal = s->lio_portal;
	return s;
}

/* Tear down x (already out of every table) and free it. Takes cfs_mu, then mu for the
 * session count; the caller holds neither. */
static void sess_teardown(struct cfgd_server *s, struct sess *x)
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

/* Queue x (out of every table, counted in n_sessions) for teardown by the worker.
 * Caller holds s->mu and has checked s->worker_on. */
static void sess_enqueue(struct cfgd_server *s, struct sess *x, const char *why)
{
	x->why = why;
	x->queued_at = monotime_sec();
	x->next = NULL;
	*s->queue_tail = x;
	s->queue_tail = &x->next;
	pthread_cond_signal(&s->work_cv);
}

/* Tear down every session in list (linked by next): queued for the worker when it runs,
 * else here. Caller holds neither mutex. */
static void sess_retire_list(struct cfgd_server *s, struct sess *list, const char *why)
{
	pthread_mutex_lock(&s->mu);
	if (s->worker_on) {
		while (list) {
			struct sess *x = list;

			list = x->next;
			sess_enqueue(s, x, why);
		}
	}
	pthread_mutex_unlock(&s->mu);
	while (list) {
		struct sess *x = list;

		list = x->next;
		x->why = why;
		sess_teardown(s, x);
	}
}

/* Take the sessions c owns (every session when c is NULL) out of the table, into a
 * list. Caller holds s->mu. */
static struct sess *take_owned(struct cfgd_server *s, struct cfgd_client *c)
{
	struct sess **pp = &s->sessions, *list = NULL;

	while (*pp) {
		struct sess *x = *pp;

		if (!c || x->owner == c) {
			*pp = x->next;
			x->next = list;
			list = x;
		} else {
			pp = &x->next;
		}
	}
	return list;
}

/* Take every pre-made session of pool p out of it, into a list. Caller holds s->mu. */
static struct sess *take_pool(struct pool *p)
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

/* ---- responses --------------------------------------------------------------------- */

/* Finish response o into out. */
static size_t emit(json_object *o, char *out, size_t outlen)
{
	const char *t = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	size_t n = strlen(t);

	if (n >= outlen) { /* cannot happen for our responses; say so rather than cut */
		n = (size_t)snprintf(out, outlen, "{\"ok\":false,\"errno\":%d,\"error\":\"response too "
				     "large\"}", E2BIG);
	} else {
		memcpy(out, t, n + 1);
	}
	json_object_put(o);
	return n;
}

static size_t fail(int r, const char *msg, char *out, size_t outlen)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "errno", json_object_new_int(r < 0 ? -r : r));
	json_object_object_add(o, "error", json_object_new_string(msg));
	return emit(o, out, outlen);
}

static json_object *ok(void)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	return o;
}

/* ---- pre-made sessions and the worker ------------------------------------------- */

/*
 * A pre-made session of t's pool for a login, or NULL (no pool for t, or none ready).
 * The login counts in the pool's burst (poolsize.h); the worker is told when that
 * grows the pool. Sessions made for another version of t (its image's size changed)
 * are moved to *stale for teardown. Caller holds s->mu.
 */
static struct sess *pool_take(struct cfgd_server *s, const struct anontarget *t,
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
			*stale = take_pool(p);
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
			sess_enqueue(s, pool_pop(p), "its pool shrank");
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
	size_t n = emit(ok(), buf, sizeof(buf));
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

/*
 * The worker thread: tears down queued sessions in order (answering the anon_destroy
 * of each that has a waiting client) once no login is arriving, and refills the pools
 * one session at a time meanwhile and when none is queued. Each step holds cfs_mu only
 * for its own configfs sequence, so a login whose pool is empty waits for one step at
 * most.
 */
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
			sess_teardown(s, x);
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

static int worker_start(struct cfgd_server *s)
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

/* Stop and join the worker; queued teardowns stay queued (cfgd_server_free), their
 * clients no longer answered. */
static void worker_stop(struct cfgd_server *s)
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

void cfgd_server_free(struct cfgd_server *s)
{
	struct sess *list, *q;

	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	list = take_owned(s, NULL);
	q = s->queue;
	s->queue = NULL;
	s->queue_tail = &s->queue;
	pthread_mutex_unlock(&s->mu);
	for (struct sess *x = q; x; x = q) {  /* the worker is stopped: nobody to answer */
		q = x->next;
		sess_teardown(s, x);
	}
	sess_retire_list(s, list, "shutdown");
	for (unsigned i = 0; i < s->n_pools; i++) {
		pthread_mutex_lock(&s->mu);
		list = take_pool(&s->pools[i]);
		pthread_mutex_unlock(&s->mu);
		sess_retire_list(s, list, "shutdown");
	}
	pthread_cond_destroy(&s->work_cv);
	pthread_mutex_destroy(&s->cfs_mu);
	pthread_mutex_destroy(&s->mu);
	anon_exports_free(s->exports);
	free(s);
}

size_t cfgd_server_sessions(struct cfgd_server *s)
{
	size_t n;

	pthread_mutex_lock(&s->mu);
	n = s->n_sessions;
	pthread_mutex_unlock(&s->mu);
	return n;
}

int cfgd_server_uid_allowed(const struct cfgd_server *s, uid_t uid)
{
	if (uid == 0)
		return 1;
	for (unsigned i = 0; i < s->cfg.n_allow_uids; i++)
		if (s->cfg.allow_uids[i] == uid)
			return 1;
	return 0;
}

struct cfgd_client *cfgd_server_client_new(struct cfgd_server *s, pid_t pid, uid_t uid)
{
	struct cfgd_client *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->pid = pid;
	c->uid = uid;
	c->fd = -1;
	c->srv = s;
	return c;
}

void cfgd_server_client_end(struct cfgd_server *s, struct cfgd_client *c)
{
	struct sess *list;

	pthread_mutex_lock(&s->mu);
	list = take_owned(s, c);
	pthread_mutex_unlock(&s->mu);
	sess_retire_list(s, list, "client connection ended");
	free(c);
}

_Static_assert(CFGD_DISKS_MAX >= ANONTARGET_LUNS_MAX, "anon_create's disks must fit");

static size_t anon_create_do(struct cfgd_server *s, struct cfgd_client *c,
			     const struct cfgd_req *q, char *out, size_t outlen)
{
	struct anontarget t;
	struct catalog cat;
	struct sess *x, *stale = NULL;
	char err[512] = "";
	json_object *o, *disks;
	bool premade;
	int r;

	if (anontarget_kind(q->target) == ANONTARGET_ACCOUNT) {
		/* An account's private image: its file and CHAP (never logged) from the
		 * API's directory. */
		r = s->cfg.private_dir[0] ? anontarget_resolve_account(s->cfg.private_dir,
								      q->target, &t, err,
								      sizeof(err))
					  : -ENOENT;
		if (r == -EACCES) {
			plog("session for %s (%s) on %s: refused: %s", q->peer, q->client,
			     q->target, err);
			return fail(r, "the image's account has no iSCSI credentials", out,
				    outlen);
		}
		if (r < 0)
			return fail(-ENOENT, "unknown target", out, outlen);
	} else {
		r = catalog_scan_for(s->cfg.images_dir, q->target, &cat);
		if (r < 0) {
			snprintf(err, sizeof(err), "catalog %s: %s", s->cfg.images_dir,
				 strerror(-r));
			return fail(r, err, out, outlen);
		}
		r = anontarget_resolve(&cat, s->cfg.multi_images, q->target, &t);
		catalog_free(&cat);
		if (r < 0)
			return fail(-ENOENT, "unknown target", out, outlen);
	}
	pthread_mutex_lock(&s->mu);
	if (s->n_sessions >= s->cfg.max_sessions) {
		pthread_mutex_unlock(&s->mu);
		snprintf(err, sizeof(err), "%u anonymous sessions exist (--max-sessions)",
			 s->cfg.max_sessions);
		return fail(-EMFILE, err, out, outlen);
	}
	s->n_sessions++;          /* this one's place, given back if it cannot be made */
	x = pool_take(s, &t, &stale);
	pthread_mutex_unlock(&s->mu);
	sess_retire_list(s, stale, "its image changed");
	premade = x != NULL;
	if (!x) {
		x = calloc(1, sizeof(*x));
		r = x ? 0 : -ENOMEM;
		snprintf(err, sizeof(err), "out of memory");
		if (x) {
			pthread_mutex_lock(&s->cfs_mu);
			r = anon_create(s->cfg.cfs, &s->cfg.anon, s->exports, &t, &x->a, err,
					sizeof(err));
			pthread_mutex_unlock(&s->cfs_mu);
		}
		if (r < 0) {
			pthread_mutex_lock(&s->mu);
			s->n_sessions--;
			pthread_mutex_unlock(&s->mu);
			free(x);
			plog("session for %s (%s) on %s: %s", q->peer, q->client, q->target, err);
			return fail(r, err, out, outlen);
		}
	}
	x->owner = c;
	snprintf(x->client, sizeof(x->client), "%s", q->client);
	snprintf(x->peer, sizeof(x->peer), "%s", q->peer);
	pthread_mutex_lock(&s->mu);
	x->next = s->sessions;
	s->sessions = x;
	if (premade)
		pthread_cond_signal(&s->work_cv);  /* make its replacement */
	pthread_mutex_unlock(&s->mu);
	plog("session create: initiator %s (as %s) peer %s target %s (%s, %u LUN(s)) "
	     "backstore %s lun %llu size %llu%s%s (client pid %d)", x->client,
	     x->a.initiator, x->peer, x->a.target, anontarget_kind_name(x->a.kind),
	     x->a.n_luns, x->a.luns[0].backstore, (unsigned long long)x->a.luns[0].lun,
	     (unsigned long long)x->a.luns[0].size_bytes,
	     x->a.kind == ANONTARGET_SHARED_RO ? " read-only, shared" : "",
	     premade ? " pre-made" : "", (int)c->pid);
	o = ok();
	json_object_object_add(o, "initiator", json_object_new_string(x->a.initiator));
	json_object_object_add(o, "backstore", json_object_new_string(x->a.backstore));
	json_object_object_add(o, "lun", json_object_new_int64((int64_t)x->a.luns[0].lun));
	json_object_object_add(o, "luns", json_object_new_int((int)x->a.n_luns));
	json_object_object_add(o, "kind", json_object_new_string(anontarget_kind_name(x->a.kind)));
	disks = json_object_new_array();
	for (unsigned i = 0; x->a.kind != ANONTARGET_SHARED_RO && i < x->a.n_luns; i++)
		json_object_array_add(disks, json_object_new_string(x->a.luns[i].backstore));
	json_object_object_add(o, "disks", disks);
	return emit(o, out, outlen);
}

/* A login's session (anon_create_do); queued teardowns wait for it (loginfirst.h). */
static size_t anon_create_req(struct cfgd_server *s, struct cfgd_client *c,
			      const struct cfgd_req *q, char *out, size_t outlen)
{
	size_t n;

	pthread_mutex_lock(&s->mu);
	loginfirst_begin(&s->lf);
	pthread_mutex_unlock(&s->mu);
	n = anon_create_do(s, c, q, out, outlen);
	pthread_mutex_lock(&s->mu);
	loginfirst_end(&s->lf, monotime_sec());
	if (s->queue)  /* a queued teardown may wait for this end */
		pthread_cond_signal(&s->work_cv);
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* With the worker running (may_defer), the teardown is queued and its response sent
 * by the worker when done: 0 is returned and c is busy until then. */
static size_t anon_destroy_req(struct cfgd_server *s, struct cfgd_client *c,
			       const struct cfgd_req *q, char *out, size_t outlen,
			       bool may_defer)
{
	struct sess **pp, *x;

	pthread_mutex_lock(&s->mu);
	for (pp = &s->sessions; *pp; pp = &(*pp)->next)
		if ((*pp)->owner == c && !strcmp((*pp)->a.backstore, q->backstore))
			break;
	if (!*pp) {
		pthread_mutex_unlock(&s->mu);
		return fail(-ENOENT, "no such session of this connection", out, outlen);
	}
	x = *pp;
	*pp = x->next;
	if (may_defer && s->worker_on) {
		x->reply_to = c;
		c->busy = true;
		sess_enqueue(s, x, "released");
		pthread_mutex_unlock(&s->mu);
		return 0;
	}
	pthread_mutex_unlock(&s->mu);
	x->why = "released";
	sess_teardown(s, x);
	return emit(ok(), out, outlen);
}

static size_t anon_count_req(struct cfgd_server *s, const struct cfgd_req *q, char *out,
			     size_t outlen)
{
	json_object *o = ok();
	int n = 0;

	pthread_mutex_lock(&s->mu);
	for (struct sess *x = s->sessions; x; x = x->next)
		n += !strcmp(x->a.target, q->target);
	pthread_mutex_unlock(&s->mu);
	json_object_object_add(o, "sessions", json_object_new_int(n));
	return emit(o, out, outlen);
}

static size_t acl_sweep_req(struct cfgd_server *s, const struct cfgd_req *q, char *out,
			    size_t outlen)
{
	json_object *o;
	char err[512];
	int r;

	if (!provtarget_name(q->target))
		return fail(-EINVAL, "acl_sweep: not a provisioned target name", out, outlen);
	pthread_mutex_lock(&s->cfs_mu);
	r = cfs_acl_sweep_dynamic(s->cfg.cfs, q->target, q->initiator);
	if (r < 0)
		snprintf(err, sizeof(err), "%s", cfs_error(s->cfg.cfs));
	pthread_mutex_unlock(&s->cfs_mu);
	if (r < 0)
		return fail(r, err, out, outlen);
	o = ok();
	json_object_object_add(o, "freed", json_object_new_int(r > 0));
	return emit(o, out, outlen);
}

static size_t list_req(struct cfgd_server *s, char *out, size_t outlen)
{
	json_object *o = ok(), *arr = json_object_new_array();
	size_t used = 64, total = 0;
	bool truncated = false;

	pthread_mutex_lock(&s->mu);
	for (struct sess *x = s->sessions; x; x = x->next) {
		json_object *e = json_object_new_object();
		size_t n;

		total++;
		json_object_object_add(e, "backstore", json_object_new_string(x->a.backstore));
		json_object_object_add(e, "initiator", json_object_new_string(x->a.initiator));
		json_object_object_add(e, "target", json_object_new_string(x->a.target));
		json_object_object_add(e, "kind",
				       json_object_new_string(anontarget_kind_name(x->a.kind)));
		json_object_object_add(e, "luns", json_object_new_int((int)x->a.n_luns));
		json_object_object_add(e, "client", json_object_new_string(x->client));
		json_object_object_add(e, "peer", json_object_new_string(x->peer));
		json_object_object_add(e, "pid", json_object_new_int(x->owner->pid));
		n = strlen(json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN)) + 1;
		if (truncated || used + n >= CFGD_MSG_MAX) {
			truncated = true;
			json_object_put(e);
			continue;
		}
		used += n;
		json_object_array_add(arr, e);
	}
	pthread_mutex_unlock(&s->mu);
	json_object_object_add(o, "anon", arr);
	json_object_object_add(o, "total", json_object_new_int64((int64_t)total));
	json_object_object_add(o, "truncated", json_object_new_boolean(truncated));
	return emit(o, out, outlen);
}

/* Whether path (absolute) resolves to a regular file under dir (also resolved). */
static bool under(const char *path, const char *dir)
{
	char rp[PATH_MAX], rd[PATH_MAX];
	struct stat st;
	size_t n;

	if (!dir[0] || !realpath(path, rp) || !realpath(dir, rd))
		return false;
	n = strlen(rd);
	return !strncmp(rp, rd, n) && rp[n] == '/' && stat(rp, &st) == 0 && S_ISREG(st.st_mode);
}

static size_t prov_create_req(struct cfgd_server *s, struct cfgd_client *c,
			      const struct cfgd_req *q, char *out, size_t outlen)
{
	const struct cfgd_prov *p = q->prov;
	struct prov_lun *pl = calloc(p->n_luns, sizeof(*pl));
	struct prov_session ps = { .id = q->id, .chap_user = p->chap_user,
				   .chap_secret = p->chap_secret, .luns = pl,
				   .n_luns = p->n_luns, .write_limit_bytes = p->write_limit };
	char err[512] = "", iqn[PROV_IQN_LEN];
	json_object *o;
	int r;

	if (!pl)
		return fail(-ENOMEM, "out of memory", out, outlen);
	for (unsigned i = 0; i < p->n_luns; i++) {
		const struct cfgd_prov_lun *l = &p->luns[i];

		if (l->base[0] && !under(l->base, s->cfg.images_dir) &&
		    !under(l->base, s->cfg.private_dir)) {
			free(pl);
			snprintf(err, sizeof(err), "LUN %u: base image %s is not a file in the "
				 "catalog or private image directory", i, l->base);
			plog("prov_create %s from pid %d refused: %s", q->id, (int)c->pid, err);
			return fail(-EACCES, err, out, outlen);
		}
		pl[i].base_path = l->base[0] ? l->base : NULL;
		pl[i].size_bytes = l->size_bytes;
		pl[i].pr = l->pr && (l->pr->n || l->pr->generation) ? l->pr : NULL;
	}
	pthread_mutex_lock(&s->cfs_mu);
	r = prov_session_create(s->cfg.cfs, s->cfg.anon.state_dir, s->cfg.anon.lio_portal, &ps,
				err, sizeof(err));
	pthread_mutex_unlock(&s->cfs_mu);
	free(pl);
	if (r < 0) {
		plog("prov_create %s: %s", q->id, err);
		return fail(r, err, out, outlen);
	}
	plog("provisioned session %s: %u LUN(s) (client pid %d)", q->id, p->n_luns, (int)c->pid);
	o = ok();
	json_object_object_add(o, "iqn", json_object_new_string(prov_target_iqn(q->id, iqn,
									      sizeof(iqn))));
	return emit(o, out, outlen);
}

static size_t prov_destroy_req(struct cfgd_server *s, struct cfgd_client *c,
			       const struct cfgd_req *q, char *out, size_t outlen)
{
	char err[512] = "";
	int r;

	pthread_mutex_lock(&s->cfs_mu);
	r = prov_session_destroy(s->cfg.cfs, s->cfg.anon.state_dir, q->id, err, sizeof(err));
	pthread_mutex_unlock(&s->cfs_mu);
	if (r < 0)
		return fail(r, err, out, outlen);
	plog("provisioned session %s destroyed (client pid %d)", q->id, (int)c->pid);
	return emit(ok(), out, outlen);
}

static size_t prov_list_req(struct cfgd_server *s, const struct cfgd_req *q, char *out,
			    size_t outlen)
{
	struct cfs_names ids = { 0 };
	char err[512] = "";
	json_object *o, *arr;
	size_t used = 64;
	bool truncated = false;
	int r;

	pthread_mutex_lock(&s->cfs_mu);
	r = prov_session_ids(s->cfg.cfs, s->cfg.anon.state_dir, &ids, err, sizeof(err));
	pthread_mutex_unlock(&s->cfs_mu);
	if (r < 0)
		return fail(r, err, out, outlen);
	o = ok();
	arr = json_object_new_array();
	for (size_t i = 0; i < ids.n; i++) {
		if (q->after[0] && strcmp(ids.v[i], q->after) <= 0)
			continue;
		used += strlen(ids.v[i]) + 3;
		if (used >= CFGD_MSG_MAX) {
			truncated = true;
			break;
		}
		json_object_array_add(arr, json_object_new_string(ids.v[i]));
	}
	cfs_names_free(&ids);
	json_object_object_add(o, "ids", arr);
	json_object_object_add(o, "truncated", json_object_new_boolean(truncated));
	return emit(o, out, outlen);
}

static size_t prov_status_req(struct cfgd_server *s, const struct cfgd_req *q, char *out,
			      size_t outlen)
{
	json_object *o = ok();
	uint64_t logins = 0;
	int conns, lr;

	pthread_mutex_lock(&s->cfs_mu);
	conns = prov_session_connections(s->cfg.cfs, q->id);
	lr = prov_session_logins(s->cfg.cfs, q->id, &logins);
	pthread_mutex_unlock(&s->cfs_mu);
	json_object_object_add(o, "connections", json_object_new_int(conns < 0 ? -1 : conns));
	json_object_object_add(o, "logins", json_object_new_int64(lr < 0 ? -1 : (int64_t)logins));
	json_object_object_add(o, "written", json_object_new_int64(
		(int64_t)prov_session_written(s->cfg.anon.state_dir, q->id)));
	return emit(o, out, outlen);
}

/* cfgd_server_handle; may_defer: an anon_destroy may be left to the worker (0). */
static size_t handle(struct cfgd_server *s, struct cfgd_client *c, const char *msg,
		     size_t len, char *out, size_t outlen, bool may_defer)
{
	struct cfgd_req q;
	json_object *o;
	char err[256];
	size_t m;
	int r;

	r = cfgd_req_parse(msg, len, &q, err, sizeof(err));
	if (r < 0) {
		plog("client pid %d uid %u: bad request: %s", (int)c->pid, (unsigned)c->uid, err);
		return fail(r, err, out, outlen);
	}
	switch (q.op) {
	case CFGD_OP_HELLO:
		o = ok();
		json_object_object_add(o, "v", json_object_new_int(CFGD_PROTO_VERSION));
		json_object_object_add(o, "max_msg", json_object_new_int(CFGD_MSG_MAX));
		return emit(o, out, outlen);
	case CFGD_OP_ANON_CREATE:
		return anon_create_req(s, c, &q, out, outlen);
	case CFGD_OP_ANON_DESTROY:
		return anon_destroy_req(s, c, &q, out, outlen, may_defer);
	case CFGD_OP_ACL_SWEEP:
		return acl_sweep_req(s, &q, out, outlen);
	case CFGD_OP_ANON_COUNT:
		return anon_count_req(s, &q, out, outlen);
	case CFGD_OP_LIST:
		return list_req(s, out, outlen);
	case CFGD_OP_PROV_CREATE:
		m = prov_create_req(s, c, &q, out, outlen);
		cfgd_req_clear(&q);
		return m;
	case CFGD_OP_PROV_DESTROY:
		return prov_destroy_req(s, c, &q, out, outlen);
	case CFGD_OP_PROV_LIST:
		return prov_list_req(s, &q, out, outlen);
	case CFGD_OP_PROV_STATUS:
		return prov_status_req(s, &q, out, outlen);
	}
	return fail(-EINVAL, "unknown op", out, outlen);
}

size_t cfgd_server_handle(struct cfgd_server *s, struct cfgd_client *c, const char *msg,
			  size_t len, char *out, size_t outlen)
{
	return handle(s, c, msg, len, out, outlen, false);
}

/* Client c's connection ended (or is closed by us): unlink it, then its sessions and
 * c go (cfgd_server_client_end). */
static void client_close(struct cfgd_server *s, struct cfgd_client *c)
{
	struct cfgd_client **pp;

	pthread_mutex_lock(&s->mu);
	for (pp = &s->clients; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			s->n_clients--;
			break;
		}
	pthread_mutex_unlock(&s->mu);
	close(c->fd);
	cfgd_server_client_end(s, c);
}

/*
 * One request of c, if one is there: receive it, handle it, send the response (the
 * client waits for it: a full socket buffer means a client that does not read its
 * responses, and it is closed). in/out are the loop's buffers.
 */
static void client_serve(struct cfgd_server *s, struct cfgd_client *c, char *in, char *out)
{
	ssize_t n = recv(c->fd, in, CFGD_MSG_MAX + 1, MSG_DONTWAIT);
	size_t m;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		client_close(s, c);
		return;
	}
	m = handle(s, c, in, (size_t)n, out, CFGD_MSG_MAX + 256, true);
	if (m == 0)  /* the worker answers */
		return;
	if (send(c->fd, out, m, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		plog("client pid %d: sending a response: %s; connection closed", (int)c->pid,
		     strerror(errno));
		client_close(s, c);
	}
}

static void accept_one(struct cfgd_server *s, int lfd)
{
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	struct cfgd_client *c;
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0) {
		if (errno != EINTR && errno != EAGAIN)
			plog("accept: %s", strerror(errno));
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) {
		plog("SO_PEERCRED: %s; connection closed", strerror(errno));
		close(fd);
		return;
	}
	if (!cfgd_server_uid_allowed(s, cred.uid)) {
		plog("connection from pid %d uid %u refused: not root and not an allowed uid",
		     (int)cred.pid, (unsigned)cred.uid);
		close(fd);
		return;
	}
	pthread_mutex_lock(&s->mu);
	if (s->n_clients >= s->cfg.max_clients) {
		pthread_mutex_unlock(&s->mu);
		plog("connection from pid %d refused: %u connections (--max-clients)",
		     (int)cred.pid, s->cfg.max_clients);
		close(fd);
		return;
	}
	pthread_mutex_unlock(&s->mu);
	c = cfgd_server_client_new(s, cred.pid, cred.uid);
	if (!c) {
		close(fd);
		return;
	}
	c->fd = fd;
	pthread_mutex_lock(&s->mu);
	c->next = s->clients;
	s->clients = c;
	s->n_clients++;
	pthread_mutex_unlock(&s->mu);
}

int cfgd_server_serve(struct cfgd_server *s, int listen_fd, int stop_fd)
{
	char *in = malloc(CFGD_MSG_MAX + 1), *out = malloc(CFGD_MSG_MAX + 256);
	struct pollfd *p = NULL;
	struct cfgd_client **cl = NULL;
	size_t cap = 0;
	bool started = false, broken = false;
	int r = 0;

	if (!in || !out) {
		r = -ENOMEM;
		goto out;
	}
	r = worker_start(s);
	if (r < 0) {
		plog("cannot start the worker thread: %s", strerror(-r));
		goto out;
	}
	started = true;
	for (;;) {
		size_t k = 3;
		int n;

		/* Only this thread adds or removes clients: the list is stable here. */
		if (cap < s->n_clients + 3) {
			size_t want = (s->n_clients + 3) * 2;
			struct pollfd *np = realloc(p, want * sizeof(*p));
			struct cfgd_client **nc = np ? realloc(cl, want * sizeof(*cl)) : NULL;

			if (np)
				p = np;
			if (!np || !nc) {
				r = -ENOMEM;
				goto out;
			}
			cl = nc;
			cap = want;
		}
		p[0] = (struct pollfd){ .fd = listen_fd, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = stop_fd, .events = POLLIN };
		p[2] = (struct pollfd){ .fd = s->wake[0], .events = POLLIN };
		pthread_mutex_lock(&s->mu);
		for (struct cfgd_client *c = s->clients; c; c = c->next) {
			if (c->busy)  /* its response is the worker's to send */
				continue;
			broken |= c->broken;
			p[k] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
			cl[k++] = c;
		}
		pthread_mutex_unlock(&s->mu);
		if (broken) {  /* the worker could not answer one: close it (not busy now) */
			for (size_t i = 3; i < k; i++)
				if (cl[i]->broken) {
					plog("client pid %d: sending a response failed; connection "
					     "closed", (int)cl[i]->pid);
					client_close(s, cl[i]);
				}
			broken = false;
			continue;
		}
		n = poll(p, k, -1);
		if (n < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
		if (n <= 0)
			continue;
		if (p[1].revents)
			break;
		if (p[2].revents) {
			char drain[64];

			while (read(s->wake[0], drain, sizeof(drain)) > 0)
				;
		}
		/* Requests in arrival order of the ready connections, one each per round. */
		for (size_t i = 3; i < k; i++)
			if (p[i].revents)
				client_serve(s, cl[i], in, out);
		if (p[0].revents & POLLIN)
			accept_one(s, listen_fd);
	}
out:
	if (started)
		worker_stop(s);
	while (s->clients)
		client_close(s, s->clients);
	free(p);
	free(cl);
	free(in);
	free(out);
	return r;
}
