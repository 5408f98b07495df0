/* msc_scsi.c — see msc_scsi.h. Spec references: SPC-4 (INQUIRY, MODE SENSE, REQUEST SENSE),
 * SBC-3 (READ/WRITE, READ CAPACITY, SYNCHRONIZE CACHE), MMC/UFI for READ FORMAT
 * CAPACITIES (what Windows hosts ask a stick). */
#include <string.h>

#include "msc_scsi.h"

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t be64(const uint8_t *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)(v >> 32)); put32(p + 4, (uint32_t)v); }

void scsi_lu_init(struct scsi_lu *lu, struct bridge *b)
{
	lu->b = b;
	bsense_clear(&lu->pending);
}

void scsi_set_pending(struct scsi_lu *lu, const struct bsense *sense)
{
	lu->pending = *sense;
}

/* CDB length of an opcode's group (SPC-4 §4.2.5.1); 0 = reserved/vendor group. */
static unsigned group_len(uint8_t op)
{
	static const uint8_t len[8] = { 6, 10, 10, 0, 16, 12, 0, 0 };
	return len[op >> 5];
}

/* Data-in of a small command: full response of n bytes, cut to alloc. */
static void data_in(struct scsi_req *r, uint32_t n, uint32_t alloc)
{
	r->dir = SCSI_DIR_IN;
	r->len = n < alloc ? n : alloc;
}

static int inquiry(const uint8_t *cdb, struct scsi_req *r, uint8_t *d, struct bsense *s)
{
	uint32_t alloc = be16(cdb + 3);

	if (cdb[1] & 0x01) { /* EVPD: only the Supported VPD Pages page (SPC-4 §7.8.16) */
		if (cdb[2] != 0x00) {
			bsense_invalid_field(s);
			return -1;
		}
		d[0] = 0x00; d[1] = 0x00; d[2] = 0; d[3] = 1; d[4] = 0x00;
		data_in(r, 5, alloc);
		return 0;
	}
	if (cdb[2] != 0) {
		bsense_invalid_field(s);
		return -1;
	}
	/* Standard INQUIRY data (SPC-4 §6.6.2): direct access block device,
	 * removable (a USB stick), SPC-3 version, response format 2; bytes 5-7 (no
	 * PROTECT, 3PC, TPGS, CMDQUE...) zero, not what the shared buffer held. */
	memset(d, 0, 36);
	d[0] = 0x00;
	d[1] = 0x80;
	d[2] = 0x05;
	d[3] = 0x02;
	d[4] = 36 - 5;
	memcpy(d + 8, "scsipub ", 8);
	memcpy(d + 16, "iSCSI USB bridge", 16);
	memcpy(d + 32, "0.1 ", 4);
	data_in(r, 36, alloc);
	return 0;
}

/* Caching mode page (SBC-3 §6.4.5): WCE = 0, the bridge is write-through. Its
 * changeable-values form is all zeros too. */
static unsigned caching_page(uint8_t *p)
{
	memset(p, 0, 20);
	p[0] = 0x08;
	p[1] = 0x12;
	return 20;
}

static int mode_sense(const uint8_t *cdb, bool ten, struct scsi_req *r, uint8_t *d,
		      struct bsense *s)
{
	uint8_t page = cdb[2] & 0x3f, subpage = cdb[3], pc = cdb[2] >> 6;
	unsigned hdr = ten ? 8 : 4, n;
	uint32_t alloc = ten ? be16(cdb + 7) : cdb[4];

	if (pc == 3) { /* saved values: not supported (SPC-4 §6.11) */
		bsense_set(s, BS_ILLEGAL_REQUEST, 0x39, 0x00);
		return -1;
	}
	if ((page != 0x00 && page != 0x08 && page != 0x3f) || (subpage != 0 && subpage != 0xff)) {
		bsense_invalid_field(s);
		return -1;
	}
	memset(d, 0, hdr);
	/* page 00h (vendor specific, no page format): the header alone, which is what
	 * hosts ask it for (the WP bit) */
	n = hdr + (page == 0x00 ? 0 : caching_page(d + hdr));
	/* Device-specific parameter: WP = 0, DPOFUA = 1 (every write goes with FUA). */
	if (ten) {
		put16(d, (uint16_t)(n - 2));
		d[3] = 0x10;
	} else {
		d[0] = (uint8_t)(n - 1);
		d[2] = 0x10;
	}
	data_in(r, n, alloc);
	return 0;
}

static int rw_decode(struct scsi_lu *lu, const uint8_t *cdb, struct scsi_req *r,
		     struct bsense *s)
{
	uint64_t nb;
	uint32_t bs;
	bool sixteen = cdb[0] == 0x88 || cdb[0] == 0x8a;

	r->lba = sixteen ? be64(cdb + 2) : be32(cdb + 2);
	r->nblocks = sixteen ? be32(cdb + 10) : be16(cdb + 7);
	r->fua = (cdb[1] & 0x08) != 0;
	if (bridge_capacity(lu->b, &nb, &bs, s) != 0)
		return -1;
	if (r->lba > nb || r->nblocks > nb - r->lba) {
		bsense_lba_out_of_range(s);
		return -1;
	}
	r->rw = true;
	r->len = (uint64_t)r->nblocks * bs;
	r->dir = !r->nblocks ? SCSI_DIR_NONE
		 : (cdb[0] == 0x28 || cdb[0] == 0x88) ? SCSI_DIR_IN : SCSI_DIR_OUT;
	return 0;
}

