/* bot.c — see bot.h. Section numbers refer to USB MSC Bulk-Only Transport 1.0. */
#include <string.h>

#include "bot.h"

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

enum bot_cbw_check bot_cbw_parse(const uint8_t *buf, size_t len, uint8_t max_lun,
				 struct bot_cbw *out)
{
	memset(out, 0, sizeof(*out));
	if (len != BOT_CBW_LEN || le32(buf) != BOT_CBW_SIGNATURE)
		return BOT_CBW_INVALID;
	out->tag = le32(buf + 4);
	out->data_len = le32(buf + 8);
	out->dir_in = (buf[12] & 0x80) != 0;
	out->lun = buf[13] & 0x0f;
	out->cb_len = buf[14] & 0x1f;
	/* reserved: bmCBWFlags bits 6..0, bCBWLUN bits 7..4, bCBWCBLength bits 7..5 */
	if ((buf[12] & 0x7f) || (buf[13] & 0xf0) || (buf[14] & 0xe0))
		return BOT_CBW_NOT_MEANINGFUL;
	if (out->lun > max_lun || out->cb_len < 1 || out->cb_len > 16)
		return BOT_CBW_NOT_MEANINGFUL;
	memcpy(out->cb, buf + 15, 16);
	return BOT_CBW_OK;
}

void bot_csw_build(uint32_t tag, uint32_t residue, enum bot_csw_status st,
		   uint8_t out[BOT_CSW_LEN])
{
	put_le32(out, BOT_CSW_SIGNATURE);
	put_le32(out + 4, tag);
	put_le32(out + 8, residue);
	out[12] = (uint8_t)st;
}

void bot_plan(const struct bot_cbw *cbw, const struct scsi_req *r, struct bot_plan *p)
{
	uint32_t h = cbw->data_len;
	enum scsi_dir hd = !h ? SCSI_DIR_NONE : cbw->dir_in ? SCSI_DIR_IN : SCSI_DIR_OUT;
	enum scsi_dir dd = r->len ? r->dir : SCSI_DIR_NONE;

	memset(p, 0, sizeof(*p));
	if (hd == SCSI_DIR_NONE) {
		/* Hn: case 1 (Dn), 2 (Di), 3 (Do) */
		p->bot_case = dd == SCSI_DIR_NONE ? 1 : dd == SCSI_DIR_IN ? 2 : 3;
		p->phase_error = dd != SCSI_DIR_NONE;
		return;
	}
	if (dd == SCSI_DIR_NONE) {
		/* case 4 (Hi > Dn) or 9 (Ho > Dn): stall, status of the command */
		p->bot_case = hd == SCSI_DIR_IN ? 4 : 9;
		p->dir = hd;
		p->stall_after = true;
		return;
	}
	if (hd != dd) {
		/* case 8 (Hi <> Do) or 10 (Ho <> Di) */
		p->bot_case = hd == SCSI_DIR_IN ? 8 : 10;
		p->dir = hd;
		p->stall_after = true;
		p->phase_error = true;
		return;
	}
	p->dir = hd;
	if (r->len > h) {
		/* case 7 (Hi < Di) or 13 (Ho < Do): the device would move more than the
		 * host allows; nothing is moved, phase error */
		p->bot_case = hd == SCSI_DIR_IN ? 7 : 13;
		p->stall_after = true;
		p->phase_error = true;
		return;
	}
	p->len = (uint32_t)r->len;
	if (r->len < h) {
		/* case 5 (Hi > Di) or 11 (Ho > Do) */
		p->bot_case = hd == SCSI_DIR_IN ? 5 : 11;
		p->stall_after = true;
	} else {
		p->bot_case = hd == SCSI_DIR_IN ? 6 : 12;
	}
}

uint32_t bot_residue(const struct bot_cbw *cbw, uint32_t moved)
{
	return moved >= cbw->data_len ? 0 : cbw->data_len - moved;
}

/* The data phase of a READ/WRITE: chunks of whole blocks through scsi_rw. Returns
 * 0 done, 1 the command failed (sense pending), -1 endpoint failure; *moved counts
 * the bytes that crossed the bus. */
static int rw_phase(struct scsi_lu *lu, const struct scsi_req *r, uint32_t len,
		    const struct bot_io *io, uint8_t *buf, uint32_t buf_len, uint32_t *moved)
{
	uint32_t bs = lu->b->block_size, chunk = buf_len - buf_len % bs;
	struct bsense s;

	if (!chunk && *moved < len) {
		/* a block larger than the buffer: no whole block fits (05/24/00 rather
		 * than moving nothing for ever) */
		bsense_invalid_field(&s);
		scsi_set_pending(lu, &s);
		return 1;
	}
	while (*moved < len) {
		uint32_t n = len - *moved < chunk ? len - *moved : chunk;

		if (r->dir == SCSI_DIR_IN) {
			if (scsi_rw(lu, r, *moved, buf, n, &s) != 0)
				return 1;
			if (io->send(io->ctx, buf, n) != 0)
				return -1;
		} else {
			if (io->recv(io->ctx, buf, n) != 0)
				return -1;
			if (scsi_rw(lu, r, *moved, buf, n, &s) != 0) {
				*moved += n; /* received, but not acknowledged */
				return 1;
			}
		}
		*moved += n;
	}
	return 0;
}

int bot_command(struct scsi_lu *lu, const uint8_t *cbw_bytes, size_t n, const struct bot_io *io,
		uint8_t *buf, uint32_t buf_len)
{
	struct bot_cbw cbw;
	struct scsi_req r;
	struct bot_plan p;
	struct bsense s;
	enum bot_csw_status st;
	uint8_t csw[BOT_CSW_LEN];
	uint32_t moved = 0;
	int rc;

	if (bot_cbw_parse(cbw_bytes, n, 0, &cbw) != BOT_CBW_OK) {
		io->stall(io->ctx, true);
		io->stall(io->ctx, false);
		return 1;
	}
	rc = scsi_begin(lu, cbw.cb, cbw.cb_len, &r, buf, &s);
	st = rc ? BOT_CSW_FAILED : BOT_CSW_PASSED;
	bot_plan(&cbw, &r, &p);
	if (!p.phase_error && p.len) {
		if (!r.rw) {
			if (io->send(io->ctx, buf, p.len) != 0)
				return -1;
			moved = p.len;
		} else {
			rc = rw_phase(lu, &r, p.len, io, buf, buf_len, &moved);
			if (rc < 0)
				return -1;
			if (rc > 0)
				st = BOT_CSW_FAILED;
		}
	}
	if (p.phase_error) {
		st = BOT_CSW_PHASE_ERROR;
		moved = 0;
	}
	/* End a data phase the host expects to be longer (§6.7 cases 4, 5, 7-11, 13,
	 * or a command that failed midway) by stalling its endpoint. */
	if (p.dir != SCSI_DIR_NONE && moved < cbw.data_len)
		io->stall(io->ctx, p.dir == SCSI_DIR_IN);
	bot_csw_build(cbw.tag, bot_residue(&cbw, moved), st, csw);
	return io->send(io->ctx, csw, BOT_CSW_LEN) ? -1 : 0;
}
