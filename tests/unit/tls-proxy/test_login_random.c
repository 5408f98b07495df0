/*
 * test_login_random.c — the portal's reading of a connection's leading Login Request
 * (tls-proxy/login.c: login_parse, login_check_leading, login_rewrite_initiator)
 * under seeded random requests, against what LIO will make of the rewritten one.
 *
 * This is the first thing the portal parses from anyone on the internet, and the
 * identity it settles is the one LIO must see: an anonymous connection's InitiatorName
 * is replaced by a name of its own (anon.h), so a client can neither share another
 * connection's disks nor end its session. The requests have random header fields
 * (mostly a valid Login Request) and 1 to 8 text pairs drawn from the identity keys,
 * their near misses as LIO's prefix scan would read them ("InitiatorNameX",
 * "SessionTypeX", "TargetName2"), other operational keys, empty and over-long values,
 * names with characters iSCSI names may not hold, entries without '=' or without
 * their NUL, and random bytes.
 *
 * Checked for every request that login_parse and login_check_leading accept
 * (login_accept_check, shared with the libFuzzer harness tests/fuzz/fuzz_login.c):
 *  - InitiatorName is present and a valid iSCSI name; a Normal session names a
 *    valid TargetName;
 *  - login_rewrite_initiator succeeds, and its output read back through login_parse
 *    and login_check_leading is accepted with the new InitiatorName, the same
 *    TargetName and session type, and every other pair unchanged and in order; its
 *    BHS is the request's but for DataSegmentLength (RFC 7143 §11.12: no AHS);
 *  - LIO's own scan of the rewritten data (as login.h describes it, from
 *    iscsi_target_locate_portal in Linux 6.1: every pair needs '=', a key that starts
 *    with InitiatorName, SessionType or TargetName counts as it, the last one wins,
 *    and a SessionType value that starts with "Discovery" makes a discovery session)
 *    sees exactly the new InitiatorName, our TargetName and our session type.
 * Every request, accepted or not, runs under AddressSanitizer; the run must accept
 * and refuse a fair share of them. The seed is SCSIPUB_TEST_SEED or a fixed one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "login.h"
#include "login_accept_check.h"
#include "pdu.h"

#define DEFAULT_SEED 0x10915ull
#define REQUESTS 20000
#define NEW_NAME "iqn.2025-01.pub.scsipub:anon.0123456789abcdef0123456789abcdef"

/* ---- random Login Requests ------------------------------------------------------- */

static const char *const keys[] = {
	"InitiatorName", "InitiatorName", "TargetName", "TargetName", "SessionType",
	"InitiatorNameX", "InitiatorName2", "TargetNameFoo", "SessionTypeX",
	"initiatorname", "InitiatorAlias", "TargetAlias", "HeaderDigest", "DataDigest",
	"MaxRecvDataSegmentLength", "AuthMethod", "X-com.example.key", "",
};

static const char *const values[] = {
	"iqn.2099-01.test.client:one", "iqn.2025-01.pub.scsipub:blank",
	"iqn.2025-01.pub.scsipub:image.pi-arm64", "eui.0123456789abcdef", "Discovery",
	"Normal", "DiscoveryX", "", "None", "CRC32C,None", "8192", "iqn.bad/name",
	"iqn.bad name", "iqn.\xff\xfe",
};

/* Keys that change nothing of the identity. */
static const char *const benign[] = {
	"InitiatorAlias", "TargetAlias", "HeaderDigest", "DataDigest",
	"MaxRecvDataSegmentLength", "AuthMethod", "X-com.example.key",
};

#define PICK(a) (a)[test_below(sizeof(a) / sizeof((a)[0]))]

/* Append "key=value\0" (k, v) to d (*n bytes of cap used); with mangle, now and then
 * without '=' or (last) without its NUL. */
static void put_pair(uint8_t *d, size_t *n, size_t cap, const char *k, const char *v,
		     int mangle, int last)
{
	size_t kl = strlen(k), vl = strlen(v);

	if (*n + kl + vl + 2 > cap)
		return;
	memcpy(d + *n, k, kl);
	*n += kl;
	if (!(mangle && test_chance(3)))
		d[(*n)++] = '=';
	memcpy(d + *n, v, vl);
	*n += vl;
	if (!(mangle && last && test_chance(5)))
		d[(*n)++] = '\0';
}

/* A random value into v (300 bytes): a listed one, a long name or random bytes. */
static const char *random_value(char *v)
{
	size_t vl;

	switch (test_below(12)) {
	case 0: /* a long name: 223 bytes is the most an iSCSI name may have */
		memset(v, 'a', 300);
		memcpy(v, "iqn.2099-01.test:", 17);
		v[200 + test_below(40)] = '\0';
		return v;
	case 1: /* random printable bytes, and some that are not */
		vl = test_below(40);
		for (size_t i = 0; i < vl; i++)
			v[i] = (char)(test_chance(90) ? 33 + test_below(94) : 1 + test_below(255));
		v[vl] = '\0';
		return v;
	default:
		return PICK(values);
	}
}

