/*
 * transport.h — what the bridge core needs from the iSCSI side: one LUN reached over
 * a connection that may drop. transport_iscsi.c implements it with libiscsi; the unit
 * tests implement it with an in-memory disk whose link can be cut.
 *
 * Every call is blocking and bounded by the implementation's own timeout. The block
 * calls return a tr_status: TR_OK, TR_CHECK (the target answered CHECK CONDITION; its
 * sense is in *sense, unchanged) or TR_LINK (the connection is gone or timed out; the
 * command's effect on the target is unknown, the bridge will reconnect and the USB
 * host will retry).
 */
#ifndef TRANSPORT_H
#define TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "bsense.h"

enum tr_status { TR_OK = 0, TR_CHECK = 1, TR_LINK = 2 };

struct tr_ops {
	/* Connect and log in (RFC 7143 §6). 0 on success, -1 on failure (logged). */
	int (*connect)(void *ctx);
	/* Drop the connection if any; safe to call when not connected. */
	void (*disconnect)(void *ctx);
	/* READ CAPACITY (16): number of blocks and block size in bytes. */
	enum tr_status (*capacity)(void *ctx, uint64_t *nblocks, uint32_t *block_size,
				   struct bsense *sense);
	/* READ (16) of nblocks blocks at lba into buf (nblocks * block_size bytes). */
	enum tr_status (*read)(void *ctx, uint64_t lba, uint32_t nblocks, uint8_t *buf,
			       struct bsense *sense);
	/* WRITE (16); returns only after the target's SCSI Response (write-through). */
	enum tr_status (*write)(void *ctx, uint64_t lba, uint32_t nblocks,
				const uint8_t *buf, bool fua, struct bsense *sense);
	/* SYNCHRONIZE CACHE (16) of the whole LUN. */
	enum tr_status (*flush)(void *ctx, struct bsense *sense);
	/*
	 * Idle upkeep while no command runs: answer the target's NOP-In pings and notice
	 * a dead link, waiting at most timeout_ms. 0 if the link is fine, -1 if lost.
	 */
	int (*service)(void *ctx, uint32_t timeout_ms);
};

#endif
