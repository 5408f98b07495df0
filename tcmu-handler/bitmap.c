/*
 * bitmap.c — per-sector allocation bitmap, in memory and mirrored to a file
 * (contract in bitmap.h).
 */
#include "bitmap.h"
#include "fullio.h"
#include "reason.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct bitmap {
	int fd;
	uint64_t nbits;
	size_t nbytes;   /* ceil(nbits / 8): the file's size */
	uint64_t count;  /* set bits */
	int unsynced;    /* the file was written since the last successful fdatasync */
	int stale;       /* a file write failed: the file may lag memory */
	uint8_t *bits;
};

static int get_bit(const uint8_t *bits, uint64_t i)
{
	return (bits[i >> 3] >> (i & 7)) & 1;
}

/* Mask of bits [lo, hi) within one byte, 0 <= lo < hi <= 8. */
static uint8_t byte_mask(unsigned int lo, unsigned int hi)
{
	return (uint8_t)(((1u << (hi - lo)) - 1u) << lo);
}

/* Bits past nbits in the last byte are not part of the bitmap: keep them zero. */
static void mask_tail(struct bitmap *b)
{
	unsigned int used = (unsigned int)(b->nbits & 7);

	if (used)
		b->bits[b->nbytes - 1] &= byte_mask(0, used);
}

/*
 * Give the file its blocks now (zeros), so that later bit writes never need space on
 * a filesystem that may be full by then (cow.h: the reserve and ENOSPC). 0, or -errno
 * (a filesystem without fallocate counts as success: it allocates on write).
 */
static int allocate_all(int fd, size_t nbytes)
{
	while (fallocate(fd, 0, 0, (off_t)nbytes) < 0) {
		if (errno == EOPNOTSUPP)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

/*
 * Create a zeroed bitmap file atomically: size and allocate a temporary file in the
 * same directory, then link it into place (fails with EEXIST if someone else won).
 * Returns an fd open O_RDWR or -errno (-ENOSPC when the filesystem is full).
 */
static int create_zeroed(const char *path, size_t nbytes)
{
	char tmp[PATH_MAX];
	int fd, rc = 0;
	int n = snprintf(tmp, sizeof(tmp), "%s.", path);

	if (n < 0 || (size_t)n + 7 > sizeof(tmp))
		return -ENAMETOOLONG;
	memset(tmp + n, 'X', 6); /* the template suffix mkostemp(3) replaces */
	tmp[n + 6] = '\0';
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)nbytes) < 0)
		rc = -errno;
	if (!rc)
		rc = allocate_all(fd, nbytes);
	if (!rc && link(tmp, path) < 0)
		rc = -errno;
	unlink(tmp);
	if (rc) {
		close(fd);
		return rc;
	}
	return fd;
}

