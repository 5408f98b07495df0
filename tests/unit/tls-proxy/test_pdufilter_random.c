/*
 * test_pdufilter_random.c — tls-proxy/pdufilter.c under seeded random PDU streams in
 * both directions, fed in random pieces, with the relay's splice path (pdufilter_opaque
 * bytes passed on unread, then pdufilter_skip) taken at random, as relay.c does.
 *
 * A stream is a Login Phase (Login Requests with random operational keys, now and then
 * an identity key, a C bit or keys that do not parse; Login Responses, the last one
 * final and negotiating random digests, RFC 7143 §13.1) followed by Full Feature
 * Phase PDUs of both directions (RFC 7143 §11.2: random AHS — from the initiator an
 * Extended CDB AHS on a SCSI Command, rarely one on another PDU, which ends the
 * session — flags, tags and data segments, digests as negotiated), among them SendTargets Text Requests and Text
 * Responses that name other targets. Consecutive PDUs of one direction are fed as
 * one run cut at random places, so pieces end inside headers, AHS, digests, data and
 * across PDU boundaries.
 *
 * Checked:
 *  - pdufilter_feed returns 0 or -EPROTO (a session the relay closes; the stream ends
 *    there), never anything else;
 *  - a stream without Text PDUs comes out of each direction byte for byte as it went
 *    in, whatever the pieces and the skipped runs;
 *  - what goes on to LIO never asks SendTargets=All nor names another target; what
 *    goes on to the initiator never names another target (pdufilter.h);
 *  - what goes on, read PDU by PDU (RFC 7143 §11.2), is as many PDUs as came in, each
 *    whole, with right CRC32C digests once they are on; every new Text Request reaches
 *    LIO without the C bit and asks SendTargets for our own target or not at all;
 *    every Text Response names only our own target, at the public address;
 *  - most streams reach their end (the generator makes valid streams more often
 *    than not), so the checks above are made on whole sessions.
 * The seed is SCSIPUB_TEST_SEED (decimal or 0x-hex) or a fixed one, printed; a failure
 * names the seed and the stream.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_rng.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pdu.h"
#include "pdufilter.h"

#define OWN "iqn.2025-01.pub.scsipub:blank"
#define FOREIGN "iqn.2099-01.test.foreign:" /* never to reach either side */
#define PUB "203.0.113.9:3260"
#define DEFAULT_SEED 0xf117e5ull
#define STREAMS 400

/* ---- random data ---------------------------------------------------------------- */

/* Random bytes that never spell a key the checks look for ('=' and NUL excluded). */
static void rnd_bytes(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		p[i] = (uint8_t)test_rnd();
		if (p[i] == '=' || p[i] == 0)
			p[i] = 'x';
	}
}

static uint64_t cur_seed;   /* the run's seed and stream, for failure messages */
static unsigned cur_stream;

#define failf(...) test_seed_fail(cur_seed, "stream", cur_stream, __VA_ARGS__)

/* ---- building PDUs ------------------------------------------------------------------ */

/* The PDUs of one stream in feeding order, each with its direction. */
struct event {
	enum pf_dir dir;
	size_t off, len; /* in the stream's bytes */
};

struct stream {
	struct pf_buf bytes;
	struct event ev[64];
	size_t n;
	int hd, dd;      /* digests in effect for the PDUs being generated */
	size_t login;    /* Login Requests (and as many Responses) before them */
	int texts;       /* Text PDUs in it */
};

static void add(struct pf_buf *b, const void *p, size_t n)
{
	assert_int_equal(pf_buf_add(b, p, n), 0);
}

