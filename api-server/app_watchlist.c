/*
 * app_watchlist.c — the watch list of provisioned sessions (see app_priv.h): what the
 * watcher knows of each one between its ticks, under a->watch_mu.
 */
#include "app_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The entry of id, or NULL. Caller holds a->watch_mu. Ids are unique in the list. */
static struct app_watch *find(struct app *a, const char *id)
{
	for (size_t i = 0; i < a->nw; i++)
		if (!strcmp(a->w[i].id, id))
			return &a->w[i];
	return NULL;
}

void app_watch_add(struct app *a, const char *id, bool had, int zero_ticks)
{
	struct app_watch *e, *v, keep = { 0 };

	pthread_mutex_lock(&a->watch_mu);
	e = find(a, id);
	if (!e) {
		v = realloc(a->w, (a->nw + 1) * sizeof(*v));
		if (!v) {
			pthread_mutex_unlock(&a->watch_mu);
			return;
		}
		a->w = v;
		e = &a->w[a->nw++];
	} else {
		keep = *e;
	}
	/* every field anew but the login counter's baseline */
	memset(e, 0, sizeof(*e));
	e->logins = keep.logins;
	e->logins_known = keep.logins_known;
	snprintf(e->id, sizeof(e->id), "%s", id);
	e->had_conn = had;
	e->zero_ticks = zero_ticks;
	e->connections = -1;
	pthread_mutex_unlock(&a->watch_mu);
}

void app_watch_logins_from_zero(struct app *a, const char *id)
{
	struct app_watch *e;

	pthread_mutex_lock(&a->watch_mu);
	e = find(a, id);
	if (e) {
		e->logins = 0;
		e->logins_known = true;
	}
	pthread_mutex_unlock(&a->watch_mu);
}

void app_watch_del(struct app *a, const char *id)
{
	struct app_watch *e;

	pthread_mutex_lock(&a->watch_mu);
	e = find(a, id);
	if (e)
		*e = a->w[--a->nw];
	pthread_mutex_unlock(&a->watch_mu);
}

int app_session_connections(struct app *a, const char *id)
{
	const struct app_watch *e;
	int c;

	pthread_mutex_lock(&a->watch_mu);
	e = find(a, id);
	c = e ? e->connections : -1;
	pthread_mutex_unlock(&a->watch_mu);
	return c;
}

void app_watch_retain(struct app *a, const struct db_session *v, size_t n)
{
	pthread_mutex_lock(&a->watch_mu);
	for (size_t k = 0; k < a->nw;) {
		bool found = false;

		for (size_t i = 0; i < n && !found; i++)
			found = !strcmp(v[i].id, a->w[k].id);
		if (found)
			k++;
		else
			a->w[k] = a->w[--a->nw];
	}
	pthread_mutex_unlock(&a->watch_mu);
}

bool app_watch_observe(struct app *a, const char *id, int conns, int64_t logins,
		       struct app_watch *out, bool *relogin)
{
	struct app_watch *e;

	*relogin = false;
	pthread_mutex_lock(&a->watch_mu);
	e = find(a, id);
	if (e) {
		e->connections = conns;
		/*
		 * A login since the last tick counts as a connection even when it was
		 * over before dynamic_sessions could show it.
		 */
		if (logins >= 0) {
			if (e->logins_known && (uint64_t)logins > e->logins) {
				e->had_conn = true;
				*relogin = true;
			}
			e->logins = (uint64_t)logins;
			e->logins_known = true;
		}
		if (conns > 0) {
			e->had_conn = true;
			e->zero_ticks = 0;
		} else if (conns == 0 && e->had_conn) {
			e->zero_ticks++;
		}
		*out = *e;
	}
	pthread_mutex_unlock(&a->watch_mu);
	return e != NULL;
}
