/*
 * app_watchlist.c — the watch list of provisioned sessions (see app_priv.h): what the
 * watcher knows of each one between its ticks, under a->watch_mu.
 */
#include "app_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void app_watch_add(struct app *a, const char *id, bool had, int zero_ticks)
{
	struct app_watch *w;
	size_t i;

	pthread_mutex_lock(&a->watch_mu);
	for (i = 0; i < a->nw; i++)
		if (!strcmp(a->w[i].id, id))
			break;
	if (i == a->nw) {
		w = realloc(a->w, (a->nw + 1) * sizeof(*w));
		if (!w) {
			pthread_mutex_unlock(&a->watch_mu);
			return;
		}
		a->w = w;
		a->nw++;
		memset(&a->w[i], 0, sizeof(a->w[i]));
	}
	{
		/* the login counter's baseline survives a reset of the other fields */
		uint64_t logins = a->w[i].logins;
		bool known = a->w[i].logins_known;

		memset(&a->w[i], 0, sizeof(a->w[i]));
		a->w[i].logins = logins;
		a->w[i].logins_known = known;
	}
	snprintf(a->w[i].id, sizeof(a->w[i].id), "%s", id);
	a->w[i].had_conn = had;
	a->w[i].zero_ticks = zero_ticks;
	a->w[i].connections = -1;
	pthread_mutex_unlock(&a->watch_mu);
}

void app_watch_logins_from_zero(struct app *a, const char *id)
{
	size_t i;

	pthread_mutex_lock(&a->watch_mu);
	for (i = 0; i < a->nw; i++)
		if (!strcmp(a->w[i].id, id)) {
			a->w[i].logins = 0;
			a->w[i].logins_known = true;
		}
	pthread_mutex_unlock(&a->watch_mu);
}

void app_watch_del(struct app *a, const char *id)
{
	size_t i;

	pthread_mutex_lock(&a->watch_mu);
	for (i = 0; i < a->nw; i++)
		if (!strcmp(a->w[i].id, id)) {
			a->w[i] = a->w[--a->nw];
			break;
		}
	pthread_mutex_unlock(&a->watch_mu);
}

int app_session_connections(struct app *a, const char *id)
{
	int c = -1;
	size_t i;

	pthread_mutex_lock(&a->watch_mu);
	for (i = 0; i < a->nw; i++)
		if (!strcmp(a->w[i].id, id))
			c = a->w[i].connections;
	pthread_mutex_unlock(&a->watch_mu);
	return c;
}

bool app_watch_observe(struct app *a, const char *id, int conns, int64_t logins,
		       struct app_watch *out, bool *relogin)
{
	struct app_watch *e = NULL;
	size_t k;

	*relogin = false;
	pthread_mutex_lock(&a->watch_mu);
	for (k = 0; k < a->nw && !e; k++)
		if (!strcmp(a->w[k].id, id))
			e = &a->w[k];
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
