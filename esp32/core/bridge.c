/* bridge.c — see bridge.h for the state machine and the read-ahead contract. */
#include <string.h>

#include "bridge.h"
#include "bridge_platform.h"

static uint64_t now(const struct bridge *b)
{
	return b->cfg.now_ms ? b->cfg.now_ms(b->cfg.clock_ctx) : bplat_now_ms();
}

static void ra_drop(struct bridge *b)
{
	b->ra_n = 0;
}

void bridge_init(struct bridge *b, const struct tr_ops *ops, void *tr,
		 const struct bridge_config *cfg)
{
	memset(b, 0, sizeof(*b));
	b->ops = ops;
	b->tr = tr;
	if (cfg)
		b->cfg = *cfg;
	if (!b->cfg.backoff_min_ms)
		b->cfg.backoff_min_ms = 500;
	if (!b->cfg.backoff_max_ms)
		b->cfg.backoff_max_ms = 8000;
	if (b->cfg.backoff_max_ms < b->cfg.backoff_min_ms)
		b->cfg.backoff_max_ms = b->cfg.backoff_min_ms;
	if (!b->cfg.ra_buf || !b->cfg.ra_buf_len)
		b->cfg.ra_blocks = 0;
	b->state = BRIDGE_DOWN;
	b->backoff_ms = b->cfg.backoff_min_ms;
	b->next_try_ms = now(b);
}

static void link_lost(struct bridge *b)
{
	b->ops->disconnect(b->tr);
	ra_drop(b);
	if (b->state == BRIDGE_UP) {
		b->stats.link_losses++;
		bplat_log(BPLAT_WARN, "iSCSI link lost; reconnecting");
	}
	b->state = BRIDGE_DOWN;
	b->backoff_ms = b->cfg.backoff_min_ms;
	b->next_try_ms = now(b); /* first retry at once */
}

static void attempt_failed(struct bridge *b)
{
	uint64_t t = now(b);

	b->ops->disconnect(b->tr);
	b->stats.connect_failures++;
	b->next_try_ms = t + b->backoff_ms;
	bplat_log(BPLAT_WARN, "iSCSI login failed; next attempt in %u ms",
		  (unsigned)b->backoff_ms);
	b->backoff_ms = b->backoff_ms > b->cfg.backoff_max_ms / 2 ? b->cfg.backoff_max_ms
								   : b->backoff_ms * 2;
}

/* One login attempt if DOWN and due. */
static void try_connect(struct bridge *b)
{
	struct bsense s;
	uint64_t n;
	uint32_t bs;

	if (b->state == BRIDGE_UP || now(b) < b->next_try_ms)
		return;
	if (b->ops->connect(b->tr) != 0) {
		attempt_failed(b);
		return;
	}
	if (b->ops->capacity(b->tr, &n, &bs, &s) != TR_OK || !bs || !n) {
		attempt_failed(b);
		return;
	}
	if (b->ever_up && (n != b->nblocks || bs != b->block_size))
		bplat_log(BPLAT_WARN, "LUN changed size on reconnect: %llu x %u -> %llu x %u",
			  (unsigned long long)b->nblocks, (unsigned)b->block_size,
			  (unsigned long long)n, (unsigned)bs);
	b->nblocks = n;
	b->block_size = bs;
	b->ever_up = true;
	if (b->cfg.ra_blocks && b->cfg.ra_blocks > b->cfg.ra_buf_len / bs)
		b->cfg.ra_blocks = (uint32_t)(b->cfg.ra_buf_len / bs);
	ra_drop(b);
	b->state = BRIDGE_UP;
	b->backoff_ms = b->cfg.backoff_min_ms;
	b->stats.connects++;
	bplat_log(BPLAT_INFO, "iSCSI logged in: %llu blocks of %u bytes",
		  (unsigned long long)n, (unsigned)bs);
}

enum bridge_state bridge_poll(struct bridge *b, uint32_t idle_ms)
{
	if (b->state == BRIDGE_DOWN) {
		try_connect(b);
		return b->state;
	}
	if (b->ops->service(b->tr, idle_ms) != 0)
		link_lost(b);
	return b->state;
}

uint32_t bridge_retry_in_ms(const struct bridge *b)
{
	uint64_t t = now(b);

	if (b->state == BRIDGE_UP || t >= b->next_try_ms)
		return 0;
	return (uint32_t)(b->next_try_ms - t);
}

