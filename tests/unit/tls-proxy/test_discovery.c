/*
 * test_discovery.c — the discovery session state machine (tls-proxy/discovery.c)
 * driven in memory by a scripted initiator: security and operational login stages
 * with key answers, TSIH and sequence numbers, SendTargets=All listing blank and the
 * catalog at the public address, SendTargets=<iqn>, Text Response continuation when
 * the initiator's MaxRecvDataSegmentLength is small, NOP-Out/NOP-In, Logout, a
 * rejected leading login, and CRC32C header/data digests (negotiation in the
 * initiator's order, digests on every Full Feature Phase PDU both ways, a data digest
 * error rejected, a header digest error closing).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "discovery.h"
#include "pdu.h"
#include "textkeys.h"

#define PUBLIC "203.0.113.7:3260"
#define K(lit) lit, sizeof(lit) - 1

static char imgdir[64];

/* ---- a request builder ---- */
static size_t put_pdu(uint8_t *out, uint8_t op, uint8_t flags, uint32_t itt, uint32_t ttt,
		      uint32_t cmdsn, const void *data, size_t dlen)
{
	memset(out, 0, 48 + pdu_pad4(dlen));
	out[0] = op;
	out[1] = flags;
	pdu_put24(out + 5, (uint32_t)dlen);
	if ((op & 0x3f) == PDU_OP_LOGIN_REQ)
		memcpy(out + 8, "\x80\x00\x00\x01\x00\x00", 6);
	pdu_put32(out + 16, itt);
	pdu_put32(out + 20, ttt);
	pdu_put32(out + 24, cmdsn);
	if (dlen)
		memcpy(out + 48, data, dlen);
	return 48 + pdu_pad4(dlen);
}

/* ---- response parsing ---- */
struct rsp {
	const uint8_t *bhs;
	const char *data;
	uint32_t dlen;
};

static size_t split(const uint8_t *out, size_t len, struct rsp *r, size_t max)
{
	size_t n = 0, pos = 0;

	while (pos + 48 <= len && n < max) {
		r[n].bhs = out + pos;
		r[n].dlen = pdu_data_len(out + pos);
		r[n].data = (const char *)out + pos + 48;
		pos += 48 + pdu_pad4(r[n].dlen);
		n++;
	}
	assert_int_equal(pos, len);
	return n;
}

static const char *key(const struct rsp *r, const char *k, struct tk_list *l)
{
	tk_free(l);
	assert_int_equal(tk_parse(r->data, r->dlen, l, NULL, 0), 0);
	return tk_get(l, k);
}

static int setup(void **state)
{
	FILE *f;

	(void)state;
	snprintf(imgdir, sizeof(imgdir), "/tmp/disc-test-%s", "");
	memset(imgdir + strlen(imgdir), 'X', 6); /* mkdtemp template */
	imgdir[strlen("/tmp/disc-test-") + 6] = '\0';
	assert_non_null(mkdtemp(imgdir));
	char p[128];
	snprintf(p, sizeof(p), "%s/debian.iso", imgdir);
	f = fopen(p, "w");
	fputs("iso", f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/sub", imgdir);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/sub/Disk.img", imgdir);
	f = fopen(p, "w");
	fputs("img", f);
	fclose(f);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", imgdir);
	return system(cmd);
}

static struct discovery_cfg cfg(void)
{
	struct discovery_cfg c = {
		.images_dir = imgdir, .public_addr = PUBLIC, .max_recv_dsl = 65536,
		.tsih = 0x77, .statsn = 100, .peer = "192.0.2.1",
	};
	return c;
}

static int run(const uint8_t *in, size_t len, struct pio_mem *m)
{
	struct discovery_cfg c = cfg();
	struct pdu first;
	struct pio_mem src;
	int r;

	pio_mem_init(&src, in, len);
	assert_int_equal(pdu_read(&src.io, 65536, &first), 0);
	pio_mem_init(m, in + src.in_pos, len - src.in_pos);
	r = discovery_run(&m->io, &first, &c);
	pdu_free(&first);
	return r;
}

