/* msc_tusb.c — see msc_tusb.h. */
#include <string.h>

#include "msc_tusb.h"

void msc_init(struct msc_adapter *a, struct bridge *b, msc_done_fn done, void *done_ctx)
{
	memset(a, 0, sizeof(*a));
	scsi_lu_init(&a->lu, b);
	a->done = done;
	a->done_ctx = done_ctx;
	atomic_init(&a->job, MSC_JOB_NONE);
}

void msc_capacity(struct msc_adapter *a, uint32_t *block_count, uint16_t *block_size)
{
	const struct bridge *b = a->lu.b;

	if (!b->ever_up || b->block_size > 0xffffu) {
		*block_count = 0;
		*block_size = 0;
		return;
	}
	*block_count = b->nblocks > 0xffffffffu ? 0xffffffffu : (uint32_t)b->nblocks;
	*block_size = (uint16_t)b->block_size;
}

bool msc_test_unit_ready(struct msc_adapter *a, struct bsense *sense)
{
	if (a->lu.b->state == BRIDGE_UP)
		return true;
	bsense_becoming_ready(sense);
	return false;
}

static int32_t queue(struct msc_adapter *a, enum msc_job job, uint32_t lba, uint32_t offset,
		     uint8_t *buf, uint32_t len, struct bsense *sense)
{
	const struct bridge *b = a->lu.b;
	uint32_t bs = b->block_size;
	uint64_t first;

	/* Only the USB task queues, so a free slot stays free until the store below. */
	if (atomic_load(&a->job) != MSC_JOB_NONE) {
		bsense_set(sense, BS_ABORTED_COMMAND, 0x00, 0x00);
		return -1;
	}
	if (b->state != BRIDGE_UP) {
		bsense_becoming_ready(sense);
		return -1;
	}
	if (job != MSC_JOB_FLUSH) {
		if (!bs || offset % bs || len % bs) {
			bsense_invalid_field(sense);
			return -1;
		}
		first = (uint64_t)lba + offset / bs;
		if (first > b->nblocks || len / bs > b->nblocks - first) {
			bsense_lba_out_of_range(sense);
			return -1;
		}
		a->lba = first;
	}
	a->buf = buf;
	a->len = len;
	atomic_store(&a->job, (int)job); /* publishes lba/buf/len to the bridge task */
	return MSC_RET_ASYNC;
}

int32_t msc_read10(struct msc_adapter *a, uint32_t lba, uint32_t offset, void *buf,
		   uint32_t bufsize, struct bsense *sense)
{
	return queue(a, MSC_JOB_READ, lba, offset, buf, bufsize, sense);
}

int32_t msc_write10(struct msc_adapter *a, uint32_t lba, uint32_t offset,
		    const void *buf, uint32_t bufsize, struct bsense *sense)
{
	/* The buffer is only read: the cast keeps one job layout for both directions. */
	return queue(a, MSC_JOB_WRITE, lba, offset, (uint8_t *)(uintptr_t)buf, bufsize, sense);
}

int32_t msc_scsi(struct msc_adapter *a, const uint8_t cdb[16], void *buf,
		 uint16_t bufsize, struct bsense *sense)
{
	struct scsi_req r;
	uint8_t small[SCSI_SMALL_MAX];

	if (cdb[0] == 0x35 || cdb[0] == 0x91) /* SYNCHRONIZE CACHE: to the bridge task */
		return queue(a, MSC_JOB_FLUSH, 0, 0, NULL, 0, sense);
	if (cdb[0] == 0x28 || cdb[0] == 0x2a || cdb[0] == 0x88 || cdb[0] == 0x8a ||
	    cdb[0] == 0x00) {
		/* TinyUSB routes READ/WRITE (10) and TEST UNIT READY elsewhere; READ/WRITE
		 * (16) would need a data phase scsi_cb cannot give (capacities < 2 TiB
		 * never need them). */
		bsense_invalid_opcode(sense);
		return -1;
	}
	if (scsi_begin(&a->lu, cdb, 16, &r, small, sense) != 0)
		return -1;
	if (r.dir != SCSI_DIR_IN)
		return 0;
	if (r.len > bufsize)
		r.len = bufsize;
	memcpy(buf, small, (size_t)r.len);
	return (int32_t)r.len;
}

bool msc_work(struct msc_adapter *a)
{
	int job = atomic_load(&a->job);
	struct bsense s;
	struct bridge *b = a->lu.b;
	int rc;

	if (job == MSC_JOB_NONE)
		return false;
	bsense_clear(&s);
	if (job == MSC_JOB_READ)
		rc = bridge_read(b, a->lba, a->len / b->block_size, a->buf, &s);
	else if (job == MSC_JOB_WRITE)
		rc = bridge_write(b, a->lba, a->len / b->block_size, a->buf, &s);
	else
		rc = bridge_flush(b, &s);
	atomic_store(&a->job, MSC_JOB_NONE);
	a->done(a->done_ctx, (enum msc_job)job, rc ? -1 : (int32_t)a->len, rc ? &s : NULL);
	return true;
}
