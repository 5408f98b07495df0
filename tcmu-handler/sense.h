/*
 * sense.h — SCSI status and fixed-format sense data, built in one place
 * (SPC-4 §4.5.3 "Fixed format sense data").
 *
 * Every error the handler reports on the wire goes through here: the SCSI layer
 * turns a negative errno from the COW store into a sense key / ASC / ASCQ with
 * sense_from_errno(), and protocol errors (bad CDB field, unknown opcode, LBA out of
 * range) with sense_set().
 */
#ifndef SCSIPUB_SENSE_H
#define SCSIPUB_SENSE_H

#include <stddef.h>
#include <stdint.h>

/* SAM-5 status codes. */
#define SCSI_STATUS_GOOD            0x00
#define SCSI_STATUS_CHECK_CONDITION 0x02
#define SCSI_STATUS_BUSY            0x08

/* SPC-4 §4.5.6 sense keys. */
#define SENSE_NO_SENSE        0x0
#define SENSE_NOT_READY       0x2
#define SENSE_MEDIUM_ERROR    0x3
#define SENSE_HARDWARE_ERROR  0x4
#define SENSE_ILLEGAL_REQUEST 0x5
#define SENSE_UNIT_ATTENTION  0x6
#define SENSE_DATA_PROTECT    0x7
#define SENSE_ABORTED_COMMAND 0xb
#define SENSE_MISCOMPARE      0xe

/* Additional sense codes, as (ASC << 8) | ASCQ (SPC-4 Annex D). */
#define ASC_NONE                       0x0000
#define ASC_NOT_READY_MANUAL_INTERVENTION 0x0403 /* LOGICAL UNIT NOT READY, MANUAL
						    INTERVENTION REQUIRED (SPC-4) */
#define ASC_LU_COMM_FAILURE            0x0800 /* LOGICAL UNIT COMMUNICATION FAILURE */
#define ASC_WRITE_ERROR                0x0c00
#define ASC_INVALID_FIELD_IN_CMD_IU    0x0e03 /* INVALID FIELD IN COMMAND INFORMATION UNIT */
#define ASC_READ_ERROR                 0x1100 /* UNRECOVERED READ ERROR */
#define ASC_MISCOMPARE_DURING_VERIFY   0x1d00
#define ASC_PARAM_LIST_LENGTH_ERROR    0x1a00
#define ASC_INVALID_OPCODE             0x2000 /* INVALID COMMAND OPERATION CODE */
#define ASC_LBA_OUT_OF_RANGE           0x2100 /* LOGICAL BLOCK ADDRESS OUT OF RANGE */
#define ASC_INVALID_FIELD_IN_CDB       0x2400
#define ASC_INVALID_FIELD_IN_PARAM     0x2600 /* INVALID FIELD IN PARAMETER LIST */
#define ASC_WRITE_PROTECTED            0x2700
#define ASC_SPACE_ALLOC_FAILED         0x2707 /* SPACE ALLOCATION FAILED WRITE PROTECT */
#define ASC_INTERNAL_TARGET_FAILURE    0x4400

/* Size of the sense buffer in a TCMU completion (TCMU_SENSE_BUFFERSIZE). */
#define SENSE_BUF_LEN 96
/* Length of the fixed-format sense we build (18 bytes: header + 10 additional). */
#define SENSE_FIXED_LEN 18

/*
 * Fill buf (at least SENSE_FIXED_LEN bytes; the rest up to SENSE_BUF_LEN is zeroed
 * when buflen allows) with current, fixed-format sense data (response code 0x70):
 * byte 2 = key, byte 7 = additional length 10, bytes 12/13 = ASC/ASCQ from asc_ascq.
 * Returns SCSI_STATUS_CHECK_CONDITION so callers can `return sense_set(...)`.
 */
int sense_set(uint8_t *buf, size_t buflen, uint8_t key, uint16_t asc_ascq);

/*
 * Like sense_set() and also sets the VALID bit and the INFORMATION field (bytes 3..6,
 * big-endian) to info — used for MISCOMPARE (offset of the first differing byte,
 * SBC-3 §5.3 COMPARE AND WRITE).
 */
int sense_set_info(uint8_t *buf, size_t buflen, uint8_t key, uint16_t asc_ascq,
		   uint32_t info);

/*
 * Map a negative errno from the COW store to sense data and return
 * SCSI_STATUS_CHECK_CONDITION: -ERANGE → ILLEGAL REQUEST / LBA OUT OF RANGE;
 * -EDQUOT → DATA PROTECT / WRITE PROTECTED 27/00 (the session's write limit);
 * -ENOSPC → DATA PROTECT / SPACE ALLOCATION FAILED WRITE PROTECT 27/07 (the state
 * filesystem's reserve or the filesystem itself is exhausted, SBC-3 §4.7.3.6);
 * anything else → MEDIUM ERROR / UNRECOVERED READ ERROR (is_write == 0) or WRITE ERROR
 * (is_write != 0). err == 0 returns SCSI_STATUS_GOOD and leaves buf alone.
 */
int sense_from_errno(uint8_t *buf, size_t buflen, int err, int is_write);

#endif
