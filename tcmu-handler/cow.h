/*
 * cow.h — the copy-on-write store behind one TCMU device (the backend contract).
 *
 * A cow store is a read-only base image (optional), an overlay file of the device's
 * size (sparse) and a bitmap file with one bit per 512-byte sector. Reads of a sector
 * whose bit is set come from the overlay, otherwise from the base (zeros past the
 * base's end, or everywhere for a blank disk). Writes go to the overlay and set bits;
 * a partial-sector write first copies the rest of the sector from wherever it
 * currently lives (overlay if its bit is set, else the base or zeros).
 *
 * Not thread-safe: the caller serialises all calls on one store (scsipub-tcmu runs one
 * worker thread per device).
 *
 * Units: every offset and length here is in BYTES. Callers (the SCSI layer) convert
 * logical blocks to bytes. Nothing in this module knows about SCSI; errors are
 * negative errno values, which the SCSI layer maps to sense data in one place.
 *
 * Durability: cow_flush() makes every completed write durable (fdatasync of the
 * overlay, then of the bitmap). Ordering for crash safety: a bit is only set after
 * the overlay data is written, so a crash never exposes unwritten overlay bytes.
 */
#ifndef SCSIPUB_COW_H
#define SCSIPUB_COW_H

#include <stddef.h>
#include <stdint.h>
#include "cow_config.h"

struct cow;

/*
 * Open the store described by cfg. The base is opened O_RDONLY and never written.
 * Overlay and bitmap are created if missing, reused if present (their contents are
 * kept, so a restarted daemon sees earlier writes). Returns a new store (caller owns,
 * free with cow_close) or NULL with errno set and a reason in err.
 */
struct cow *cow_open(const struct cow_config *cfg, char *err, size_t errlen);

/* Close and free. Does not flush; does not delete files. NULL is allowed. */
void cow_close(struct cow *c);

/* Device size in bytes. */
uint64_t cow_size(const struct cow *c);

/*
 * Read len bytes at byte offset off into buf. Returns 0, -ERANGE if off+len exceeds the
 * device size, -EIO (or another -errno) on an I/O error.
 */
int cow_read(struct cow *c, void *buf, uint64_t off, size_t len);

/*
 * Write len bytes at byte offset off. Returns 0; -ERANGE past the device size;
 * -ENOSPC if the write would allocate new overlay sectors beyond the write limit
 * (nothing is written then); -EIO or another -errno on I/O error.
 * fua != 0 makes this write durable before returning (SBC-3 FUA).
 */
int cow_write(struct cow *c, const void *buf, uint64_t off, size_t len, int fua);

/* Make all completed writes durable (SBC-3 SYNCHRONIZE CACHE). 0 or -errno. */
int cow_flush(struct cow *c);

/*
 * Drop the overlay for [off, off+len) so those sectors read from the base again
 * (UNMAP / WRITE SAME with UNMAP). Only whole sectors inside the range are dropped.
 * 0 or -errno (-ERANGE past the end).
 */
int cow_discard(struct cow *c, uint64_t off, uint64_t len);

/* Bytes of overlay data currently allocated (set bits × 512). */
uint64_t cow_used_bytes(const struct cow *c);

#endif