/* Append one PDU: BHS from op/flags/ttt, ahs_words of AHS, data (len bytes). */
static void pdu(struct stream *s, enum pf_dir dir, uint8_t op, uint8_t flags, uint32_t ttt,
		unsigned ahs_words, const void *data, size_t len)
{
	uint8_t bhs[PDU_BHS_LEN], ahs[12], dg[4], pad[3] = { 0 };
	size_t start = s->bytes.len, padn = pdu_pad4(len) - len;
	uint32_t crc;

	assert_true(s->n < sizeof(s->ev) / sizeof(s->ev[0]));
	rnd_bytes(bhs, sizeof(bhs));
	bhs[0] = op;
	bhs[1] = flags;
	bhs[4] = (uint8_t)ahs_words;
	pdu_put24(bhs + 5, (uint32_t)len);
	pdu_put32(bhs + 20, ttt);
	rnd_bytes(ahs, sizeof(ahs));
	if (dir == PF_TO_TARGET && ahs_words) {
		/* an Extended CDB AHS (RFC 7143 §11.2.2.3) whose AHSLength fits, as the
		 * filter passes it; other_pdu draws the ones it refuses */
		unsigned len = 1 + (unsigned)test_below(4 * ahs_words - 3);

		ahs[0] = (uint8_t)(len >> 8);
		ahs[1] = (uint8_t)len;
		ahs[2] = 1;
	}
	add(&s->bytes, bhs, sizeof(bhs));
	add(&s->bytes, ahs, 4 * ahs_words);
	if (s->hd) {
		crc = pdu_crc32c(0, s->bytes.data + start, PDU_BHS_LEN + 4 * ahs_words);
		pdu_put_le32(dg, crc);
		add(&s->bytes, dg, 4);
	}
	if (len) {
		add(&s->bytes, data, len);
		add(&s->bytes, pad, padn);
		if (s->dd) {
			pdu_put_le32(dg, pdu_crc32c(0, s->bytes.data + s->bytes.len - len - padn,
						    len + padn));
			add(&s->bytes, dg, 4);
		}
	}
	s->ev[s->n].dir = dir;
	s->ev[s->n].off = start;
	s->ev[s->n].len = s->bytes.len - start;
	s->n++;
}

/* "key=value\0" appended to the text in b. */
static void key(struct pf_buf *b, const char *k, const char *v)
{
	add(b, k, strlen(k));
	add(b, "=", 1);
	add(b, v, strlen(v) + 1);
}

static void foreign_name(char *buf, size_t len)
{
	snprintf(buf, len, FOREIGN "t%u", (unsigned)test_below(1000));
}

/* The Login Phase: requests and responses, the last response final (T, NSG 3). */
static void login_phase(struct stream *s)
{
	unsigned rounds = 1 + (unsigned)test_below(3);
	int hd = test_chance(50), dd = test_chance(50);

	for (unsigned r = 0; r < rounds; r++) {
		struct pf_buf k = { 0 };
		uint8_t flags = r + 1 == rounds ? 0x87 : 0x01; /* T, CSG 1, NSG 3 */

		key(&k, "HeaderDigest", "CRC32C,None");
		key(&k, "MaxRecvDataSegmentLength", "262144");
		switch (test_below(40)) { /* now and then what the filter refuses */
		case 0: key(&k, "InitiatorName", "iqn.2099-01.test:spoof"); break;
		case 1: key(&k, "TargetName", FOREIGN "x"); break;
		case 2: flags |= PDU_CONTINUE; break;
		case 3: add(&k, "no-equals-sign", 15); break;
		default: break;
		}
		pdu(s, PF_TO_TARGET, PDU_OP_LOGIN_REQ | PDU_IMMEDIATE, flags, 0, 0, k.data, k.len);
		pf_buf_free(&k);

		key(&k, "HeaderDigest", r + 1 == rounds && hd ? "CRC32C" : "None");
		key(&k, "DataDigest", r + 1 == rounds && dd ? "CRC32C" : "None");
		pdu(s, PF_TO_INITIATOR, PDU_OP_LOGIN_RSP, flags & ~PDU_CONTINUE, 0, 0, k.data,
		    k.len);
		pf_buf_free(&k);
	}
	s->login = rounds;
	/* The final response (status 0, byte 36) turns the negotiated digests on. */
	s->bytes.data[s->ev[s->n - 1].off + 36] = 0;
	s->bytes.data[s->ev[s->n - 1].off + 37] = 0;
	s->hd = hd;
	s->dd = dd;
}