static void test_full_session(void **state)
{
	uint8_t in[4096];
	size_t n = 0;
	struct pio_mem m;
	struct rsp r[8];
	struct tk_list l = { 0 };

	(void)state;
	n += put_pdu(in + n, 0x43, 0x81, 1, 0, 10,
		     K("InitiatorName=iqn.2025-01.test:init\0SessionType=Discovery\0"
		       "AuthMethod=CHAP,None\0"));
	n += put_pdu(in + n, 0x43, 0x87, 1, 0, 10,
		     K("HeaderDigest=None,CRC32C\0DataDigest=None\0"
		       "MaxRecvDataSegmentLength=32768\0DefaultTime2Wait=5\0"
		       "DefaultTime2Retain=20\0ErrorRecoveryLevel=2\0MaxConnections=1\0"
		       "X-com.example.Thing=1\0"));
	n += put_pdu(in + n, 0x04, 0x80, 2, 0xffffffff, 10, K("SendTargets=All\0"));
	n += put_pdu(in + n, 0x40, 0x80, 3, 0xffffffff, 11, K("ping"));
	n += put_pdu(in + n, 0x46, 0x80, 4, 0, 11, NULL, 0);
	assert_int_equal(run(in, n, &m), 0);
	assert_int_equal(split(m.out, m.out_len, r, 8), 5);

	/* Security stage → operational: AuthMethod=None, no TSIH yet. */
	assert_int_equal(r[0].bhs[0], 0x23);
	assert_int_equal(r[0].bhs[1], 0x81);
	assert_int_equal(r[0].bhs[36], 0);
	assert_int_equal(pdu_get16(r[0].bhs + 14), 0);
	assert_int_equal(pdu_get32(r[0].bhs + 16), 1);
	assert_int_equal(pdu_get32(r[0].bhs + 24), 100);       /* first StatSN */
	assert_int_equal(pdu_get32(r[0].bhs + 28), 10);        /* ExpCmdSN = CmdSN */
	assert_int_equal(pdu_get32(r[0].bhs + 32), 10 + DISCOVERY_CMD_WINDOW - 1);
	assert_memory_equal(r[0].bhs + 8, "\x80\x00\x00\x01\x00\x00", 6);
	assert_string_equal(key(&r[0], "AuthMethod", &l), "None");

	/* Operational → full feature: TSIH assigned, key answers. */
	assert_int_equal(r[1].bhs[1], 0x87);
	assert_int_equal(pdu_get16(r[1].bhs + 14), 0x77);
	assert_int_equal(pdu_get32(r[1].bhs + 24), 101);
	assert_string_equal(key(&r[1], "HeaderDigest", &l), "None");
	assert_string_equal(tk_get(&l, "DataDigest"), "None");
	assert_string_equal(tk_get(&l, "DefaultTime2Wait"), "5");
	assert_string_equal(tk_get(&l, "DefaultTime2Retain"), "0");
	assert_string_equal(tk_get(&l, "ErrorRecoveryLevel"), "0");
	assert_string_equal(tk_get(&l, "MaxConnections"), "Irrelevant");
	assert_string_equal(tk_get(&l, "X-com.example.Thing"), "NotUnderstood");
	assert_string_equal(tk_get(&l, "MaxRecvDataSegmentLength"), "65536");
	tk_free(&l);

	/* SendTargets=All: blank, both images, multi (the two images: the default) and each
	 * image's read-only export, all at the public address. */
	assert_int_equal(r[2].bhs[0], 0x24);
	assert_int_equal(r[2].bhs[1], 0x80);
	assert_int_equal(pdu_get32(r[2].bhs + 16), 2);
	assert_int_equal(pdu_get32(r[2].bhs + 20), 0xffffffff);
	assert_int_equal(pdu_get32(r[2].bhs + 24), 102);
	assert_int_equal(pdu_get32(r[2].bhs + 28), 11);  /* the text request took CmdSN 10 */
	{
		static const char want[] =
			"TargetName=iqn.2025-01.pub.scsipub:blank\0TargetAddress=" PUBLIC ",1\0"
			"TargetName=iqn.2025-01.pub.scsipub:image.debian\0TargetAddress=" PUBLIC ",1\0"
			"TargetName=iqn.2025-01.pub.scsipub:image.sub.disk\0TargetAddress=" PUBLIC ",1\0"
			"TargetName=iqn.2025-01.pub.scsipub:multi\0TargetAddress=" PUBLIC ",1\0"
			"TargetName=iqn.2025-01.pub.scsipub:ro.debian\0TargetAddress=" PUBLIC ",1\0"
			"TargetName=iqn.2025-01.pub.scsipub:ro.sub.disk\0TargetAddress=" PUBLIC ",1\0";
		assert_int_equal(r[2].dlen, sizeof(want) - 1);
		assert_memory_equal(r[2].data, want, sizeof(want) - 1);
	}

	/* NOP-In echoes the ping. */
	assert_int_equal(r[3].bhs[0], 0x20);
	assert_int_equal(pdu_get32(r[3].bhs + 16), 3);
	assert_int_equal(pdu_get32(r[3].bhs + 20), 0xffffffff);
	assert_int_equal(r[3].dlen, 4);
	assert_memory_equal(r[3].data, "ping", 4);
	assert_int_equal(pdu_get32(r[3].bhs + 24), 103);

	/* Logout; the immediate NOP-Out and Logout consumed no CmdSN. */
	assert_int_equal(r[4].bhs[0], 0x26);
	assert_int_equal(r[4].bhs[1], 0x80);
	assert_int_equal(r[4].bhs[2], 0);
	assert_int_equal(pdu_get32(r[4].bhs + 16), 4);
	assert_int_equal(pdu_get32(r[4].bhs + 24), 104);
	assert_int_equal(pdu_get32(r[4].bhs + 28), 11);
	tk_free(&l);
	pio_mem_free(&m);
}

