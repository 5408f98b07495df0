/*
 * bot.h — USB Mass Storage Class Bulk-Only Transport 1.0 (BOT): Command Block
 * Wrapper parsing (§5.1, §6.2), Command Status Wrapper building (§5.2) and the
 * thirteen host/device data-phase cases (§6.7), independent of how the bytes move
 * (FunctionFS endpoints, a test harness). TinyUSB implements BOT itself; its
 * front end uses msc_tusb.h instead.
 */
#ifndef BOT_H
#define BOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msc_scsi.h"

#define BOT_CBW_LEN 31u
#define BOT_CSW_LEN 13u
#define BOT_CBW_SIGNATURE 0x43425355u /* "USBC" little endian */
#define BOT_CSW_SIGNATURE 0x53425355u /* "USBS" */

enum bot_csw_status { BOT_CSW_PASSED = 0, BOT_CSW_FAILED = 1, BOT_CSW_PHASE_ERROR = 2 };

struct bot_cbw {
	uint32_t tag;
	uint32_t data_len;   /* dCBWDataTransferLength */
	bool dir_in;         /* bmCBWFlags bit 7 */
	uint8_t lun;
	uint8_t cb_len;      /* bCBWCBLength, 1..16 once parsed */
	uint8_t cb[16];
};

enum bot_cbw_check {
	BOT_CBW_OK = 0,
	BOT_CBW_INVALID = 1,        /* wrong size or signature (§6.2.1) */
	BOT_CBW_NOT_MEANINGFUL = 2, /* reserved bits set, LUN > max_lun, bad CB length (§6.2.2) */
};

/*
 * Parse len received bytes as a CBW. Anything but BOT_CBW_OK means: stall both
 * bulk endpoints and accept nothing until Bulk-Only Mass Storage Reset and
 * Clear Feature HALT on both (Reset Recovery, §5.3.4, §6.6.1).
 */
enum bot_cbw_check bot_cbw_parse(const uint8_t *buf, size_t len, uint8_t max_lun,
				 struct bot_cbw *out);

/* Write a CSW (§5.2) into out[0..12]. */
void bot_csw_build(uint32_t tag, uint32_t residue, enum bot_csw_status st,
		   uint8_t out[BOT_CSW_LEN]);

/*
 * What to do with one command (§6.7): the host's expectation (cbw) against the
 * device's intent (the scsi_req from scsi_begin).
 *   dir/len       the data phase to run: move len bytes in that direction
 *                 (len <= both the host's and the device's length);
 *   stall_after   after moving len bytes, end the data phase by stalling the
 *                 data endpoint (the host expected more, or a different phase);
 *   phase_error   the CSW status is 02h whatever the command's outcome; the
 *                 command's data phase is not run (len = 0).
 * The CSW residue is cbw->data_len minus the bytes actually moved (bot_residue).
 */
struct bot_plan {
	enum scsi_dir dir;
	uint32_t len;
	bool stall_after;
	bool phase_error;
	int bot_case; /* 1..13, the case number of §6.7 (for logs and tests) */
};

void bot_plan(const struct bot_cbw *cbw, const struct scsi_req *r, struct bot_plan *p);

/* dCSWDataResidue (§5.2): host's length minus bytes moved (never negative). */
uint32_t bot_residue(const struct bot_cbw *cbw, uint32_t moved);

/*
 * The bulk endpoints as a front end moves them. send/recv move exactly len bytes
 * and return 0, or -1 if the endpoint failed (host reset, unplug). stall halts the
 * bulk-in (in = true) or bulk-out endpoint (§6.6).
 */
struct bot_io {
	int (*send)(void *ctx, const uint8_t *buf, uint32_t len);
	int (*recv)(void *ctx, uint8_t *buf, uint32_t len);
	void (*stall)(void *ctx, bool in);
	void *ctx;
};

/*
 * Run one BOT command whose CBW is cbw[0..n-1]: parse it, run the SCSI command,
 * move the data phase through io in chunks of at most buf_len bytes (buf is the
 * caller's, a multiple of the block size and >= SCSI_SMALL_MAX), send the CSW.
 * Returns 0 when the CSW went out, 1 when the CBW was invalid or not meaningful
 * (both endpoints stalled: wait for Reset Recovery), -1 when an endpoint failed.
 */
int bot_command(struct scsi_lu *lu, const uint8_t *cbw, size_t n, const struct bot_io *io,
		uint8_t *buf, uint32_t buf_len);

#endif
