/*
 * msc_tusb.h — the bridge in the shape of TinyUSB's MSC device callbacks
 * (tud_msc_capacity_cb, tud_msc_test_unit_ready_cb, tud_msc_read10_cb,
 * tud_msc_write10_cb with TUD_MSC_RET_ASYNC + tud_msc_async_io_done, tud_msc_scsi_cb),
 * without depending on TinyUSB: esp32/firmware/main/usb_msc.c forwards each callback
 * here and turns the results into TinyUSB calls.
 *
 * Threads: the msc_* entry points run in the USB task and never touch the network;
 * I/O is handed to the bridge task through one job slot (BOT runs one command at a
 * time, so one slot is enough) and done by msc_work(), which calls the done callback
 * with the byte count or -1 and the sense to set (tud_msc_set_sense). The bridge
 * must be set up with bridge_config.no_inline_connect so only the bridge task logs in.
 */
#ifndef MSC_TUSB_H
#define MSC_TUSB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bridge.h"
#include "msc_scsi.h"

/* Same value as TinyUSB's TUD_MSC_RET_ASYNC: "completion comes later". */
#define MSC_RET_ASYNC (-16)

enum msc_job { MSC_JOB_NONE = 0, MSC_JOB_READ, MSC_JOB_WRITE, MSC_JOB_FLUSH };

/* Completion: bytes moved (>= 0) or -1 with *sense (NULL on success). Called from
 * msc_work() in the bridge task. */
typedef void (*msc_done_fn)(void *ctx, enum msc_job job, int32_t bytes,
			    const struct bsense *sense);

struct msc_adapter {
	struct scsi_lu lu;
	msc_done_fn done;
	void *done_ctx;
	_Atomic int job;      /* enum msc_job; set by the USB task, cleared by msc_work */
	uint64_t lba;         /* first block of the job */
	uint8_t *buf;
	uint32_t len;         /* bytes */
};

/* Bind to a bridge (borrowed) and a completion callback. */
void msc_init(struct msc_adapter *a, struct bridge *b, msc_done_fn done, void *done_ctx);

/* capacity_cb: last known capacity; 0/0 before the first login (TinyUSB then
 * answers NOT READY). Capacities past 2^32 blocks are cut to what READ (10) reaches. */
void msc_capacity(struct msc_adapter *a, uint32_t *block_count, uint16_t *block_size);

/* test_unit_ready_cb: true when UP; else false with 02/04/01 in *sense. */
bool msc_test_unit_ready(struct msc_adapter *a, struct bsense *sense);

/*
 * read10_cb / write10_cb: lba and byte offset into the command's transfer, bufsize
 * bytes (whole blocks). Queues the job and returns MSC_RET_ASYNC, or -1 with *sense
 * at once (LBA past the end 05/21/00, link down 02/04/01, a job already queued
 * 0B/00/00, partial block 05/24/00).
 */
int32_t msc_read10(struct msc_adapter *a, uint32_t lba, uint32_t offset, void *buf,
		   uint32_t bufsize, struct bsense *sense);
int32_t msc_write10(struct msc_adapter *a, uint32_t lba, uint32_t offset,
		    const void *buf, uint32_t bufsize, struct bsense *sense);

/*
 * scsi_cb: every other CDB (16 bytes as TinyUSB passes them). Returns the data-in
 * byte count (<= bufsize), 0 for no data, -1 with *sense, or MSC_RET_ASYNC for
 * SYNCHRONIZE CACHE, whose completion comes through the done callback (the glue
 * waits for it).
 */
int32_t msc_scsi(struct msc_adapter *a, const uint8_t cdb[16], void *buf,
		 uint16_t bufsize, struct bsense *sense);

/* Bridge task: run the queued job if any (then call done). True if one ran. */
bool msc_work(struct msc_adapter *a);

#endif
