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
 * Threads: cow_read() and cow_write() without fua may run at the same time from
 * several threads. A write and any other read or write that touch a common allocation
 * unit run one after the other, in the order they reach the store (SCSI leaves the
 * order of overlapping SIMPLE commands open, SAM-5 §8.6), so a read sees an
 * overlapping write's sectors all before or all after it, never half written; reads
 * of common units run side by side. Every other call that changes the store
 * (cow_write with fua, cow_flush, cow_discard, cow_set_reserve, cow_close) needs the
 * store to itself: the caller makes sure no other call on it is running (scsipub-tcmu
 * holds its device's lock exclusively for those, device.c). cow_size, cow_used_bytes,
 * cow_charged_bytes and cow_alloc_unit are safe at any time.
 *
 * Units: every offset and length here is in BYTES. Callers (the SCSI layer) convert
 * logical blocks to bytes. Nothing in this module knows about SCSI; errors are
 * negative errno values, which the SCSI layer maps to sense data in one place.
 *
 * Durability (SBC-3 §4.15, §5.22): cow_flush() makes every completed write durable
 * (fdatasync of the overlay, then the bitmap's durable file); cow_write() with fua
 * does the same before it returns. Between flushes the bits of new writes live in the
 * bitmap's mirror (bitmap.h: on tmpfs, it outlives the process but not the host) and
 * reach the durable bitmap file only at the next flush, after their data. So:
 * - kill -9 or a crash of the daemon loses nothing that was completed: reopened in
 *   the same boot, the store sees every write;
 * - a power loss keeps everything a flush or a FUA write made durable; a write after
 *   the last flush may be lost, and a sector written then reads either its new data
 *   or its old contents (the base for a sector written for the first time), never
 *   zeros that were never written.
 * That is the write-back cache the SCSI layer reports with WCE = 1 (scsi.h; SBC-3
 * §6.4.5); with WCE = 0 it makes every write durable before completing it.
 *
 * Space (issue 8 §4): the overlay is charged in ALLOCATION UNITS, the block size of
 * the filesystem that holds it (cow_alloc_unit, e.g. 4096 on ext4): a unit is in use
 * while at least one of its sectors has its bit set, because the filesystem then
 * holds the whole block. The write limit and the disk reserve both count those
 * bytes, so one sector written per filesystem block costs a whole block of quota,
 * as it costs a whole block of disk. A write that needs new units first reserves
 * them on the filesystem (fallocate), so a full filesystem fails the write before
 * any byte of it lands (nothing written, no bit set); units that a failed write
 * allocated are punched out again, so the count always matches the allocation.
 * The bitmap file is allocated whole when created (1/4096 of the device size, not
 * charged), so setting bits never needs space.
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
 * kept, so a restarted daemon sees earlier writes). mirror_dir: where the bitmap
 * keeps its mirror (bitmap_open; a tmpfs directory such as /run/scsipub-tcmu, NULL =
 * none: writes not yet flushed are then lost with the process). Returns a new store
 * (caller owns, free with cow_close) or NULL with errno set and a reason in err.
 */
struct cow *cow_open(const struct cow_config *cfg, const char *mirror_dir, char *err,
		     size_t errlen);

/*
 * Close and free. Does not flush; does not delete the overlay or the durable bitmap
 * (the bitmap's mirror goes when it holds nothing the durable file lacks). NULL is
 * allowed.
 */
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
 * -EDQUOT if the write needs new allocation units and they would take
 * cow_charged_bytes() past the write limit; -ENOSPC if the units it needs would leave
 * less than the reserve available on the overlay's filesystem (cow_set_reserve), or
 * the filesystem itself has no room (ENOSPC or EDQUOT from fallocate/pwrite). After
 * -EDQUOT and -ENOSPC nothing of the write is visible: no bit was set and units it
 * allocated were released. -EIO or another -errno on other I/O errors (allocated
 * sectors in the range may then hold part of the new data; the bitmap never points
 * at unwritten data). Rewriting sectors of units already in use never fails for
 * space. fua != 0 makes this write durable before returning (SBC-3 FUA).
 */
int cow_write(struct cow *c, const void *buf, uint64_t off, size_t len, int fua);

/* Make all completed writes durable (SBC-3 SYNCHRONIZE CACHE). 0 or -errno. */
int cow_flush(struct cow *c);

/*
 * Drop the overlay for [off, off+len) so those sectors read from the base again
 * (UNMAP / WRITE SAME with UNMAP). Only whole sectors inside the range are dropped;
 * allocation units left without a set sector are punched out of the overlay (hole),
 * which gives their bytes back to the write limit and to the filesystem. Before any
 * punch the store is flushed (cow_flush), so no durable bit points at a hole.
 * 0 or -errno (-ERANGE past the end).
 */
int cow_discard(struct cow *c, uint64_t off, uint64_t len);

/* Bytes of overlay data currently written (set bits × 512). */
uint64_t cow_used_bytes(const struct cow *c);

/*
 * Bytes of the overlay's filesystem this store's data occupies: allocation units with
 * at least one set sector × cow_alloc_unit(). What the write limit counts. O(1).
 */
uint64_t cow_charged_bytes(const struct cow *c);

/* The allocation unit in bytes (fsspace_block_size_fd of the overlay, 512..1 MiB). */
uint32_t cow_alloc_unit(const struct cow *c);

/*
 * Where the reserve check gets the bytes available on the overlay's filesystem:
 * store *avail for the filesystem holding the open file fd (the overlay); 0, or
 * -errno when it cannot tell (the write then goes ahead; a full filesystem still
 * fails it cleanly with -ENOSPC). Called from the store's own thread, once per write
 * that needs new allocation units.
 */
typedef int (*cow_avail_fn)(void *arg, int fd, uint64_t *avail);

/*
 * Keep reserve_bytes available on the overlay's filesystem (a global budget shared
 * by every store on it, issue 8 §4): a write whose new allocation units would leave
 * less than that fails with -ENOSPC (SBC-3 §4.7.3.6: the SCSI layer answers DATA
 * PROTECT / SPACE ALLOCATION FAILED WRITE PROTECT). 0 = no reserve, the state after
 * cow_open. avail NULL = fsspace_avail_fd (statvfs); tests pass a fake with its arg.
 * Stores on one filesystem check independently, and so do concurrent writes on one
 * store: they may overshoot the reserve by at most one write each, never the
 * filesystem (see cow_write).
 */
void cow_set_reserve(struct cow *c, uint64_t reserve_bytes, cow_avail_fn avail, void *arg);

#endif
