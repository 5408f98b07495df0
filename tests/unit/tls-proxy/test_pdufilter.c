/*
 * test_pdufilter.c — unit tests for tls-proxy/pdufilter.c: PDUs pass unchanged in
 * any split; digests take effect after the final Login Response; a SendTargets Text
 * Request becomes "SendTargets=<own target>" and a Text Response keeps only the own
 * target at the public address, with DataSegmentLength and CRC32C digests made anew;
 * identity keys in later Login Requests end the session, and so does an AHS LIO would
 * read otherwise than the filter.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pdu.h"
#include "pdufilter.h"

#define OWN "iqn.2025-01.pub.scsipub:blank"
#define PUB "203.0.113.9:3260"
#define K(lit) lit, sizeof(lit) - 1

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A PDU (no AHS) into out: BHS with op/flags, data, digests as asked. Returns length. */
static size_t mkpdu(uint8_t *out, uint8_t op, uint8_t flags, uint32_t ttt, const void *data,
		    size_t len, int hd, int dd)
{
	size_t n = 48, pad = pdu_pad4(len) - len;

	memset(out, 0, 48);
	out[0] = op;
	out[1] = flags;
	pdu_put24(out + 5, (uint32_t)len);
	pdu_put32(out + 16, 0x1234);
	pdu_put32(out + 20, ttt);
	if (hd) {
		le32(out + n, pdu_crc32c(0, out, 48));
		n += 4;
	}
	if (len)
		memcpy(out + n, data, len);
	memset(out + n + len, 0, pad);
	n += len + pad;
	if (dd && len) {
		le32(out + n, pdu_crc32c(0, out + n - len - pad, len + pad));
		n += 4;
	}
	return n;
}

static struct pdufilter *mkfilter(void)
{
	struct pdufilter_cfg c = { .target = OWN, .public_addr = PUB, .peer = "192.0.2.1" };
	struct pdufilter *f = pdufilter_new(&c);

	assert_non_null(f);
	return f;
}

/* The final Login Response negotiating CRC32C both ways: digests on afterwards. */
static void to_ffp(struct pdufilter *f)
{
	uint8_t w[512];
	struct pf_buf out = { 0 };
	size_t n = mkpdu(w, 0x23, 0x87 /* T, CSG 1, NSG 3 */, 0,
			 K("HeaderDigest=CRC32C\0DataDigest=CRC32C\0"), 0, 0);
	int hd, dd;

	pdufilter_digests(f, &hd, &dd);
	assert_false(hd || dd);
	assert_false(pdufilter_in_ffp(f));
	assert_int_equal(pdufilter_feed(f, PF_TO_INITIATOR, w, n, &out), 0);
	assert_true(pdufilter_in_ffp(f));
	assert_int_equal(out.len, n);
	assert_memory_equal(out.data, w, n);
	pdufilter_digests(f, &hd, &dd);
	assert_true(hd && dd);
	pf_buf_free(&out);
}

static void test_passthrough_any_split(void **state)
{
	struct pdufilter *f = mkfilter();
	uint8_t w[4096], data[1000];
	struct pf_buf out = { 0 };
	size_t n = 0;

	(void)state;
	to_ffp(f);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	/* A SCSI Command with immediate data, a NOP-Out, a SCSI Data-Out: all unchanged. */
	n += mkpdu(w + n, 0x01, 0x80, 0xffffffff, data, 999, 1, 1);
	n += mkpdu(w + n, 0x40, 0x80, 0xffffffff, NULL, 0, 1, 1);
	n += mkpdu(w + n, 0x05, 0x80, 7, data, 512, 1, 1);
	for (size_t i = 0; i < n; i++) /* byte by byte */
		assert_int_equal(pdufilter_feed(f, PF_TO_TARGET, w + i, 1, &out), 0);
	assert_int_equal(out.len, n);
	assert_memory_equal(out.data, w, n);
	pf_buf_free(&out);
	pdufilter_free(f);
}

