/*
 * scsi_spc.c — the SPC-4 commands of the handler: TEST UNIT READY, REQUEST SENSE,
 * INQUIRY (standard data and the VPD pages a Linux / Windows / VMware initiator asks
 * for), MODE SENSE / MODE SELECT (6) and (10) with the caching and control pages, and
 * REPORT SUPPORTED OPERATION CODES (built from the dispatch table in scsi.c).
 *
 * Nothing here keeps state: sense is reported with the command that caused it
 * (autosense), the mode pages are fixed apart from WCE, which comes from the LU.
 */
#include <stdlib.h>
#include <string.h>

#include "scsi_priv.h"

/* ---- INQUIRY (SPC-4 INQUIRY) -------------------------------------------------------- */

#define INQ_VENDOR   "SCSIPUB "         /* T10 VENDOR IDENTIFICATION, 8 bytes */
#define INQ_PRODUCT  "COW DISK        " /* PRODUCT IDENTIFICATION, 16 bytes */
#define INQ_REVISION "0001"             /* PRODUCT REVISION LEVEL, 4 bytes */

/* Standard data: 36 bytes + version descriptors in bytes 58..73 (SPC-4 standard INQUIRY data). */
#define INQ_STD_LEN 74

/* VERSION DESCRIPTOR values (SPC-4 Table 142 / T10 version descriptor list). */
#define VD_SAM5  0x00a0
#define VD_SPC4  0x0460
#define VD_SBC3  0x04c0
#define VD_ISCSI 0x0960

/* VPD page codes. */
#define VPD_SUPPORTED     0x00
#define VPD_UNIT_SERIAL   0x80
#define VPD_DEVICE_ID     0x83
#define VPD_BLOCK_LIMITS  0xb0
#define VPD_BLOCK_DEV_CHR 0xb1
#define VPD_LBP           0xb2

static const uint8_t vpd_pages[] = {
	VPD_SUPPORTED, VPD_UNIT_SERIAL, VPD_DEVICE_ID,
	VPD_BLOCK_LIMITS, VPD_BLOCK_DEV_CHR, VPD_LBP,
};

/*
 * IEEE company identifier in our NAA 6 designator: the one LIO itself uses for the
 * NAA identifiers of its backstores, so our LUs look like any other LIO LU.
 */
#define NAA_COMPANY_ID 0x001405u

/* Largest VPD page we build (0x83 with a 63-character serial is ~100 bytes). */
#define VPD_BUF_LEN 256

static int inquiry_standard(struct scsi_cmd *cmd, size_t alloc)
{
	uint8_t d[INQ_STD_LEN];

	memset(d, 0, sizeof(d));
	d[0] = 0x00;             /* PERIPHERAL QUALIFIER 000b, DEVICE TYPE 00h (SBC) */
	d[1] = 0x00;             /* RMB = 0: not removable */
	d[2] = 0x06;             /* VERSION: SPC-4 */
	d[3] = 0x10 | 0x02;      /* HISUP = 1, RESPONSE DATA FORMAT = 2 */
	d[4] = INQ_STD_LEN - 5;  /* ADDITIONAL LENGTH (n - 4) */
	d[7] = 0x02;             /* CMDQUE = 1 */
	memcpy(d + 8, INQ_VENDOR, 8);
	memcpy(d + 16, INQ_PRODUCT, 16);
	memcpy(d + 32, INQ_REVISION, 4);
	put_be16(d + 58, VD_SAM5);
	put_be16(d + 60, VD_ISCSI);
	put_be16(d + 62, VD_SPC4);
	put_be16(d + 64, VD_SBC3);
	return scsi_data_in(cmd, d, sizeof(d), alloc);
}

