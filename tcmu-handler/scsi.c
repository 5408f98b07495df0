/*
 * scsi.c — scsi_execute(): dispatch of a CDB by operation code (and service action)
 * to the SPC-4 handlers (scsi_spc.c) and the SBC-3 handlers (scsi_sbc.c), plus the
 * iovec copy helpers.
 *
 * The dispatch table is also the source of REPORT SUPPORTED OPERATION CODES (SPC-4
 * §6.35): every entry carries its CDB USAGE DATA, so what we claim and what we execute
 * come from one list.
 */
#include <string.h>

#include "scsi_priv.h"

/* LOGICAL UNIT NOT READY, CAUSE NOT REPORTABLE (SPC-4 Annex D). */
#define ASC_LU_NOT_READY 0x0400

/*
 * CDB USAGE DATA (SPC-4 §6.35.3): byte 0 is the opcode, a service action sits in its
 * own field, and every other bit is 1 when we evaluate the corresponding CDB bit.
 * Fields we only accept as zero (RDPROTECT/WRPROTECT/VRPROTECT, ANCHOR) are reported
 * as unused. The CONTROL byte is not evaluated (NACA is the kernel's business).
 */
#define LBA4 0xff, 0xff, 0xff, 0xff
#define LBA8 LBA4, LBA4
#define GRP  0x1f /* GROUP NUMBER */