/*
 * Opaque runs (issue 10, zero-copy relay): after a passed-on header, the rest of its
 * data segment (padding and data digest included) may go on unread, and the filter
 * then parses the next header; a held PDU (Text Request) has none.
 */
static void test_opaque_skip(void **state)
{
	struct pdufilter *f = mkfilter();
	static uint8_t w[3 * 70000];
	uint8_t data[70001];
	struct pf_buf out = { 0 };
	size_t n = 0, a, b;

	(void)state;
	to_ffp(f);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 13);
	a = mkpdu(w, 0x05, 0x80, 7, data, 70001, 1, 1);  /* Data-Out: 70004 + digest */
	b = mkpdu(w + a, 0x04, 0x80, 0xffffffff, K("SendTargets=All\0"), 1, 1);
	n = a + b;
	assert_int_equal(pdufilter_opaque(f, PF_TO_TARGET), 0);
	/* The header and 100 data bytes are fed; the rest goes past the filter. */
	assert_int_equal(pdufilter_feed(f, PF_TO_TARGET, w, 52 + 100, &out), 0);
	assert_int_equal(out.len, 52 + 100);
	assert_int_equal(pdufilter_opaque(f, PF_TO_TARGET), 70004 + 4 - 100);
	assert_int_equal(pdufilter_opaque(f, PF_TO_INITIATOR), 0);
	pdufilter_skip(f, PF_TO_TARGET, 50000);
	assert_int_equal(pdufilter_opaque(f, PF_TO_TARGET), 70004 + 4 - 100 - 50000);
	pdufilter_skip(f, PF_TO_TARGET, 70004 + 4 - 100 - 50000);
	assert_int_equal(pdufilter_opaque(f, PF_TO_TARGET), 0);
	/* The Text Request that follows is held and rewritten as before. */
	out.len = 0;
	assert_int_equal(pdufilter_feed(f, PF_TO_TARGET, w + a, 60, &out), 0);
	assert_int_equal(pdufilter_opaque(f, PF_TO_TARGET), 0);
	assert_int_equal(pdufilter_feed(f, PF_TO_TARGET, w + a + 60, n - a - 60, &out), 0);
	assert_non_null(out.len > 52 ? memmem(out.data, out.len, K("SendTargets=" OWN)) : NULL);
	pf_buf_free(&out);
	pdufilter_free(f);
}

/* The data segment of a PDU with header and data digests at p, checking both. */
static const char *check_digests(const uint8_t *p, size_t n, uint32_t *len)
{
	size_t pad;

	*len = pdu_data_len(p);
	pad = pdu_pad4(*len) - *len;
	assert_int_equal(n, 48 + 4 + *len + pad + (*len ? 4 : 0));
	assert_int_equal(p[48] | p[49] << 8 | p[50] << 16 | (uint32_t)p[51] << 24,
			 pdu_crc32c(0, p, 48));
	if (*len) {
		const uint8_t *d = p + n - 4;

		assert_int_equal(d[0] | d[1] << 8 | d[2] << 16 | (uint32_t)d[3] << 24,
				 pdu_crc32c(0, p + 52, *len + pad));
	}
	return (const char *)p + 52;
}

static void test_sendtargets_request(void **state)
{
	struct pdufilter *f = mkfilter();
	uint8_t w[512];
	struct pf_buf out = { 0 };
	const char *d;
	uint32_t len;
	size_t n;

	(void)state;
	to_ffp(f);
	n = mkpdu(w, 0x04 | 0x40, 0x80, 0xffffffff, K("SendTargets=All\0"), 1, 1);
	assert_int_equal(pdufilter_feed(f, PF_TO_TARGET, w, n, &out), 0);
	d = check_digests(out.data, out.len, &len);
	assert_int_equal(len, sizeof("SendTargets=" OWN));
	assert_memory_equal(d, "SendTargets=" OWN, len);
	assert_int_equal(out.data[1] & 0xc0, 0x80); /* F, not C */
	assert_int_equal(pdu_get32(out.data + 16), 0x1234); /* ITT kept */
	/* Another target's name, or an empty value: the same. */
	out.len = 0;
	n = mkpdu(w, 0x04, 0x80, 0xffffffff, K("SendTargets=iqn.2025-01.pub.scsipub:s.x\0"), 1, 1);
	assert_int_equal(pdufilter_feed(f, PF_TO_TARGET, w, n, &out), 0);
	d = check_digests(out.data, out.len, &len);
	assert_memory_equal(d, "SendTargets=" OWN, len);
	/* A continuation of a long response (TTT set) passes unchanged. */
	out.len = 0;
	n = mkpdu(w, 0x04, 0x80, 5, NULL, 0, 1, 1);
	assert_int_equal(pdufilter_feed(f, PF_TO_TARGET, w, n, &out), 0);
	assert_int_equal(out.len, n);
	assert_memory_equal(out.data, w, n);
	pf_buf_free(&out);
	pdufilter_free(f);
}