/* 64-bit FNV-1a over s, seeded with seed: a stable hash for the NAA identifier. */
static uint64_t fnv1a64(const char *s, uint64_t seed)
{
	uint64_t h = 0xcbf29ce484222325ull ^ seed;

	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

/* Length of lu->serial, bounded by its array even when it is not terminated. */
static size_t serial_len(const struct scsi_lu *lu)
{
	return strnlen(lu->serial, sizeof(lu->serial));
}

/*
 * Device Identification VPD page (SPC-4 VPD page 83h): a T10 vendor ID designator
 * ("SCSIPUB " + serial) and an NAA IEEE Registered Extended designator
 * (NAA 6) whose vendor-specific bits are a hash of the serial, so a LU
 * keeps its identity across daemon restarts.
 */
static size_t vpd_device_id(const struct scsi_lu *lu, uint8_t *d)
{
	char serial[sizeof(lu->serial) + 1];
	size_t slen = serial_len(lu), p = 4, len;
	uint64_t h1, h2;

	memcpy(serial, lu->serial, slen);
	serial[slen] = '\0';

	/* T10 vendor ID: CODE SET 2 (ASCII), ASSOCIATION 0 (LU), TYPE 1. */
	len = 8 + slen;
	d[p + 0] = 0x02;
	d[p + 1] = 0x01;
	d[p + 3] = (uint8_t)len;
	memcpy(d + p + 4, INQ_VENDOR, 8);
	memcpy(d + p + 12, serial, slen);
	p += 4 + len;

	/* NAA: CODE SET 1 (binary), ASSOCIATION 0 (LU), TYPE 3; 16-byte NAA 6 id. */
	h1 = fnv1a64(serial, 0);
	h2 = fnv1a64(serial, 0x5a5a5a5a5a5a5a5aull);
	d[p + 0] = 0x01;
	d[p + 1] = 0x03;
	d[p + 3] = 16;
	/* NAA (4 bits) | IEEE COMPANY ID (24) | VENDOR SPECIFIC IDENTIFIER (36) */
	put_be64(d + p + 4, (6ull << 60) | ((uint64_t)NAA_COMPANY_ID << 36) |
		 (h1 & 0xfffffffffull));
	put_be64(d + p + 12, h2); /* VENDOR SPECIFIC IDENTIFIER EXTENSION */
	p += 4 + 16;
	return p;
}

/* Block Limits VPD page (SBC-3 §6.5.3). */
static size_t vpd_block_limits(const struct scsi_lu *lu, uint8_t *d)
{
	uint32_t opt = lu->max_xfer_blocks;

	put_be16(d + 2, 0x3c);
	d[4] = 0;                             /* WSNZ = 0: WRITE SAME with 0 blocks ok */
	d[5] = scsi_max_caw_blocks(lu);       /* MAXIMUM COMPARE AND WRITE LENGTH */
	put_be16(d + 6, SCSI_XFER_GRANULARITY); /* OPTIMAL TRANSFER LENGTH GRANULARITY */
	put_be32(d + 8, lu->max_xfer_blocks); /* MAXIMUM TRANSFER LENGTH (0 = none) */
	put_be32(d + 12, opt);                /* OPTIMAL TRANSFER LENGTH */
	put_be32(d + 16, 0);                  /* MAXIMUM PREFETCH LENGTH */
	put_be32(d + 20, SCSI_MAX_UNMAP_LBA_COUNT);
	put_be32(d + 24, SCSI_MAX_UNMAP_DESCRIPTORS);
	put_be32(d + 28, SCSI_UNMAP_GRANULARITY); /* OPTIMAL UNMAP GRANULARITY */
	put_be32(d + 32, 0x80000000u);        /* UGAVALID = 1, alignment 0 */
	put_be64(d + 36, SCSI_MAX_WRITE_SAME_BLOCKS);
	return 64;
}

/* Block Device Characteristics VPD page (SBC-3). */
static size_t vpd_block_dev_chr(uint8_t *d)
{
	put_be16(d + 2, 0x3c);
	put_be16(d + 4, 0x0001); /* MEDIUM ROTATION RATE: non-rotating medium */
	d[7] = 0;                /* NOMINAL FORM FACTOR: not reported */
	return 64;
}

/* Logical Block Provisioning VPD page (SBC-3). */
static size_t vpd_lbp(uint8_t *d)
{
	put_be16(d + 2, 4);
	d[4] = 0;    /* THRESHOLD EXPONENT: no thresholds */
	/*
	 * LBPU (UNMAP), LBPWS (WRITE SAME(16) with UNMAP), LBPWS10 (WRITE SAME(10) with
	 * UNMAP). LBPRZ = 0: an unmapped block reads the base image, not zeros.
	 */
	d[5] = 0x80 | 0x40 | 0x20;
	d[6] = 0x02; /* PROVISIONING TYPE 010b: thin provisioned */
	return 8;
}

static int inquiry_vpd(struct scsi_lu *lu, struct scsi_cmd *cmd, uint8_t page,
		       size_t alloc)
{
	uint8_t d[VPD_BUF_LEN];
	size_t len, n;

	memset(d, 0, sizeof(d));
	d[0] = 0x00; /* PERIPHERAL QUALIFIER / DEVICE TYPE */
	d[1] = page;
	switch (page) {
	case VPD_SUPPORTED: /* Supported VPD Pages (SPC-4) */
		memcpy(d + 4, vpd_pages, sizeof(vpd_pages));
		len = 4 + sizeof(vpd_pages);
		break;
	case VPD_UNIT_SERIAL: /* Unit Serial Number (SPC-4) */
		n = serial_len(lu);
		memcpy(d + 4, lu->serial, n);
		len = 4 + n;
		break;
	case VPD_DEVICE_ID:
		len = vpd_device_id(lu, d);
		break;
	case VPD_BLOCK_LIMITS:
		return scsi_data_in(cmd, d, vpd_block_limits(lu, d), alloc);
	case VPD_BLOCK_DEV_CHR:
		return scsi_data_in(cmd, d, vpd_block_dev_chr(d), alloc);
	case VPD_LBP:
		return scsi_data_in(cmd, d, vpd_lbp(d), alloc);
	default:
		return scsi_invalid_cdb(cmd);
	}
	put_be16(d + 2, (uint16_t)(len - 4));
	return scsi_data_in(cmd, d, len, alloc);
}

/* INQUIRY (SPC-4 INQUIRY). */
int spc_inquiry(struct scsi_lu *lu, struct scsi_cmd *cmd)
{
	const uint8_t *cdb = cmd->cdb;
	size_t alloc = get_be16(cdb + 3);

	if (cdb[1] & 0x01)
		return inquiry_vpd(lu, cmd, cdb[2], alloc);
	/* EVPD = 0 with a nonzero PAGE CODE is an error (SPC-4 INQUIRY). */
	if (cdb[2])
		return scsi_invalid_cdb(cmd);
	return inquiry_standard(cmd, alloc);
}

/* ---- TEST UNIT READY, REQUEST SENSE ---------------------------------------------- */

/* TEST UNIT READY (SPC-4): the medium is always there. */
int spc_test_unit_ready(struct scsi_lu *lu, struct scsi_cmd *cmd)
{
	(void)lu;
	(void)cmd;
	return SCSI_STATUS_GOOD;
}

/*
 * REQUEST SENSE (SPC-4). Sense is always returned with the failing command
 * (autosense), so nothing is ever pending: report NO SENSE / NO ADDITIONAL SENSE
 * INFORMATION, in descriptor format when DESC = 1 (SPC-4 §4.5.2) else fixed
 * format (§4.5.3).
 */
int spc_request_sense(struct scsi_lu *lu, struct scsi_cmd *cmd)
{
	uint8_t d[SENSE_FIXED_LEN];
	size_t alloc = cmd->cdb[4];

	(void)lu;
	memset(d, 0, sizeof(d));
	if (cmd->cdb[1] & 0x01) {
		d[0] = 0x72; /* current, descriptor format; no descriptors */
		return scsi_data_in(cmd, d, 8, alloc);
	}
	d[0] = 0x70;
	d[2] = SENSE_NO_SENSE;
	d[7] = SENSE_FIXED_LEN - 8;
	return scsi_data_in(cmd, d, sizeof(d), alloc);
}

/* ---- MODE SENSE / MODE SELECT (SPC-4 §7.5 mode parameters) ---------------------------- */

#define MP_CACHING     0x08 /* Caching mode page (SBC-3) */
#define MP_CONTROL     0x0a /* Control mode page (SPC-4) */
#define MP_ALL         0x3f
#define MP_CACHING_LEN 20
#define MP_CONTROL_LEN 12

/* PAGE CONTROL values (SPC-4 MODE SENSE). */
enum { PC_CURRENT = 0, PC_CHANGEABLE = 1, PC_DEFAULT = 2, PC_SAVED = 3 };

/* DEVICE-SPECIFIC PARAMETER for direct access (SBC-3 §6.4.1): WP (the LU's
 * write_protect) and DPOFUA = 1. */
#define MODE_DSP_WP     0x80
#define MODE_DSP_DPOFUA 0x10

/*
 * Build one page into p for page control pc; returns its length, 0 for a page we do
 * not have. The changeable mask is all zeros: no field is changeable (MODE SELECT
 * only accepts the current values).
 */
static size_t mode_page(const struct scsi_lu *lu, uint8_t code, int pc, uint8_t *p)
{
	switch (code) {
	case MP_CACHING:
		memset(p, 0, MP_CACHING_LEN);
		p[0] = MP_CACHING;
		p[1] = MP_CACHING_LEN - 2;
		if (pc != PC_CHANGEABLE && lu->write_cache)
			p[2] = 0x04; /* WCE */
		return MP_CACHING_LEN;
	case MP_CONTROL:
		memset(p, 0, MP_CONTROL_LEN);
		p[0] = MP_CONTROL;
		p[1] = MP_CONTROL_LEN - 2;
		if (pc == PC_CHANGEABLE)
			return MP_CONTROL_LEN;
		/*
		 * TST = 000b (one task set), D_SENSE = 0 (fixed-format sense), QUEUE
		 * ALGORITHM MODIFIER = 0 (restricted reordering), QERR = 00b, TAS = 0,
		 * BUSY TIMEOUT PERIOD unlimited.
		 */
		put_be16(p + 8, 0xffff);
		return MP_CONTROL_LEN;
	default:
		return 0;
	}
}

/* Build every requested page into p; returns the length, 0 if the page is unknown. */
static size_t mode_pages(const struct scsi_lu *lu, uint8_t code, uint8_t subpage, int pc,
			 uint8_t *p)
{
	size_t n;

	if (code == MP_ALL) {
		/* Subpage 0xff = all pages and subpages; we have no subpages. */
		if (subpage != 0x00 && subpage != 0xff)
			return 0;
		n = mode_page(lu, MP_CACHING, pc, p);
		return n + mode_page(lu, MP_CONTROL, pc, p + n);
	}
	/* Subpage 0xff = the page and all its subpages (SPC-4 mode page code usage):
	 * with no subpages, the page_0 page alone. */
	if (subpage != 0x00 && subpage != 0xff)
		return 0;
	return mode_page(lu, code, pc, p);
}

/* MODE SENSE (6) / (10) (SPC-4 MODE SENSE commands). */
int spc_mode_sense(struct scsi_lu *lu, struct scsi_cmd *cmd)
{
	const uint8_t *cdb = cmd->cdb;
	int ten = cdb[0] == OP_MODE_SENSE_10;
	int dbd = (cdb[1] >> 3) & 1, llbaa = ten && ((cdb[1] >> 4) & 1);
	int pc = cdb[2] >> 6;
	uint8_t code = cdb[2] & 0x3f, subpage = cdb[3];
	size_t alloc = ten ? get_be16(cdb + 7) : cdb[4];
	size_t hdr = ten ? 8 : 4, bdl = 0, pages, len;
	uint64_t blocks = scsi_lu_blocks(lu);
	uint8_t d[8 + 16 + MP_CACHING_LEN + MP_CONTROL_LEN];

	if (pc == PC_SAVED)
		return scsi_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_SAVING_PARAMS_UNSUPPORTED);
	memset(d, 0, sizeof(d));
	if (!dbd)
		bdl = llbaa ? 16 : 8;
	pages = mode_pages(lu, code, subpage, pc, d + hdr + bdl);
	if (!pages)
		return scsi_invalid_cdb(cmd);

	/* Block descriptor (SBC-3 mode parameter block descriptors): short (8 bytes) or long LBA (16 bytes). */
	if (bdl == 8) {
		put_be32(d + hdr, blocks > 0xffffffffull ? 0xffffffffu : (uint32_t)blocks);
		put_be32(d + hdr + 4, SCSI_BLOCK_SIZE); /* byte 4 reserved, 5..7 length */
	} else if (bdl == 16) {
		put_be64(d + hdr, blocks);
		put_be32(d + hdr + 12, SCSI_BLOCK_SIZE);
	}

	/* Mode parameter header (SPC-4 §7.5 mode parameter header). MEDIUM TYPE 0. */
	len = hdr + bdl + pages;
	if (ten) {
		put_be16(d, (uint16_t)(len - 2));
		d[3] = MODE_DSP_DPOFUA | (lu->write_protect ? MODE_DSP_WP : 0);
		d[4] = bdl == 16 ? 0x01 : 0x00; /* LONGLBA */
		put_be16(d + 6, (uint16_t)bdl);
	} else {
		d[0] = (uint8_t)(len - 1);
		d[2] = MODE_DSP_DPOFUA | (lu->write_protect ? MODE_DSP_WP : 0);
		d[3] = (uint8_t)bdl;
	}
	return scsi_data_in(cmd, d, len, alloc);
}

