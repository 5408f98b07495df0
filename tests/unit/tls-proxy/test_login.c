/*
 * test_login.c — unit tests for tls-proxy/login.c: every validation outcome maps to
 * the exact Login Response status class/detail (RFC 7143 §11.13.5), and the reject
 * response echoes the request's ISID, ITT and CmdSN with TSIH 0; keys LIO would read
 * as InitiatorName/SessionType/TargetName (prefix match in the kernel) are refused;
 * the InitiatorName rewrite keeps every other key and fixes DataSegmentLength.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "textkeys.h"

#include "login.h"
#include "pdu.h"
#include "pio.h"

static uint8_t wire[1024];
static char why[256];

/* A Login Request PDU over `keys` (klen bytes) in wire[]. */
static struct pdu mk(uint8_t flags, uint8_t vmin, uint16_t tsih, const char *keys, size_t klen)
{
	struct pdu p;

	memset(wire, 0, sizeof(wire));
	wire[0] = 0x43;
	wire[1] = flags;
	wire[2] = 0;
	wire[3] = vmin;
	pdu_put24(wire + 5, (uint32_t)klen);
	memcpy(wire + 8, "\x40\x00\x01\x37\x00\x00", 6);
	pdu_put16(wire + 14, tsih);
	pdu_put32(wire + 16, 0xabcd0001);
	pdu_put32(wire + 24, 1000);
	memcpy(wire + 48, keys, klen);
	memset(&p, 0, sizeof(p));
	p.raw = p.bhs = wire;
	p.raw_len = 48 + pdu_pad4(klen);
	p.data = wire + 48;
	p.data_len = (uint32_t)klen;
	return p;
}

#define K(lit) lit, sizeof(lit) - 1
#define T_SEC_OP 0x81   /* T=1 CSG=0 NSG=1 */

static uint16_t check(struct pdu p)
{
	struct login_req r;
	uint16_t st = login_parse(&p, &r, why, sizeof(why));

	if (st == LOGIN_OK)
		st = login_check_leading(&r, why, sizeof(why));
	login_req_free(&r);
	return st;
}

static void test_ok_normal_and_discovery(void **state)
{
	struct login_req r;
	struct pdu p = mk(T_SEC_OP, 0, 0, K("InitiatorName=iqn.1993-08.org.debian:01:x\0"
					    "TargetName=iqn.2025-01.pub.scsipub:blank\0"
					    "AuthMethod=None\0"));

	(void)state;
	assert_int_equal(login_parse(&p, &r, why, sizeof(why)), LOGIN_OK);
	assert_true(r.immediate);
	assert_true(r.transit);
	assert_int_equal(r.csg, 0);
	assert_int_equal(r.nsg, 1);
	assert_int_equal(r.itt, 0xabcd0001);
	assert_int_equal(r.cmdsn, 1000);
	assert_false(r.discovery);
	assert_string_equal(r.target, "iqn.2025-01.pub.scsipub:blank");
	assert_int_equal(login_check_leading(&r, why, sizeof(why)), LOGIN_OK);
	login_req_free(&r);

	p = mk(0x87, 0, 0, K("InitiatorName=iqn.x\0SessionType=Discovery\0"));
	assert_int_equal(login_parse(&p, &r, why, sizeof(why)), LOGIN_OK);
	assert_true(r.discovery);
	assert_int_equal(r.csg, 1);
	assert_int_equal(r.nsg, 3);
	assert_int_equal(login_check_leading(&r, why, sizeof(why)), LOGIN_OK);
	login_req_free(&r);
}

