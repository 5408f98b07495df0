/*
 * cfgd_server.c — scsipub-cfgd's life, its client connections and the loop that
 * serves them (see cfgd_server.h); one request is cfgd_requests.c's, the pools and
 * teardowns cfgd_worker.c's.
 */
#include "cfgd_server.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cfgd_state.h"
#include "cfgd_requests.h"
#include "cfgd_worker.h"
#include "log.h"

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
		cfgd_sess_teardown(s, x);
	}
	cfgd_sess_retire(s, list, "shutdown");
	for (unsigned i = 0; i < s->n_pools; i++) {
		pthread_mutex_lock(&s->mu);
		list = cfgd_pool_drain(&s->pools[i]);
		pthread_mutex_unlock(&s->mu);
		cfgd_sess_retire(s, list, "shutdown");
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

static int uid_in(const uid_t *v, unsigned n, uid_t uid)
{
	for (unsigned i = 0; i < n; i++)
		if (v[i] == uid)
			return 1;
	return 0;
}

int cfgd_server_uid_allowed(const struct cfgd_server *s, uid_t uid)
{
	return uid == 0 || uid_in(s->cfg.allow_uids, s->cfg.n_allow_uids, uid) ||
	       uid_in(s->cfg.portal_uids, s->cfg.n_portal_uids, uid);
}

int cfgd_server_uid_portal_only(const struct cfgd_server *s, uid_t uid)
{
	return uid != 0 && !uid_in(s->cfg.allow_uids, s->cfg.n_allow_uids, uid) &&
	       uid_in(s->cfg.portal_uids, s->cfg.n_portal_uids, uid);
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
	cfgd_sess_retire(s, list, "client connection ended");
	free(c);
}

size_t cfgd_server_handle(struct cfgd_server *s, struct cfgd_client *c, const char *msg,
			  size_t len, char *out, size_t outlen)
{
	return cfgd_request_handle(s, c, msg, len, out, outlen, false);
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
	m = cfgd_request_handle(s, c, in, (size_t)n, out, CFGD_MSG_MAX + 256, true);
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
	r = cfgd_worker_start(s);
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
		cfgd_worker_stop(s);
	while (s->clients)
		client_close(s, s->clients);
	free(p);
	free(cl);
	free(in);
	free(out);
	return r;
}