static int param_len_error(struct scsi_cmd *cmd)
{
	return scsi_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH_ERROR);
}

/* A block descriptor in MODE SELECT may only restate the current geometry. */
static int block_desc_ok(const struct scsi_lu *lu, const uint8_t *b, size_t bdl)
{
	uint64_t blocks = scsi_lu_blocks(lu), n;
	uint32_t blen;

	if (bdl == 8) {
		n = get_be32(b);
		blen = get_be24(b + 5);
		if (blocks > 0xffffffffull)
			blocks = 0xffffffffull;
	} else {
		n = get_be64(b);
		blen = get_be32(b + 12);
	}
	/* NUMBER OF LOGICAL BLOCKS 0 means "no change" (SBC-3 block descriptors). */
	return blen == SCSI_BLOCK_SIZE && (n == 0 || n == blocks);
}

/* Check one received MODE SELECT parameter list d of plen bytes (plen ≥ 1). */
static int mode_select_check(struct scsi_lu *lu, struct scsi_cmd *cmd, int ten,
			     const uint8_t *d, size_t plen)
{
	size_t hdr = ten ? 8 : 4, bdl, off;
	uint8_t cur[MP_CACHING_LEN + MP_CONTROL_LEN];

	if (plen < hdr)
		return param_len_error(cmd);
	bdl = ten ? get_be16(d + 6) : d[3];
	if (hdr + bdl > plen)
		return param_len_error(cmd);
	if (d[ten ? 2 : 1] != 0) /* MEDIUM TYPE (byte 1 of the (6) header, 2 of (10)): 00h */
		return scsi_invalid_param(cmd);
	if (bdl) {
		int longlba = ten && (d[4] & 0x01);

		if (bdl != (size_t)(longlba ? 16 : 8))
			return scsi_invalid_param(cmd);
		if (!block_desc_ok(lu, d + hdr, bdl))
			return scsi_invalid_param(cmd);
	}

	/* Mode pages (SPC-4 §7.5 mode page formats): page_0 or sub_page format. */
	for (off = hdr + bdl; off < plen;) {
		uint8_t code = d[off] & 0x3f;
		int spf = (d[off] >> 6) & 1;
		size_t ph = spf ? 4 : 2, pl, clen;

		if (off + ph > plen)
			return param_len_error(cmd);
		pl = ph + (spf ? get_be16(d + off + 2) : d[off + 1]);
		if (off + pl > plen)
			return param_len_error(cmd);
		if (spf || (code != MP_CACHING && code != MP_CONTROL))
			return scsi_invalid_param(cmd);
		clen = mode_page(lu, code, PC_CURRENT, cur);
		/* Same length and same contents; the PS bit is reserved in MODE SELECT. */
		if (pl != clen || memcmp(d + off + 1, cur + 1, clen - 1) != 0)
			return scsi_invalid_param(cmd);
		off += pl;
	}
	return SCSI_STATUS_GOOD;
}