/* A Text Request: SendTargets for all, for a foreign target or for our own. */
static void text_request(struct stream *s)
{
	struct pf_buf k = { 0 };
	char name[64];
	uint8_t flags = PDU_FINAL;

	foreign_name(name, sizeof(name));
	switch (test_below(4)) {
	case 0: key(&k, "SendTargets", "All"); break;
	case 1: key(&k, "SendTargets", name); break;
	case 2: /* the key's start, to be continued (C bit, RFC 7143 §11.10.2) */
		add(&k, "SendTargets=All", 1 + test_below(15));
		flags = PDU_CONTINUE;
		break;
	default: key(&k, "SendTargets", OWN); break;
	}
	if (test_chance(10))
		flags |= PDU_CONTINUE;
	pdu(s, PF_TO_TARGET, PDU_OP_TEXT_REQ | PDU_IMMEDIATE, flags, PDU_RESERVED_TAG, 0,
	    k.data, k.len);
	pf_buf_free(&k);
	s->texts++;
}

/* A Text Response listing targets in random order, ours among them or not. */
static void text_response(struct stream *s)
{
	struct pf_buf k = { 0 };
	unsigned n = (unsigned)test_below(5);
	char name[64];

	for (unsigned i = 0; i < n; i++) {
		if (test_chance(30)) {
			key(&k, "TargetName", OWN);
			key(&k, "TargetAddress", "127.0.0.1:3262,1");
		} else {
			foreign_name(name, sizeof(name));
			key(&k, "TargetName", name);
			key(&k, "TargetAddress", FOREIGN "addr:3260,1");
		}
	}
	if (test_chance(10) && k.len > 4)
		k.len -= 1 + test_below(k.len / 2); /* cut inside a pair (a C-bit tail) */
	pdu(s, PF_TO_INITIATOR, PDU_OP_TEXT_RSP, test_chance(20) ? PDU_CONTINUE : PDU_FINAL,
	    PDU_RESERVED_TAG, 0, k.data, k.len);
	pf_buf_free(&k);
	s->texts++;
}

/* A PDU the filter passes unread: SCSI, Data, NOP, R2T, Logout, Reject. */
static void other_pdu(struct stream *s)
{
	static const uint8_t to_target[] = { 0x00, 0x01, 0x02, 0x05, 0x06 };
	static const uint8_t to_initiator[] = { 0x20, 0x21, 0x22, 0x25, 0x26, 0x31, 0x32,
						0x3f };
	enum pf_dir dir = test_chance(50) ? PF_TO_TARGET : PF_TO_INITIATOR;
	uint8_t op = dir == PF_TO_TARGET ? to_target[test_below(sizeof(to_target))]
					 : to_initiator[test_below(sizeof(to_initiator))];
	size_t len = test_chance(20) ? test_below(70000) : test_below(600);
	uint8_t *d = malloc(len ? len : 1);
	unsigned ahs_words;
	uint32_t ttt;
	uint8_t flags;

	assert_non_null(d);
	rnd_bytes(d, len);
	/* One draw at a time, in a defined order (arguments have none). From the
	 * initiator only a SCSI Command carries an AHS; now and then one that the filter
	 * refuses (pdufilter.h) ends the stream. */
	ahs_words = test_chance(10) ? 1 + (unsigned)test_below(3) : 0;
	if (dir == PF_TO_TARGET && op != PDU_OP_SCSI_CMD && !test_chance(1))
		ahs_words = 0;
	ttt = (uint32_t)test_rnd();
	flags = (uint8_t)test_rnd();
	pdu(s, dir, op, flags, ttt, ahs_words, d, len);
	free(d);
}

static void gen_stream(struct stream *s, int with_texts)
{
	unsigned n = 4 + (unsigned)test_below(30);

	memset(s, 0, sizeof(*s));
	login_phase(s);
	for (unsigned i = 0; i < n; i++) {
		if (with_texts && test_chance(25)) {
			if (test_chance(50))
				text_request(s);
			else
				text_response(s);
		} else {
			other_pdu(s);
		}
	}
}

