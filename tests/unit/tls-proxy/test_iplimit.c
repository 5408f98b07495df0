/*
 * test_iplimit.c — unit tests for tls-proxy/iplimit.c with injected time (no sleeps):
 * the per-address connection cap, the token bucket (burst, refill, a clock going
 * back), address keying (IPv4, v4-mapped, IPv6 /64), and the bounded table under a
 * flood of distinct addresses; the per-network caps (IPv4 /24, IPv6 /48) and the
 * per-network bucket, and that a refusal for either never leaves a count behind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>

#include "iplimit.h"

static void test_conn_cap(void **state)
{
	struct iplimit_cfg cfg = { .max_conns = 16 };
	struct iplimit *l = iplimit_new(&cfg);

	(void)state;
	assert_non_null(l);
	for (int i = 0; i < 16; i++)
		assert_int_equal(iplimit_acquire(l, "127.0.0.2", 0), IPLIMIT_OK);
	/* 200 more from the same address are refused; another address still gets in. */
	for (int i = 0; i < 200; i++)
		assert_int_equal(iplimit_acquire(l, "127.0.0.2", i), IPLIMIT_TOO_MANY);
	assert_int_equal(iplimit_open(l, "127.0.0.2"), 16);
	assert_int_equal(iplimit_acquire(l, "127.0.0.3", 0), IPLIMIT_OK);
	/* One closes: one more fits. */
	iplimit_release(l, "127.0.0.2");
	assert_int_equal(iplimit_open(l, "127.0.0.2"), 15);
	assert_int_equal(iplimit_acquire(l, "127.0.0.2", 300), IPLIMIT_OK);
	assert_int_equal(iplimit_acquire(l, "127.0.0.2", 300), IPLIMIT_TOO_MANY);
	/* Without a rate limit, an address with nothing open leaves the table. */
	for (int i = 0; i < 16; i++)
		iplimit_release(l, "127.0.0.2");
	iplimit_release(l, "127.0.0.2"); /* one release too many is harmless */
	assert_int_equal(iplimit_open(l, "127.0.0.2"), 0);
	assert_int_equal(iplimit_entries(l), 1);
	iplimit_release(l, "198.51.100.77"); /* unknown address: no-op */
	iplimit_free(l);
}

static void test_token_bucket(void **state)
{
	struct iplimit_cfg cfg = { .max_conns = 0, .rate = 5, .burst = 10 };
	struct iplimit *l = iplimit_new(&cfg);
	const char *a = "192.0.2.10";
	int64_t t = 1000000;

	(void)state;
	assert_non_null(l);
	/* A full bucket admits a burst of 10 at once, then refuses. */
	for (int i = 0; i < 10; i++)
		assert_int_equal(iplimit_acquire(l, a, t), IPLIMIT_OK);
	assert_int_equal(iplimit_acquire(l, a, t), IPLIMIT_RATE);
	assert_int_equal(iplimit_open(l, a), 10); /* a refusal counts nothing */
	/* 5 per second: one token per 200 ms. */
	assert_int_equal(iplimit_acquire(l, a, t + 199), IPLIMIT_RATE);
	assert_int_equal(iplimit_acquire(l, a, t + 200), IPLIMIT_OK);
	assert_int_equal(iplimit_acquire(l, a, t + 200), IPLIMIT_RATE);
	/* A long pause refills to the burst, not beyond. */
	t += 3600 * 1000;
	for (int i = 0; i < 10; i++)
		assert_int_equal(iplimit_acquire(l, a, t), IPLIMIT_OK);
	assert_int_equal(iplimit_acquire(l, a, t), IPLIMIT_RATE);
	/* A clock that went back refills nothing and does not wedge the bucket. */
	assert_int_equal(iplimit_acquire(l, a, t - 50000), IPLIMIT_RATE);
	assert_int_equal(iplimit_acquire(l, a, t - 50000 + 200), IPLIMIT_OK);
	/* Another address has its own bucket. */
	assert_int_equal(iplimit_acquire(l, "192.0.2.11", t), IPLIMIT_OK);
	iplimit_free(l);
}