/*
 * MODE SELECT (6) / (10) (SPC-4 MODE SELECT commands). No parameter is changeable, so a list
 * is accepted when every page in it equals the current values and rejected with
 * INVALID FIELD IN PARAMETER LIST otherwise.
 */
int spc_mode_select(struct scsi_lu *lu, struct scsi_cmd *cmd)
{
	const uint8_t *cdb = cmd->cdb;
	int ten = cdb[0] == OP_MODE_SELECT_10, rc;
	size_t plen = ten ? get_be16(cdb + 7) : cdb[4];
	uint8_t *d;

	if (!(cdb[1] & 0x10))     /* PF = 0: vendor-specific pages, not ours */
		return scsi_invalid_cdb(cmd);
	if (cdb[1] & 0x01)        /* SP = 1: we cannot save pages */
		return scsi_invalid_cdb(cmd);
	if (plen == 0)            /* no parameter list: nothing to do */
		return SCSI_STATUS_GOOD;

	d = malloc(plen);
	if (!d)
		return scsi_internal_error(cmd);
	if (scsi_iov_to_buf(cmd->iov, cmd->iov_cnt, d, plen) < plen)
		rc = param_len_error(cmd); /* less data than PARAMETER LIST LENGTH */
	else
		rc = mode_select_check(lu, cmd, ten, d, plen);
	free(d);
	return rc;
}

