/*
 * bitmap.h — the per-sector allocation bitmap of a cow store, kept in memory and
 * mirrored to a file.
 *
 * One bit per 512-byte sector: bit i set means sector i lives in the overlay. The
 * file holds the raw bits, bit i in byte i / 8 at position i % 8 (least-significant
 * bit first), and is exactly ceil(nbits / 8) bytes long. Bits past nbits in the last
 * byte are ignored on load and written as zero.
 *
 * Units: every index and count here is in BITS (= 512-byte sectors), never bytes.
 *
 * Two copies, two promises (SBC-3 §4.15 write caching, §5.22 SYNCHRONIZE CACHE):
 * - The DURABLE file (path) holds the bits as of the last successful bitmap_sync().
 *   Only bitmap_sync() writes it, and its caller (cow.c) makes the overlay data the
 *   bits point at durable first. So after a power loss every set bit on disk points
 *   at data that reached stable storage: a sector written for the first time since
 *   the last sync reads its old contents (the base), never a hole of zeros.
 * - The MIRROR (a file in mirror_dir, which should be on tmpfs, e.g. /run) is a
 *   shared mapping that holds the current bits; bitmap_set() and bitmap_clear()
 *   change it in place (no system call). It outlives the process (kill -9, a crash,
 *   a restart of the daemon) but not the host: a bitmap opened again in the same
 *   boot picks up every change the mirror holds; after a reboot (its header records
 *   the boot id) or without a mirror the durable file is all there is.
 * A mirror is named <st_dev>-<st_ino>.bits after the durable file and records that
 * file's path, device, inode, size in bits and the boot id; any mismatch makes it
 * stale, and it is replaced from the durable file. Creating a durable file removes
 * any mirror of its inode number first. bitmap_close() removes the mirror when the
 * durable file already holds every bit (nothing to sync), and keeps it otherwise, so
 * a device re-opened later (daemon restart, session re-created over kept files)
 * loses nothing; bitmap_mirror_sweep() removes mirrors whose durable file is gone.
 *
 * Not thread-safe: the caller serialises all calls on one bitmap.
 */
#ifndef SCSIPUB_BITMAP_H
#define SCSIPUB_BITMAP_H

#include <stddef.h>
#include <stdint.h>

struct bitmap;

/*
 * Open the durable bitmap file at path for nbits bits (nbits > 0), with its mirror in
 * mirror_dir (created there, mode 0600, when missing or stale; mirror_dir NULL = no
 * mirror: the bits live in process memory and changes not yet synced die with the
 * process). A missing file is created
 * zeroed, ceil(nbits / 8) bytes, mode 0600 (atomically: a crash never leaves a file of
 * the wrong size behind) and fully allocated (fallocate; -ENOSPC on a full
 * filesystem), so later bit writes never need space; an existing file is allocated
 * too, best effort. An existing file is loaded into memory; if its size is not
 * ceil(nbits / 8) bytes that is an error (EINVAL). Returns a new bitmap (caller owns,
 * free with bitmap_close) or NULL with errno set and a one-line reason in err
 * (errlen bytes; err may be NULL), also when the mirror cannot be made (a full or
 * missing mirror_dir) or the boot id cannot be read.
 */
struct bitmap *bitmap_open(const char *path, const char *mirror_dir, uint64_t nbits,
			   char *err, size_t errlen);

/*
 * Close the files and free. Does not sync: the mirror is removed if the durable file
 * holds every bit, and kept (for the next bitmap_open of path) otherwise. NULL is
 * allowed.
 */
void bitmap_close(struct bitmap *b);

/* 1 if some bit changed since the last successful bitmap_sync(), else 0. */
int bitmap_dirty(const struct bitmap *b);

/*
 * Remove the mirrors in mirror_dir that no open or re-openable bitmap can use: a
 * header that is not a mirror's, another boot's, or a durable file that no longer
 * exists at its recorded path with its recorded device and inode. Files whose name
 * does not end in ".bits" are left alone. Returns how many were removed, or -errno
 * when mirror_dir cannot be read.
 */
int bitmap_mirror_sweep(const char *mirror_dir);

/* Number of bits (sectors) the bitmap covers. */
uint64_t bitmap_nbits(const struct bitmap *b);

/* Number of set bits in the whole bitmap (a counter; O(1)). */
uint64_t bitmap_count(const struct bitmap *b);

/* 1 if bit i is set, 0 if clear or i >= nbits. */
int bitmap_test(const struct bitmap *b, uint64_t i);

/* Number of set bits in [start, start + n), clipped to nbits. */
uint64_t bitmap_count_range(const struct bitmap *b, uint64_t start, uint64_t n);

/*
 * Length of the run of bits equal to bit `start`, starting at start and at most max
 * bits long (clipped to nbits). The run's value (0 or 1) goes to *state. Returns 0
 * (and *state = 0) when start >= nbits or max == 0.
 */
uint64_t bitmap_run(const struct bitmap *b, uint64_t start, uint64_t max, int *state);

/*
 * Set bits [start, start + n) in memory (the mirror) and remember which parts of the
 * durable file are now behind. No system call. Returns 0, or -ERANGE when the range
 * passes nbits (nothing changed).
 */
int bitmap_set(struct bitmap *b, uint64_t start, uint64_t n);

/* As bitmap_set, but clears the bits. */
int bitmap_clear(struct bitmap *b, uint64_t start, uint64_t n);

/*
 * Make the durable file hold the current bits: pwrite the 4 KiB pages of it that are
 * behind, then fdatasync it. The caller makes the data the new bits point at durable
 * first (cow_flush). Nothing to do when nothing changed since the last success. 0, or
 * -errno (the pages stay marked and are written again by the next call).
 */
int bitmap_sync(struct bitmap *b);

#endif