static void test_statuses(void **state)
{
	(void)state;
	/* Version-min other than 0 → unsupported version. */
	assert_int_equal(check(mk(T_SEC_OP, 1, 0, K("InitiatorName=iqn.x\0SessionType=Discovery\0"))),
			 0x0205);
	/* Malformed keys → initiator error 0x0200. */
	assert_int_equal(check(mk(T_SEC_OP, 0, 0, K("InitiatorName\0"))), 0x0200);
	assert_int_equal(check(mk(T_SEC_OP, 0, 0, K("InitiatorName=iqn.x"))), 0x0200);
	assert_int_equal(check(mk(T_SEC_OP, 0, 0, K("InitiatorName=a\0InitiatorName=b\0"))), 0x0200);
	assert_int_equal(check(mk(T_SEC_OP, 0, 0, K("InitiatorName=\xff\0"))), 0x0200);
	/* Missing InitiatorName (absent or empty) → 0x0207. */
	assert_int_equal(check(mk(T_SEC_OP, 0, 0, K("SessionType=Discovery\0"))), 0x0207);
	assert_int_equal(check(mk(T_SEC_OP, 0, 0, K("InitiatorName=\0SessionType=Discovery\0"))),
			 0x0207);
	assert_int_equal(check(mk(T_SEC_OP, 0, 0, K(""))), 0x0207);
	/* Normal session (explicit or default) without TargetName → 0x0207. */
	assert_int_equal(check(mk(T_SEC_OP, 0, 0, K("InitiatorName=iqn.x\0"))), 0x0207);
	assert_int_equal(check(mk(T_SEC_OP, 0, 0, K("InitiatorName=iqn.x\0SessionType=Normal\0"))),
			 0x0207);
	/* Unknown session type → 0x0209. */
	assert_int_equal(check(mk(T_SEC_OP, 0, 0, K("InitiatorName=iqn.x\0SessionType=Weird\0"))),
			 0x0209);
	/* Discovery naming an existing TSIH → session does not exist. */
	assert_int_equal(check(mk(T_SEC_OP, 0, 5, K("InitiatorName=iqn.x\0SessionType=Discovery\0"))),
			 0x020a);
	/* Names that cannot be iSCSI names. */
	assert_int_equal(check(mk(T_SEC_OP, 0, 0, K("InitiatorName=../../etc\0SessionType=Discovery\0"))),
			 0x0200);
	assert_int_equal(check(mk(T_SEC_OP, 0, 0, K("InitiatorName=iqn.x\0TargetName=a/b\0"))),
			 0x0203);
	/* Stage errors: CSG 2/3, NSG not after CSG, T and C together. */
	assert_int_equal(check(mk(0x88 | 0x03, 0, 0, K("InitiatorName=iqn.x\0SessionType=Discovery\0"))),
			 0x0200);
	assert_int_equal(check(mk(0x84, 0, 0, K("InitiatorName=iqn.x\0SessionType=Discovery\0"))),
			 0x0200); /* CSG 1 → NSG 0 */
	assert_int_equal(check(mk(0x82, 0, 0, K("InitiatorName=iqn.x\0SessionType=Discovery\0"))),
			 0x0200); /* NSG 2 */
	assert_int_equal(check(mk(0xc1, 0, 0, K("InitiatorName=iqn.x\0SessionType=Discovery\0"))),
			 0x0200);
	/* A continued leading request is refused rather than half-read. */
	assert_int_equal(check(mk(0x40, 0, 0, K("InitiatorName=iqn.x\0SessionType=Discovery\0"))),
			 0x0200);
}

static void test_not_a_login(void **state)
{
	struct login_req r;
	struct pdu p = mk(T_SEC_OP, 0, 0, K("InitiatorName=iqn.x\0"));

	(void)state;
	wire[0] = 0x04;
	assert_int_equal(login_parse(&p, &r, why, sizeof(why)), 0x0200);
	assert_non_null(strstr(why, "opcode"));
	/* AHS is not allowed in a Login Request. */
	p = mk(T_SEC_OP, 0, 0, K("InitiatorName=iqn.x\0"));
	p.ahs_len = 4;
	assert_int_equal(login_parse(&p, &r, why, sizeof(why)), 0x0200);
}

static void test_reject_response(void **state)
{
	struct pdu p = mk(T_SEC_OP, 0, 0, K("x"));
	struct pio_mem m;

	(void)state;
	pio_mem_init(&m, NULL, 0);
	assert_int_equal(login_send_reject(&m.io, p.bhs, LOGIN_MISSING_PARAMETER, 77), 0);
	assert_int_equal(m.out_len, 48);
	assert_int_equal(m.out[0], 0x23);
	assert_int_equal(m.out[1] & 0x80, 0);                 /* no transit */
	assert_int_equal(m.out[2], 0);                        /* version-max */
	assert_int_equal(m.out[3], 0);                        /* version-active */
	assert_int_equal(pdu_data_len(m.out), 0);
	assert_memory_equal(m.out + 8, "\x40\x00\x01\x37\x00\x00", 6);
	assert_int_equal(pdu_get16(m.out + 14), 0);           /* TSIH */
	assert_int_equal(pdu_get32(m.out + 16), 0xabcd0001);  /* ITT */
	assert_int_equal(pdu_get32(m.out + 24), 77);          /* StatSN */
	assert_int_equal(pdu_get32(m.out + 28), 1000);        /* ExpCmdSN */
	assert_int_equal(pdu_get32(m.out + 32), 1000);        /* MaxCmdSN */
	assert_int_equal(m.out[36], 0x02);
	assert_int_equal(m.out[37], 0x07);
	pio_mem_free(&m);
	assert_string_equal(login_status_str(0x0203), "target not found");
}