/* ---- REPORT SUPPORTED OPERATION CODES (SPC-4 §6.35) ------------------------------ */

#define RSOC_TIMEOUTS_LEN 12 /* command timeouts descriptor (SPC-4 §6.35.4) */

/* Command timeouts descriptor: no nominal or recommended timeout specified. */
static void rsoc_timeouts(uint8_t *p)
{
	memset(p, 0, RSOC_TIMEOUTS_LEN);
	put_be16(p, RSOC_TIMEOUTS_LEN - 2);
}

/* All commands (REPORTING OPTIONS 000b): command descriptors (SPC-4 §6.35.2). */
static int rsoc_all(struct scsi_cmd *cmd, int rctd, size_t alloc)
{
	size_t per = 8 + (rctd ? RSOC_TIMEOUTS_LEN : 0), len, i;
	uint8_t d[4 + 64 * (8 + RSOC_TIMEOUTS_LEN)];
	uint8_t *p = d + 4;

	if (scsi_ops_count > 64)
		return scsi_internal_error(cmd);
	memset(d, 0, sizeof(d));
	for (i = 0; i < scsi_ops_count; i++, p += per) {
		const struct scsi_op *op = &scsi_ops[i];

		p[0] = op->opcode;
		put_be16(p + 2, op->has_sa ? op->sa : 0);
		p[5] = (uint8_t)((rctd ? 0x02 : 0) | (op->has_sa ? 0x01 : 0)); /* CTDP, SERVACTV */
		put_be16(p + 6, op->cdb_len);
		if (rctd)
			rsoc_timeouts(p + 8);
	}
	len = 4 + scsi_ops_count * per;
	put_be32(d, (uint32_t)(len - 4)); /* COMMAND DATA LENGTH */
	return scsi_data_in(cmd, d, len, alloc);
}

