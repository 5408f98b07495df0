/*
 * pdufilter.c — PDU framing of a relayed session and the rewrites of pdufilter.h.
 */
#include "pdufilter.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "login.h"
#include "pdu.h"
#include "textkeys.h"

#define HDR_MAX (PDU_BHS_LEN + PDU_AHS_MAX + PDU_DIGEST_LEN)
#define FLAG_C 0x40   /* byte 1 of Login and Text PDUs: Continue */
#define FLAG_FT 0x80  /* byte 1: F (Text) / T (Login) */

struct pf_stream {
	uint8_t hdr[HDR_MAX];
	size_t hdr_have;     /* bytes of the current header collected */
	size_t hdr_need;     /* 0 until the BHS is in, then BHS + AHS + header digest */
	uint64_t skip;       /* bytes of the current PDU still to pass through */
	uint8_t *hold;       /* a whole PDU being collected, or NULL */
	size_t hold_have, hold_need;
};

struct pdufilter {
	char target[TK_NAME_VALUE_MAX + 1];
	char public_addr[TK_NAME_VALUE_MAX + 1];
	char peer[64];
	bool ffp;                 /* Full Feature Phase: digests as negotiated */
	bool hd, dd;              /* digests in effect */
	bool want_hd, want_dd;    /* as the target answered during the login */
	struct pf_stream s[2];
};

