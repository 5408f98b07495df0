/*
 * iplimit.h — per-source-address and per-network admission control for the portal's
 * accept loop: a cap on concurrent connections and a token bucket of new connections
 * (each one is a login attempt), both per address and per network prefix.
 *
 * Addresses are keyed as the portal prints them (inet_ntop text). IPv4 and
 * IPv4-mapped IPv6 addresses count per address; other IPv6 addresses count per /64
 * (IPLIMIT_V6_PREFIX_BITS), since one host can hold a whole /64. On top of that every
 * address also counts for its network: the IPv4 /24 (IPLIMIT_NET4_PREFIX_BITS) or the
 * IPv6 /48 (IPLIMIT_NET6_PREFIX_BITS), so one network — many hosts behind one router,
 * or one attacker holding a whole prefix — cannot take the portal's whole connection
 * table. Text that is no address has no network (only its per-address entry counts).
 *
 * The table is bounded: at most cfg.max_addrs entries (addresses and networks
 * together). An entry with no open connection whose bucket has refilled carries no
 * state and is dropped; when the table is full, the idle entry with the most tokens
 * is evicted first, and only if every entry has open connections is a new address
 * refused (IPLIMIT_FULL).
 * Time is passed in by the caller (milliseconds of any monotonic clock) so tests
 * inject it. Thread-safe (one mutex).
 */
#ifndef SCSIPUB_IPLIMIT_H
#define SCSIPUB_IPLIMIT_H

#include <stdint.h>

#define IPLIMIT_V6_PREFIX_BITS 64
#define IPLIMIT_NET4_PREFIX_BITS 24
#define IPLIMIT_NET6_PREFIX_BITS 48
#define IPLIMIT_DEFAULT_MAX_ADDRS 16384

struct iplimit_cfg {
	unsigned max_conns;   /* concurrent connections per address; 0 = no cap */
	unsigned rate;        /* new connections per address per second; 0 = no limit */
	unsigned burst;       /* bucket size, connections (>= 1 when rate > 0) */
	unsigned max_addrs;   /* table entries; 0 = IPLIMIT_DEFAULT_MAX_ADDRS */
	unsigned net4_max_conns; /* concurrent connections per IPv4 /24; 0 = no cap */
	unsigned net6_max_conns; /* concurrent connections per IPv6 /48; 0 = no cap */
	unsigned net_rate;    /* new connections per network per second; 0 = no limit */
	unsigned net_burst;   /* its bucket size, connections (>= 1 when net_rate > 0) */
};

enum iplimit_verdict {
	IPLIMIT_OK = 0,       /* admitted: call iplimit_release when it closes */
	IPLIMIT_TOO_MANY,     /* the address already has max_conns open */
	IPLIMIT_RATE,         /* the address's bucket is empty */
	IPLIMIT_FULL,         /* table full of addresses with open connections */
	IPLIMIT_NET_TOO_MANY, /* the address's network already has its cap open */
	IPLIMIT_NET_RATE,     /* the address's network's bucket is empty */
};

struct iplimit;

/* A limiter with cfg (copied). Caller owns; NULL on allocation failure. */
struct iplimit *iplimit_new(const struct iplimit_cfg *cfg);
/* Free the limiter (NULL is a no-op). */
void iplimit_free(struct iplimit *l);

/*
 * Admit one new connection from addr at now_ms: checks the concurrency caps first
 * (address, then network; a refused connection takes no token), then the buckets
 * (address, then network) and takes one token from each only when both have one. On
 * IPLIMIT_OK the open counts of the address and its network are incremented; every
 * other verdict changes no count and takes no token.
 */
enum iplimit_verdict iplimit_acquire(struct iplimit *l, const char *addr, int64_t now_ms);
/* A connection admitted for addr closed (decrements the open counts of the address and
 * its network; no-op if none). */
void iplimit_release(struct iplimit *l, const char *addr);
/* Open connections counted for addr (its /64 for IPv6). */
unsigned iplimit_open(struct iplimit *l, const char *addr);
/* Open connections counted for addr's network (its /24 or /48); 0 when network limits
 * are off for its family or addr is no address. */
unsigned iplimit_net_open(struct iplimit *l, const char *addr);
/* Entries in the table, addresses and networks (for tests and status). */
unsigned iplimit_entries(struct iplimit *l);
/* A short name for a verdict ("ok", "per-address connection limit", ...). */
const char *iplimit_verdict_str(enum iplimit_verdict v);

#endif
