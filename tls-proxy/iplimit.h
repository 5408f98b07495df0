/*
 * iplimit.h — per-source-address admission control for the portal's accept loop:
 * a cap on concurrent connections per address and a token bucket of new connections
 * (each one is a login attempt) per address.
 *
 * Addresses are keyed as the portal prints them (inet_ntop text). IPv4 and
 * IPv4-mapped IPv6 addresses count per address; other IPv6 addresses count per /64
 * (IPLIMIT_V6_PREFIX_BITS), since one host can hold a whole /64.
 *
 * The table is bounded: at most cfg.max_addrs entries. An entry with no open
 * connection whose bucket has refilled carries no state and is dropped; when the
 * table is full, the idle entry with the most tokens is evicted first, and only if
 * every entry has open connections is a new address refused (IPLIMIT_FULL).
 * Time is passed in by the caller (milliseconds of any monotonic clock) so tests
 * inject it. Thread-safe (one mutex).
 */
#ifndef SCSIPUB_IPLIMIT_H
#define SCSIPUB_IPLIMIT_H

#include <stdint.h>

#define IPLIMIT_V6_PREFIX_BITS 64
#define IPLIMIT_DEFAULT_MAX_ADDRS 16384

struct iplimit_cfg {
	unsigned max_conns;   /* concurrent connections per address; 0 = no cap */
	unsigned rate;        /* new connections per address per second; 0 = no limit */
	unsigned burst;       /* bucket size, connections (>= 1 when rate > 0) */
	unsigned max_addrs;   /* table entries; 0 = IPLIMIT_DEFAULT_MAX_ADDRS */
};

enum iplimit_verdict {
	IPLIMIT_OK = 0,       /* admitted: call iplimit_release when it closes */
	IPLIMIT_TOO_MANY,     /* the address already has max_conns open */
	IPLIMIT_RATE,         /* the address's bucket is empty */
	IPLIMIT_FULL,         /* table full of addresses with open connections */
};

struct iplimit;

/* A limiter with cfg (copied). Caller owns; NULL on allocation failure. */
struct iplimit *iplimit_new(const struct iplimit_cfg *cfg);
/* Free the limiter (NULL is a no-op). */
void iplimit_free(struct iplimit *l);

/*
 * Admit one new connection from addr at now_ms: checks the concurrency cap first
 * (a refused connection takes no token), then takes one token. On IPLIMIT_OK the
 * address's open count is incremented; every other verdict changes no count.
 */
enum iplimit_verdict iplimit_acquire(struct iplimit *l, const char *addr, int64_t now_ms);
/* A connection admitted for addr closed (decrements its open count; no-op if none). */
void iplimit_release(struct iplimit *l, const char *addr);
/* Open connections counted for addr (its /64 for IPv6). */
unsigned iplimit_open(struct iplimit *l, const char *addr);
/* Entries in the table (for tests and status). */
unsigned iplimit_entries(struct iplimit *l);
/* A short name for a verdict ("ok", "per-address connection limit", ...). */
const char *iplimit_verdict_str(enum iplimit_verdict v);

#endif
