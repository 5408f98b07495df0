/*
 * bridge.h — the bridge device: one iSCSI LUN (through a transport) presented as a
 * block device that survives link loss.
 *
 * Connection state machine (driven by bridge_poll and by each command):
 *
 *   DOWN --(retry due, connect ok, capacity ok)--> UP
 *   DOWN --(retry due, connect or capacity fails)--> DOWN, next retry after the
 *          backoff, which then doubles up to backoff_max_ms
 *   UP   --(a command or bridge_poll sees TR_LINK)--> DOWN, first retry at once,
 *          backoff reset to backoff_min_ms
 *
 * While DOWN every command fails with NOT READY / LOGICAL UNIT IS IN PROCESS OF
 * BECOMING READY (02/04/01, SPC-4 Annex D) so the USB host retries it. Writes are
 * write-through: bridge_write sends each with FUA and returns success only after the
 * target's SCSI Response, so an acknowledged write is on the target's stable storage.
 * A write cut off by the link returns 02/04/01 too, never success, so the host
 * rewrites it; no acknowledged write is lost.
 *
 * Optional read-ahead: a read shorter than ra_blocks is widened to ra_blocks (capped
 * at the end of the LUN) and the rest kept in a single window; later reads inside
 * the window are served from it. A write overlapping the window, any TR_LINK and
 * any reconnect drop the window.
 *
 * Not thread-safe: one caller at a time (the front end serialises USB commands and
 * bridge_poll).
 */
#ifndef BRIDGE_H
#define BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bsense.h"
#include "transport.h"

enum bridge_state { BRIDGE_DOWN = 0, BRIDGE_UP = 1 };

struct bridge_config {
	uint32_t backoff_min_ms;   /* first delay after a failed attempt; default 500 */
	uint32_t backoff_max_ms;   /* cap of the doubling; default 8000 */
	uint32_t ra_blocks;        /* read-ahead window in blocks; 0 disables */
	uint8_t *ra_buf;           /* caller-owned window buffer, ra_buf_len bytes */
	size_t ra_buf_len;
	/* true: commands never log in themselves, only bridge_poll does (front ends
	 * whose USB callbacks must not block, e.g. TinyUSB's). */
	bool no_inline_connect;
	/* Clock in ms; NULL = bplat_now_ms(). Tests pass a fake clock. */
	uint64_t (*now_ms)(void *clock_ctx);
	void *clock_ctx;
};

struct bridge_stats {
	uint32_t connects;        /* successful logins */
	uint32_t connect_failures;
	uint32_t link_losses;
	uint64_t ra_hits_blocks;  /* blocks served from the read-ahead window */
	uint64_t target_reads;    /* READ commands sent to the target */
};

struct bridge {
	const struct tr_ops *ops;
	void *tr;
	struct bridge_config cfg;
	enum bridge_state state;
	bool ever_up;             /* nblocks/block_size are known */
	uint64_t next_try_ms;
	uint32_t backoff_ms;
	uint64_t nblocks;
	uint32_t block_size;
	/* read-ahead window: blocks [ra_lba, ra_lba + ra_n) are in cfg.ra_buf */
	uint64_t ra_lba;
	uint32_t ra_n;
	struct bridge_stats stats;
};

/*
 * Set up *b over a transport (ops/tr are borrowed, must outlive b). cfg may be
 * NULL for defaults; zero fields take defaults. State starts DOWN with a retry due
 * at once. ra_blocks is reduced to what ra_buf holds once the block size is known.
 */
void bridge_init(struct bridge *b, const struct tr_ops *ops, void *tr,
		 const struct bridge_config *cfg);

/*
 * Drive the state machine without a command: reconnect if DOWN and a retry is due,
 * otherwise let the transport service the link for up to idle_ms (NOP-In answers).
 * Returns the state afterwards.
 */
enum bridge_state bridge_poll(struct bridge *b, uint32_t idle_ms);

/* Milliseconds until the next reconnect attempt (0 if due or UP). */
uint32_t bridge_retry_in_ms(const struct bridge *b);

/*
 * TEST UNIT READY semantics: reconnect if due; 0 when UP, else -1 with 02/04/01.
 */
int bridge_ready(struct bridge *b, struct bsense *sense);

/*
 * Capacity known from the last login (it may be used while DOWN, since the host
 * must keep seeing the same disk). 0 and the values, or -1 with 02/04/01 if the
 * bridge never logged in.
 */
int bridge_capacity(struct bridge *b, uint64_t *nblocks, uint32_t *block_size,
		    struct bsense *sense);

/*
 * Read nblocks blocks at lba into buf (nblocks * block_size bytes). 0 on success;
 * -1 with *sense: 05/21/00 past the end, 02/04/01 link down, or the target's own.
 */
int bridge_read(struct bridge *b, uint64_t lba, uint32_t nblocks, uint8_t *buf,
		struct bsense *sense);

/* Write-through write, sent to the target with FUA whatever the host asked (the host
 * sees WCE = 0 and never flushes; the target may cache): success means the blocks are
 * on the target's stable storage. Same returns as bridge_read. */
int bridge_write(struct bridge *b, uint64_t lba, uint32_t nblocks, const uint8_t *buf,
		 struct bsense *sense);

/* Forward SYNCHRONIZE CACHE to the target. Same returns as bridge_read. */
int bridge_flush(struct bridge *b, struct bsense *sense);

#endif