static void test_cap_before_tokens(void **state)
{
	struct iplimit_cfg cfg = { .max_conns = 2, .rate = 1, .burst = 3 };
	struct iplimit *l = iplimit_new(&cfg);

	(void)state;
	assert_int_equal(iplimit_acquire(l, "203.0.113.5", 0), IPLIMIT_OK);
	assert_int_equal(iplimit_acquire(l, "203.0.113.5", 0), IPLIMIT_OK);
	/* Refused by the cap: no token taken, so after a close one more gets in. */
	for (int i = 0; i < 50; i++)
		assert_int_equal(iplimit_acquire(l, "203.0.113.5", 0), IPLIMIT_TOO_MANY);
	iplimit_release(l, "203.0.113.5");
	assert_int_equal(iplimit_acquire(l, "203.0.113.5", 0), IPLIMIT_OK);
	/* Now the bucket (3) is empty. */
	iplimit_release(l, "203.0.113.5");
	assert_int_equal(iplimit_acquire(l, "203.0.113.5", 0), IPLIMIT_RATE);
	iplimit_free(l);
}

static void test_address_keys(void **state)
{
	struct iplimit_cfg cfg = { .max_conns = 2 };
	struct iplimit *l = iplimit_new(&cfg);

	(void)state;
	/* A v4-mapped IPv6 address is the same host as its IPv4 form. */
	assert_int_equal(iplimit_acquire(l, "192.0.2.1", 0), IPLIMIT_OK);
	assert_int_equal(iplimit_acquire(l, "::ffff:192.0.2.1", 0), IPLIMIT_OK);
	assert_int_equal(iplimit_acquire(l, "192.0.2.1", 0), IPLIMIT_TOO_MANY);
	/* IPv6 counts per /64: other interface IDs in the same /64 share the cap. */
	assert_int_equal(iplimit_acquire(l, "2001:db8:1:2::1", 0), IPLIMIT_OK);
	assert_int_equal(iplimit_acquire(l, "2001:db8:1:2:aaaa:bbbb:cccc:dddd", 0), IPLIMIT_OK);
	assert_int_equal(iplimit_acquire(l, "2001:db8:1:2::99", 0), IPLIMIT_TOO_MANY);
	assert_int_equal(iplimit_open(l, "2001:db8:1:2::5"), 2);
	/* ...while the next /64 is separate. */
	assert_int_equal(iplimit_acquire(l, "2001:db8:1:3::1", 0), IPLIMIT_OK);
	/* Text that is no address still gets a (hashed) key of its own. */
	assert_int_equal(iplimit_acquire(l, "?", 0), IPLIMIT_OK);
	assert_int_equal(iplimit_open(l, "?"), 1);
	assert_int_equal(iplimit_open(l, "192.0.2.2"), 0);
	iplimit_free(l);
}

static void test_bounded_table(void **state)
{
	struct iplimit_cfg cfg = { .max_conns = 4, .rate = 1, .burst = 2, .max_addrs = 64 };
	struct iplimit *l = iplimit_new(&cfg);
	char a[64];

	(void)state;
	/* 64 addresses each holding a connection fill the table... */
	for (int i = 0; i < 64; i++) {
		snprintf(a, sizeof(a), "10.0.%d.%d", i / 256, i % 256);
		assert_int_equal(iplimit_acquire(l, a, 0), IPLIMIT_OK);
	}
	assert_int_equal(iplimit_entries(l), 64);
	/* ...so a new address is refused rather than growing memory. */
	assert_int_equal(iplimit_acquire(l, "198.51.100.1", 0), IPLIMIT_FULL);
	/* Once some close, a flood of distinct addresses cycles through the idle slots
	 * without touching the entries that have open connections. */
	for (int i = 0; i < 8; i++) {
		snprintf(a, sizeof(a), "10.0.%d.%d", i / 256, i % 256);
		iplimit_release(l, a);
	}
	for (int i = 0; i < 5000; i++) {
		snprintf(a, sizeof(a), "2001:db8:%x:%x::1", i / 65536, i % 65536);
		assert_int_equal(iplimit_acquire(l, a, 1000 + i), IPLIMIT_OK);
		iplimit_release(l, a);
		assert_true(iplimit_entries(l) <= 64);
	}
	assert_int_equal(iplimit_open(l, "10.0.0.63"), 1);
	assert_int_equal(iplimit_open(l, "10.0.0.8"), 1);
	iplimit_free(l);
}

