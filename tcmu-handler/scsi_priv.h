/*
 * scsi_priv.h — what scsi.c (dispatch), scsi_spc.c (SPC-4 commands) and scsi_sbc.c
 * (SBC-3 commands) share. Not part of the handler's public contract (scsi.h).
 */
#ifndef SCSIPUB_SCSI_PRIV_H
#define SCSIPUB_SCSI_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "scsi.h"

/* Operation codes we handle (SPC-4 Annex D.3.1, SBC-3 Annex A). */
enum {
	OP_TEST_UNIT_READY      = 0x00,
	OP_REQUEST_SENSE        = 0x03,
	OP_READ_6               = 0x08,
	OP_WRITE_6              = 0x0a,
	OP_INQUIRY              = 0x12,
	OP_MODE_SELECT_6        = 0x15,
	OP_MODE_SENSE_6         = 0x1a,
	OP_START_STOP_UNIT      = 0x1b,
	OP_READ_CAPACITY_10     = 0x25,
	OP_READ_10              = 0x28,
	OP_WRITE_10             = 0x2a,
	OP_WRITE_VERIFY_10      = 0x2e,
	OP_VERIFY_10            = 0x2f,
	OP_PRE_FETCH_10         = 0x34,
	OP_SYNC_CACHE_10        = 0x35,
	OP_WRITE_SAME_10        = 0x41,
	OP_UNMAP                = 0x42,
	OP_MODE_SELECT_10       = 0x55,
	OP_MODE_SENSE_10        = 0x5a,
	OP_READ_16              = 0x88,
	OP_COMPARE_AND_WRITE    = 0x89,
	OP_WRITE_16             = 0x8a,
	OP_WRITE_VERIFY_16      = 0x8e,
	OP_VERIFY_16            = 0x8f,
	OP_PRE_FETCH_16         = 0x90,
	OP_SYNC_CACHE_16        = 0x91,
	OP_WRITE_SAME_16        = 0x93,
	OP_SERVICE_ACTION_IN_16 = 0x9e,
	OP_MAINTENANCE_IN       = 0xa3,
	OP_READ_12              = 0xa8,
	OP_WRITE_12             = 0xaa,
	OP_WRITE_VERIFY_12      = 0xae,
	OP_VERIFY_12            = 0xaf,
};

/* Service actions. */
#define SAI_READ_CAPACITY_16        0x10 /* SERVICE ACTION IN(16), SBC-3 §5.16 */
#define MI_REPORT_SUPPORTED_OPCODES 0x0c /* MAINTENANCE IN, SPC-4 §6.35 */

/* Additional sense codes used only inside the SCSI layer, (ASC << 8) | ASCQ. */
#define ASC_SAVING_PARAMS_UNSUPPORTED 0x3900 /* SAVING PARAMETERS NOT SUPPORTED */

/*
 * Limits the Block Limits VPD page advertises (SBC-3 §6.5.3) and the SBC commands
 * enforce. Units are logical blocks unless said otherwise.
 */
#define SCSI_MAX_UNMAP_LBA_COUNT   0x100000u /* per UNMAP command, all descriptors */
#define SCSI_MAX_UNMAP_DESCRIPTORS 256u      /* UNMAP block descriptors per command */
#define SCSI_UNMAP_GRANULARITY     8u        /* optimal unmap granularity (4 KiB) */
#define SCSI_XFER_GRANULARITY      8u        /* optimal transfer length granularity */
/*
 * MAXIMUM WRITE SAME LENGTH: 0xFFFF blocks, the value LIO's own block backstores
 * advertise (K:target_core_iblock.c). It also keeps one WRITE SAME below 65536 blocks,
 * a range initiators (libiscsi's WriteSame16.Unmap) expect to be able to fill with a
 * plain WRITE first when the limit allows it.
 */
#define SCSI_MAX_WRITE_SAME_BLOCKS 0xffffu

/* A handler for one command: returns a SCSI status, sense in cmd->sense. */
typedef int (*scsi_handler_fn)(struct scsi_lu *lu, struct scsi_cmd *cmd);

/*
 * One supported command: the dispatch table entry and, in the same place, what
 * REPORT SUPPORTED OPERATION CODES says about it (SPC-4 §6.35), so the two never
 * disagree. Entries are sorted by (opcode, service action).
 */
struct scsi_op {
	uint8_t opcode;
	uint8_t has_sa;       /* 1: the command is identified by opcode + service action */
	uint16_t sa;          /* service action (only with has_sa) */
	uint8_t cdb_len;      /* CDB length in bytes */
	uint8_t data_in;      /* 1: transfers data to the initiator */
	uint8_t usage[16];    /* CDB USAGE DATA (SPC-4 §6.35.3), cdb_len bytes used */
	scsi_handler_fn fn;
};

/* The command table, sorted by (opcode, sa); scsi_ops_count entries. */
extern const struct scsi_op scsi_ops[];
extern const size_t scsi_ops_count;

/*
 * Service action of a CDB whose opcode is dispatched by service action (MAINTENANCE
 * IN/OUT, SERVICE ACTION IN(16)/(12)...): the low five bits of byte 1.
 */
static inline uint16_t scsi_cdb_sa(const uint8_t *cdb)
{
	return cdb[1] & 0x1f;
}