const struct scsi_op scsi_ops[] = {
	{ OP_TEST_UNIT_READY, 0, 0, 6, 0,
	  { OP_TEST_UNIT_READY, 0, 0, 0, 0, 0 }, spc_test_unit_ready },
	{ OP_REQUEST_SENSE, 0, 0, 6, 1,
	  { OP_REQUEST_SENSE, 0x01, 0, 0, 0xff, 0 }, spc_request_sense },
	{ OP_READ_6, 0, 0, 6, 1,
	  { OP_READ_6, 0x1f, 0xff, 0xff, 0xff, 0 }, sbc_read },
	{ OP_WRITE_6, 0, 0, 6, 0,
	  { OP_WRITE_6, 0x1f, 0xff, 0xff, 0xff, 0 }, sbc_write },
	{ OP_INQUIRY, 0, 0, 6, 1,
	  { OP_INQUIRY, 0x01, 0xff, 0xff, 0xff, 0 }, spc_inquiry },
	{ OP_MODE_SELECT_6, 0, 0, 6, 0,
	  { OP_MODE_SELECT_6, 0x11, 0, 0, 0xff, 0 }, spc_mode_select },
	{ OP_MODE_SENSE_6, 0, 0, 6, 1,
	  { OP_MODE_SENSE_6, 0x08, 0xff, 0xff, 0xff, 0 }, spc_mode_sense },
	{ OP_START_STOP_UNIT, 0, 0, 6, 0,
	  { OP_START_STOP_UNIT, 0x01, 0, 0x0f, 0xf7, 0 }, sbc_start_stop_unit },
	{ OP_READ_CAPACITY_10, 0, 0, 10, 1,
	  { OP_READ_CAPACITY_10, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, sbc_read_capacity10 },
	{ OP_READ_10, 0, 0, 10, 1,
	  { OP_READ_10, 0x1a, LBA4, GRP, 0xff, 0xff, 0 }, sbc_read },
	{ OP_WRITE_10, 0, 0, 10, 0,
	  { OP_WRITE_10, 0x1a, LBA4, GRP, 0xff, 0xff, 0 }, sbc_write },
	{ OP_WRITE_VERIFY_10, 0, 0, 10, 0,
	  { OP_WRITE_VERIFY_10, 0x12, LBA4, GRP, 0xff, 0xff, 0 }, sbc_write_verify },
	{ OP_VERIFY_10, 0, 0, 10, 0,
	  { OP_VERIFY_10, 0x16, LBA4, GRP, 0xff, 0xff, 0 }, sbc_verify },
	{ OP_PRE_FETCH_10, 0, 0, 10, 0,
	  { OP_PRE_FETCH_10, 0x02, LBA4, GRP, 0xff, 0xff, 0 }, sbc_prefetch },
	{ OP_SYNC_CACHE_10, 0, 0, 10, 0,
	  { OP_SYNC_CACHE_10, 0x02, LBA4, GRP, 0xff, 0xff, 0 }, sbc_sync_cache },
	{ OP_WRITE_SAME_10, 0, 0, 10, 0,
	  { OP_WRITE_SAME_10, 0x08, LBA4, GRP, 0xff, 0xff, 0 }, sbc_write_same },
	{ OP_UNMAP, 0, 0, 10, 0,
	  { OP_UNMAP, 0, 0, 0, 0, 0, GRP, 0xff, 0xff, 0 }, sbc_unmap },
	{ OP_MODE_SELECT_10, 0, 0, 10, 0,
	  { OP_MODE_SELECT_10, 0x11, 0, 0, 0, 0, 0, 0xff, 0xff, 0 }, spc_mode_select },
	{ OP_MODE_SENSE_10, 0, 0, 10, 1,
	  { OP_MODE_SENSE_10, 0x18, 0xff, 0xff, 0, 0, 0, 0xff, 0xff, 0 }, spc_mode_sense },
	{ OP_READ_16, 0, 0, 16, 1,
	  { OP_READ_16, 0x1a, LBA8, LBA4, GRP, 0 }, sbc_read },
	{ OP_COMPARE_AND_WRITE, 0, 0, 16, 0,
	  { OP_COMPARE_AND_WRITE, 0x1a, LBA8, 0, 0, 0, 0xff, GRP, 0 },
	  sbc_compare_and_write },
	{ OP_WRITE_16, 0, 0, 16, 0,
	  { OP_WRITE_16, 0x1a, LBA8, LBA4, GRP, 0 }, sbc_write },
	{ OP_WRITE_VERIFY_16, 0, 0, 16, 0,
	  { OP_WRITE_VERIFY_16, 0x12, LBA8, LBA4, GRP, 0 }, sbc_write_verify },
	{ OP_VERIFY_16, 0, 0, 16, 0,
	  { OP_VERIFY_16, 0x16, LBA8, LBA4, GRP, 0 }, sbc_verify },
	{ OP_PRE_FETCH_16, 0, 0, 16, 0,
	  { OP_PRE_FETCH_16, 0x02, LBA8, LBA4, GRP, 0 }, sbc_prefetch },
	{ OP_SYNC_CACHE_16, 0, 0, 16, 0,
	  { OP_SYNC_CACHE_16, 0x02, LBA8, LBA4, GRP, 0 }, sbc_sync_cache },
	{ OP_WRITE_SAME_16, 0, 0, 16, 0,
	  { OP_WRITE_SAME_16, 0x09, LBA8, LBA4, GRP, 0 }, sbc_write_same },
	{ OP_SERVICE_ACTION_IN_16, 1, SAI_READ_CAPACITY_16, 16, 1,
	  { OP_SERVICE_ACTION_IN_16, SAI_READ_CAPACITY_16, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff, 0xff, 0xff, 0, 0 }, sbc_read_capacity16 },
	{ OP_MAINTENANCE_IN, 1, MI_REPORT_SUPPORTED_OPCODES, 12, 1,
	  { OP_MAINTENANCE_IN, MI_REPORT_SUPPORTED_OPCODES, 0x87, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff, 0, 0 }, spc_report_supported_opcodes },
	{ OP_READ_12, 0, 0, 12, 1,
	  { OP_READ_12, 0x1a, LBA4, LBA4, GRP, 0 }, sbc_read },
	{ OP_WRITE_12, 0, 0, 12, 0,
	  { OP_WRITE_12, 0x1a, LBA4, LBA4, GRP, 0 }, sbc_write },
	{ OP_WRITE_VERIFY_12, 0, 0, 12, 0,
	  { OP_WRITE_VERIFY_12, 0x12, LBA4, LBA4, GRP, 0 }, sbc_write_verify },
	{ OP_VERIFY_12, 0, 0, 12, 0,
	  { OP_VERIFY_12, 0x16, LBA4, LBA4, GRP, 0 }, sbc_verify },
};

const size_t scsi_ops_count = sizeof(scsi_ops) / sizeof(scsi_ops[0]);

const struct scsi_op *scsi_op_find(uint8_t opcode, uint16_t sa, int *opcode_known)
{
	size_t i;

	if (opcode_known)
		*opcode_known = 0;
	for (i = 0; i < scsi_ops_count; i++) {
		const struct scsi_op *op = &scsi_ops[i];

		if (op->opcode != opcode)
			continue;
		if (opcode_known)
			*opcode_known = 1;
		if (!op->has_sa || op->sa == sa)
			return op;
	}
	return NULL;
}

/* The commands that change the medium (refused on a write-protected LU). */
static int changes_medium(scsi_handler_fn fn)
{
	return fn == sbc_write || fn == sbc_write_verify || fn == sbc_write_same ||
	       fn == sbc_unmap || fn == sbc_compare_and_write;
}

int scsi_execute(struct scsi_lu *lu, struct scsi_cmd *cmd)
{
	const struct scsi_op *op;
	int known;

	if (!cmd)
		return SCSI_STATUS_CHECK_CONDITION;
	cmd->data_in = 0;
	cmd->data_in_len = 0;
	if (!cmd->cdb || !lu)
		return scsi_internal_error(cmd);

	op = scsi_op_find(cmd->cdb[0], scsi_cdb_sa(cmd->cdb), &known);
	if (!op) {
		/* SPC-4 §4.5.x: unknown opcode vs. unsupported service action. */
		if (known)
			return scsi_invalid_cdb(cmd);
		return scsi_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
	}
	cmd->data_in = op->data_in;
	if (!lu->cow)
		return scsi_fail(cmd, SENSE_NOT_READY, ASC_LU_NOT_READY);
	/* SBC-3 §4.11: a write-protected logical unit refuses what would change it. */
	if (lu->write_protect && changes_medium(op->fn))
		return scsi_fail(cmd, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED);
	return op->fn(lu, cmd);
}

int scsi_cmd_shares_lu(const struct scsi_lu *lu, const uint8_t *cdb)
{
	switch (cdb[0]) {
	case OP_READ_6:
	case OP_READ_10:
	case OP_READ_12:
	case OP_READ_16:
		return 1;
	case OP_WRITE_6: /* no FUA bit */
		return lu->write_cache;
	case OP_WRITE_10:
	case OP_WRITE_12:
	case OP_WRITE_16:
		return lu->write_cache && !(cdb[1] & 0x08);
	default:
		return 0;
	}
}

uint64_t scsi_lu_blocks(const struct scsi_lu *lu)
{
	return lu->cow ? cow_size(lu->cow) / SCSI_BLOCK_SIZE : 0;
}

uint8_t scsi_max_caw_blocks(const struct scsi_lu *lu)
{
	uint32_t max = 255; /* the CDB field is one byte */

	/* The Data-Out Buffer carries 2 × NUMBER OF LOGICAL BLOCKS (SBC-3 §5.3). */
	if (lu->max_xfer_blocks && lu->max_xfer_blocks / 2 < max)
		max = lu->max_xfer_blocks / 2;
	return (uint8_t)(max ? max : 1);
}

size_t scsi_iov_len(const struct iovec *iov, int cnt)
{
	size_t total = 0;
	int i;

	if (!iov)
		return 0;
	for (i = 0; i < cnt; i++)
		total += iov[i].iov_len;
	return total;
}

size_t scsi_iov_read_at(const struct iovec *iov, int cnt, size_t skip, void *buf,
			size_t len)
{
	uint8_t *out = buf;
	size_t done = 0;
	int i;

	if (!iov)
		return 0;
	for (i = 0; i < cnt && done < len; i++) {
		size_t seg = iov[i].iov_len, n;

		if (skip >= seg) {
			skip -= seg;
			continue;
		}
		n = seg - skip;
		if (n > len - done)
			n = len - done;
		memcpy(out + done, (const uint8_t *)iov[i].iov_base + skip, n);
		done += n;
		skip = 0;
	}
	return done;
}

size_t scsi_iov_to_buf(const struct iovec *iov, int cnt, void *buf, size_t len)
{
	return scsi_iov_read_at(iov, cnt, 0, buf, len);
}

size_t scsi_buf_to_iov(const struct iovec *iov, int cnt, const void *buf, size_t len)
{
	const uint8_t *in = buf;
	size_t done = 0;
	int i;

	if (!iov)
		return 0;
	for (i = 0; i < cnt && done < len; i++) {
		size_t n = iov[i].iov_len;

		if (n > len - done)
			n = len - done;
		if (n)
			memcpy(iov[i].iov_base, in + done, n);
		done += n;
	}
	return done;
}

int scsi_data_in(struct scsi_cmd *cmd, const void *buf, size_t len, size_t alloc_len)
{
	size_t n = len < alloc_len ? len : alloc_len;

	cmd->data_in = 1;
	cmd->data_in_len = (uint32_t)scsi_buf_to_iov(cmd->iov, cmd->iov_cnt, buf, n);
	return SCSI_STATUS_GOOD;
}