/* Common entry of every command: UP, or 02/04/01. */
static int need_up(struct bridge *b, struct bsense *sense)
{
	if (!b->cfg.no_inline_connect)
		try_connect(b);
	if (b->state == BRIDGE_UP)
		return 0;
	bsense_becoming_ready(sense);
	return -1;
}

/* Map a transport result to the command's return. */
static int finish(struct bridge *b, enum tr_status st, struct bsense *sense)
{
	if (st == TR_OK)
		return 0;
	if (st == TR_LINK) {
		link_lost(b);
		bsense_becoming_ready(sense);
	}
	return -1; /* TR_CHECK: the target's sense, unchanged */
}

int bridge_ready(struct bridge *b, struct bsense *sense)
{
	return need_up(b, sense);
}

int bridge_capacity(struct bridge *b, uint64_t *nblocks, uint32_t *block_size,
		    struct bsense *sense)
{
	if (!b->ever_up && need_up(b, sense) != 0)
		return -1;
	*nblocks = b->nblocks;
	*block_size = b->block_size;
	return 0;
}

/* SBC-3 §5.15: LBA + count beyond the capacity is 05/21/00. */
static int range_ok(const struct bridge *b, uint64_t lba, uint32_t n, struct bsense *sense)
{
	if (lba > b->nblocks || n > b->nblocks - lba) {
		bsense_lba_out_of_range(sense);
		return 0;
	}
	return 1;
}

int bridge_read(struct bridge *b, uint64_t lba, uint32_t nblocks, uint8_t *buf,
		struct bsense *sense)
{
	uint32_t bs;
	enum tr_status st;

	if (need_up(b, sense) != 0)
		return -1;
	if (!range_ok(b, lba, nblocks, sense))
		return -1;
	if (!nblocks)
		return 0;
	bs = b->block_size;
	if (b->ra_n && lba >= b->ra_lba && lba + nblocks <= b->ra_lba + b->ra_n) {
		memcpy(buf, b->cfg.ra_buf + (size_t)(lba - b->ra_lba) * bs, (size_t)nblocks * bs);
		b->stats.ra_hits_blocks += nblocks;
		return 0;
	}
	if (b->cfg.ra_blocks && nblocks < b->cfg.ra_blocks) {
		uint64_t left = b->nblocks - lba;
		uint32_t n = left < b->cfg.ra_blocks ? (uint32_t)left : b->cfg.ra_blocks;

		ra_drop(b);
		b->stats.target_reads++;
		st = b->ops->read(b->tr, lba, n, b->cfg.ra_buf, sense);
		if (st == TR_CHECK) {
			/* the error may lie past the blocks asked for: read just those, so
			 * the host gets their data or their own sense */
			b->stats.target_reads++;
			return finish(b, b->ops->read(b->tr, lba, nblocks, buf, sense), sense);
		}
		if (st != TR_OK)
			return finish(b, st, sense);
		b->ra_lba = lba;
		b->ra_n = n;
		memcpy(buf, b->cfg.ra_buf, (size_t)nblocks * bs);
		return 0;
	}
	b->stats.target_reads++;
	return finish(b, b->ops->read(b->tr, lba, nblocks, buf, sense), sense);
}

int bridge_write(struct bridge *b, uint64_t lba, uint32_t nblocks, const uint8_t *buf,
		 struct bsense *sense)
{
	if (need_up(b, sense) != 0)
		return -1;
	if (!range_ok(b, lba, nblocks, sense))
		return -1;
	if (!nblocks)
		return 0;
	/* Drop an overlapping window before the write: whatever the outcome, the
	 * target's blocks may have changed. */
	if (b->ra_n && lba < b->ra_lba + b->ra_n && b->ra_lba < lba + nblocks)
		ra_drop(b);
	/* Always FUA (SBC-3 WRITE (16)): the host was told WCE = 0, so it never asks for
	 * a flush, while the target may cache (our LUNs report WCE = 1); with FUA its
	 * SCSI Response means the blocks are on its stable storage. */
	return finish(b, b->ops->write(b->tr, lba, nblocks, buf, true, sense), sense);
}

int bridge_flush(struct bridge *b, struct bsense *sense)
{
	if (need_up(b, sense) != 0)
		return -1;
	return finish(b, b->ops->flush(b->tr, sense), sense);
}
