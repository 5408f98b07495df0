/*
 * session.c — anonymous sessions through scsipub-cfgd (see session.h).
 */
#include "session.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfgd_client.h"
#include "log.h"

struct session {
	struct session *next;
	int fd;                                   /* this session's connection to cfgd */
	struct cfgd_anon a;                       /* names, handle, disks */
	char target[CFGD_NAME_MAX + 1];
};

struct session_mgr {
	pthread_mutex_t mu;
	char socket[PATH_MAX];
	struct session *list;
	size_t count;
};

struct session_mgr *session_mgr_new(const struct session_cfg *cfg)
{
	struct session_mgr *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	pthread_mutex_init(&m->mu, NULL);
	snprintf(m->socket, sizeof(m->socket), "%s",
		 cfg->cfgd_socket ? cfg->cfgd_socket : CFGD_SOCKET_DEFAULT);
	return m;
}

int session_acquire(struct session_mgr *m, const char *client_initiator, const char *target,
		    const char *peer, struct session **out, char *err, size_t errlen)
{
	struct session *s;
	int r;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snprintf(s->target, sizeof(s->target), "%s", target);
	s->fd = cfgd_connect(m->socket, err, errlen);
	if (s->fd < 0) {
		r = s->fd;
		free(s);
		return r;
	}
	r = cfgd_anon_create(s->fd, target, client_initiator, peer, &s->a, err, errlen);
	if (r < 0) {
		close(s->fd);
		free(s);
		return r;
	}
	pthread_mutex_lock(&m->mu);
	s->next = m->list;
	m->list = s;
	m->count++;
	pthread_mutex_unlock(&m->mu);
	plog("session create: initiator %s (as %s) peer %s target %s backstore %s",
	     client_initiator, s->a.initiator, peer, target, s->a.backstore);
	*out = s;
	return 0;
}

/* Unlink s from the table. Caller holds m->mu. */
static void unlink_session(struct session_mgr *m, struct session *s)
{
	for (struct session **pp = &m->list; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	m->count--;
}

/* End s's daemon connection (after unlink_session; no lock held: the daemon may take
 * a while to tear down). */
static void destroy(struct session *s, const char *peer)
{
	char err[512];

	if (cfgd_anon_destroy(s->fd, s->a.backstore, err, sizeof(err)) < 0)
		plog("session %s: destroy: %s (the daemon removes it when the connection "
		     "closes)", s->a.backstore, err);
	close(s->fd);
	plog("session destroy: (as %s) peer %s target %s backstore %s", s->a.initiator, peer,
	     s->target, s->a.backstore);
	free(s);
}

void session_release(struct session_mgr *m, struct session *s, const char *peer)
{
	if (!s)
		return;
	pthread_mutex_lock(&m->mu);
	unlink_session(m, s);
	pthread_mutex_unlock(&m->mu);
	destroy(s, peer);
}

const char *session_backstore(const struct session *s)
{
	return s->a.backstore;
}

unsigned session_disk_count(const struct session *s)
{
	return s->a.n_disks;
}

const char *session_disk(const struct session *s, unsigned i)
{
	return i < s->a.n_disks ? s->a.disks[i] : NULL;
}

const char *session_lio_initiator(const struct session *s)
{
	return s->a.initiator;
}

size_t session_count(struct session_mgr *m)
{
	size_t n;

	pthread_mutex_lock(&m->mu);
	n = m->count;
	pthread_mutex_unlock(&m->mu);
	return n;
}

void session_mgr_free(struct session_mgr *m)
{
	if (!m)
		return;
	while (m->list) {
		struct session *s = m->list;

		unlink_session(m, s);
		destroy(s, "shutdown");
	}
	pthread_mutex_destroy(&m->mu);
	free(m);
}