/* ---- feeding a stream --------------------------------------------------------------- */

/*
 * Feed bytes [p, p + len) of direction d in random pieces; where the filter says the
 * next bytes go on unread, pass a random share of them straight to out[d] (the
 * relay's splice) and tell the filter. 0 or what pdufilter_feed returned.
 */
static int feed_run(struct pdufilter *f, enum pf_dir d, const uint8_t *p, size_t len,
		    struct pf_buf *out)
{
	size_t at = 0;

	while (at < len) {
		uint64_t opaque = pdufilter_opaque(f, d);
		size_t k;
		int r;

		if (opaque && test_chance(50)) {
			k = (size_t)(1 + test_below(opaque));
			if (k > len - at)
				k = len - at;
			add(&out[d], p + at, k);
			pdufilter_skip(f, d, k);
			at += k;
			continue;
		}
		k = test_chance(30) ? 1 + (size_t)test_below(8) : 1 + (size_t)test_below(len - at);
		if (k > len - at)
			k = len - at;
		r = pdufilter_feed(f, d, p + at, k, &out[d]);
		if (r)
			return r;
		at += k;
	}
	return 0;
}

/* Feed the whole stream, runs of one direction at a time. 0 or -EPROTO. */
static int feed_stream(const struct stream *s, struct pf_buf out[2], struct pf_buf in[2])
{
	struct pdufilter_cfg c = { .target = OWN, .public_addr = PUB, .peer = "192.0.2.1" };
	struct pdufilter *f = pdufilter_new(&c);
	int r = 0;

	assert_non_null(f);
	for (size_t i = 0; i < s->n && !r;) {
		size_t j = i, off = s->ev[i].off, len = 0;

		while (j < s->n && s->ev[j].dir == s->ev[i].dir)
			len += s->ev[j++].len;
		add(&in[s->ev[i].dir], s->bytes.data + off, len);
		r = feed_run(f, s->ev[i].dir, s->bytes.data + off, len, out);
		if (r && r != -EPROTO)
			failf("pdufilter_feed returned %d", r);
		i = j;
	}
	pdufilter_free(f);
	return r;
}

/* ---- reading what came out ---------------------------------------------------------- */

/* One Text PDU's data: every "key=value" pair checked by dir's rule. */
static void check_text(enum pf_dir dir, const uint8_t *bhs, const uint8_t *data, size_t len)
{
	const char *own = "SendTargets=" OWN;

	if (dir == PF_TO_TARGET) {
		/* A new Text Request (RFC 7143 §11.10) reaches LIO whole, and asks SendTargets
		 * for our own target only (or nothing of SendTargets at all). */
		if (pdu_get32(bhs + 20) != PDU_RESERVED_TAG)
			return;
		if (bhs[1] & PDU_CONTINUE)
			failf("a Text Request with the C bit reached LIO");
		if (memmem(data, len, "SendTargets", 11) &&
		    (len != strlen(own) + 1 || memcmp(data, own, len)))
			failf("a Text Request reached LIO as %.*s", (int)len, (const char *)data);
		return;
	}
	for (size_t i = 0; i < len;) {
		const char *e = (const char *)data + i, *nul = memchr(e, 0, len - i);

		if (!nul)
			failf("a Text Response with an unterminated pair went on");
		if (!strncmp(e, "TargetName=", 11) && strcmp(e + 11, OWN))
			failf("a Text Response named %s", e + 11);
		if (!strncmp(e, "TargetAddress=", 14) && strncmp(e + 14, PUB ",", strlen(PUB) + 1))
			failf("a Text Response gave the address %s", e + 14);
		i += (size_t)(nul - e) + 1;
	}
}

