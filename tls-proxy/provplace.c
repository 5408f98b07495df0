/*
 * provplace.c — CPU hints for provisioned targets' disks (see provplace.h).
 */
#include "provplace.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "placehint.h"

struct pp_conn {
	const void *key;
	int cpu;
};

struct pp_target {
	struct pp_target *next;
	char *name;
	struct pp_conn *conns;           /* [n_conns], capacity cap */
	unsigned n_conns, cap;
	char (*disks)[PROVTARGET_DISK_LEN];  /* as told last, [n_disks] */
	unsigned n_disks;
	int told;                        /* the hint told last, PLACEHINT_NONE, or */
#define PP_UNTOLD (-2)                   /* nothing told yet */
};

struct provplace {
	pthread_mutex_t mu;
	struct pp_target *targets;
	unsigned n_targets;
	provplace_tell_fn tell;
	void *arg;
};

struct provplace *provplace_new(provplace_tell_fn tell, void *arg)
{
	struct provplace *pp;

	if (!tell)
		return NULL;
	pp = calloc(1, sizeof(*pp));
	if (!pp)
		return NULL;
	pthread_mutex_init(&pp->mu, NULL);
	pp->tell = tell;
	pp->arg = arg;
	return pp;
}

static void target_free(struct pp_target *t)
{
	free(t->name);
	free(t->conns);
	free(t->disks);
	free(t);
}

void provplace_free(struct provplace *pp)
{
	if (!pp)
		return;
	while (pp->targets) {
		struct pp_target *t = pp->targets;

		pp->targets = t->next;
		target_free(t);
	}
	pthread_mutex_destroy(&pp->mu);
	free(pp);
}

static struct pp_target **find(struct provplace *pp, const char *target)
{
	struct pp_target **t;

	for (t = &pp->targets; *t && strcmp((*t)->name, target) != 0; t = &(*t)->next)
		;
	return t;
}

/* The CPU every connection of t is on, or PLACEHINT_NONE when they are on several. */
static int agreed(const struct pp_target *t)
{
	for (unsigned i = 1; i < t->n_conns; i++)
		if (t->conns[i].cpu != t->conns[0].cpu)
			return PLACEHINT_NONE;
	return t->conns[0].cpu;
}

/* Tell t's hint when it is not the one told last. Lock held; t has a connection. */
static void retell(struct provplace *pp, struct pp_target *t)
{
	int cpu = agreed(t);

	if (cpu == t->told)
		return;
	t->told = cpu;
	pp->tell(pp->arg, t->name, cpu, (const char (*)[PROVTARGET_DISK_LEN])t->disks,
		 t->n_disks, t->n_conns);
}

/* Whether disks[0..n) are t's disks, in the same order. */
static int same_disks(const struct pp_target *t, const char (*disks)[PROVTARGET_DISK_LEN],
		      unsigned n)
{
	return n == t->n_disks && (n == 0 || !memcmp(t->disks, disks, n * sizeof(*disks)));
}

/* t's disks := disks[0..n); 0 or -ENOMEM (t unchanged). */
static int set_disks(struct pp_target *t, const char (*disks)[PROVTARGET_DISK_LEN],
		     unsigned n)
{
	char (*copy)[PROVTARGET_DISK_LEN] = NULL;

	if (n) {
		copy = malloc(n * sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, disks, n * sizeof(*copy));
	}
	free(t->disks);
	t->disks = copy;
	t->n_disks = n;
	return 0;
}

/* t's entry for key: its index, or t->n_conns when none. */
static unsigned conn_index(const struct pp_target *t, const void *key)
{
	unsigned i;

	for (i = 0; i < t->n_conns && t->conns[i].key != key; i++)
		;
	return i;
}

int provplace_enter(struct provplace *pp, const char *target, const void *key, int cpu,
		    const char (*disks)[PROVTARGET_DISK_LEN], unsigned n)
{
	struct pp_target **slot, *t;
	unsigned i;
	int r = 0;

	if (!pp || !target || !key || cpu < 0 || (n && !disks))
		return -EINVAL;
	pthread_mutex_lock(&pp->mu);
	slot = find(pp, target);
	t = *slot;
	if (!t) {
		t = calloc(1, sizeof(*t));
		if (!t || !(t->name = strdup(target))) {
			free(t);
			r = -ENOMEM;
			goto out;
		}
		t->told = PP_UNTOLD;
	}
	i = conn_index(t, key);
	if (i == t->n_conns && t->n_conns == t->cap) {
		unsigned cap = t->cap ? 2 * t->cap : 2;
		struct pp_conn *c = realloc(t->conns, cap * sizeof(*c));

		if (!c) {
			r = -ENOMEM;
			goto fail;
		}
		t->conns = c;
		t->cap = cap;
	}
	if (!same_disks(t, disks, n)) {
		if ((r = set_disks(t, disks, n)) < 0)
			goto fail;
		t->told = PP_UNTOLD;  /* a LUN came or went: tell all of them */
	}
	t->conns[i] = (struct pp_conn){ .key = key, .cpu = cpu };
	if (i == t->n_conns)
		t->n_conns++;
	if (!*slot) {
		*slot = t;
		pp->n_targets++;
	}
	retell(pp, t);
	goto out;
fail:
	if (!*slot)
		target_free(t);
out:
	pthread_mutex_unlock(&pp->mu);
	return r;
}

void provplace_leave(struct provplace *pp, const char *target, const void *key)
{
	struct pp_target **slot, *t;
	unsigned i;

	if (!pp || !target)
		return;
	pthread_mutex_lock(&pp->mu);
	slot = find(pp, target);
	t = *slot;
	if (t && (i = conn_index(t, key)) < t->n_conns) {
		t->conns[i] = t->conns[--t->n_conns];
		if (t->n_conns == 0) {
			*slot = t->next;
			pp->n_targets--;
			target_free(t);
		} else {
			retell(pp, t);
		}
	}
	pthread_mutex_unlock(&pp->mu);
}

unsigned provplace_targets(struct provplace *pp)
{
	unsigned n;

	pthread_mutex_lock(&pp->mu);
	n = pp->n_targets;
	pthread_mutex_unlock(&pp->mu);
	return n;
}
