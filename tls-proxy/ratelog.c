/*
 * ratelog.c — bounded once-per-window log suppression (see ratelog.h).
 */
#include "ratelog.h"

#include <pthread.h>
#include <stdlib.h>

struct slot {
	uint64_t key;   /* 0 = free */
	time_t last;
};

struct ratelog {
	pthread_mutex_t mu;
	unsigned window_s;
	struct slot slots[RATELOG_SLOTS];
};

/* FNV-1a over peer, a separator byte that cannot occur in either, and what. */
static uint64_t key_of(const char *peer, const char *what)
{
	uint64_t h = 0xcbf29ce484222325ull;
	const char *parts[2] = { peer ? peer : "", what ? what : "" };

	for (int i = 0; i < 2; i++) {
		for (const unsigned char *p = (const unsigned char *)parts[i]; *p; p++) {
			h ^= *p;
			h *= 0x100000001b3ull;
		}
		h ^= 0xff;
		h *= 0x100000001b3ull;
	}
	return h ? h : 1;
}

struct ratelog *ratelog_new(unsigned window_s)
{
	struct ratelog *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	pthread_mutex_init(&r->mu, NULL);
	r->window_s = window_s;
	return r;
}

void ratelog_free(struct ratelog *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->mu);
	free(r);
}

bool ratelog_allow(struct ratelog *r, const char *peer, const char *what, time_t now)
{
	uint64_t key = key_of(peer, what);
	struct slot *victim = NULL;
	bool allow = true;

	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < RATELOG_SLOTS; i++) {
		struct slot *s = &r->slots[i];

		if (s->key == key) {
			if (now >= s->last && now - s->last < (time_t)r->window_s)
				allow = false;
			else
				s->last = now;
			goto out;
		}
		if (!victim || (victim->key && (!s->key || s->last < victim->last)))
			victim = s;
	}
	victim->key = key;
	victim->last = now;
out:
	pthread_mutex_unlock(&r->mu);
	return allow;
}