/* One command (REPORTING OPTIONS 001b..011b): SPC-4 §6.35.3. */
static int rsoc_one(struct scsi_cmd *cmd, int option, int rctd, uint8_t opcode,
		    uint16_t sa, size_t alloc)
{
	uint8_t d[4 + 16 + RSOC_TIMEOUTS_LEN];
	const struct scsi_op *op = NULL;
	size_t i, len = 4;
	int has_sa = 0;

	for (i = 0; i < scsi_ops_count; i++)
		if (scsi_ops[i].opcode == opcode && scsi_ops[i].has_sa)
			has_sa = 1;
	switch (option) {
	case 1: /* opcode only; an opcode with service actions is an error */
		if (has_sa)
			return scsi_invalid_cdb(cmd);
		op = scsi_op_find(opcode, 0, NULL);
		break;
	case 2: /* opcode + service action; an opcode without them is an error */
		if (!has_sa)
			return scsi_invalid_cdb(cmd);
		op = scsi_op_find(opcode, sa, NULL);
		break;
	default: /* 011b: service action used only when the opcode has them */
		op = scsi_op_find(opcode, has_sa ? sa : 0, NULL);
		break;
	}

	memset(d, 0, sizeof(d));
	if (!op) {
		d[1] = 0x01; /* SUPPORT 001b: not supported; CDB SIZE 0 */
		return scsi_data_in(cmd, d, 4, alloc);
	}
	d[1] = 0x03;         /* SUPPORT 011b: supported as per the standard */
	if (rctd)
		d[1] |= 0x80; /* CTDP */
	put_be16(d + 2, op->cdb_len);
	memcpy(d + 4, op->usage, op->cdb_len);
	len += op->cdb_len;
	if (rctd) {
		rsoc_timeouts(d + len);
		len += RSOC_TIMEOUTS_LEN;
	}
	return scsi_data_in(cmd, d, len, alloc);
}

int spc_report_supported_opcodes(struct scsi_lu *lu, struct scsi_cmd *cmd)
{
	const uint8_t *cdb = cmd->cdb;
	int rctd = (cdb[2] >> 7) & 1, option = cdb[2] & 0x07;
	size_t alloc = get_be32(cdb + 6);

	(void)lu;
	switch (option) {
	case 0:
		return rsoc_all(cmd, rctd, alloc);
	case 1:
	case 2:
	case 3:
		return rsoc_one(cmd, option, rctd, cdb[3], get_be16(cdb + 4), alloc);
	default:
		return scsi_invalid_cdb(cmd);
	}
}
