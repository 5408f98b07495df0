/*
 * fake_transport.h — an in-memory LUN behind the bridge's transport interface, for
 * the esp32 core's unit tests: logins can be made to fail, the link can be cut
 * before the n-th command, the next command can answer CHECK CONDITION with a given
 * sense, and a fake clock drives the reconnect backoff (no sleeping).
 */
#ifndef FAKE_TRANSPORT_H
#define FAKE_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "bridge.h"
#include "transport.h"

#define FAKE_BS 512u
#define FAKE_NB 64u

struct fake {
	uint8_t disk[FAKE_NB * FAKE_BS];
	bool up;
	int connect_fail;      /* fail this many logins from now */
	int cut_after;         /* -1: never; else TR_LINK on the command after this many more */
	bool check_next;       /* next block command answers CHECK CONDITION with sense */
	struct bsense sense;
	int connects, connect_calls, reads, writes, fua_writes, flushes, services;
	uint64_t now;          /* fake clock, ms */
};

static uint64_t fake_now(void *ctx) { return ((struct fake *)ctx)->now; }

static int fake_connect(void *ctx)
{
	struct fake *f = ctx;

	f->connect_calls++;
	if (f->connect_fail > 0) {
		f->connect_fail--;
		return -1;
	}
	f->up = true;
	f->connects++;
	return 0;
}

static void fake_disconnect(void *ctx) { ((struct fake *)ctx)->up = false; }

/* Common gate of every command: link up, not cut, not a programmed CHECK. */
static enum tr_status fake_gate(struct fake *f, struct bsense *s)
{
	if (!f->up)
		return TR_LINK;
	if (f->cut_after == 0) {
		f->up = false;
		f->cut_after = -1;
		return TR_LINK;
	}
	if (f->cut_after > 0)
		f->cut_after--;
	if (f->check_next) {
		f->check_next = false;
		*s = f->sense;
		return TR_CHECK;
	}
	return TR_OK;
}

static enum tr_status fake_capacity(void *ctx, uint64_t *nb, uint32_t *bs, struct bsense *s)
{
	struct fake *f = ctx;

	if (!f->up)
		return TR_LINK;
	(void)s;
	*nb = FAKE_NB;
	*bs = FAKE_BS;
	return TR_OK;
}

static enum tr_status fake_read(void *ctx, uint64_t lba, uint32_t n, uint8_t *buf,
				struct bsense *s)
{
	struct fake *f = ctx;
	enum tr_status st = fake_gate(f, s);

	if (st != TR_OK)
		return st;
	f->reads++;
	memcpy(buf, f->disk + lba * FAKE_BS, (size_t)n * FAKE_BS);
	return TR_OK;
}

static enum tr_status fake_write(void *ctx, uint64_t lba, uint32_t n, const uint8_t *buf,
				 bool fua, struct bsense *s)
{
	struct fake *f = ctx;
	enum tr_status st = fake_gate(f, s);

	if (st != TR_OK)
		return st;
	f->writes++;
	f->fua_writes += fua;
	memcpy(f->disk + lba * FAKE_BS, buf, (size_t)n * FAKE_BS);
	return TR_OK;
}

static enum tr_status fake_flush(void *ctx, struct bsense *s)
{
	struct fake *f = ctx;
	enum tr_status st = fake_gate(f, s);

	if (st == TR_OK)
		f->flushes++;
	return st;
}

static int fake_service(void *ctx, uint32_t timeout_ms)
{
	struct fake *f = ctx;

	(void)timeout_ms;
	f->services++;
	return f->up ? 0 : -1;
}

static const struct tr_ops fake_ops = {
	.connect = fake_connect, .disconnect = fake_disconnect, .capacity = fake_capacity,
	.read = fake_read, .write = fake_write, .flush = fake_flush, .service = fake_service,
};

/* A fake with a patterned disk (byte i = i * 7 + 1) and a bridge over it. */
static void fake_setup(struct fake *f, struct bridge *b, uint8_t *ra_buf, size_t ra_len,
		       uint32_t ra_blocks)
{
	struct bridge_config cfg = {
		.backoff_min_ms = 500, .backoff_max_ms = 4000,
		.ra_blocks = ra_blocks, .ra_buf = ra_buf, .ra_buf_len = ra_len,
		.now_ms = fake_now, .clock_ctx = f,
	};

	memset(f, 0, sizeof(*f));
	f->cut_after = -1;
	for (size_t i = 0; i < sizeof(f->disk); i++)
		f->disk[i] = (uint8_t)(i * 7 + 1);
	bridge_init(b, &fake_ops, f, &cfg);
}

#endif