static int load(struct bitmap *b, const char *path, char *err, size_t errlen)
{
	struct stat st;
	ssize_t n;

	if (fstat(b->fd, &st) < 0) {
		int e = errno;

		return reason_fail(err, errlen, -e, "cannot stat bitmap %s: %s", path,
				   strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		return reason_fail(err, errlen, -EINVAL, "bitmap %s is not a regular file",
				   path);
	}
	if ((uint64_t)st.st_size != b->nbytes) {
		return reason_fail(err, errlen, -EINVAL,
				   "bitmap %s has %lld bytes, expected %zu (1 bit per sector, %llu sectors)",
				   path, (long long)st.st_size, b->nbytes,
				   (unsigned long long)b->nbits);
	}
	n = fullio_pread(b->fd, b->bits, b->nbytes, 0);
	if (n < 0 || (size_t)n != b->nbytes) {
		int e = n < 0 ? (int)-n : EIO;

		return reason_fail(err, errlen, -e, "cannot read bitmap %s: %s", path,
				   strerror(e));
	}
	mask_tail(b);
	for (size_t i = 0; i < b->nbytes; i++)
		b->count += (uint64_t)__builtin_popcount(b->bits[i]);
	return 0;
}

/* Open (or create) the file behind b. 0 or -errno with err filled. */
static int open_file(struct bitmap *b, const char *path, char *err, size_t errlen)
{
	int rc = -ENOENT;

	/* Two rounds: if another process creates the file first, open theirs. */
	for (int tries = 0; tries < 2 && rc == -ENOENT; tries++) {
		b->fd = open(path, O_RDWR | O_CLOEXEC);
		if (b->fd >= 0) {
			rc = load(b, path, err, errlen);
			/* Best effort for a file from before preallocation (or a restart). */
			if (!rc)
				(void)allocate_all(b->fd, b->nbytes);
			return rc;
		}
		if (errno != ENOENT) {
			rc = -errno;
			break;
		}
		rc = create_zeroed(path, b->nbytes);
		if (rc >= 0) {
			b->fd = rc;
			return 0;
		}
		if (rc == -EEXIST)
			rc = -ENOENT;
	}
	return reason_fail(err, errlen, rc, "cannot open bitmap %s: %s", path, strerror(-rc));
}

struct bitmap *bitmap_open(const char *path, uint64_t nbits, char *err, size_t errlen)
{
	struct bitmap *b;
	int rc;

	if (!path || !*path || nbits == 0 || (nbits - 1) / 8 >= SIZE_MAX) {
		errno = reason_fail(err, errlen, EINVAL, "invalid bitmap parameters");
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		goto nomem;
	b->fd = -1;
	b->nbits = nbits;
	b->nbytes = (size_t)((nbits - 1) / 8 + 1);
	b->bits = calloc(b->nbytes, 1);
	if (!b->bits)
		goto nomem;
	rc = open_file(b, path, err, errlen);
	if (rc < 0) {
		bitmap_close(b);
		errno = -rc;
		return NULL;
	}
	return b;

nomem:
	bitmap_close(b);
	errno = reason_fail(err, errlen, ENOMEM, "cannot allocate a bitmap of %llu bits",
			    (unsigned long long)nbits);
	return NULL;
}

void bitmap_close(struct bitmap *b)
{
	if (!b)
		return;
	if (b->fd >= 0)
		close(b->fd);
	free(b->bits);
	free(b);
}

uint64_t bitmap_nbits(const struct bitmap *b)
{
	return b->nbits;
}

uint64_t bitmap_count(const struct bitmap *b)
{
	return b->count;
}

int bitmap_test(const struct bitmap *b, uint64_t i)
{
	return i < b->nbits ? get_bit(b->bits, i) : 0;
}

/* Clip [start, start + n) to the bitmap; returns the clipped n. */
static uint64_t clip(const struct bitmap *b, uint64_t start, uint64_t n)
{
	if (start >= b->nbits)
		return 0;
	return n < b->nbits - start ? n : b->nbits - start;
}

uint64_t bitmap_count_range(const struct bitmap *b, uint64_t start, uint64_t n)
{
	uint64_t i = start, end, count = 0;

	n = clip(b, start, n);
	end = start + n;
	while (i < end && (i & 7))
		count += (uint64_t)get_bit(b->bits, i++);
	for (; end - i >= 8; i += 8)
		count += (uint64_t)__builtin_popcount(b->bits[i >> 3]);
	while (i < end)
		count += (uint64_t)get_bit(b->bits, i++);
	return count;
}

uint64_t bitmap_run(const struct bitmap *b, uint64_t start, uint64_t max, int *state)
{
	uint64_t i, end;
	uint64_t fill64;
	uint8_t fill;
	int s;

	max = clip(b, start, max);
	if (!max) {
		*state = 0;
		return 0;
	}
	s = get_bit(b->bits, start);
	fill = s ? 0xff : 0x00;
	fill64 = s ? UINT64_MAX : 0;
	end = start + max;
	i = start + 1;
	while (i < end) {
		if (!(i & 63) && end - i >= 64) {
			uint64_t w;

			memcpy(&w, b->bits + (i >> 3), sizeof(w));
			if (w == fill64) {
				i += 64;
				continue;
			}
		}
		if (!(i & 7) && end - i >= 8 && b->bits[i >> 3] == fill) {
			i += 8;
			continue;
		}
		if (get_bit(b->bits, i) != s)
			break;
		i++;
	}
	*state = s;
	return i - start;
}

/* Set or clear [start, end) in memory; returns how many bits changed. */
static uint64_t apply(struct bitmap *b, uint64_t start, uint64_t end, int set)
{
	uint64_t changed = 0;

	for (uint64_t k = start >> 3; k <= (end - 1) >> 3; k++) {
		uint64_t base = k << 3;
		unsigned int lo = start > base ? (unsigned int)(start - base) : 0;
		unsigned int hi = end < base + 8 ? (unsigned int)(end - base) : 8;
		uint8_t mask = byte_mask(lo, hi);
		uint8_t old = b->bits[k];
		uint8_t new = set ? (uint8_t)(old | mask) : (uint8_t)(old & ~mask);

		changed += (uint64_t)__builtin_popcount((unsigned int)(old ^ new));
		b->bits[k] = new;
	}
	return changed;
}

static int update(struct bitmap *b, uint64_t start, uint64_t n, int set)
{
	uint64_t changed;
	size_t first, last;
	int rc;

	if (start > b->nbits || n > b->nbits - start)
		return -ERANGE;
	if (!n)
		return 0;
	changed = apply(b, start, start + n, set);
	if (!changed)
		return 0;
	if (set)
		b->count += changed;
	else
		b->count -= changed;
	first = (size_t)(start >> 3);
	last = (size_t)((start + n - 1) >> 3);
	b->unsynced = 1;
	rc = fullio_pwrite(b->fd, b->bits + first, last - first + 1, first);
	if (rc < 0)
		b->stale = 1;
	return rc;
}

int bitmap_set(struct bitmap *b, uint64_t start, uint64_t n)
{
	return update(b, start, n, 1);
}

int bitmap_clear(struct bitmap *b, uint64_t start, uint64_t n)
{
	return update(b, start, n, 0);
}

int bitmap_sync(struct bitmap *b)
{
	if (b->stale) {
		int rc = fullio_pwrite(b->fd, b->bits, b->nbytes, 0);

		if (rc < 0)
			return rc;
		b->stale = 0;
		b->unsynced = 1;
	}
	if (!b->unsynced)
		return 0;
	if (fdatasync(b->fd) < 0) {
		/*
		 * After a failed fdatasync the kernel may have dropped the dirty
		 * pages: rewrite everything on the next attempt.
		 */
		b->stale = 1;
		return -errno;
	}
	b->unsynced = 0;
	return 0;
}