static void test_response_init_transit(void **state)
{
	struct pdu p = mk(0x87, 0, 0, K("x"));
	uint8_t bhs[48];

	(void)state;
	login_response_init(bhs, p.bhs, LOGIN_OK, true, 3, 0x1234, 5, 1000, 1015, 12);
	assert_int_equal(bhs[1], 0x80 | 0x04 | 0x03); /* T, CSG 1, NSG 3 */
	assert_int_equal(pdu_get16(bhs + 14), 0x1234);
	assert_int_equal(pdu_data_len(bhs), 12);
	assert_int_equal(bhs[36], 0);
	assert_int_equal(bhs[37], 0);
}

static void test_identity_key_spellings(void **state)
{
	(void)state;
	/* LIO matches these by prefix (iscsi_target_locate_portal): ambiguous, refused. */
	assert_int_equal(check(mk(T_SEC_OP, 0, 0, K("InitiatorName=iqn.a:x\0"
						    "SessionTypeX=Discovery\0"
						    "TargetName=iqn.2025-01.pub.scsipub:blank\0"))),
			 LOGIN_INITIATOR_ERROR);
	assert_non_null(strstr(why, "SessionTypeX"));
	assert_int_equal(check(mk(T_SEC_OP, 0, 0, K("InitiatorName=iqn.a:x\0"
						    "InitiatorName2=iqn.victim:y\0"
						    "TargetName=iqn.2025-01.pub.scsipub:blank\0"))),
			 LOGIN_INITIATOR_ERROR);
	assert_int_equal(check(mk(T_SEC_OP, 0, 0, K("InitiatorName=iqn.a:x\0"
						    "TargetName=iqn.2025-01.pub.scsipub:blank\0"
						    "TargetNameOther=iqn.2025-01.pub.scsipub:s.x\0"))),
			 LOGIN_INITIATOR_ERROR);
	/* Other letter case is a different key to LIO too (strncmp): not ambiguous. */
	assert_int_equal(check(mk(T_SEC_OP, 0, 0, K("InitiatorName=IQN.2099-01.X:VICTIM\0"
						    "initiatorname=iqn.y:z\0"
						    "TargetName=iqn.2025-01.pub.scsipub:blank\0"))),
			 LOGIN_OK);
	/* Later PDUs of a relayed login may not name anybody at all. */
	{
		struct tk_list l;

		assert_int_equal(tk_parse(K("HeaderDigest=None\0InitiatorName=iqn.x:y\0"), &l,
					  NULL, 0), 0);
		assert_int_equal(login_check_identity_keys(&l, true, why, sizeof(why)), LOGIN_OK);
		assert_int_equal(login_check_identity_keys(&l, false, why, sizeof(why)),
				 LOGIN_INITIATOR_ERROR);
		tk_free(&l);
	}
}

static void test_rewrite_initiator(void **state)
{
	static const char name[] = "iqn.2025-01.pub.scsipub:anon.0123456789abcdef0123456789abcdef";
	struct pdu p = mk(T_SEC_OP, 0, 0, K("InitiatorName=iqn.a:x\0"
					    "TargetName=iqn.2025-01.pub.scsipub:blank\0"
					    "SessionType=Normal\0AuthMethod=None\0"));
	static const char want[] = "InitiatorName=iqn.2025-01.pub.scsipub:anon."
				   "0123456789abcdef0123456789abcdef\0"
				   "TargetName=iqn.2025-01.pub.scsipub:blank\0"
				   "SessionType=Normal\0AuthMethod=None\0";
	uint8_t *raw;
	size_t len;

	(void)state;
	assert_int_equal(login_rewrite_initiator(&p, name, &raw, &len), 0);
	assert_int_equal(pdu_data_len(raw), sizeof(want) - 1);
	assert_int_equal(len, 48 + pdu_pad4(sizeof(want) - 1));
	assert_memory_equal(raw, wire, 5);               /* opcode, flags, versions */
	assert_memory_equal(raw + 8, wire + 8, 40);      /* ISID, TSIH, ITT, CID, CmdSN... */
	assert_memory_equal(raw + 48, want, sizeof(want) - 1);
	for (size_t i = 48 + sizeof(want) - 1; i < len; i++)
		assert_int_equal(raw[i], 0);                 /* padding */
	free(raw);
	/* No InitiatorName: nothing to rewrite. */
	p = mk(T_SEC_OP, 0, 0, K("TargetName=iqn.2025-01.pub.scsipub:blank\0"));
	assert_int_equal(login_rewrite_initiator(&p, name, &raw, &len), -EINVAL);
	assert_null(raw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok_normal_and_discovery),
		cmocka_unit_test(test_statuses),
		cmocka_unit_test(test_not_a_login),
		cmocka_unit_test(test_reject_response),
		cmocka_unit_test(test_response_init_transit),
		cmocka_unit_test(test_identity_key_spellings),
		cmocka_unit_test(test_rewrite_initiator),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
