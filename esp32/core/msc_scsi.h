/*
 * msc_scsi.h — the SCSI transparent command set a USB mass-storage host sends
 * (USB MSC Subclass 06h), executed over a bridge (bridge.h).
 *
 * Commands: TEST UNIT READY, REQUEST SENSE, INQUIRY (standard + VPD page 00h),
 * MODE SENSE (6)/(10) (caching page 08h, all pages 3Fh, header-only 00h), START STOP UNIT, PREVENT
 * ALLOW MEDIUM REMOVAL, READ FORMAT CAPACITIES, READ CAPACITY (10)/(16), READ and
 * WRITE (10)/(16), SYNCHRONIZE CACHE (10)/(16) (forwarded to the target). Anything
 * else is CHECK CONDITION, ILLEGAL REQUEST / INVALID COMMAND OPERATION CODE
 * (05/20/00); a CDB shorter than its opcode's group length (SPC-4 §4.2.5.1) or a
 * reserved field value is 05/24/00; READ/WRITE past the last LBA is 05/21/00 (SBC-3).
 *
 * A command runs in two steps so that any front end (BOT over FunctionFS, TinyUSB's
 * callbacks) can own the data phase:
 *   scsi_begin()  decodes and checks the CDB; commands without bulk data run here
 *                 and leave their data-in bytes in the caller's small buffer;
 *   scsi_rw()     moves one chunk of a READ/WRITE's data (any number of whole
 *                 blocks at a byte offset into the transfer), as the data phase goes.
 * A failing step returns -1 with the sense data, which is also kept as the pending
 * sense that the next REQUEST SENSE returns (BOT has no autosense).
 */
#ifndef MSC_SCSI_H
#define MSC_SCSI_H

#include <stdbool.h>
#include <stdint.h>

#include "bridge.h"
#include "bsense.h"

/* Largest data-in of a non-READ command (INQUIRY, MODE SENSE, ...); buffers given to
 * scsi_begin must hold this much. */
#define SCSI_SMALL_MAX 96u

enum scsi_dir { SCSI_DIR_NONE = 0, SCSI_DIR_IN = 1, SCSI_DIR_OUT = 2 };

/* A decoded command. */
struct scsi_req {
	uint8_t op;
	enum scsi_dir dir;  /* data phase the device intends */
	uint64_t len;       /* bytes the device intends to move (0 for SCSI_DIR_NONE) */
	bool rw;            /* READ/WRITE: data moves through scsi_rw() */
	uint64_t lba;       /* READ/WRITE only */
	uint32_t nblocks;
	bool fua;
};

/* A logical unit: the bridge plus the pending sense of the last failure. */
struct scsi_lu {
	struct bridge *b;
	struct bsense pending;
};

/* Bind lu to a bridge (borrowed). No pending sense. */
void scsi_lu_init(struct scsi_lu *lu, struct bridge *b);

/*
 * Decode and check cdb[0..cdb_len-1] (cdb_len = the CBW's bCBWCBLength, 1..16).
 * On success (0) *r describes the data phase; if !r->rw and r->dir == SCSI_DIR_IN,
 * the r->len data-in bytes (already cut to the allocation length) are in small
 * (SCSI_SMALL_MAX bytes, caller-owned). On CHECK CONDITION returns -1 with *sense
 * and r->dir = SCSI_DIR_NONE, r->len = 0.
 */
int scsi_begin(struct scsi_lu *lu, const uint8_t *cdb, uint8_t cdb_len,
	       struct scsi_req *r, uint8_t *small, struct bsense *sense);

/*
 * Data phase of a READ/WRITE decoded by scsi_begin: move len bytes at byte offset
 * off of the transfer (both multiples of the block size) from the target into buf
 * (READ) or from buf to the target (WRITE, write-through). 0 or -1 with *sense.
 */
int scsi_rw(struct scsi_lu *lu, const struct scsi_req *r, uint64_t off, uint8_t *buf,
	    uint32_t len, struct bsense *sense);

/* Record a failure's sense as pending (for front ends that fail a command
 * themselves, e.g. on a BOT phase error). */
void scsi_set_pending(struct scsi_lu *lu, const struct bsense *sense);

#endif
