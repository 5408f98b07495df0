/*
 * sense.c — fixed-format sense data (SPC-4 §4.5.3), the only place in the handler
 * that builds it, and the errno → sense key / ASC / ASCQ mapping for the COW store.
 */
#include <errno.h>
#include <string.h>

#include "sense.h"

/* Byte offsets inside fixed-format sense data (SPC-4 §4.5.3, table 48). */
#define FIXED_RESPONSE_CODE 0  /* VALID (bit 7) | RESPONSE CODE (bits 6..0) */
#define FIXED_SENSE_KEY     2  /* FILEMARK | EOM | ILI | reserved | SENSE KEY */
#define FIXED_INFORMATION   3  /* bytes 3..6, big-endian */
#define FIXED_ADDL_LEN      7  /* ADDITIONAL SENSE LENGTH (n - 7) */
#define FIXED_ASC           12
#define FIXED_ASCQ          13

#define RESPONSE_CURRENT_FIXED 0x70
#define SENSE_VALID            0x80

/*
 * Write the 18-byte sense into buf, truncated to buflen, and zero the remainder of the
 * TCMU sense buffer that buflen covers.
 */
static void build(uint8_t *buf, size_t buflen, uint8_t key, uint16_t asc_ascq,
		  int valid, uint32_t info)
{
	uint8_t s[SENSE_FIXED_LEN];
	size_t n, z;

	if (!buf || !buflen)
		return;
	memset(s, 0, sizeof(s));
	s[FIXED_RESPONSE_CODE] = RESPONSE_CURRENT_FIXED | (valid ? SENSE_VALID : 0);
	s[FIXED_SENSE_KEY] = key & 0x0f;
	if (valid) {
		s[FIXED_INFORMATION + 0] = (uint8_t)(info >> 24);
		s[FIXED_INFORMATION + 1] = (uint8_t)(info >> 16);
		s[FIXED_INFORMATION + 2] = (uint8_t)(info >> 8);
		s[FIXED_INFORMATION + 3] = (uint8_t)info;
	}
	s[FIXED_ADDL_LEN] = SENSE_FIXED_LEN - 8;
	s[FIXED_ASC] = (uint8_t)(asc_ascq >> 8);
	s[FIXED_ASCQ] = (uint8_t)asc_ascq;

	z = buflen < SENSE_BUF_LEN ? buflen : SENSE_BUF_LEN;
	memset(buf, 0, z);
	n = buflen < sizeof(s) ? buflen : sizeof(s);
	memcpy(buf, s, n);
}

int sense_set(uint8_t *buf, size_t buflen, uint8_t key, uint16_t asc_ascq)
{
	build(buf, buflen, key, asc_ascq, 0, 0);
	return SCSI_STATUS_CHECK_CONDITION;
}

int sense_set_info(uint8_t *buf, size_t buflen, uint8_t key, uint16_t asc_ascq,
		   uint32_t info)
{
	build(buf, buflen, key, asc_ascq, 1, info);
	return SCSI_STATUS_CHECK_CONDITION;
}

int sense_from_errno(uint8_t *buf, size_t buflen, int err, int is_write)
{
	int e = err < 0 ? -err : err;

	if (e == 0)
		return SCSI_STATUS_GOOD;
	switch (e) {
	case ERANGE:
		/* SBC-3 §4.5: an LBA past the capacity. */
		return sense_set(buf, buflen, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	case EDQUOT:
		/* The session's write limit: the medium is write protected from now on. */
		return sense_set(buf, buflen, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED);
	case ENOSPC:
		/*
		 * The state filesystem is at its reserve or full: thin provisioning
		 * resource exhaustion (SBC-3 §4.7.3.6), DATA PROTECT / SPACE
		 * ALLOCATION FAILED WRITE PROTECT. Overwrites of allocated blocks
		 * still work, so the medium is not write protected as a whole.
		 */
		return sense_set(buf, buflen, SENSE_DATA_PROTECT, ASC_SPACE_ALLOC_FAILED);
	default:
		return sense_set(buf, buflen, SENSE_MEDIUM_ERROR,
				 is_write ? ASC_WRITE_ERROR : ASC_READ_ERROR);
	}
}