static void test_net4_cap(void **state)
{
	struct iplimit_cfg cfg = { .max_conns = 16, .net4_max_conns = 64 };
	struct iplimit *l = iplimit_new(&cfg);
	char a[64];

	(void)state;
	assert_non_null(l);
	/* 16 addresses of one /24, 4 connections each: the /24 holds 64. */
	for (int h = 1; h <= 16; h++)
		for (int i = 0; i < 4; i++) {
			snprintf(a, sizeof(a), "198.51.100.%d", h);
			assert_int_equal(iplimit_acquire(l, a, 0), IPLIMIT_OK);
		}
	assert_int_equal(iplimit_net_open(l, "198.51.100.200"), 64);
	/* A 17th address of the /24, with nothing open itself, is refused by the net cap,
	 * and so is one of the 16 that is below its own cap. */
	assert_int_equal(iplimit_acquire(l, "198.51.100.17", 1), IPLIMIT_NET_TOO_MANY);
	assert_int_equal(iplimit_acquire(l, "198.51.100.1", 1), IPLIMIT_NET_TOO_MANY);
	/* The refusals counted nothing. */
	assert_int_equal(iplimit_open(l, "198.51.100.17"), 0);
	assert_int_equal(iplimit_open(l, "198.51.100.1"), 4);
	assert_int_equal(iplimit_net_open(l, "198.51.100.1"), 64);
	/* The neighbouring /24 and a v4-mapped address in it are not affected... */
	assert_int_equal(iplimit_acquire(l, "198.51.101.1", 1), IPLIMIT_OK);
	assert_int_equal(iplimit_acquire(l, "::ffff:198.51.101.2", 1), IPLIMIT_OK);
	assert_int_equal(iplimit_net_open(l, "198.51.101.99"), 2);
	/* ...while a v4-mapped address inside the full /24 counts for it. */
	assert_int_equal(iplimit_acquire(l, "::ffff:198.51.100.30", 1), IPLIMIT_NET_TOO_MANY);
	/* The per-address cap still applies first inside a /24 with room. */
	for (int i = 1; i < 16; i++)
		assert_int_equal(iplimit_acquire(l, "198.51.101.1", 1), IPLIMIT_OK);
	assert_int_equal(iplimit_acquire(l, "198.51.101.1", 1), IPLIMIT_TOO_MANY);
	/* One close in the full /24 makes room for exactly one, from any of its hosts. */
	iplimit_release(l, "198.51.100.5");
	assert_int_equal(iplimit_net_open(l, "198.51.100.5"), 63);
	assert_int_equal(iplimit_acquire(l, "198.51.100.250", 2), IPLIMIT_OK);
	assert_int_equal(iplimit_acquire(l, "198.51.100.251", 2), IPLIMIT_NET_TOO_MANY);
	/* Releasing everything empties the table (no rate: nothing worth keeping). */
	for (int h = 1; h <= 16; h++)
		for (int i = 0; i < (h == 5 ? 3 : 4); i++) {
			snprintf(a, sizeof(a), "198.51.100.%d", h);
			iplimit_release(l, a);
		}
	iplimit_release(l, "198.51.100.250");
	for (int i = 0; i < 16; i++)
		iplimit_release(l, "198.51.101.1");
	iplimit_release(l, "::ffff:198.51.101.2");
	assert_int_equal(iplimit_net_open(l, "198.51.100.1"), 0);
	assert_int_equal(iplimit_entries(l), 0);
	iplimit_free(l);
}