/*
 * The text pairs: mostly a valid identity (InitiatorName, then TargetName or
 * SessionType=Discovery, in either order) among other pairs, a third of which may be
 * anything of keys[]; else 1 to 8 pairs of keys[] with random values.
 */
static size_t gen_pairs(uint8_t *d, size_t cap)
{
	char v[300];
	const char *key, *val; /* drawn value first, then key: a defined order */
	size_t n = 0;
	unsigned extra = (unsigned)test_below(5);

	if (test_chance(40)) {
		unsigned pairs = 1 + (unsigned)test_below(8);

		for (unsigned i = 0; i < pairs; i++) {
			val = random_value(v);
			key = PICK(keys);
			put_pair(d, &n, cap, key, val, 1, i + 1 == pairs);
		}
		return n;
	}
	for (unsigned i = 0; i <= extra + 1; i++) {
		if (i == 0)
			put_pair(d, &n, cap, "InitiatorName", test_chance(90) ? values[0]
								: random_value(v), 0, 0);
		else if (i == 1 && test_chance(70))
			put_pair(d, &n, cap, "TargetName", test_chance(90) ? PICK(values)
							       : random_value(v), 0, 0);
		else if (i == 1)
			put_pair(d, &n, cap, "SessionType", "Discovery", 0, 0);
		else if (test_chance(70)) {
			val = PICK(values);
			key = PICK(benign);
			put_pair(d, &n, cap, key, val, 0, 0);
		} else {
			val = random_value(v);
			key = PICK(keys);
			put_pair(d, &n, cap, key, val, 1, i == extra + 1);
		}
	}
	return n;
}

/* A Login Request in wire (BHS + data), as a struct pdu over it. */
static struct pdu gen_request(uint8_t *wire, size_t cap)
{
	static const uint8_t flags[] = { 0x81, 0x87, 0x83, 0x01, 0x00, 0xc1 };
	struct pdu p;
	size_t n;

	memset(wire, 0, PDU_BHS_LEN);
	wire[0] = test_chance(95) ? 0x43 : (uint8_t)test_rnd();
	wire[1] = test_chance(90) ? PICK(flags) : (uint8_t)test_rnd();
	wire[3] = test_chance(95) ? 0 : (uint8_t)test_rnd();                 /* Version-min */
	wire[4] = test_chance(97) ? 0 : (uint8_t)(1 + test_below(3));        /* AHS */
	for (int i = 8; i < 14; i++)                                         /* ISID */
		wire[i] = (uint8_t)test_rnd();
	if (test_chance(5))
		pdu_put16(wire + 14, (uint16_t)test_rnd());                  /* TSIH */
	pdu_put32(wire + 16, (uint32_t)test_rnd());                          /* ITT */
	pdu_put32(wire + 24, (uint32_t)test_rnd());                          /* CmdSN */
	n = gen_pairs(wire + PDU_BHS_LEN, cap - PDU_BHS_LEN);
	pdu_put24(wire + 5, (uint32_t)n);
	memset(&p, 0, sizeof(p));
	p.raw = p.bhs = wire;
	p.raw_len = PDU_BHS_LEN + n;
	p.data = wire + PDU_BHS_LEN;
	p.data_len = (uint32_t)n;
	return p;
}

/* ---- the checks ---------------------------------------------------------------------- */

static uint64_t seed;
static unsigned index_now;

#define failf(...) test_seed_fail(seed, "request", index_now, __VA_ARGS__)

static void test_random_leading_requests(void **state)
{
	static uint8_t wire[PDU_BHS_LEN + 2048];
	unsigned accepted = 0, normal = 0, refused = 0;

	(void)state;
	seed = test_seed_from_env(DEFAULT_SEED);
	test_rng_seed(seed);
	for (index_now = 0; index_now < REQUESTS; index_now++) {
		struct pdu p = gen_request(wire, sizeof(wire));
		struct login_req r;
		char why[256];
		uint16_t st = login_parse(&p, &r, why, sizeof(why));

		if (st == LOGIN_OK)
			st = login_check_leading(&r, why, sizeof(why));
		if (st == LOGIN_OK) {
			const char *broken = login_accept_check(&p, &r, NEW_NAME);

			if (broken)
				failf("%s", broken);
			accepted++;
			normal += !r.discovery;
		} else {
			if ((st >> 8) != 2 && (st >> 8) != 3)
				failf("refused with status 0x%04x, not an error class", st);
			refused++;
		}
		login_req_free(&r);
	}
	print_message("seed 0x%llx: %u requests, %u accepted (%u Normal), %u refused\n",
		      (unsigned long long)seed, REQUESTS, accepted, normal, refused);
	assert_true(accepted > REQUESTS / 50);
	assert_true(normal > 0 && normal < accepted);
	assert_true(refused > REQUESTS / 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_leading_requests),
	};

	plog_quiet = 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
