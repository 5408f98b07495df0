/*
 * fake_bot_io.h — bulk endpoints for bot_command in unit tests: bulk-in bytes are
 * collected in `in`, bulk-out bytes come from `out`, stalls are recorded.
 */
#ifndef FAKE_BOT_IO_H
#define FAKE_BOT_IO_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "bot.h"

struct fio {
	uint8_t in[64 * 1024];
	uint32_t in_len;
	const uint8_t *out;
	uint32_t out_len, out_pos;
	bool stall_in, stall_out;
};

static int fio_send(void *ctx, const uint8_t *buf, uint32_t len)
{
	struct fio *f = ctx;

	if (f->in_len + len > sizeof(f->in))
		return -1;
	memcpy(f->in + f->in_len, buf, len);
	f->in_len += len;
	return 0;
}

static int fio_recv(void *ctx, uint8_t *buf, uint32_t len)
{
	struct fio *f = ctx;

	if (f->out_pos + len > f->out_len)
		return -1;
	memcpy(buf, f->out + f->out_pos, len);
	f->out_pos += len;
	return 0;
}

static void fio_stall(void *ctx, bool in)
{
	struct fio *f = ctx;

	if (in)
		f->stall_in = true;
	else
		f->stall_out = true;
}

/* A CBW (BOT §5.1) for cdb[0..cdb_len-1]. */
static void mk_cbw(uint8_t cbw[31], uint32_t tag, uint32_t len, bool in,
		   const uint8_t *cdb, uint8_t cdb_len)
{
	memset(cbw, 0, 31);
	cbw[0] = 'U'; cbw[1] = 'S'; cbw[2] = 'B'; cbw[3] = 'C';
	cbw[4] = (uint8_t)tag; cbw[5] = (uint8_t)(tag >> 8);
	cbw[6] = (uint8_t)(tag >> 16); cbw[7] = (uint8_t)(tag >> 24);
	cbw[8] = (uint8_t)len; cbw[9] = (uint8_t)(len >> 8);
	cbw[10] = (uint8_t)(len >> 16); cbw[11] = (uint8_t)(len >> 24);
	cbw[12] = in ? 0x80 : 0x00;
	cbw[14] = cdb_len;
	memcpy(cbw + 15, cdb, cdb_len);
}

/* The CSW at the end of what the device sent. */
static const uint8_t *last_csw(const struct fio *f)
{
	return f->in_len >= 13 ? f->in + f->in_len - 13 : NULL;
}

static uint32_t csw_residue(const uint8_t *c)
{
	return (uint32_t)c[8] | (uint32_t)c[9] << 8 | (uint32_t)c[10] << 16 | (uint32_t)c[11] << 24;
}

#endif
