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
 * Persistence: bitmap_set() and bitmap_clear() update memory and pwrite() the changed
 * bytes to the file before returning, so a killed process (kill -9) never loses a
 * change that was reported as done; bitmap_sync() makes the file durable against a
 * power loss (fdatasync). If a file write fails, memory keeps the new state and the
 * next bitmap_sync() rewrites the whole file before syncing.
 *
 * Not thread-safe: the caller serialises all calls on one bitmap.
 */
#ifndef SCSIPUB_BITMAP_H
#define SCSIPUB_BITMAP_H

#include <stddef.h>
#include <stdint.h>

struct bitmap;

/*
 * Open the bitmap file at path for nbits bits (nbits > 0). A missing file is created
 * zeroed, ceil(nbits / 8) bytes, mode 0600 (atomically: a crash never leaves a file of
 * the wrong size behind) and fully allocated (fallocate; -ENOSPC on a full
 * filesystem), so later bit writes never need space; an existing file is allocated
 * too, best effort. An existing file is loaded into memory; if its size is not
 * ceil(nbits / 8) bytes that is an error (EINVAL). Returns a new bitmap (caller owns,
 * free with bitmap_close) or NULL with errno set and a one-line reason in err
 * (errlen bytes; err may be NULL).
 */
struct bitmap *bitmap_open(const char *path, uint64_t nbits, char *err, size_t errlen);

/* Close the file and free. Does not sync. NULL is allowed. */
void bitmap_close(struct bitmap *b);

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
 * Set bits [start, start + n) in memory and pwrite the changed bytes to the file
 * (nothing is written when no bit changes). Not synced. Returns 0, -ERANGE when the
 * range passes nbits (nothing changed), or -errno from the file write (memory keeps
 * the new bits; see bitmap_sync).
 */
int bitmap_set(struct bitmap *b, uint64_t start, uint64_t n);

/* As bitmap_set, but clears the bits. */
int bitmap_clear(struct bitmap *b, uint64_t start, uint64_t n);

/*
 * Make the file durable: rewrite it whole if an earlier file write failed, then
 * fdatasync it if anything was written since the last successful sync. 0 or -errno.
 */
int bitmap_sync(struct bitmap *b);

#endif