static void test_sendtargets_response(void **state)
{
	struct pdufilter *f = mkfilter();
	uint8_t w[1024];
	struct pf_buf out = { 0 };
	static const char want[] = "TargetName=" OWN "\0TargetAddress=" PUB ",1\0";
	const char *d;
	uint32_t len;
	size_t n;

	(void)state;
	to_ffp(f);
	n = mkpdu(w, 0x24, 0x80, 0xffffffff,
		  K("TargetName=iqn.2025-01.pub.scsipub:s.other\0"
		    "TargetAddress=127.0.0.1:3262,1\0"
		    "TargetName=" OWN "\0TargetAddress=127.0.0.1:3262,1\0"
		    "TargetName=iqn.2025-01.pub.scsipub:image.x\0"
		    "TargetAddress=127.0.0.1:3262,1\0"), 1, 1);
	/* In two pieces, split inside the data segment. */
	assert_int_equal(pdufilter_feed(f, PF_TO_INITIATOR, w, 70, &out), 0);
	assert_int_equal(out.len, 0);
	assert_int_equal(pdufilter_feed(f, PF_TO_INITIATOR, w + 70, n - 70, &out), 0);
	d = check_digests(out.data, out.len, &len);
	assert_int_equal(len, sizeof(want) - 1);
	assert_memory_equal(d, want, len);
	assert_null(memmem(out.data, out.len, "127.0.0.1", 9));
	pf_buf_free(&out);
	pdufilter_free(f);
}

static void test_later_login_identity(void **state)
{
	struct pdufilter *f = mkfilter();
	uint8_t w[512];
	struct pf_buf out = { 0 };
	size_t n;

	(void)state;
	/* An ordinary operational-stage Login Request passes. */
	n = mkpdu(w, 0x43, 0x87, 0, K("HeaderDigest=CRC32C,None\0MaxConnections=1\0"), 0, 0);
	assert_int_equal(pdufilter_feed(f, PF_TO_TARGET, w, n, &out), 0);
	assert_int_equal(out.len, n);
	/* Naming an initiator (or a prefix spelling of it) after the first PDU: closed. */
	n = mkpdu(w, 0x43, 0x87, 0, K("InitiatorName=iqn.x:victim\0"), 0, 0);
	assert_int_equal(pdufilter_feed(f, PF_TO_TARGET, w, n, &out), -EPROTO);
	pdufilter_free(f);
	f = mkfilter();
	n = mkpdu(w, 0x43, 0x87, 0, K("SessionTypeZ=Discovery\0"), 0, 0);
	assert_int_equal(pdufilter_feed(f, PF_TO_TARGET, w, n, &out), -EPROTO);
	pdufilter_free(f);
	/* A continued (C bit) Login Request could split a key: closed too. */
	f = mkfilter();
	n = mkpdu(w, 0x43, 0x40, 0, K("MaxBurstLength=262144\0"), 0, 0);
	assert_int_equal(pdufilter_feed(f, PF_TO_TARGET, w, n, &out), -EPROTO);
	pf_buf_free(&out);
	pdufilter_free(f);
}

/* A PDU with an AHS of ahs_len bytes (a multiple of 4) and no data into out, with a
 * header digest when hd. Returns its length. */
