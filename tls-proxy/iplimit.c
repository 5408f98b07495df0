/*
 * iplimit.c — per-address connection cap and token bucket (see iplimit.h).
 */
#include "iplimit.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define KEY_LEN 17          /* tag byte + 16 address bytes */
#define MILLI 1000          /* tokens are kept in thousandths */

struct entry {
	uint8_t key[KEY_LEN];
	bool used;
	unsigned open;
	int64_t tokens;     /* thousandths of a token */
	int64_t last_ms;    /* when tokens were last refilled */
	int32_t next;       /* next entry in the bucket chain, -1 = end */
};

struct iplimit {
	pthread_mutex_t mu;
	struct iplimit_cfg cfg;
	struct entry *e;
	int32_t *buckets;   /* head entry per bucket, -1 = empty */
	uint32_t nbuckets;  /* power of two */
	int32_t free_head;  /* free entries chained through next */
	unsigned n;
};

/* The table key of addr: IPv4 (also v4-mapped) whole, IPv6 its /64, else a hash. */
static void key_of(const char *addr, uint8_t key[KEY_LEN])
{
	struct in6_addr a6;
	struct in_addr a4;

	memset(key, 0, KEY_LEN);
	if (inet_pton(AF_INET, addr, &a4) == 1) {
		key[0] = 4;
		memcpy(key + 1, &a4, 4);
	} else if (inet_pton(AF_INET6, addr, &a6) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			key[0] = 4;
			memcpy(key + 1, a6.s6_addr + 12, 4);
		} else {
			key[0] = 6;
			memcpy(key + 1, a6.s6_addr, IPLIMIT_V6_PREFIX_BITS / 8);
		}
	} else {
		uint64_t h = 0xcbf29ce484222325ull;

		for (const unsigned char *p = (const unsigned char *)addr; *p; p++) {
			h ^= *p;
			h *= 0x100000001b3ull;
		}
		key[0] = 1;
		memcpy(key + 1, &h, sizeof(h));
	}
}

static uint32_t bucket_of(const struct iplimit *l, const uint8_t key[KEY_LEN])
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < KEY_LEN; i++) {
		h ^= key[i];
		h *= 0x100000001b3ull;
	}
	return (uint32_t)(h ^ (h >> 32)) & (l->nbuckets - 1);
}

struct iplimit *iplimit_new(const struct iplimit_cfg *cfg)
{
	struct iplimit *l = calloc(1, sizeof(*l));
	unsigned max;

	if (!l)
		return NULL;
	l->cfg = *cfg;
	if (!l->cfg.max_addrs)
		l->cfg.max_addrs = IPLIMIT_DEFAULT_MAX_ADDRS;
	if (l->cfg.rate && !l->cfg.burst)
		l->cfg.burst = 1;
	max = l->cfg.max_addrs;
	for (l->nbuckets = 16; l->nbuckets < max; l->nbuckets *= 2)
		;
	l->e = calloc(max, sizeof(*l->e));
	l->buckets = malloc(l->nbuckets * sizeof(*l->buckets));
	if (!l->e || !l->buckets) {
		iplimit_free(l);
		return NULL;
	}
	for (uint32_t i = 0; i < l->nbuckets; i++)
		l->buckets[i] = -1;
	for (unsigned i = 0; i < max; i++)
		l->e[i].next = i + 1 < max ? (int32_t)(i + 1) : -1;
	l->free_head = 0;
	pthread_mutex_init(&l->mu, NULL);
	return l;
}

void iplimit_free(struct iplimit *l)
{
	if (!l)
		return;
	if (l->e && l->buckets)
		pthread_mutex_destroy(&l->mu);
	free(l->e);
	free(l->buckets);
	free(l);
}

static int32_t find(struct iplimit *l, const uint8_t key[KEY_LEN])
{
	for (int32_t i = l->buckets[bucket_of(l, key)]; i >= 0; i = l->e[i].next)
		if (!memcmp(l->e[i].key, key, KEY_LEN))
			return i;
	return -1;
}

static void unlink_entry(struct iplimit *l, int32_t idx)
{
	int32_t *pp = &l->buckets[bucket_of(l, l->e[idx].key)];

	while (*pp != idx)
		pp = &l->e[*pp].next;
	*pp = l->e[idx].next;
	memset(&l->e[idx], 0, sizeof(l->e[idx]));
	l->e[idx].next = l->free_head;
	l->free_head = idx;
	l->n--;
}