static void test_net6_cap(void **state)
{
	struct iplimit_cfg cfg = { .max_conns = 2, .net4_max_conns = 1, .net6_max_conns = 5 };
	struct iplimit *l = iplimit_new(&cfg);
	char a[64];

	(void)state;
	/* Five /64s of one /48 (2001:db8:aa::/48) hold 5 in all. */
	for (int i = 0; i < 5; i++) {
		snprintf(a, sizeof(a), "2001:db8:aa:%x::1", i);
		assert_int_equal(iplimit_acquire(l, a, 0), IPLIMIT_OK);
	}
	assert_int_equal(iplimit_net_open(l, "2001:db8:aa:ffff::7"), 5);
	assert_int_equal(iplimit_acquire(l, "2001:db8:aa:99::1", 0), IPLIMIT_NET_TOO_MANY);
	assert_int_equal(iplimit_acquire(l, "2001:db8:aa:0::2", 0), IPLIMIT_NET_TOO_MANY);
	/* The next /48 has its own budget; IPv4 has its own (1 per /24 here). */
	assert_int_equal(iplimit_acquire(l, "2001:db8:ab::1", 0), IPLIMIT_OK);
	assert_int_equal(iplimit_acquire(l, "192.0.2.1", 0), IPLIMIT_OK);
	assert_int_equal(iplimit_acquire(l, "192.0.2.2", 0), IPLIMIT_NET_TOO_MANY);
	/* Text that is no address has no network: only its own cap counts. */
	assert_int_equal(iplimit_acquire(l, "?", 0), IPLIMIT_OK);
	assert_int_equal(iplimit_acquire(l, "?", 0), IPLIMIT_OK);
	assert_int_equal(iplimit_acquire(l, "?", 0), IPLIMIT_TOO_MANY);
	assert_int_equal(iplimit_net_open(l, "?"), 0);
	iplimit_free(l);
}

static void test_net_off(void **state)
{
	struct iplimit_cfg cfg = { .max_conns = 0, .net6_max_conns = 1 };
	struct iplimit *l = iplimit_new(&cfg);

	(void)state;
	/* net4 cap 0 and no net rate: IPv4 networks are not limited nor tracked. */
	for (int i = 0; i < 300; i++)
		assert_int_equal(iplimit_acquire(l, "203.0.113.9", 0), IPLIMIT_OK);
	assert_int_equal(iplimit_net_open(l, "203.0.113.9"), 0);
	assert_int_equal(iplimit_entries(l), 1);
	iplimit_free(l);
}