static void test_sendtargets_one_and_unknown_text(void **state)
{
	uint8_t in[2048];
	size_t n = 0;
	struct pio_mem m;
	struct rsp r[8];

	(void)state;
	/* Straight to full feature from the operational stage. */
	n += put_pdu(in + n, 0x43, 0x87, 1, 0, 1,
		     K("InitiatorName=iqn.x\0SessionType=Discovery\0"));
	n += put_pdu(in + n, 0x44, 0x80, 2, 0xffffffff, 1,
		     K("SendTargets=iqn.2025-01.pub.scsipub:image.debian\0"));
	n += put_pdu(in + n, 0x44, 0x80, 3, 0xffffffff, 2, K("SendTargets=iqn.nope\0X-y=1\0"));
	n += put_pdu(in + n, 0x01, 0x80, 4, 0, 3, NULL, 0);  /* SCSI command: rejected */
	n += put_pdu(in + n, 0x46, 0x80, 5, 0, 4, NULL, 0);
	assert_int_equal(run(in, n, &m), 0);
	assert_int_equal(split(m.out, m.out_len, r, 8), 5);
	assert_int_equal(pdu_get16(r[0].bhs + 14), 0x77);
	{
		static const char want[] = "TargetName=iqn.2025-01.pub.scsipub:image.debian\0"
					   "TargetAddress=" PUBLIC ",1\0";
		assert_int_equal(r[1].dlen, sizeof(want) - 1);
		assert_memory_equal(r[1].data, want, sizeof(want) - 1);
	}
	assert_int_equal(r[2].dlen, sizeof("X-y=NotUnderstood"));
	assert_memory_equal(r[2].data, "X-y=NotUnderstood", sizeof("X-y=NotUnderstood"));
	assert_int_equal(r[3].bhs[0], 0x3f);
	assert_int_equal(r[3].bhs[2], PDU_REJECT_CMD_NOT_SUPPORTED);
	assert_int_equal(r[4].bhs[0], 0x26);
	pio_mem_free(&m);
}

/* ---- continuation: an initiator that reads each part and asks for the next ---- */
struct chat {
	struct pio io;
	struct pio_mem out;      /* what the target wrote */
	uint8_t in[1024];
	size_t in_len, in_pos;
	size_t seen;             /* bytes of out already answered */
	unsigned parts;
	char text[8192];         /* reassembled SendTargets text */
	size_t text_len;
	int logged_out;
};

