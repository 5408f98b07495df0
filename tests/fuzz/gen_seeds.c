/*
 * gen_seeds.c — writes the seed corpus of fuzz_login into the directory argv[1]:
 * whole initiator byte streams, one file each, built from RFC 7143 PDUs (Login
 * Request §11.12, Text Request §11.10, NOP-Out §11.18, Logout Request §11.14, SCSI
 * Command §11.3), with key=value data segments (§6.1) padded to 4 bytes (§11.1).
 *
 * Seeds: a whole discovery session in two login stages with SendTargets=All and its
 * continuation (MaxRecvDataSegmentLength=512), a one-PDU discovery login with
 * SendTargets=All and =<iqn>, a normal login, a leading login split over two PDUs
 * with the C bit, a discovery login whose later requests use C and stay in a stage,
 * data segments over the portal's bound (first PDU and later), odd UTF-8 values, a
 * discovery session with CRC32C header and data digests (§13.1; digests follow the
 * BHS and the padded data segment, least significant byte first), and the inputs of
 * bugs the fuzzer found (an empty Text Response; an invalid MaxRecvDataSegmentLength).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pdu.h"

#define K(lit) lit, sizeof(lit) - 1
#define INITIATOR "InitiatorName=iqn.1994-05.com.example:client\0"
#define BLANK "iqn.2025-01.pub.scsipub:blank"

struct stream {
	uint8_t buf[16384];
	size_t len;
	uint32_t cmdsn, itt;
	int digests;          /* add CRC32C header and data digests */
};

/* CRC32C (Castagnoli, reflected polynomial 0x82f63b78), bit by bit: seeds are few. */
static uint32_t crc32c(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1u)));
	}
	return ~c;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put(struct stream *s, uint8_t op, uint8_t flags, uint32_t ttt, const void *data,
		size_t dlen, uint32_t claimed_dlen)
{
	uint8_t *b = s->buf + s->len;
	size_t hd = s->digests ? 4 : 0, dd = s->digests && dlen ? 4 : 0;
	size_t total = PDU_BHS_LEN + hd + pdu_pad4(dlen) + dd;

	if (s->len + total > sizeof(s->buf)) {
		fprintf(stderr, "gen_seeds: seed too large\n");
		exit(1);
	}
	memset(b, 0, total);
	b[0] = op;
	b[1] = flags;
	pdu_put24(b + 5, claimed_dlen);
	if ((op & 0x3f) == PDU_OP_LOGIN_REQ)
		memcpy(b + 8, "\x80\x00\x00\x01\x00\x00", 6); /* ISID: OUI format, §10.12.5 */
	pdu_put32(b + 16, s->itt++);
	pdu_put32(b + 20, ttt);
	pdu_put32(b + 24, s->cmdsn);
	if (!(op & PDU_IMMEDIATE) && (op & 0x3f) != PDU_OP_LOGIN_REQ)
		s->cmdsn++;
	if (dlen)
		memcpy(b + PDU_BHS_LEN + hd, data, dlen);
	if (hd)
		put_le32(b + PDU_BHS_LEN, crc32c(b, PDU_BHS_LEN));
	if (dd)
		put_le32(b + PDU_BHS_LEN + hd + pdu_pad4(dlen),
			 crc32c(b + PDU_BHS_LEN + hd, pdu_pad4(dlen)));
	s->len += total;
}

/* Login Request flags: T, C, CSG, NSG (§11.12.1). */
static uint8_t lflags(int t, int c, int csg, int nsg)
{
	return (uint8_t)((t ? 0x80 : 0) | (c ? 0x40 : 0) | csg << 2 | nsg);
}

static void login(struct stream *s, uint8_t flags, const void *d, size_t n)
{
	put(s, PDU_OP_LOGIN_REQ | PDU_IMMEDIATE, flags, 0, d, n, (uint32_t)n);
}

static void text(struct stream *s, uint32_t ttt, const void *d, size_t n)
{
	put(s, PDU_OP_TEXT_REQ, PDU_FINAL, ttt, d, n, (uint32_t)n);
}

static void logout(struct stream *s)
{
	put(s, PDU_OP_LOGOUT_REQ | PDU_IMMEDIATE, PDU_FINAL, 0, NULL, 0, 0);
}