int pf_buf_add(struct pf_buf *b, const void *p, size_t n)
{
	if (n > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 4096;
		uint8_t *d;

		while (cap - b->len < n)
			cap *= 2;
		d = realloc(b->data, cap);
		if (!d)
			return -ENOMEM;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

void pf_buf_free(struct pf_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

struct pdufilter *pdufilter_new(const struct pdufilter_cfg *cfg)
{
	struct pdufilter *f;

	if (strlen(cfg->target) > TK_NAME_VALUE_MAX || strlen(cfg->public_addr) > TK_NAME_VALUE_MAX)
		return NULL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	snprintf(f->target, sizeof(f->target), "%s", cfg->target);
	snprintf(f->public_addr, sizeof(f->public_addr), "%s", cfg->public_addr);
	snprintf(f->peer, sizeof(f->peer), "%s", cfg->peer ? cfg->peer : "?");
	return f;
}

void pdufilter_free(struct pdufilter *f)
{
	if (!f)
		return;
	free(f->s[0].hold);
	free(f->s[1].hold);
	free(f);
}

uint64_t pdufilter_opaque(const struct pdufilter *f, enum pf_dir d)
{
	const struct pf_stream *s = &f->s[d];

	return s->hold ? 0 : s->skip;
}

void pdufilter_skip(struct pdufilter *f, enum pf_dir d, uint64_t n)
{
	struct pf_stream *s = &f->s[d];

	s->skip -= n <= s->skip ? n : s->skip;
}

size_t pdufilter_header_left(const struct pdufilter *f, enum pf_dir d)
{
	const struct pf_stream *s = &f->s[d];
	/* Before the BHS is in, its AHS length is unknown: the BHS and the digest. */
	size_t need = s->hdr_need ? s->hdr_need : PDU_BHS_LEN + (f->hd ? PDU_DIGEST_LEN : 0);

	if (s->hold || s->skip)
		return 0;
	return need > s->hdr_have ? need - s->hdr_have : 0;
}

void pdufilter_digests(const struct pdufilter *f, int *header, int *data)
{
	*header = f->hd;
	*data = f->dd;
}

int pdufilter_in_ffp(const struct pdufilter *f)
{
	return f->ffp;
}

/*
 * Append a PDU made of the header of held (BHS + AHS, with DataSegmentLength set to
 * len) and data, with the digests in effect.
 */
static int emit_rebuilt(struct pdufilter *f, const uint8_t *held, const void *data, size_t len,
			struct pf_buf *out)
{
	static const uint8_t zero[4];
	uint8_t hdr[PDU_BHS_LEN + PDU_AHS_MAX], dg[PDU_DIGEST_LEN];
	size_t hl = PDU_BHS_LEN + pdu_ahs_len(held), pad = pdu_pad4(len) - len;
	int r;

	memcpy(hdr, held, hl);
	pdu_put24(hdr + 5, (uint32_t)len);
	r = pf_buf_add(out, hdr, hl);
	if (!r && f->hd) {
		pdu_put_le32(dg, pdu_crc32c(0, hdr, hl));
		r = pf_buf_add(out, dg, sizeof(dg));
	}
	if (!r && len)
		r = pf_buf_add(out, data, len);
	if (!r && pad)
		r = pf_buf_add(out, zero, pad);
	if (!r && f->dd && len) {
		pdu_put_le32(dg, pdu_crc32c(pdu_crc32c(0, data, len), zero, pad));
		r = pf_buf_add(out, dg, sizeof(dg));
	}
	return r;
}

/* The data segment of a held PDU. */
static const uint8_t *held_data(const struct pdufilter *f, const uint8_t *held, uint32_t *len)
{
	*len = pdu_data_len(held);
	return held + PDU_BHS_LEN + pdu_ahs_len(held) + (f->hd ? PDU_DIGEST_LEN : 0);
}

/*
 * Walk "key=value\0" pairs as the target writes them (lenient: an entry without '='
 * or without its NUL is skipped). fn returns 0 to go on.
 */
static int each_pair(const uint8_t *data, size_t len,
		     int (*fn)(void *arg, const char *key, size_t klen, const char *value),
		     void *arg)
{
	size_t i = 0;

	while (i < len) {
		const char *e = (const char *)data + i;
		const char *nul = memchr(e, '\0', len - i);
		const char *eq;
		int r;

		if (!nul)
			break; /* unterminated tail (C bit): not passed on */
		eq = memchr(e, '=', (size_t)(nul - e));
		if (eq && (r = fn(arg, e, (size_t)(eq - e), eq + 1)) != 0)
			return r;
		i += (size_t)(nul - e) + 1;
	}
	return 0;
}

static bool key_is(const char *key, size_t klen, const char *name)
{
	return strlen(name) == klen && !memcmp(key, name, klen);
}

static int note_digest(void *arg, const char *key, size_t klen, const char *value)
{
	struct pdufilter *f = arg;

	if (key_is(key, klen, "HeaderDigest"))
		f->want_hd = !strcmp(value, "CRC32C");
	else if (key_is(key, klen, "DataDigest"))
		f->want_dd = !strcmp(value, "CRC32C");
	return 0;
}

static int login_request(struct pdufilter *f, const uint8_t *held, struct pf_buf *out)
{
	struct tk_list l;
	uint32_t len;
	const uint8_t *data = held_data(f, held, &len);
	char why[200] = "";
	uint16_t st;

	if (held[1] & FLAG_C) {
		plog("connection from %s closed: continued (C bit) Login Request", f->peer);
		return -EPROTO;
	}
	if (tk_parse(data, len, &l, why, sizeof(why)) < 0) {
		plog("connection from %s closed: Login Request keys: %s", f->peer, why);
		return -EPROTO;
	}
	st = login_check_identity_keys(&l, false, why, sizeof(why));
	tk_free(&l);
	if (st != LOGIN_OK) {
		plog("connection from %s closed: %s", f->peer, why);
		return -EPROTO;
	}
	return pf_buf_add(out, held, PDU_BHS_LEN + pdu_ahs_len(held) + pdu_pad4(len));
}

static int login_response(struct pdufilter *f, const uint8_t *held, size_t held_len,
			  struct pf_buf *out)
{
	uint32_t len;
	const uint8_t *data = held_data(f, held, &len);
	int r;

	each_pair(data, len, note_digest, f);
	r = pf_buf_add(out, held, held_len);
	/* The final response: Full Feature Phase from the next PDU on (§6.3, §13.1). */
	if (!r && (held[1] & FLAG_FT) && (held[1] & 3) == LOGIN_STAGE_FULL_FEATURE &&
	    held[36] == 0) {
		f->ffp = true;
		f->hd = f->want_hd;
		f->dd = f->want_dd;
	}
	return r;
}

static int text_request(struct pdufilter *f, const uint8_t *held, size_t held_len,
			struct pf_buf *out)
{
	uint8_t hdr[PDU_BHS_LEN + PDU_AHS_MAX];
	char st[TK_NAME_VALUE_MAX + 16];
	uint32_t len;
	const uint8_t *data = held_data(f, held, &len);
	int n;

	/* A continuation of a long response (§11.10.4) carries no keys of its own. */
	if (pdu_get32(held + 20) != PDU_RESERVED_TAG ||
	    (!(held[1] & FLAG_C) && !memmem(data, len, "SendTargets", 11)))
		return pf_buf_add(out, held, held_len);
	memcpy(hdr, held, PDU_BHS_LEN + pdu_ahs_len(held));
	hdr[1] = (uint8_t)((hdr[1] & ~FLAG_C) | FLAG_FT);
	n = snprintf(st, sizeof(st), "SendTargets=%s", f->target);
	plog_debug("connection from %s: SendTargets in a Normal session answered for %s only",
		   f->peer, f->target);
	return emit_rebuilt(f, hdr, st, (size_t)n + 1, out);
}

struct text_rsp {
	struct pdufilter *f;
	struct tk_buf b;
	bool own;      /* the pairs since the last TargetName belong to our target */
};

static int filter_pair(void *arg, const char *key, size_t klen, const char *value)
{
	struct text_rsp *t = arg;
	char k[TK_KEY_MAX + 1], addr[2 * TK_NAME_VALUE_MAX + 2];
	const char *tpgt;

	if (klen > TK_KEY_MAX)
		return 0;
	memcpy(k, key, klen);
	k[klen] = '\0';
	if (!strcmp(k, "TargetName"))
		t->own = !strcmp(value, t->f->target);
	if (!t->own)
		return 0;
	if (strcmp(k, "TargetAddress"))
		return tk_buf_add(&t->b, k, value);
	tpgt = strrchr(value, ',');
	snprintf(addr, sizeof(addr), "%s%s", t->f->public_addr, tpgt ? tpgt : ",1");
	return tk_buf_add(&t->b, k, addr);
}

static int text_response(struct pdufilter *f, const uint8_t *held, struct pf_buf *out)
{
	struct text_rsp t = { .f = f };
	uint32_t len;
	const uint8_t *data = held_data(f, held, &len);
	int r;

	tk_buf_init(&t.b);
	each_pair(data, len, filter_pair, &t);
	r = t.b.err;
	if (!r)
		r = emit_rebuilt(f, held, t.b.data, t.b.len, out);
	tk_buf_free(&t.b);
	return r;
}

/* A whole held PDU of direction d. */
static int process(struct pdufilter *f, enum pf_dir d, const uint8_t *held, size_t len,
		   struct pf_buf *out)
{
	unsigned op = pdu_opcode(held);

	if (d == PF_TO_TARGET && op == PDU_OP_LOGIN_REQ)
		return login_request(f, held, out);
	if (d == PF_TO_TARGET && op == PDU_OP_TEXT_REQ)
		return text_request(f, held, len, out);
	if (d == PF_TO_INITIATOR && op == PDU_OP_LOGIN_RSP)
		return login_response(f, held, len, out);
	if (d == PF_TO_INITIATOR && op == PDU_OP_TEXT_RSP)
		return text_response(f, held, out);
	return pf_buf_add(out, held, len);
}

static bool wanted(const struct pdufilter *f, enum pf_dir d, unsigned op)
{
	if (d == PF_TO_TARGET)
		return op == PDU_OP_TEXT_REQ || (!f->ffp && op == PDU_OP_LOGIN_REQ);
	return op == PDU_OP_TEXT_RSP || (!f->ffp && op == PDU_OP_LOGIN_RSP);
}

#define AHS_TYPE_EXTENDED_CDB 1

/*
 * The AHS of an initiator's PDU, as LIO would read it (RFC 7143 §11.2.2). Only a SCSI
 * Command may carry one, and LIO reads only an Extended CDB AHS (§11.2.2.3: AHSLength
 * = CDB length - 15, counting the reserved byte; its CDB bytes follow the 4-byte
 * AHS header). Refused: an AHS on any other PDU (LIO does not read a Login Request's,
 * so keys hidden there would reach it unchecked), and an Extended CDB AHS whose
 * AHSLength is 0 or runs past the AHS sent (Linux 6.0 and later copy AHSLength - 1
 * bytes from it without a check: 0 overflows a kernel heap buffer). Another first AHS
 * type passes: LIO rejects the command itself. 0, or -EPROTO (logged).
 */
static int ahs_check(const struct pdufilter *f, const uint8_t *hdr)
{
	size_t total = pdu_ahs_len(hdr);
	const uint8_t *ahs = hdr + PDU_BHS_LEN;
	unsigned len;

	if (!total)
		return 0;
	if (pdu_opcode(hdr) != PDU_OP_SCSI_CMD) {
		plog("connection from %s closed: PDU 0x%02x with a %zu-byte AHS (only a SCSI "
		     "Command has one)", f->peer, pdu_opcode(hdr), total);
		return -EPROTO;
	}
	len = (unsigned)ahs[0] << 8 | ahs[1];
	if (ahs[2] == AHS_TYPE_EXTENDED_CDB && (len == 0 || 3 + (size_t)len > total)) {
		plog("connection from %s closed: Extended CDB AHS with AHSLength %u in a "
		     "%zu-byte AHS", f->peer, len, total);
		return -EPROTO;
	}
	return 0;
}

/* The header of s is complete: hold the PDU, or pass its header on and skip its body. */
static int header_done(struct pdufilter *f, enum pf_dir d, struct pf_stream *s,
		       struct pf_buf *out)
{
	uint32_t dl = pdu_data_len(s->hdr);
	uint64_t body = pdu_pad4(dl) + (f->dd && dl ? PDU_DIGEST_LEN : 0);
	int r = 0;

	if (d == PF_TO_TARGET && (r = ahs_check(f, s->hdr)) < 0)
		return r;

	if (wanted(f, d, pdu_opcode(s->hdr))) {
		if (dl > PDUFILTER_HOLD_MAX) {
			plog("connection from %s closed: %s PDU 0x%02x with %u data bytes (over %u)",
			     f->peer, d == PF_TO_TARGET ? "initiator" : "target",
			     pdu_opcode(s->hdr), dl, PDUFILTER_HOLD_MAX);
			return -EPROTO;
		}
		s->hold_need = s->hdr_need + (size_t)body;
		s->hold = malloc(s->hold_need);
		if (!s->hold)
			return -ENOMEM;
		memcpy(s->hold, s->hdr, s->hdr_need);
		s->hold_have = s->hdr_need;
	} else {
		r = pf_buf_add(out, s->hdr, s->hdr_need);
		s->skip = body;
	}
	s->hdr_have = s->hdr_need = 0;
	return r;
}

int pdufilter_feed(struct pdufilter *f, enum pf_dir d, const uint8_t *in, size_t n,
		   struct pf_buf *out)
{
	struct pf_stream *s = &f->s[d];
	int r;

	while (n || (s->hold && s->hold_have == s->hold_need)) {
		size_t k;

		if (s->hold) {
			k = s->hold_need - s->hold_have < n ? s->hold_need - s->hold_have : n;
			memcpy(s->hold + s->hold_have, in, k);
			s->hold_have += k;
			in += k;
			n -= k;
			if (s->hold_have < s->hold_need)
				continue;
			r = process(f, d, s->hold, s->hold_need, out);
			free(s->hold);
			s->hold = NULL;
			if (r < 0)
				return r;
			continue;
		}
		if (s->skip) {
			k = s->skip < n ? (size_t)s->skip : n;
			if ((r = pf_buf_add(out, in, k)) < 0)
				return r;
			s->skip -= k;
			in += k;
			n -= k;
			continue;
		}
		{
			size_t need = s->hdr_need ? s->hdr_need : PDU_BHS_LEN;

			k = need - s->hdr_have < n ? need - s->hdr_have : n;
			memcpy(s->hdr + s->hdr_have, in, k);
			s->hdr_have += k;
			in += k;
			n -= k;
			if (s->hdr_have < need)
				continue;
			if (!s->hdr_need) {
				s->hdr_need = PDU_BHS_LEN + pdu_ahs_len(s->hdr) +
					      (f->hd ? PDU_DIGEST_LEN : 0);
				if (s->hdr_have < s->hdr_need)
					continue;
			}
			if ((r = header_done(f, d, s, out)) < 0)
				return r;
		}
	}
	return 0;
}