static void chat_next(struct chat *c)
{
	while (c->seen + 48 <= c->out.out_len && c->in_pos == c->in_len) {
		const uint8_t *b = c->out.out + c->seen;
		uint32_t dl = pdu_data_len(b);

		c->seen += 48 + pdu_pad4(dl);
		c->in_pos = 0;
		if (b[0] == 0x23) {
			c->in_len = put_pdu(c->in, 0x44, 0x80, 9, 0xffffffff, 1,
					    K("SendTargets=All\0"));
		} else if (b[0] == 0x24) {
			assert_true(dl <= 512);
			memcpy(c->text + c->text_len, b + 48, dl);
			c->text_len += dl;
			c->parts++;
			if (b[1] & 0x80) {
				assert_int_equal(pdu_get32(b + 20), 0xffffffff);
				c->in_len = put_pdu(c->in, 0x46, 0x80, 10, 0, 2, NULL, 0);
			} else {
				assert_int_not_equal(pdu_get32(b + 20), 0xffffffff);
				c->in_len = put_pdu(c->in, 0x44, 0x80, 9, pdu_get32(b + 20), 2,
						    NULL, 0);
			}
		} else if (b[0] == 0x26) {
			c->logged_out = 1;
			c->in_len = 0;
		}
	}
}

static ssize_t chat_read(struct pio *io, void *buf, size_t len)
{
	struct chat *c = (struct chat *)io;

	if (c->in_pos == c->in_len)
		chat_next(c);
	if (len > c->in_len - c->in_pos)
		len = c->in_len - c->in_pos;
	memcpy(buf, c->in + c->in_pos, len);
	c->in_pos += len;
	return (ssize_t)len;
}

static ssize_t chat_write(struct pio *io, const void *buf, size_t len)
{
	struct chat *c = (struct chat *)io;

	return c->out.io.write(&c->out.io, buf, len);
}

static void test_continuation(void **state)
{
	struct discovery_cfg dc = cfg();
	struct chat *c = calloc(1, sizeof(*c));
	uint8_t first[256];
	struct pio_mem src;
	struct pdu p;
	char path[128];

	(void)state;
	/* Enough images that the list needs several 512-byte parts. */
	for (int i = 0; i < 20; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/many-%02d.img", imgdir, i);
		f = fopen(path, "w");
		fputs("x", f);
		fclose(f);
	}
	c->io.read = chat_read;
	c->io.write = chat_write;
	c->io.fd = -1;
	pio_mem_init(&c->out, NULL, 0);
	pio_mem_init(&src, first, put_pdu(first, 0x43, 0x87, 1, 0, 1,
					  K("InitiatorName=iqn.x\0SessionType=Discovery\0"
					    "MaxRecvDataSegmentLength=512\0")));
	assert_int_equal(pdu_read(&src.io, 65536, &p), 0);
	assert_int_equal(discovery_run(&c->io, &p, &dc), 0);
	pdu_free(&p);
	c->in_pos = c->in_len;
	chat_next(c); /* look at the last response */
	assert_true(c->logged_out);
	assert_true(c->parts >= 4);
	/* The parts reassemble into a list with every target exactly once. */
	{
		struct tk_list l;
		int names = 0;

		assert_int_equal(tk_parse(c->text, c->text_len, &l, NULL, 0), -EINVAL); /* dup keys */
		for (size_t pos = 0; pos < c->text_len; pos += strlen(c->text + pos) + 1)
			if (!strncmp(c->text + pos, "TargetName=", 11))
				names++;
		assert_int_equal(names, 1 + 22 + 1 + 22); /* blank, images, multi, ro.* */
		assert_non_null(memmem(c->text, c->text_len,
				       "TargetName=iqn.2025-01.pub.scsipub:image.many-19\0"
				       "TargetAddress=" PUBLIC ",1", 49 + 14 + sizeof(PUBLIC) + 1));
	}
	pio_mem_free(&c->out);
	free(c);
	for (int i = 0; i < 20; i++) {
		snprintf(path, sizeof(path), "%s/many-%02d.img", imgdir, i);
		unlink(path);
	}
}

