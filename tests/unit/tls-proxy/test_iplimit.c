/*
 * test_iplimit.c — unit tests for tls-proxy/iplimit.c with injected time (no sleeps):
 * the per-address connection cap, the token bucket (burst, refill, a clock going
 * back), address keying (IPv4, v4-mapped, IPv6 /64), and the bounded table under a
 * flood of distinct addresses.
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

static void test_verdict_names(void **state)
{
	(void)state;
	assert_string_equal(iplimit_verdict_str(IPLIMIT_OK), "ok");
	assert_string_equal(iplimit_verdict_str(IPLIMIT_TOO_MANY), "per-address connection limit");
	assert_string_equal(iplimit_verdict_str(IPLIMIT_RATE), "per-address login rate");
	assert_string_equal(iplimit_verdict_str(IPLIMIT_FULL), "address table full");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conn_cap),
		cmocka_unit_test(test_token_bucket),
		cmocka_unit_test(test_cap_before_tokens),
		cmocka_unit_test(test_address_keys),
		cmocka_unit_test(test_bounded_table),
		cmocka_unit_test(test_verdict_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