static void save(const char *dir, const char *name, const struct stream *s)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(s->buf, 1, s->len, f) != s->len || fclose(f) != 0) {
		fprintf(stderr, "gen_seeds: %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

int main(int argc, char **argv)
{
	static const char disc_ops[] =
		"HeaderDigest=None,CRC32C\0DataDigest=None\0MaxRecvDataSegmentLength=512\0"
		"DefaultTime2Wait=2\0DefaultTime2Retain=0\0ErrorRecoveryLevel=0\0"
		"IFMarker=No\0OFMarker=No\0MaxConnections=1\0iSCSIProtocolLevel=1\0"
		"X-com.example.unknown=1\0";
	struct stream s;

	if (argc != 2) {
		fprintf(stderr, "usage: gen_seeds DIR\n");
		return 2;
	}

	/* 1: a whole discovery session, security then operational stage. */
	memset(&s, 0, sizeof(s));
	login(&s, lflags(1, 0, 0, 1),
	      K(INITIATOR "SessionType=Discovery\0AuthMethod=CHAP,None\0InitiatorAlias=client\0"));
	login(&s, lflags(1, 0, 1, 3), disc_ops, sizeof(disc_ops) - 1);
	text(&s, PDU_RESERVED_TAG, K("SendTargets=All\0"));
	text(&s, 1, NULL, 0);
	text(&s, 2, NULL, 0);
	text(&s, 3, NULL, 0);
	put(&s, PDU_OP_NOP_OUT | PDU_IMMEDIATE, PDU_FINAL, PDU_RESERVED_TAG, K("ping"), 4);
	put(&s, PDU_OP_SCSI_CMD, PDU_FINAL, 0, NULL, 0, 0);
	logout(&s);
	save(argv[1], "discovery-session", &s);

	/* 2: one-PDU discovery login, SendTargets=All and =<iqn>. */
	memset(&s, 0, sizeof(s));
	s.cmdsn = 7;
	login(&s, lflags(1, 0, 1, 3), K(INITIATOR "SessionType=Discovery\0"));
	text(&s, PDU_RESERVED_TAG, K("SendTargets=All\0"));
	text(&s, PDU_RESERVED_TAG, K("SendTargets=" BLANK "\0"));
	text(&s, PDU_RESERVED_TAG, K("X-unknown=1\0"));
	logout(&s);
	save(argv[1], "discovery-sendtargets", &s);

	/* 3: a normal login (the portal would provision and relay it). */
	memset(&s, 0, sizeof(s));
	login(&s, lflags(1, 0, 0, 1),
	      K(INITIATOR "TargetName=" BLANK "\0SessionType=Normal\0AuthMethod=None\0"));
	save(argv[1], "normal-login", &s);

	/* 4: a leading login continued over two PDUs (C bit). */
	memset(&s, 0, sizeof(s));
	login(&s, lflags(0, 1, 0, 1), K("InitiatorName=iqn.1994-05.com.exa"));
	login(&s, lflags(1, 0, 0, 1), K("mple:client\0SessionType=Discovery\0"));
	save(argv[1], "login-continue", &s);

	/* 5: discovery login staying in stages, a continued request, then logout. */
	memset(&s, 0, sizeof(s));
	login(&s, lflags(0, 0, 0, 0), K(INITIATOR "SessionType=Discovery\0AuthMethod=None\0"));
	login(&s, lflags(1, 0, 0, 1), NULL, 0);
	login(&s, lflags(0, 0, 1, 0), K("HeaderDigest=CRC32C\0MaxBurstLength=262144\0"));
	login(&s, lflags(0, 1, 1, 0), K("DataDigest=None\0"));
	login(&s, lflags(1, 0, 1, 3), NULL, 0);
	text(&s, PDU_RESERVED_TAG, K("SendTargets=All\0"));
	logout(&s);
	save(argv[1], "discovery-stages-continue", &s);

	/* 6: a first PDU whose data segment is over the bound. */
	memset(&s, 0, sizeof(s));
	put(&s, PDU_OP_LOGIN_REQ | PDU_IMMEDIATE, lflags(1, 0, 1, 3), 0, K(INITIATOR), 0x100000);
	save(argv[1], "oversize-first", &s);

	/* 7: a later PDU over the bound, inside a discovery session. */
	memset(&s, 0, sizeof(s));
	login(&s, lflags(1, 0, 0, 1), K(INITIATOR "SessionType=Discovery\0"));
	put(&s, PDU_OP_LOGIN_REQ | PDU_IMMEDIATE, lflags(1, 0, 1, 3), 0, NULL, 0, 0xffffff);
	save(argv[1], "oversize-later", &s);

	/* 8: UTF-8 values and odd-but-valid keys. */
	memset(&s, 0, sizeof(s));
	login(&s, lflags(1, 0, 1, 3),
	      K(INITIATOR "SessionType=Discovery\0InitiatorAlias=\xc3\xbc" "n\xc3\xaf" "c\xc3\xb6" "de "
		"\xe2\x82\xac \xf0\x9f\x92\xbe\0X.a+b@c_d-e=\0"));
	logout(&s);
	save(argv[1], "utf8-values", &s);

	/* 9: CRC32C digests in Full Feature Phase. */
	memset(&s, 0, sizeof(s));
	login(&s, lflags(1, 0, 1, 3),
	      K(INITIATOR "SessionType=Discovery\0HeaderDigest=CRC32C,None\0"
		"DataDigest=CRC32C\0MaxRecvDataSegmentLength=512\0"));
	s.digests = 1;
	text(&s, PDU_RESERVED_TAG, K("SendTargets=All\0"));
	text(&s, 1, NULL, 0);
	put(&s, PDU_OP_NOP_OUT | PDU_IMMEDIATE, PDU_FINAL, PDU_RESERVED_TAG, K("ping"), 4);
	logout(&s);
	save(argv[1], "discovery-digests", &s);

	/* 10: found by the fuzzer: Text Requests with an empty answer. */
	memset(&s, 0, sizeof(s));
	login(&s, lflags(1, 0, 1, 3), K(INITIATOR "SessionType=Discovery\0"));
	text(&s, PDU_RESERVED_TAG, NULL, 0);
	text(&s, PDU_RESERVED_TAG, K("SendTargets=iqn.2025-01.pub.scsipub:image.none\0"));
	logout(&s);
	save(argv[1], "regress-empty-text", &s);

	/* 11: found by the fuzzer: an invalid MaxRecvDataSegmentLength. */
	memset(&s, 0, sizeof(s));
	login(&s, lflags(1, 0, 1, 3),
	      K(INITIATOR "SessionType=Discovery\0MaxRecvDataSegmentLength=511\0"));
	save(argv[1], "regress-bad-mrdsl", &s);
	return 0;
}
