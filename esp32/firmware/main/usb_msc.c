/*
 * usb_msc.c — TinyUSB's MSC device callbacks forwarded to the bridge core's
 * TinyUSB-shaped adapter (esp32/core/msc_tusb.h). READ (10)/WRITE (10) return
 * TUD_MSC_RET_ASYNC; the bridge task finishes them (write-through: a WRITE completes
 * only after the target's SCSI Response) and calls tud_msc_async_io_done. Sense data
 * from the core or the target is set unchanged with tud_msc_set_sense.
 */
#include <string.h>

#include "freertos/FreeRTOS.h"
#include "freertos/semphr.h"
#include "tusb.h"

#include "usb_msc.h"

static struct msc_adapter *ad;
static SemaphoreHandle_t flush_done;
static volatile int32_t flush_result;

void usb_msc_bind(struct msc_adapter *a)
{
	ad = a;
	flush_done = xSemaphoreCreateBinary();
}

static void set_sense(uint8_t lun, const struct bsense *s)
{
	tud_msc_set_sense(lun, s->key, s->asc, s->ascq);
}

void usb_msc_done(void *ctx, enum msc_job job, int32_t bytes, const struct bsense *sense)
{
	(void)ctx;
	if (sense)
		set_sense(0, sense);
	if (job == MSC_JOB_FLUSH) {
		flush_result = bytes;
		xSemaphoreGive(flush_done);
		return;
	}
	tud_msc_async_io_done(bytes, false);
}

void tud_msc_inquiry_cb(uint8_t lun, uint8_t vendor_id[8], uint8_t product_id[16],
			uint8_t product_rev[4])
{
	(void)lun;
	memcpy(vendor_id, "scsipub ", 8);
	memcpy(product_id, "iSCSI USB bridge", 16);
	memcpy(product_rev, "0.1 ", 4);
}

bool tud_msc_test_unit_ready_cb(uint8_t lun)
{
	struct bsense s;

	if (msc_test_unit_ready(ad, &s))
		return true;
	set_sense(lun, &s);
	return false;
}

void tud_msc_capacity_cb(uint8_t lun, uint32_t *block_count, uint16_t *block_size)
{
	(void)lun;
	msc_capacity(ad, block_count, block_size);
}

bool tud_msc_start_stop_cb(uint8_t lun, uint8_t power_condition, bool start, bool load_eject)
{
	(void)lun; (void)power_condition; (void)start; (void)load_eject;
	return true;
}

int32_t tud_msc_read10_cb(uint8_t lun, uint32_t lba, uint32_t offset, void *buffer,
			  uint32_t bufsize)
{
	struct bsense s;
	int32_t rc = msc_read10(ad, lba, offset, buffer, bufsize, &s);

	if (rc == MSC_RET_ASYNC)
		return TUD_MSC_RET_ASYNC;
	set_sense(lun, &s);
	return -1;
}

int32_t tud_msc_write10_cb(uint8_t lun, uint32_t lba, uint32_t offset, uint8_t *buffer,
			   uint32_t bufsize)
{
	struct bsense s;
	int32_t rc = msc_write10(ad, lba, offset, buffer, bufsize, &s);

	if (rc == MSC_RET_ASYNC)
		return TUD_MSC_RET_ASYNC;
	set_sense(lun, &s);
	return -1;
}

int32_t tud_msc_scsi_cb(uint8_t lun, uint8_t const scsi_cmd[16], void *buffer, uint16_t bufsize)
{
	struct bsense s;
	int32_t rc = msc_scsi(ad, scsi_cmd, buffer, bufsize, &s);

	if (rc == MSC_RET_ASYNC) { /* SYNCHRONIZE CACHE: wait for the bridge task */
		xSemaphoreTake(flush_done, portMAX_DELAY);
		return flush_result < 0 ? -1 : 0;
	}
	if (rc < 0)
		set_sense(lun, &s);
	return rc;
}
