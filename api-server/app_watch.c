/*
 * app_watch.c — the threads that watch provisioned sessions (see app.h): the watcher
 * (connections, idle and TTL eviction, one tick at a time) and the janitor (LIO
 * objects and files that no session owns).
 */
#include "app_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cfgd_client.h"
#include "log.h"
#include "prov.h"

static void evict(struct app *a, const struct db_session *s, const char *why)
{
	char err[512];

	plog("session %s: %s", s->id, why);
	if (app_session_destroy(a, s->id, -1, err, sizeof(err)) < 0 &&
	    db_session_exists(a->db, s->id) == 1)
		plog("session %s: %s", s->id, err);
}

void app_watch_tick(struct app *a, time_t now)
{
	static unsigned tick;
	struct db_session *v = NULL;
	char err[512];
	int n, i;

	n = db_session_list(a->db, -1, &v, err, sizeof(err));
	if (n < 0) {
		plog("watcher: %s", err);
		return;
	}
	tick++;
	for (i = 0; i < n; i++) {
		struct db_session *s = &v[i];
		struct app_watch w = { .connections = -1 };
		bool relogin = false;
		uint64_t written = 0;
		int64_t lg = -1;
		int conns = -1, rc;
		char why[256];

		/* The daemon unreachable: conns stays -1, nothing is judged this tick. */
		CFGD_DO(a, rc, why, sizeof(why),
			cfgd_prov_status(fd, s->id, &conns, &lg, &written, why, sizeof(why)));
		if (rc < 0)
			conns = -1;
		if (!app_watch_observe(a, s->id, conns, rc == 0 && lg >= 0 ? lg : -1, &w,
				       &relogin)) {
			/* a row made by another process (or before a failed restore) */
			app_watch_add(a, s->id, false, 0);
			continue;
		}
		if (conns < 0)
			continue; /* target missing or being made: nothing to judge */
		if ((conns > 0 || relogin) && s->state == DB_SESSION_SUSPENDED) {
			plog("session %s: reconnected, live again", s->id);
			db_session_set_state(a->db, s->id, DB_SESSION_LIVE);
			s->state = DB_SESSION_LIVE;
		}
		if (conns > 0) {
			/* live: nothing more to judge this tick */
		} else if (conns == 0 && w.had_conn && w.zero_ticks >= 2) {
			/* no connection for a whole tick after having had one */
			if (!s->persistent) {
				evict(a, s, "last connection closed: destroyed");
				continue;
			}
			if (s->state == DB_SESSION_LIVE) {
				plog("session %s: disconnected, suspended (ttl %d s)", s->id,
				     s->ttl_s);
				db_session_set_state(a->db, s->id, DB_SESSION_SUSPENDED);
				s->state = DB_SESSION_SUSPENDED;
				s->suspended_at = now;
			}
			app_watch_add(a, s->id, false, 0);
		} else if (conns == 0 && !w.had_conn) {
			if (s->state == DB_SESSION_SUSPENDED && now - s->suspended_at >= s->ttl_s) {
				evict(a, s, "suspended longer than its ttl: evicted");
				continue;
			}
			if (s->state == DB_SESSION_LIVE && now - s->created_at >= s->ttl_s) {
				evict(a, s, "never connected within its ttl: evicted");
				continue;
			}
		}
		if (tick % 10 == 0) /* this tick's prov_status answer (conns >= 0 here) */
			db_session_set_written(a->db, s->id, written);
	}
	app_watch_retain(a, v, (size_t)n);  /* forget sessions whose rows are gone */
	db_sessions_free(v, (size_t)n);
}

/* The ids the daemon reports (cfgd_prov_list). */
struct idlist {
	char (*v)[PROV_ID_MAX + 1];
	size_t n, cap;
	bool oom;
};

static void id_add(void *arg, const char *id)
{
	struct idlist *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		char (*v)[PROV_ID_MAX + 1] = realloc(l->v, cap * sizeof(*v));

		if (!v) {
			l->oom = true;
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	snprintf(l->v[l->n++], sizeof(l->v[0]), "%s", id);
}

int app_janitor_pass(struct app *a, unsigned *removed)
{
	struct idlist ids = { 0 };
	char err[512] = "";
	unsigned n = 0;
	int rc;

	/* Every provisioned session the daemon finds (configfs and state directory) that
	 * no database row knows is removed; an id whose row cannot be read is kept. */
	CFGD_DO(a, rc, err, sizeof(err), cfgd_prov_list(fd, id_add, &ids, err, sizeof(err)));
	if (rc >= 0 && ids.oom) {
		rc = -ENOMEM;
		snprintf(err, sizeof(err), "out of memory");
	}
	for (size_t i = 0; rc >= 0 && i < ids.n; i++) {
		char why[512];
		int r;

		if (db_session_exists(a->db, ids.v[i]) != 0)
			continue;
		CFGD_DO(a, r, why, sizeof(why), cfgd_prov_destroy(fd, ids.v[i], why, sizeof(why)));
		if (r < 0)
			plog("janitor: session %s: %s", ids.v[i], why);
		else
			n++;
	}
	free(ids.v);
	if (rc > 0)
		rc = 0; /* cfgd_prov_list's count */
	if (rc < 0)
		plog("janitor: %s", err);
	if (n)
		plog("janitor: removed %u unknown session(s)", n);
	if (removed)
		*removed = n;
	return rc;
}

/* Sleep up to s seconds; true when asked to stop. */
static bool nap(struct app *a, unsigned s)
{
	struct timespec t;
	bool stop;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += s;
	pthread_mutex_lock(&a->stop_mu);
	while (!a->stop && pthread_cond_timedwait(&a->stop_cv, &a->stop_mu, &t) != ETIMEDOUT)
		;
	stop = a->stop;
	pthread_mutex_unlock(&a->stop_mu);
	return stop;
}

static void *watcher_main(void *arg)
{
	struct app *a = arg;

	while (!nap(a, 1))
		app_watch_tick(a, time(NULL));
	return NULL;
}

static void *janitor_main(void *arg)
{
	struct app *a = arg;

	while (!nap(a, a->o.janitor_interval))
		app_janitor_pass(a, NULL);
	return NULL;
}

int app_start_threads(struct app *a)
{
	int rc = pthread_create(&a->watcher, NULL, watcher_main, a);

	if (rc)
		return -rc;
	rc = pthread_create(&a->janitor, NULL, janitor_main, a);
	if (rc) {
		pthread_mutex_lock(&a->stop_mu);
		a->stop = true;
		pthread_cond_broadcast(&a->stop_cv);
		pthread_mutex_unlock(&a->stop_mu);
		pthread_join(a->watcher, NULL);
		return -rc;
	}
	a->threads = true;
	return 0;
}
