/*
 * scsi.h — SCSI command emulation for one TCMU device (SPC-4 / SBC-3), over a cow
 * store. This is the layer between the ring plumbing (ring.c, device.c) and the COW
 * backend (cow.h): the ring hands over a CDB plus the command's data buffer as an
 * iovec array; scsi_execute() carries it out and returns the SCSI status, with
 * fixed-format sense data on CHECK CONDITION (sense.h).
 *
 * The kernel (LIO) keeps REPORT LUNS, PERSISTENT RESERVE IN/OUT and RESERVE/RELEASE
 * for itself; everything else arrives here (../shared/lab-recipe.md). Our backstores
 * are made with the kernel's ALUA off (cfs.h, alua_support=0) and INQUIRY reports
 * TPGS=0: no target port groups.
 *
 * Units: the logical block is 512 bytes (SCSI_BLOCK_SIZE); CDB LBAs and transfer
 * lengths are in logical blocks; the cow store is addressed in bytes.
 */
#ifndef SCSIPUB_SCSI_H
#define SCSIPUB_SCSI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include "cow.h"
#include "sense.h"

#define SCSI_BLOCK_SIZE 512u

/* What the SCSI layer needs to know about its logical unit. */
struct scsi_lu {
	struct cow *cow;          /* the backing store (not owned) */
	char serial[64];          /* unit serial number (VPD 0x80, NAA/T10 ids in 0x83) */
	uint32_t max_xfer_blocks; /* maximum transfer length in blocks (VPD 0xB0); 0 = none */
	int write_cache;          /* WCE bit of the caching mode page (SBC-3 §6.4.5), 0/1:
				     1 = writes are cached until SYNCHRONIZE CACHE / FUA,
				     0 = write-through (scsi_execute makes each durable) */
	int write_protect;        /* 1 = write-protected LU (SBC-3 §4.11): the WP bit of the
				     mode parameter header (SBC-3 §6.4.1) is set and every
				     command that changes the medium is DATA PROTECT /
				     WRITE PROTECTED 27/00 */
};

/* One command as handed over by the ring. */
struct scsi_cmd {
	const uint8_t *cdb;       /* the CDB (length implied by the opcode group) */
	struct iovec *iov;        /* data-in or data-out buffer (may be NULL if none) */
	int iov_cnt;
	uint8_t sense[SENSE_BUF_LEN]; /* out: sense data when status is CHECK CONDITION */
	uint32_t data_in_len;     /* out: bytes of data-in actually produced (≤ buffer) */
	int data_in;              /* out: 1 if the command transfers data to the initiator */
};

/*
 * Execute cmd against lu. Returns the SCSI status (SCSI_STATUS_GOOD or
 * SCSI_STATUS_CHECK_CONDITION with cmd->sense filled). Never fails otherwise: an
 * unsupported opcode is ILLEGAL REQUEST / INVALID COMMAND OPERATION CODE, a bad CDB
 * field ILLEGAL REQUEST / INVALID FIELD IN CDB, an LBA range past the end ILLEGAL
 * REQUEST / LBA OUT OF RANGE (SBC-3 §4.5), a write past the write limit DATA PROTECT
 * / WRITE PROTECTED, a write that needs space the state filesystem does not have (its
 * reserve, cow_set_reserve, or ENOSPC) DATA PROTECT / SPACE ALLOCATION FAILED WRITE
 * PROTECT (SBC-3 §4.7.3.6). A data buffer shorter than the CDB asks for is treated as the
 * transfer length the initiator allowed (data_in_len tells the ring the residual).
 * Durability follows lu->write_cache, the WCE bit the caching mode page reports
 * (SBC-3 §6.4.5): with 1, writes are cached and SYNCHRONIZE CACHE (10)/(16), FUA
 * writes and WRITE AND VERIFY make them durable (cow_flush / cow_write with fua)
 * before GOOD; with 0 every command that changes the medium is durable before GOOD.
 * A failed flush is CHECK CONDITION (EIO: MEDIUM ERROR / WRITE ERROR), never GOOD.
 */
int scsi_execute(struct scsi_lu *lu, struct scsi_cmd *cmd);

/*
 * Whether the command whose CDB is cdb may run while other such commands run on the
 * same lu (scsipub-tcmu runs those on several threads at once): READ (6) / (10) /
 * (12) / (16), and WRITE (6) / (10) / (12) / (16) while the write cache is on
 * (lu->write_cache, WCE = 1) and the CDB's FUA bit is 0 — the calls cow.h allows
 * concurrently. Everything else must run with the lu to itself: SYNCHRONIZE CACHE,
 * writes made durable (FUA, WCE = 0, WRITE AND VERIFY), UNMAP, WRITE SAME, COMPARE AND
 * WRITE (atomic, SBC-3 §5.3), VERIFY, MODE SELECT and the rest. Pure: reads
 * lu->write_cache, which the caller keeps stable meanwhile. 1 or 0.
 */
int scsi_cmd_shares_lu(const struct scsi_lu *lu, const uint8_t *cdb);

/* Copy helpers between a flat buffer and an iovec array; return bytes copied. */
size_t scsi_iov_to_buf(const struct iovec *iov, int cnt, void *buf, size_t len);
size_t scsi_buf_to_iov(const struct iovec *iov, int cnt, const void *buf, size_t len);
/* Total bytes in an iovec array. */
size_t scsi_iov_len(const struct iovec *iov, int cnt);

#endif