static void test_rejected_logins(void **state)
{
	uint8_t in[1024];
	size_t n;
	struct pio_mem m;
	struct rsp r[4];

	(void)state;
	/* No InitiatorName: one Login Response 0x0207, session over. */
	n = put_pdu(in, 0x43, 0x81, 1, 0, 5, K("SessionType=Discovery\0"));
	assert_int_equal(run(in, n, &m), -EPROTO);
	assert_int_equal(split(m.out, m.out_len, r, 4), 1);
	assert_int_equal(r[0].bhs[36], 0x02);
	assert_int_equal(r[0].bhs[37], 0x07);
	assert_int_equal(pdu_get32(r[0].bhs + 16), 1);
	pio_mem_free(&m);

	/* AuthMethod without None: authentication failure. */
	n = put_pdu(in, 0x43, 0x81, 1, 0, 5,
		    K("InitiatorName=iqn.x\0SessionType=Discovery\0AuthMethod=CHAP\0"));
	assert_int_equal(run(in, n, &m), -EPROTO);
	assert_int_equal(split(m.out, m.out_len, r, 4), 1);
	assert_int_equal(pdu_get16(r[0].bhs + 36), 0x0201);
	pio_mem_free(&m);

	/* Second login request in the wrong stage: initiator error. */
	n = put_pdu(in, 0x43, 0x81, 1, 0, 5, K("InitiatorName=iqn.x\0SessionType=Discovery\0"));
	n += put_pdu(in + n, 0x43, 0x83, 1, 0, 5, NULL, 0); /* CSG 0 again after moving to 1 */
	assert_int_equal(run(in, n, &m), -EPROTO);
	assert_int_equal(split(m.out, m.out_len, r, 4), 2);
	assert_int_equal(pdu_get16(r[1].bhs + 36), 0x0200);
	pio_mem_free(&m);

	/* Initiator hangs up mid-session. */
	n = put_pdu(in, 0x43, 0x87, 1, 0, 5, K("InitiatorName=iqn.x\0SessionType=Discovery\0"));
	assert_int_equal(run(in, n, &m), -EPIPE);
	pio_mem_free(&m);
}

/* ---- CRC32C digests (RFC 7143 §13.1, §7.8) ---- */