/*
 * Look up opcode (+ sa, for opcodes with service actions). Returns the entry or NULL.
 * *opcode_known (may be NULL) is set to 1 when some entry has this opcode, so a
 * caller can tell an unknown opcode from an unknown service action.
 */
const struct scsi_op *scsi_op_find(uint8_t opcode, uint16_t sa, int *opcode_known);

/* Big-endian field access (all multi-byte SCSI fields are big-endian). */
static inline uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t get_be24(const uint8_t *p)
{
	return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
}

static inline uint32_t get_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint64_t get_be64(const uint8_t *p)
{
	return ((uint64_t)get_be32(p) << 32) | get_be32(p + 4);
}

static inline void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

/* Shorthands for the sense every handler returns. */
static inline int scsi_fail(struct scsi_cmd *cmd, uint8_t key, uint16_t asc_ascq)
{
	return sense_set(cmd->sense, sizeof(cmd->sense), key, asc_ascq);
}

static inline int scsi_invalid_cdb(struct scsi_cmd *cmd)
{
	return scsi_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
}

static inline int scsi_invalid_param(struct scsi_cmd *cmd)
{
	return scsi_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAM);
}

/*
 * A Data-Out Buffer shorter than the CDB's transfer length (the iSCSI Expected Data
 * Transfer Length said less): INVALID FIELD IN COMMAND INFORMATION UNIT (SPC-4 Annex
 * D, 0E/03), what LIO's own backstores answer for such a data CDB
 * (K:target_cmd_size_check). The CDB itself is valid, so not INVALID FIELD IN CDB.
 */
static inline int scsi_short_data_out(struct scsi_cmd *cmd)
{
	return scsi_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CMD_IU);
}

/* Errors of our own (e.g. out of memory) that are neither the CDB's nor the medium's. */
static inline int scsi_internal_error(struct scsi_cmd *cmd)
{
	return scsi_fail(cmd, SENSE_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
}

/*
 * Return data-in: copy min(len, alloc_len, buffer size) bytes of buf to the
 * command's iovecs (SPC-4 §4.2.5.6 allocation length truncation) and record the
 * count in cmd->data_in_len. Always returns SCSI_STATUS_GOOD.
 */
int scsi_data_in(struct scsi_cmd *cmd, const void *buf, size_t len, size_t alloc_len);

/*
 * Copy up to len bytes out of the iovec array, starting skip bytes into it, into buf.
 * Returns the bytes copied (fewer when the iovecs end first).
 */
size_t scsi_iov_read_at(const struct iovec *iov, int cnt, size_t skip, void *buf,
			size_t len);

/* Number of logical blocks of the LU (cow size / SCSI_BLOCK_SIZE). */
uint64_t scsi_lu_blocks(const struct scsi_lu *lu);

/*
 * SBC-3 §4.5 range check without wraparound: 1 if [lba, lba + nblocks) lies inside
 * a medium of capacity blocks, else 0. nblocks == 0 is inside when lba ≤ capacity.
 */
static inline int scsi_lba_range_ok(uint64_t lba, uint64_t nblocks, uint64_t capacity)
{
	return lba <= capacity && nblocks <= capacity - lba;
}

/* MAXIMUM COMPARE AND WRITE LENGTH advertised for lu (1..255 blocks). */
uint8_t scsi_max_caw_blocks(const struct scsi_lu *lu);

/* SPC-4 commands (scsi_spc.c). */
int spc_test_unit_ready(struct scsi_lu *lu, struct scsi_cmd *cmd);
int spc_request_sense(struct scsi_lu *lu, struct scsi_cmd *cmd);
int spc_inquiry(struct scsi_lu *lu, struct scsi_cmd *cmd);
int spc_mode_select(struct scsi_lu *lu, struct scsi_cmd *cmd);   /* (6) and (10) */
int spc_mode_sense(struct scsi_lu *lu, struct scsi_cmd *cmd);    /* (6) and (10) */
int spc_report_supported_opcodes(struct scsi_lu *lu, struct scsi_cmd *cmd);

/* SBC-3 commands (scsi_sbc.c). */
int sbc_start_stop_unit(struct scsi_lu *lu, struct scsi_cmd *cmd);
int sbc_read_capacity10(struct scsi_lu *lu, struct scsi_cmd *cmd);
int sbc_read_capacity16(struct scsi_lu *lu, struct scsi_cmd *cmd);
int sbc_read(struct scsi_lu *lu, struct scsi_cmd *cmd);          /* 6/10/12/16 */
int sbc_write(struct scsi_lu *lu, struct scsi_cmd *cmd);         /* 6/10/12/16 */
int sbc_write_verify(struct scsi_lu *lu, struct scsi_cmd *cmd);  /* 10/12/16 */
int sbc_verify(struct scsi_lu *lu, struct scsi_cmd *cmd);        /* 10/12/16 */
int sbc_prefetch(struct scsi_lu *lu, struct scsi_cmd *cmd);      /* 10/16 */
int sbc_sync_cache(struct scsi_lu *lu, struct scsi_cmd *cmd);    /* 10/16 */
int sbc_write_same(struct scsi_lu *lu, struct scsi_cmd *cmd);    /* 10/16 */
int sbc_unmap(struct scsi_lu *lu, struct scsi_cmd *cmd);
int sbc_compare_and_write(struct scsi_lu *lu, struct scsi_cmd *cmd);

#endif
