/*
 * connlist.c — the portal's accepted connections and their login deadlines (see
 * connlist.h).
 */
#include "connlist.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "monotime.h"

struct connlist {
	pthread_mutex_t mu;
	pthread_cond_t cv;       /* a connection left the list */
	struct conn *head;
	unsigned n, max;
	bool stopping;
};

struct connlist *connlist_new(unsigned max)
{
	struct connlist *cl = calloc(1, sizeof(*cl));

	if (!cl)
		return NULL;
	pthread_mutex_init(&cl->mu, NULL);
	pthread_cond_init(&cl->cv, NULL);
	cl->max = max;
	return cl;
}

void connlist_free(struct connlist *cl)
{
	if (!cl)
		return;
	pthread_cond_destroy(&cl->cv);
	pthread_mutex_destroy(&cl->mu);
	free(cl);
}

int connlist_add(struct connlist *cl, struct conn *c)
{
	pthread_mutex_lock(&cl->mu);
	if (cl->n >= cl->max) {
		pthread_mutex_unlock(&cl->mu);
		return -EMFILE;
	}
	c->list = cl;
	c->next = cl->head;
	cl->head = c;
	cl->n++;
	pthread_mutex_unlock(&cl->mu);
	return 0;
}

void connlist_remove(struct conn *c)
{
	struct connlist *cl = c->list;

	pthread_mutex_lock(&cl->mu);
	for (struct conn **pp = &cl->head; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			cl->n--;
			break;
		}
	pthread_cond_broadcast(&cl->cv);
	pthread_mutex_unlock(&cl->mu);
}

void connlist_login_done(void *arg)
{
	struct conn *c = arg;

	pthread_mutex_lock(&c->list->mu);
	c->login_deadline_ms = 0;
	pthread_mutex_unlock(&c->list->mu);
}

void connlist_login_pause(struct conn *c)
{
	pthread_mutex_lock(&c->list->mu);
	c->login_paused_ms = monotime_ms();
	pthread_mutex_unlock(&c->list->mu);
}

void connlist_login_resume(struct conn *c)
{
	pthread_mutex_lock(&c->list->mu);
	if (c->login_deadline_ms && c->login_paused_ms)
		c->login_deadline_ms += monotime_ms() - c->login_paused_ms;
	c->login_paused_ms = 0;
	pthread_mutex_unlock(&c->list->mu);
}

void connlist_reap(struct connlist *cl, int64_t now_ms,
		   void (*expired)(const char *peer, int64_t now_ms, void *arg), void *arg)
{
	pthread_mutex_lock(&cl->mu);
	for (struct conn *c = cl->head; c; c = c->next)
		if (c->login_deadline_ms && !c->login_paused_ms &&
		    now_ms >= c->login_deadline_ms) {
			c->login_deadline_ms = 0;
			shutdown(c->fd, SHUT_RDWR);
			expired(c->peer, now_ms, arg);
		}
	pthread_mutex_unlock(&cl->mu);
}

bool connlist_set_lio(struct conn *c, int lio_fd)
{
	struct connlist *cl = c->list;
	bool ok;

	pthread_mutex_lock(&cl->mu);
	ok = lio_fd < 0 || !cl->stopping;
	if (ok)
		c->lio_fd = lio_fd;
	pthread_mutex_unlock(&cl->mu);
	return ok;
}

unsigned connlist_shutdown(struct connlist *cl, int wait_s)
{
	struct timespec until;
	unsigned left;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += wait_s;
	pthread_mutex_lock(&cl->mu);
	cl->stopping = true;
	for (struct conn *c = cl->head; c; c = c->next) {
		shutdown(c->fd, SHUT_RDWR);
		if (c->lio_fd >= 0)
			shutdown(c->lio_fd, SHUT_RDWR);
	}
	while (cl->n && pthread_cond_timedwait(&cl->cv, &cl->mu, &until) == 0)
		;
	left = cl->n;
	pthread_mutex_unlock(&cl->mu);
	return left;
}
