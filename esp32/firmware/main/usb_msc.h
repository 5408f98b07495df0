/* usb_msc.h — TinyUSB MSC glue over the bridge core (msc_tusb.h). */
#ifndef USB_MSC_H
#define USB_MSC_H

#include "msc_tusb.h"

/* Bind the TinyUSB callbacks to an adapter (set up by the caller with msc_init,
 * done callback = usb_msc_done, done_ctx = NULL). Call before tusb_init(). */
void usb_msc_bind(struct msc_adapter *a);

/* The adapter's completion callback: sets the sense, completes TinyUSB's async I/O
 * (tud_msc_async_io_done) or wakes the scsi_cb waiting for a SYNCHRONIZE CACHE. */
void usb_msc_done(void *ctx, enum msc_job job, int32_t bytes, const struct bsense *sense);

#endif