static int capacity(struct scsi_lu *lu, const uint8_t *cdb, struct scsi_req *r,
		    uint8_t *d, struct bsense *s)
{
	uint64_t nb;
	uint32_t bs;

	if (bridge_capacity(lu->b, &nb, &bs, s) != 0)
		return -1;
	if (cdb[0] == 0x25) { /* READ CAPACITY (10), SBC-3 §5.15 */
		put32(d, nb - 1 > 0xffffffffu ? 0xffffffffu : (uint32_t)(nb - 1));
		put32(d + 4, bs);
		data_in(r, 8, 8);
		return 0;
	}
	if (cdb[0] == 0x23) { /* READ FORMAT CAPACITIES: one current descriptor */
		memset(d, 0, 12);
		d[3] = 8;
		put32(d + 4, nb > 0xffffffffu ? 0xffffffffu : (uint32_t)nb);
		d[8] = 0x02; /* formatted media */
		d[9] = (uint8_t)(bs >> 16); d[10] = (uint8_t)(bs >> 8); d[11] = (uint8_t)bs;
		data_in(r, 12, be16(cdb + 7));
		return 0;
	}
	/* READ CAPACITY (16), SBC-3 §5.16 */
	memset(d, 0, 32);
	put64(d, nb - 1);
	put32(d + 8, bs);
	data_in(r, 32, be32(cdb + 10));
	return 0;
}

static int dispatch(struct scsi_lu *lu, const uint8_t *cdb, struct scsi_req *r,
		    uint8_t *d, struct bsense *s)
{
	switch (cdb[0]) {
	case 0x00: /* TEST UNIT READY */
		return bridge_ready(lu->b, s);
	case 0x03: { /* REQUEST SENSE (SPC-4 §6.29): the pending sense, or the state */
		struct bsense cur = lu->pending;

		if (cur.key == BS_NO_SENSE && !cur.asc && lu->b->state != BRIDGE_UP)
			bsense_becoming_ready(&cur);
		bsense_fixed(&cur, d);
		bsense_clear(&lu->pending);
		data_in(r, 18, cdb[4]);
		return 0;
	}
	case 0x12:
		return inquiry(cdb, r, d, s);
	case 0x1a:
		return mode_sense(cdb, false, r, d, s);
	case 0x5a:
		return mode_sense(cdb, true, r, d, s);
	case 0x1b: /* START STOP UNIT: nothing to spin; eject is the host's business */
	case 0x1e: /* PREVENT ALLOW MEDIUM REMOVAL */
		return 0;
	case 0x23:
	case 0x25:
		return capacity(lu, cdb, r, d, s);
	case 0x9e:
		if ((cdb[1] & 0x1f) != 0x10) { /* only READ CAPACITY (16) */
			bsense_invalid_field(s);
			return -1;
		}
		return capacity(lu, cdb, r, d, s);
	case 0x28: case 0x2a: case 0x88: case 0x8a:
		return rw_decode(lu, cdb, r, s);
	case 0x35: case 0x91: /* SYNCHRONIZE CACHE: forwarded whole-LUN */
		return bridge_flush(lu->b, s);
	default:
		bsense_invalid_opcode(s);
		return -1;
	}
}

int scsi_begin(struct scsi_lu *lu, const uint8_t *cdb, uint8_t cdb_len,
	       struct scsi_req *r, uint8_t *small, struct bsense *sense)
{
	unsigned need;
	int rc;

	memset(r, 0, sizeof(*r));
	bsense_clear(sense);
	if (!cdb_len) {
		bsense_invalid_opcode(sense);
		goto fail;
	}
	r->op = cdb[0];
	if (cdb[0] != 0x03)
		bsense_clear(&lu->pending);
	need = group_len(cdb[0]);
	if (!need) {
		bsense_invalid_opcode(sense);
		goto fail;
	}
	if (cdb_len < need) {
		bsense_invalid_field(sense);
		goto fail;
	}
	rc = dispatch(lu, cdb, r, small, sense);
	if (rc == 0)
		return 0;
fail:
	r->dir = SCSI_DIR_NONE;
	r->len = 0;
	r->rw = false;
	lu->pending = *sense;
	return -1;
}

int scsi_rw(struct scsi_lu *lu, const struct scsi_req *r, uint64_t off, uint8_t *buf,
	    uint32_t len, struct bsense *sense)
{
	uint32_t bs = lu->b->block_size;
	int rc;

	if (!r->rw || !bs || off % bs || len % bs || off + len > r->len) {
		bsense_invalid_field(sense);
		lu->pending = *sense;
		return -1;
	}
	if (r->dir == SCSI_DIR_IN)
		rc = bridge_read(lu->b, r->lba + off / bs, len / bs, buf, sense);
	else
		rc = bridge_write(lu->b, r->lba + off / bs, len / bs, buf, sense);
	if (rc)
		lu->pending = *sense;
	return rc;
}
