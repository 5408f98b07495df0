/*
 * provsweep.c — free the dynamic ACLs that relayed logins to provisioned targets leave
 * in LIO (see provsweep.h).
 */
#include "provsweep.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfgd_client.h"
#include "cfs.h"
#include "prov.h"

/* One (target, initiator) pair with live relays or a sweep under way. */
struct pair {
	struct pair *next;
	char *target;
	char *initiator;      /* as sent in the login */
	unsigned live;        /* relays between enter and leave */
	bool sweeping;
};

struct provsweep {
	pthread_mutex_t mu;
	pthread_cond_t cv;    /* a pair's sweep ended */
	struct pair *pairs;
	char *root;           /* configfs root, NULL = default */
	char *state;          /* state directory for prov_lock, NULL = none */
	char *cfgd;           /* scsipub-cfgd socket: sweep through it; NULL = locally */
};

struct provsweep *provsweep_new(const char *configfs_root, const char *state_dir)
{
	struct provsweep *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	if ((configfs_root && !(s->root = strdup(configfs_root))) ||
	    (state_dir && !(s->state = strdup(state_dir)))) {
		free(s->root);
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	return s;
}

struct provsweep *provsweep_new_remote(const char *cfgd_socket)
{
	struct provsweep *s = provsweep_new(NULL, NULL);

	if (s && !(s->cfgd = strdup(cfgd_socket))) {
		provsweep_free(s);
		return NULL;
	}
	return s;
}

void provsweep_free(struct provsweep *s)
{
	if (!s)
		return;
	while (s->pairs) {
		struct pair *p = s->pairs;

		s->pairs = p->next;
		free(p->target);
		free(p->initiator);
		free(p);
	}
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s->root);
	free(s->state);
	free(s->cfgd);
	free(s);
}

/* Pairs are told apart case-blind in the initiator, as LIO tells its ACLs apart. */
static struct pair *find(struct provsweep *s, const char *target, const char *initiator)
{
	for (struct pair *p = s->pairs; p; p = p->next)
		if (!strcmp(p->target, target) && !strcasecmp(p->initiator, initiator))
			return p;
	return NULL;
}

static void unlink_pair(struct provsweep *s, struct pair *gone)
{
	for (struct pair **pp = &s->pairs; *pp; pp = &(*pp)->next)
		if (*pp == gone) {
			*pp = gone->next;
			break;
		}
	free(gone->target);
	free(gone->initiator);
	free(gone);
}

int provsweep_enter(struct provsweep *s, const char *target, const char *initiator)
{
	struct pair *p;
	int r = 0;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		p = find(s, target, initiator);
		if (!p || !p->sweeping)
			break;
		pthread_cond_wait(&s->cv, &s->mu);
	}
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (p && (!(p->target = strdup(target)) || !(p->initiator = strdup(initiator)))) {
			free(p->target);
			free(p);
			p = NULL;
		}
		if (!p) {
			r = -ENOMEM;
			goto out;
		}
		p->next = s->pairs;
		s->pairs = p;
	}
	p->live++;
out:
	pthread_mutex_unlock(&s->mu);
	return r;
}

/* Sweep target's dynamic ACL of name: on c (configfs lock held by the caller), or
 * through scsipub-cfgd's connection fd when c is NULL. */
static int sweep_one(struct cfs *c, int fd, const char *target, const char *name, char *err,
		     size_t errlen)
{
	char why[512];
	int r;

	if (!c) {
		r = cfgd_acl_sweep(fd, target, name, why, sizeof(why));
		if (r < 0 && err)
			snprintf(err, errlen, "%s", why);
		return r;
	}
	r = cfs_acl_sweep_dynamic(c, target, name);
	if (r < 0 && err)
		snprintf(err, errlen, "%s", cfs_error(c));
	return r;
}

/* The sweep proper: LIO's name (lowercased), and the name as sent when it differs. */
static int sweep(struct provsweep *s, const char *target, const char *initiator, char *err,
		 size_t errlen)
{
	char lower[256];
	struct cfs *c;
	size_t n = strlen(initiator);
	int r, r2 = 0, lock = -1;

	if (n >= sizeof(lower)) {
		if (err)
			snprintf(err, errlen, "initiator name too long");
		return -ENAMETOOLONG;
	}
	for (size_t i = 0; i <= n; i++)
		lower[i] = (char)tolower((unsigned char)initiator[i]);
	if (s->cfgd) {
		int fd = cfgd_connect(s->cfgd, err, err ? errlen : 0);

		if (fd < 0)
			return fd;
		r = sweep_one(NULL, fd, target, lower, err, errlen);
		if (r >= 0 && strcmp(lower, initiator)) {
			r2 = sweep_one(NULL, fd, target, initiator, err, errlen);
			r = r2 < 0 ? r2 : (r2 > 0 ? 1 : r);
		}
		close(fd);
		return r;
	}
	c = cfs_open(s->root);
	if (!c) {
		if (err)
			snprintf(err, errlen, "cfs_open: %s", strerror(errno));
		return -errno;
	}
	if (s->state) {
		lock = prov_lock(s->state);
		if (lock < 0) {
			if (err)
				snprintf(err, errlen, "configfs lock in %s: %s", s->state,
					 strerror(-lock));
			cfs_close(c);
			return lock;
		}
	}
	r = sweep_one(c, -1, target, lower, err, errlen);
	if (r >= 0 && strcmp(lower, initiator)) {
		r2 = sweep_one(c, -1, target, initiator, err, errlen);
		if (r2 < 0)
			r = r2;
		else if (r2 > 0)
			r = 1;
	}
	if (lock >= 0)
		prov_unlock(lock);
	cfs_close(c);
	return r;
}

int provsweep_leave(struct provsweep *s, const char *target, const char *initiator,
		    char *err, size_t errlen)
{
	struct pair *p;
	int r;

	pthread_mutex_lock(&s->mu);
	p = find(s, target, initiator);
	if (!p || !p->live || p->sweeping) {
		pthread_mutex_unlock(&s->mu);
		return 0;
	}
	if (--p->live) {
		pthread_mutex_unlock(&s->mu);
		return 0;
	}
	p->sweeping = true;
	pthread_mutex_unlock(&s->mu);

	r = sweep(s, target, p->initiator, err, errlen);

	pthread_mutex_lock(&s->mu);
	p->sweeping = false;
	if (!p->live)
		unlink_pair(s, p);
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return r;
}