/* put_pdu with a header digest and, for a non-empty data segment, a data digest. */
static size_t put_pdu_dg(uint8_t *out, uint8_t op, uint8_t flags, uint32_t itt,
			 uint32_t cmdsn, const void *data, size_t dlen)
{
	uint8_t tmp[512];
	size_t n = put_pdu(tmp, op, flags, itt, 0xffffffff, cmdsn, data, dlen), pos = 0;
	uint32_t c = pdu_crc32c(0, tmp, 48);

	memcpy(out, tmp, 48);
	pos = 48;
	for (int i = 0; i < 4; i++)
		out[pos++] = (uint8_t)(c >> (8 * i));
	memcpy(out + pos, tmp + 48, n - 48);
	pos += n - 48;
	if (dlen) {
		c = pdu_crc32c(0, tmp + 48, n - 48);
		for (int i = 0; i < 4; i++)
			out[pos++] = (uint8_t)(c >> (8 * i));
	}
	return pos;
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Split digest-carrying responses, checking every digest. */
static size_t split_dg(const uint8_t *out, size_t len, struct rsp *r, size_t max)
{
	size_t n = 0, pos = 0;

	while (pos + 52 <= len && n < max) {
		size_t padded;

		r[n].bhs = out + pos;
		r[n].dlen = pdu_data_len(out + pos);
		assert_int_equal(get_le32(out + pos + 48), pdu_crc32c(0, out + pos, 48));
		r[n].data = (const char *)out + pos + 52;
		padded = pdu_pad4(r[n].dlen);
		pos += 52 + padded;
		if (r[n].dlen) {
			assert_int_equal(get_le32(out + pos), pdu_crc32c(0, r[n].data, padded));
			pos += 4;
		}
		n++;
	}
	assert_int_equal(pos, len);
	return n;
}

static void count_login(void *arg)
{
	(*(int *)arg)++;
}

static void test_digests(void **state)
{
	struct discovery_cfg c = cfg();
	uint8_t in[4096];
	size_t n = 0, login_len, bad_at;
	struct pio_mem src, m;
	struct pdu first;
	struct rsp r[8];
	struct tk_list l = { 0 };
	int logins = 0;

	(void)state;
	c.logged_in = count_login;
	c.arg = &logins;
	/* The initiator prefers CRC32C: that is the answer (first supported, §6.2.1). */
	n += put_pdu(in + n, 0x43, 0x87, 1, 0, 10,
		     K("InitiatorName=iqn.x\0SessionType=Discovery\0"
		       "HeaderDigest=CRC32C,None\0DataDigest=CRC32C\0"));
	login_len = n;
	n += put_pdu_dg(in + n, 0x04, 0x80, 2, 10,
			K("SendTargets=iqn.2025-01.pub.scsipub:image.debian\0"));
	bad_at = n;
	n += put_pdu_dg(in + n, 0x40, 0x80, 3, 11, K("ping"));
	n += put_pdu_dg(in + n, 0x40, 0x80, 4, 11, K("pong"));
	n += put_pdu_dg(in + n, 0x46, 0x80, 5, 11, NULL, 0);
	in[bad_at + 52] ^= 0x20; /* "ping" → "Ping": its data digest no longer matches */

	pio_mem_init(&src, in, n);
	assert_int_equal(pdu_read(&src.io, 65536, &first), 0);
	pio_mem_init(&m, in + src.in_pos, n - src.in_pos);
	assert_int_equal(discovery_run(&m.io, &first, &c), 0);
	pdu_free(&first);
	assert_int_equal(logins, 1);

	/* The final Login Response has no digests; everything after it has both. */
	assert_true(m.out_len > 48 + pdu_pad4(pdu_data_len(m.out)));
	{
		size_t lr = 48 + pdu_pad4(pdu_data_len(m.out));

		split(m.out, lr, r, 1);
		assert_string_equal(key(&r[0], "HeaderDigest", &l), "CRC32C");
		assert_string_equal(tk_get(&l, "DataDigest"), "CRC32C");
		tk_free(&l);
		assert_int_equal(split_dg(m.out + lr, m.out_len - lr, r, 8), 4);
	}
	assert_int_equal(r[0].bhs[0], 0x24);
	assert_non_null(memmem(r[0].data, r[0].dlen, "image.debian", 12));
	/* The corrupted NOP-Out gets a Reject "data digest error" carrying its header. */
	assert_int_equal(r[1].bhs[0], 0x3f);
	assert_int_equal(r[1].bhs[2], PDU_REJECT_DATA_DIGEST);
	assert_int_equal(pdu_get32((const uint8_t *)r[1].data + 16), 3);
	/* The session goes on: the next NOP-Out is echoed, then the logout. */
	assert_int_equal(r[2].bhs[0], 0x20);
	assert_memory_equal(r[2].data, "pong", 4);
	assert_int_equal(r[3].bhs[0], 0x26);
	pio_mem_free(&m);

	/* A header digest error ends the session without an answer. */
	n = login_len;
	n += put_pdu_dg(in + n, 0x40, 0x80, 3, 10, K("ping"));
	in[login_len + 20] ^= 0x01;
	pio_mem_init(&src, in, n);
	assert_int_equal(pdu_read(&src.io, 65536, &first), 0);
	pio_mem_init(&m, in + src.in_pos, n - src.in_pos);
	assert_int_equal(discovery_run(&m.io, &first, &c), -EBADMSG);
	pdu_free(&first);
	assert_int_equal(m.out_len, 48 + pdu_pad4(pdu_data_len(m.out))); /* login rsp only */
	pio_mem_free(&m);

	/* Neither CRC32C nor None offered: Reject, and the session has no digests. */
	n = put_pdu(in, 0x43, 0x87, 1, 0, 10,
		    K("InitiatorName=iqn.x\0SessionType=Discovery\0HeaderDigest=MD5\0"));
	n += put_pdu(in + n, 0x46, 0x80, 2, 0, 10, NULL, 0);
	assert_int_equal(run(in, n, &m), 0);
	assert_int_equal(split(m.out, m.out_len, r, 8), 2);
	assert_string_equal(key(&r[0], "HeaderDigest", &l), "Reject");
	tk_free(&l);
	pio_mem_free(&m);
}

/*
 * Regression (found by tests/fuzz/fuzz_login): an empty Text Response — a Text
 * Request without keys, or SendTargets naming no target — is one final Text Response
 * without data; the empty response has no buffer and the part offset was added to
 * its NULL pointer (undefined behaviour, reported by clang's UBSan).
 */
static void test_empty_text_response(void **state)
{
	uint8_t in[1024];
	size_t n;
	struct pio_mem m;
	struct rsp r[8];

	(void)state;
	n = put_pdu(in, 0x43, 0x87, 1, 0, 1, K("InitiatorName=iqn.x\0SessionType=Discovery\0"));
	n += put_pdu(in + n, 0x04, 0x80, 2, 0xffffffff, 1, NULL, 0);
	n += put_pdu(in + n, 0x04, 0x80, 3, 0xffffffff, 2, K("SendTargets=iqn.nope\0"));
	n += put_pdu(in + n, 0x46, 0x80, 4, 0, 3, NULL, 0);
	assert_int_equal(run(in, n, &m), 0);
	assert_int_equal(split(m.out, m.out_len, r, 8), 4);
	for (int i = 1; i <= 2; i++) {
		assert_int_equal(r[i].bhs[0], 0x24);
		assert_int_equal(r[i].bhs[1], 0x80);                      /* F, no C */
		assert_int_equal(r[i].dlen, 0);
		assert_int_equal(pdu_get32(r[i].bhs + 16), (uint32_t)i + 1); /* ITT */
		assert_int_equal(pdu_get32(r[i].bhs + 20), 0xffffffff);      /* no TTT */
	}
	assert_int_equal(r[3].bhs[0], 0x26);
	pio_mem_free(&m);
}

/*
 * Regression (found by tests/fuzz/fuzz_login): an invalid MaxRecvDataSegmentLength
 * was answered "MaxRecvDataSegmentLength=Reject" next to the portal's own declaration
 * of the same key, one key twice in a Login Response (RFC 7143 §6.2). Values outside
 * 512..16777215 (§13.12) now fail the login with an initiator error; the bounds pass.
 */
static void test_bad_mrdsl(void **state)
{
	static const char *const bad[] = { "abc", "511", "16777216", "", "0512x" };
	static const char *const good[] = { "512", "16777215" };
	uint8_t in[1024];
	char data[256];
	size_t n, dl;
	struct pio_mem m;
	struct rsp r[4];
	struct tk_list l = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]) + 2; i++) {
		bool ok = i >= sizeof(bad) / sizeof(bad[0]);
		const char *v = ok ? good[i - sizeof(bad) / sizeof(bad[0])] : bad[i];

		dl = (size_t)snprintf(data, sizeof(data), "InitiatorName=iqn.x%cSessionType=Discovery"
				      "%cMaxRecvDataSegmentLength=%s", 0, 0, v) + 1;
		n = put_pdu(in, 0x43, 0x87, 1, 0, 5, data, dl);
		assert_int_equal(run(in, n, &m), ok ? -EPIPE : -EPROTO);
		assert_int_equal(split(m.out, m.out_len, r, 4), 1);
		assert_int_equal(r[0].bhs[0], 0x23);
		if (ok) {
			assert_int_equal(pdu_get16(r[0].bhs + 36), 0);
			/* tk_parse refuses a key given twice. */
			assert_string_equal(key(&r[0], "MaxRecvDataSegmentLength", &l), "65536");
		} else {
			assert_int_equal(pdu_get16(r[0].bhs + 36), 0x0200);
			assert_int_equal(r[0].dlen, 0);
		}
		pio_mem_free(&m);
	}
	tk_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_session),
		cmocka_unit_test(test_sendtargets_one_and_unknown_text),
		cmocka_unit_test(test_continuation),
		cmocka_unit_test(test_rejected_logins),
		cmocka_unit_test(test_digests),
		cmocka_unit_test(test_empty_text_response),
		cmocka_unit_test(test_bad_mrdsl),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
