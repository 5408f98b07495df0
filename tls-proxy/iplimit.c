/*
 * iplimit.c — per-address and per-network connection caps and token buckets (see
 * iplimit.h). Addresses and networks are entries of one table, told apart by the tag
 * in the first key byte.
 */
#include "iplimit.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define KEY_LEN 17          /* tag byte + 16 address bytes */
#define MILLI 1000          /* tokens are kept in thousandths */

/* Key tags (first byte). */
#define TAG_TEXT 1          /* no address: FNV-1a hash of the text */
#define TAG_V4 4            /* an IPv4 address */
#define TAG_V6 6            /* an IPv6 /64 */
#define TAG_NET4 0x84       /* an IPv4 /24 */
#define TAG_NET6 0x86       /* an IPv6 /48 */

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

/*
 * The table keys of addr: key (IPv4, also v4-mapped, whole; IPv6 its /64; else a hash
 * of the text) and, for an address, its network's key net (IPv4 /24, IPv6 /48).
 * Returns the network's tag, or 0 when addr has no network.
 */
static int key_of(const char *addr, uint8_t key[KEY_LEN], uint8_t net[KEY_LEN])
{
	struct in6_addr a6;
	struct in_addr a4;

	memset(key, 0, KEY_LEN);
	memset(net, 0, KEY_LEN);
	if (inet_pton(AF_INET, addr, &a4) == 1) {
		key[0] = TAG_V4;
		memcpy(key + 1, &a4, 4);
	} else if (inet_pton(AF_INET6, addr, &a6) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			key[0] = TAG_V4;
			memcpy(key + 1, a6.s6_addr + 12, 4);
		} else {
			key[0] = TAG_V6;
			memcpy(key + 1, a6.s6_addr, IPLIMIT_V6_PREFIX_BITS / 8);
			net[0] = TAG_NET6;
			memcpy(net + 1, a6.s6_addr, IPLIMIT_NET6_PREFIX_BITS / 8);
			return TAG_NET6;
		}
	} else {
		uint64_t h = 0xcbf29ce484222325ull;

		for (const unsigned char *p = (const unsigned char *)addr; *p; p++) {
			h ^= *p;
			h *= 0x100000001b3ull;
		}
		key[0] = TAG_TEXT;
		memcpy(key + 1, &h, sizeof(h));
		return 0;
	}
	net[0] = TAG_NET4;
	memcpy(net + 1, key + 1, IPLIMIT_NET4_PREFIX_BITS / 8);
	return TAG_NET4;
}

/* The cap, rate and burst that apply to an entry with this key. */
static void params_of(const struct iplimit_cfg *cfg, const uint8_t key[KEY_LEN],
		      unsigned *cap, unsigned *rate, unsigned *burst)
{
	if (key[0] == TAG_NET4 || key[0] == TAG_NET6) {
		*cap = key[0] == TAG_NET4 ? cfg->net4_max_conns : cfg->net6_max_conns;
		*rate = cfg->net_rate;
		*burst = cfg->net_burst;
	} else {
		*cap = cfg->max_conns;
		*rate = cfg->rate;
		*burst = cfg->burst;
	}
}

/* Whether any network limit applies to networks with this tag. */
static bool net_limited(const struct iplimit_cfg *cfg, int tag)
{
	if (!tag)
		return false;
	return cfg->net_rate || (tag == TAG_NET4 ? cfg->net4_max_conns : cfg->net6_max_conns);
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
	if (l->cfg.net_rate && !l->cfg.net_burst)
		l->cfg.net_burst = 1;
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
	unsigned ncap, rate, burst;
	int64_t cap;

	params_of(&l->cfg, e->key, &ncap, &rate, &burst);
	cap = (int64_t)burst * MILLI;
	if (now_ms > e->last_ms) {
		int64_t add = (now_ms - e->last_ms) * (int64_t)rate;

		e->tokens = add >= cap - e->tokens ? cap : e->tokens + add;
	}
	e->last_ms = now_ms;
}

/* Free the idle entry with the fullest bucket, never keep. false when every other
 * entry has conns. */