static void test_net_rate(void **state)
{
	struct iplimit_cfg cfg = { .rate = 10, .burst = 4, .net_rate = 2, .net_burst = 6 };
	struct iplimit *l = iplimit_new(&cfg);
	char a[64];
	int64_t t = 500000;

	(void)state;
	/* The /24's bucket (6) empties before any one address's (4). */
	for (int i = 0; i < 6; i++) {
		snprintf(a, sizeof(a), "10.9.8.%d", 1 + i / 2);
		assert_int_equal(iplimit_acquire(l, a, t), IPLIMIT_OK);
	}
	assert_int_equal(iplimit_acquire(l, "10.9.8.50", t), IPLIMIT_NET_RATE);
	/* A refusal by the net bucket takes no token from the address's bucket: 10.9.8.60
	 * keeps its full burst of 4 for when the network's refills. */
	for (int i = 0; i < 10; i++)
		assert_int_equal(iplimit_acquire(l, "10.9.8.60", t), IPLIMIT_NET_RATE);
	/* 2 per second: one token per 500 ms. */
	assert_int_equal(iplimit_acquire(l, "10.9.8.60", t + 499), IPLIMIT_NET_RATE);
	assert_int_equal(iplimit_acquire(l, "10.9.8.60", t + 500), IPLIMIT_OK);
	/* After a long pause 10.9.8.60 gets its own burst of 4, then the address bucket
	 * refuses first (checked before the network's). */
	t += 3600 * 1000;
	for (int i = 0; i < 4; i++)
		assert_int_equal(iplimit_acquire(l, "10.9.8.60", t), IPLIMIT_OK);
	assert_int_equal(iplimit_acquire(l, "10.9.8.60", t), IPLIMIT_RATE);
	/* Another /24 has its own bucket. */
	assert_int_equal(iplimit_acquire(l, "10.9.9.1", t), IPLIMIT_OK);
	assert_int_equal(iplimit_net_open(l, "10.9.8.1"), 11);
	iplimit_free(l);
}

static void test_net_table_full(void **state)
{
	struct iplimit_cfg cfg = { .max_conns = 4, .net4_max_conns = 64, .max_addrs = 16 };
	struct iplimit *l = iplimit_new(&cfg);
	char a[64];

	(void)state;
	/* 8 hosts in 8 /24s: 16 entries, all with a connection open. */
	for (int i = 0; i < 8; i++) {
		snprintf(a, sizeof(a), "10.%d.0.1", i);
		assert_int_equal(iplimit_acquire(l, a, 0), IPLIMIT_OK);
	}
	assert_int_equal(iplimit_entries(l), 16);
	/* A new host of a known /24 needs one entry, a new /24 two: both refused. */
	assert_int_equal(iplimit_acquire(l, "10.0.0.2", 0), IPLIMIT_FULL);
	assert_int_equal(iplimit_acquire(l, "10.99.0.1", 0), IPLIMIT_FULL);
	assert_int_equal(iplimit_net_open(l, "10.0.0.2"), 1);
	/* One host leaves: its entry is freed (no rate) and its /24's too. A new /24 gets
	 * both free slots; the address entry made first is not evicted for its network. */
	iplimit_release(l, "10.7.0.1");
	assert_int_equal(iplimit_entries(l), 14);
	assert_int_equal(iplimit_acquire(l, "10.99.0.1", 0), IPLIMIT_OK);
	assert_int_equal(iplimit_open(l, "10.99.0.1"), 1);
	assert_int_equal(iplimit_net_open(l, "10.99.0.7"), 1);
	assert_int_equal(iplimit_entries(l), 16);
	iplimit_free(l);
}

static void test_verdict_names(void **state)
{
	(void)state;
	assert_string_equal(iplimit_verdict_str(IPLIMIT_OK), "ok");
	assert_string_equal(iplimit_verdict_str(IPLIMIT_TOO_MANY), "per-address connection limit");
	assert_string_equal(iplimit_verdict_str(IPLIMIT_RATE), "per-address login rate");
	assert_string_equal(iplimit_verdict_str(IPLIMIT_FULL), "address table full");
	assert_string_equal(iplimit_verdict_str(IPLIMIT_NET_TOO_MANY),
			    "per-network connection limit");
	assert_string_equal(iplimit_verdict_str(IPLIMIT_NET_RATE), "per-network login rate");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conn_cap),
		cmocka_unit_test(test_token_bucket),
		cmocka_unit_test(test_cap_before_tokens),
		cmocka_unit_test(test_address_keys),
		cmocka_unit_test(test_bounded_table),
		cmocka_unit_test(test_net4_cap),
		cmocka_unit_test(test_net6_cap),
		cmocka_unit_test(test_net_off),
		cmocka_unit_test(test_net_rate),
		cmocka_unit_test(test_net_table_full),
		cmocka_unit_test(test_verdict_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
