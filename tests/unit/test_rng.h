/*
 * test_rng.h — a seeded pseudo-random stream for the randomized unit tests
 * (test_scsi_random, test_pdufilter_random, test_login_random, test_bot_random,
 * test_cfgd_proto): splitmix64, so a seed replays the same stream on every machine,
 * and a failure that names its seed. Not for anything but tests. Include after
 * <cmocka.h>.
 */
#ifndef SCSIPUB_TEST_RNG_H
#define SCSIPUB_TEST_RNG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The stream's state: one per test program. */
static uint64_t test_rng_state;

/* Start the stream at seed. */
static inline void test_rng_seed(uint64_t seed)
{
	test_rng_state = seed;
}

/* The next 64 random bits. */
static inline uint64_t test_rnd(void)
{
	uint64_t z = (test_rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A number in [0, n); 0 when n is 0. */
static inline uint64_t test_below(uint64_t n)
{
	return n ? test_rnd() % n : 0;
}

/* 1 with probability pct percent, else 0. */
static inline int test_chance(unsigned pct)
{
	return test_below(100) < pct;
}

/* The seed in SCSIPUB_TEST_SEED (decimal or 0x-hex), else def: a failure's printed
 * seed replays its stream. */
static inline uint64_t test_seed_from_env(uint64_t def)
{
	const char *s = getenv("SCSIPUB_TEST_SEED");

	return s && *s ? strtoull(s, NULL, 0) : def;
}

/*
 * Fail the running test with "seed 0x<seed>, <what> <index>: <message>" (printf
 * format), so the failing input can be replayed with SCSIPUB_TEST_SEED.
 */
static void test_seed_fail(uint64_t seed, const char *what, unsigned index, const char *fmt,
			   ...) __attribute__((format(printf, 4, 5), unused));
static void test_seed_fail(uint64_t seed, const char *what, unsigned index, const char *fmt,
			   ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	print_error("seed 0x%llx, %s %u: %s\n", (unsigned long long)seed, what, index, msg);
	fail();
}

#endif