static bool evict_one(struct iplimit *l, int64_t now_ms, int32_t keep)
{
	int32_t best = -1;

	for (unsigned i = 0; i < l->cfg.max_addrs; i++) {
		struct entry *e = &l->e[i];

		if (!e->used || e->open || (int32_t)i == keep)
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

/* The entry of key, made (full bucket, nothing open) if missing; -1 when the table is
 * full of entries with open connections. Never evicts keep. */
static int32_t lookup_or_add(struct iplimit *l, const uint8_t key[KEY_LEN], int64_t now_ms,
			     int32_t keep)
{
	unsigned cap, rate, burst;
	struct entry *e;
	int32_t idx = find(l, key);
	uint32_t b;

	if (idx >= 0)
		return idx;
	if (l->free_head < 0 && !evict_one(l, now_ms, keep))
		return -1;
	idx = l->free_head;
	e = &l->e[idx];
	l->free_head = e->next;
	params_of(&l->cfg, key, &cap, &rate, &burst);
	memcpy(e->key, key, KEY_LEN);
	e->used = true;
	e->open = 0;
	e->tokens = (int64_t)burst * MILLI;
	e->last_ms = now_ms;
	b = bucket_of(l, key);
	e->next = l->buckets[b];
	l->buckets[b] = idx;
	l->n++;
	return idx;
}

/* Drop entry idx when it carries no state: nothing open and no bucket to remember. */
static void drop_if_idle(struct iplimit *l, int32_t idx)
{
	unsigned cap, rate, burst;

	params_of(&l->cfg, l->e[idx].key, &cap, &rate, &burst);
	if (!l->e[idx].open && !rate)
		unlink_entry(l, idx);
}

/* Refill e and tell whether it has a whole token (always true without a rate). */
static bool has_token(const struct iplimit *l, struct entry *e, int64_t now_ms)
{
	unsigned cap, rate, burst;

	params_of(&l->cfg, e->key, &cap, &rate, &burst);
	if (!rate)
		return true;
	refill(l, e, now_ms);
	return e->tokens >= MILLI;
}

static void take(const struct iplimit *l, struct entry *e)
{
	unsigned cap, rate, burst;

	params_of(&l->cfg, e->key, &cap, &rate, &burst);
	if (rate)
		e->tokens -= MILLI;
	e->open++;
}

static bool at_cap(const struct iplimit *l, const struct entry *e)
{
	unsigned cap, rate, burst;

	params_of(&l->cfg, e->key, &cap, &rate, &burst);
	return cap && e->open >= cap;
}

enum iplimit_verdict iplimit_acquire(struct iplimit *l, const char *addr, int64_t now_ms)
{
	enum iplimit_verdict v = IPLIMIT_OK;
	uint8_t key[KEY_LEN], nkey[KEY_LEN];
	int32_t a, n = -1;
	int tag = key_of(addr, key, nkey);

	pthread_mutex_lock(&l->mu);
	a = lookup_or_add(l, key, now_ms, -1);
	if (a < 0) {
		v = IPLIMIT_FULL;
		goto out;
	}
	if (net_limited(&l->cfg, tag)) {
		n = lookup_or_add(l, nkey, now_ms, a);
		if (n < 0) {
			v = IPLIMIT_FULL;
			goto refused;
		}
	}
	if (at_cap(l, &l->e[a]))
		v = IPLIMIT_TOO_MANY;
	else if (n >= 0 && at_cap(l, &l->e[n]))
		v = IPLIMIT_NET_TOO_MANY;
	else if (!has_token(l, &l->e[a], now_ms))
		v = IPLIMIT_RATE;
	else if (n >= 0 && !has_token(l, &l->e[n], now_ms))
		v = IPLIMIT_NET_RATE;
	if (v == IPLIMIT_OK) {
		take(l, &l->e[a]);
		if (n >= 0)
			take(l, &l->e[n]);
		goto out;
	}
	if (n >= 0)
		drop_if_idle(l, n);
refused:
	drop_if_idle(l, a);
out:
	pthread_mutex_unlock(&l->mu);
	return v;
}

/* Decrement the open count of key's entry, if any, and drop it when idle. */
static void release_key(struct iplimit *l, const uint8_t key[KEY_LEN])
{
	int32_t idx = find(l, key);

	if (idx >= 0 && l->e[idx].open) {
		l->e[idx].open--;
		/* Without a rate limit an idle entry holds nothing worth keeping. */
		drop_if_idle(l, idx);
	}
}

void iplimit_release(struct iplimit *l, const char *addr)
{
	uint8_t key[KEY_LEN], nkey[KEY_LEN];
	int tag = key_of(addr, key, nkey);

	pthread_mutex_lock(&l->mu);
	release_key(l, key);
	if (tag)
		release_key(l, nkey);
	pthread_mutex_unlock(&l->mu);
}

static unsigned open_of(struct iplimit *l, const uint8_t key[KEY_LEN])
{
	unsigned n = 0;
	int32_t idx;

	pthread_mutex_lock(&l->mu);
	idx = find(l, key);
	if (idx >= 0)
		n = l->e[idx].open;
	pthread_mutex_unlock(&l->mu);
	return n;
}

unsigned iplimit_open(struct iplimit *l, const char *addr)
{
	uint8_t key[KEY_LEN], nkey[KEY_LEN];

	key_of(addr, key, nkey);
	return open_of(l, key);
}

unsigned iplimit_net_open(struct iplimit *l, const char *addr)
{
	uint8_t key[KEY_LEN], nkey[KEY_LEN];

	if (!key_of(addr, key, nkey))
		return 0;
	return open_of(l, nkey);
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
	case IPLIMIT_NET_TOO_MANY:
		return "per-network connection limit";
	case IPLIMIT_NET_RATE:
		return "per-network login rate";
	}
	return "?";
}