/*
 * Walk the PDUs that went on in direction dir (RFC 7143 §11.2 framing): the first
 * `plain` without digests (the Login Phase), the rest with the negotiated ones, whose
 * CRC32C must be right (a rebuilt PDU gets them anew). Text PDUs are checked
 * (check_text). Returns the number of PDUs; the bytes must end with the last.
 */
static size_t walk(const struct pf_buf *b, enum pf_dir dir, size_t plain, int hd, int dd)
{
	size_t at = 0, count = 0;

	while (at < b->len) {
		const uint8_t *p = b->data + at;
		int dig = count >= plain;
		size_t hlen, len, padded;

		if (b->len - at < PDU_BHS_LEN)
			failf("a cut header at byte %zu", at);
		hlen = PDU_BHS_LEN + pdu_ahs_len(p);
		len = pdu_data_len(p);
		padded = pdu_pad4(len);
		if (b->len - at < hlen + (dig && hd ? 4 : 0) + padded + (dig && dd && len ? 4 : 0))
			failf("a cut PDU at byte %zu", at);
		if (dig && hd) {
			if (pdu_get_le32(p + hlen) != pdu_crc32c(0, p, hlen))
				failf("a wrong header digest at byte %zu", at);
			hlen += 4;
		}
		if (pdu_opcode(p) == (dir == PF_TO_TARGET ? PDU_OP_TEXT_REQ : PDU_OP_TEXT_RSP))
			check_text(dir, p, p + hlen, len);
		if (dig && dd && len) {
			if (pdu_get_le32(p + hlen + padded) != pdu_crc32c(0, p + hlen, padded))
				failf("a wrong data digest at byte %zu", at);
			padded += 4;
		}
		at += hlen + padded;
		count++;
	}
	return count;
}

static int has(const struct pf_buf *b, const char *s)
{
	return b->len && memmem(b->data, b->len, s, strlen(s)) != NULL;
}

static void run_streams(int with_texts)
{
	uint64_t seed = test_seed_from_env(DEFAULT_SEED) + (uint64_t)with_texts;
	unsigned whole = 0, texts = 0;

	test_rng_seed(seed);
	for (unsigned i = 0; i < STREAMS; i++) {
		struct stream s;
		struct pf_buf out[2] = { { 0 } }, in[2] = { { 0 } };
		int r;

		cur_seed = seed;
		cur_stream = i;
		gen_stream(&s, with_texts);
		r = feed_stream(&s, out, in);
		if (has(&out[PF_TO_TARGET], "SendTargets=A") ||
		    has(&out[PF_TO_TARGET], FOREIGN) || has(&out[PF_TO_INITIATOR], FOREIGN))
			failf("another target went through");
		if (!r) {
			size_t pdus[2] = { 0, 0 };

			for (size_t e = 0; e < s.n; e++)
				pdus[s.ev[e].dir]++;
			for (int d = 0; d < 2; d++)
				if (walk(&out[d], (enum pf_dir)d, s.login, s.hd, s.dd) != pdus[d])
					failf("direction %d lost or gained PDUs", d);
		}
		if (!r && !s.texts)
			for (int d = 0; d < 2; d++)
				if (out[d].len != in[d].len ||
				    memcmp(out[d].data, in[d].data, in[d].len))
					failf("direction %d changed", d);
		whole += !r;
		texts += !r && s.texts;
		for (int d = 0; d < 2; d++) {
			pf_buf_free(&out[d]);
			pf_buf_free(&in[d]);
		}
		pf_buf_free(&s.bytes);
	}
	print_message("seed 0x%llx: %u streams, %u whole (%u with Text PDUs)\n",
		      (unsigned long long)seed, STREAMS, whole, texts);
	assert_true(whole > STREAMS / 2);
	if (with_texts)
		assert_true(texts > STREAMS / 4);
}

static void test_passthrough(void **state)
{
	(void)state;
	run_streams(0);
}

static void test_with_text(void **state)
{
	(void)state;
	run_streams(1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_passthrough),
		cmocka_unit_test(test_with_text),
	};

	plog_quiet = 1; /* the refusals are expected; each is still formatted */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