/* Bring e's bucket up to now (a clock that went back only resets the mark). */
static void refill(const struct iplimit *l, struct entry *e, int64_t now_ms)
{
	int64_t cap = (int64_t)l->cfg.burst * MILLI;

	if (now_ms > e->last_ms) {
		int64_t add = (now_ms - e->last_ms) * (int64_t)l->cfg.rate;

		e->tokens = add >= cap - e->tokens ? cap : e->tokens + add;
	}
	e->last_ms = now_ms;
}

/* Free the idle entry with the fullest bucket. false when every entry has conns. */
static bool evict_one(struct iplimit *l, int64_t now_ms)
{
	int32_t best = -1;

	for (unsigned i = 0; i < l->cfg.max_addrs; i++) {
		struct entry *e = &l->e[i];

		if (!e->used || e->open)
			continue;
		refill(l, e, now_ms);
		if (best < 0 || e->tokens > l->e[best].tokens)
			best = (int32_t)i;
	}
	if (best < 0)
		return false;
	unlink_entry(l, best);
	return true;
}

enum iplimit_verdict iplimit_acquire(struct iplimit *l, const char *addr, int64_t now_ms)
{
	enum iplimit_verdict v = IPLIMIT_OK;
	uint8_t key[KEY_LEN];
	struct entry *e;
	int32_t idx;

	key_of(addr, key);
	pthread_mutex_lock(&l->mu);
	idx = find(l, key);
	if (idx < 0) {
		uint32_t b;

		if (l->free_head < 0 && !evict_one(l, now_ms)) {
			v = IPLIMIT_FULL;
			goto out;
		}
		idx = l->free_head;
		e = &l->e[idx];
		l->free_head = e->next;
		memcpy(e->key, key, KEY_LEN);
		e->used = true;
		e->open = 0;
		e->tokens = (int64_t)l->cfg.burst * MILLI;
		e->last_ms = now_ms;
		b = bucket_of(l, key);
		e->next = l->buckets[b];
		l->buckets[b] = idx;
		l->n++;
	}
	e = &l->e[idx];
	if (l->cfg.max_conns && e->open >= l->cfg.max_conns) {
		v = IPLIMIT_TOO_MANY;
		goto out;
	}
	if (l->cfg.rate) {
		refill(l, e, now_ms);
		if (e->tokens < MILLI) {
			v = IPLIMIT_RATE;
			goto out;
		}
		e->tokens -= MILLI;
	}
	e->open++;
out:
	pthread_mutex_unlock(&l->mu);
	return v;
}

void iplimit_release(struct iplimit *l, const char *addr)
{
	uint8_t key[KEY_LEN];
	int32_t idx;

	key_of(addr, key);
	pthread_mutex_lock(&l->mu);
	idx = find(l, key);
	if (idx >= 0 && l->e[idx].open) {
		l->e[idx].open--;
		/* Without a rate limit an idle entry holds nothing worth keeping. */
		if (!l->e[idx].open && !l->cfg.rate)
			unlink_entry(l, idx);
	}
	pthread_mutex_unlock(&l->mu);
}

unsigned iplimit_open(struct iplimit *l, const char *addr)
{
	uint8_t key[KEY_LEN];
	unsigned n = 0;
	int32_t idx;

	key_of(addr, key);
	pthread_mutex_lock(&l->mu);
	idx = find(l, key);
	if (idx >= 0)
		n = l->e[idx].open;
	pthread_mutex_unlock(&l->mu);
	return n;
}

unsigned iplimit_entries(struct iplimit *l)
{
	unsigned n;

	pthread_mutex_lock(&l->mu);
	n = l->n;
	pthread_mutex_unlock(&l->mu);
	return n;
}

const char *iplimit_verdict_str(enum iplimit_verdict v)
{
	switch (v) {
	case IPLIMIT_OK:
		return "ok";
	case IPLIMIT_TOO_MANY:
		return "per-address connection limit";
	case IPLIMIT_RATE:
		return "per-address login rate";
	case IPLIMIT_FULL:
		return "address table full";
	}
	return "?";
}