static size_t mkpdu_ahs(uint8_t *out, uint8_t op, uint8_t flags, const uint8_t *ahs,
			size_t ahs_len, int hd)
{
	size_t n = 48 + ahs_len;

	memset(out, 0, 48);
	out[0] = op;
	out[1] = flags;
	out[4] = (uint8_t)(ahs_len / 4);
	pdu_put32(out + 16, 0x1234);
	memcpy(out + 48, ahs, ahs_len);
	if (hd) {
		le32(out + n, pdu_crc32c(0, out, n));
		n += 4;
	}
	return n;
}

/*
 * RFC 7143 §11.2.2: an Extended CDB AHS on a SCSI Command passes when its AHSLength
 * fits the AHS sent; one of AHSLength 0 or past the AHS (which LIO copies unchecked),
 * or an AHS on any other PDU (LIO does not read a Login Request's: keys hidden there
 * would reach it unchecked), ends the session.
 */
static void test_ahs(void **state)
{
	/* A 32-byte CDB: 16 in the BHS, 16 in the AHS; AHSLength 17 with the reserved byte. */
	uint8_t ecdb[20] = { 0, 17, 1, 0, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x18 };
	uint8_t keys[52] = { 0, 49, 0x3f, 0 };
	struct pf_buf out = { 0 };
	struct pdufilter *f;
	uint8_t w[1200];
	size_t n;

	(void)state;
	f = mkfilter();
	to_ffp(f);
	n = mkpdu_ahs(w, 0x01, 0x80, ecdb, sizeof(ecdb), 1);
	assert_int_equal(pdufilter_feed(f, PF_TO_TARGET, w, n, &out), 0);
	assert_int_equal(out.len, n);
	assert_memory_equal(out.data, w, n);
	ecdb[1] = 18; /* one byte past the AHS */
	n = mkpdu_ahs(w, 0x01, 0x80, ecdb, sizeof(ecdb), 1);
	assert_int_equal(pdufilter_feed(f, PF_TO_TARGET, w, n, &out), -EPROTO);
	pdufilter_free(f);

	f = mkfilter();
	to_ffp(f);
	ecdb[1] = 0;
	n = mkpdu_ahs(w, 0x01, 0x80, ecdb, sizeof(ecdb), 1);
	assert_int_equal(pdufilter_feed(f, PF_TO_TARGET, w, n, &out), -EPROTO);
	pdufilter_free(f);

	f = mkfilter();
	to_ffp(f);
	n = mkpdu_ahs(w, 0x00, 0x80, ecdb, sizeof(ecdb), 1); /* a NOP-Out */
	assert_int_equal(pdufilter_feed(f, PF_TO_TARGET, w, n, &out), -EPROTO);
	pdufilter_free(f);

	/* In the Login Phase: keys in a Login Request's AHS, where only LIO would read them. */
	f = mkfilter();
	memcpy(keys + 4, "InitiatorName=iqn.x:victim\0SessionType=Discovery", 48);
	n = mkpdu_ahs(w, 0x43, 0x87, keys, sizeof(keys), 0);
	assert_int_equal(pdufilter_feed(f, PF_TO_TARGET, w, n, &out), -EPROTO);
	pf_buf_free(&out);
	pdufilter_free(f);
}

static void test_hold_bound(void **state)
{
	struct pdufilter *f = mkfilter();
	uint8_t w[48] = { 0x04, 0x80 };
	struct pf_buf out = { 0 };

	(void)state;
	pdu_put24(w + 5, PDUFILTER_HOLD_MAX + 1);
	assert_int_equal(pdufilter_feed(f, PF_TO_TARGET, w, sizeof(w), &out), -EPROTO);
	pf_buf_free(&out);
	pdufilter_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_passthrough_any_split),
		cmocka_unit_test(test_opaque_skip),
		cmocka_unit_test(test_sendtargets_request),
		cmocka_unit_test(test_sendtargets_response),
		cmocka_unit_test(test_later_login_identity),
		cmocka_unit_test(test_hold_bound),
		cmocka_unit_test(test_ahs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
