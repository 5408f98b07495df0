/*
 * cow.c — the copy-on-write store behind one TCMU device (contract in cow.h).
 *
 * Layout: base (read-only, optional) + overlay (sparse, device-sized) + bitmap
 * (bitmap.h, 1 bit per 512-byte sector). Reads and writes walk runs of sectors that
 * share a bit state and issue one pread/pwrite per run.
 *
 * Crash safety: overlay data is pwritten before its bits are set and the bitmap bytes
 * are pwritten before a write returns, so after a kill -9 the files hold every
 * completed write and no bit points at unwritten data. SBC-3 FUA writes and
 * SYNCHRONIZE CACHE (cow_flush) additionally fdatasync the overlay, then the bitmap,
 * for durability across a power loss.
 *
 * Not thread-safe: the caller serialises every call on one store.
 */
#include "cow.h"
#include "bitmap.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define SECTOR 512u

struct cow {
	int base_fd;         /* -1 for a blank disk */
	int overlay_fd;
	uint64_t size;       /* device size in bytes */
	uint64_t base_size;  /* bytes of the base (0 for a blank disk) */
	uint64_t limit;      /* write limit in bytes of overlay data; 0 = none */
	struct bitmap *bm;   /* one bit per sector: set = sector lives in the overlay */
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * pread up to len bytes, retrying short reads and EINTR. Bytes read (< len only at
 * end of file) or -errno.
 */
static ssize_t read_full(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, p + done, len - done, (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

/* pwritev all of iov (modified), retrying short writes and EINTR. 0 or -errno. */
static int writev_full(int fd, struct iovec *iov, int cnt, uint64_t off)
{
	while (cnt > 0) {
		ssize_t n = pwritev(fd, iov, cnt, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		off += (uint64_t)n;
		while (cnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

static int sync_fd(int fd)
{
	while (fdatasync(fd) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

/* Read [off, off + len) of fd into buf; bytes past limit or past EOF read as zeros. */
static int read_or_zero(int fd, uint8_t *buf, uint64_t off, size_t len, uint64_t limit)
{
	size_t have = 0;

	if (fd >= 0 && off < limit) {
		size_t want = limit - off < len ? (size_t)(limit - off) : len;
		ssize_t n = read_full(fd, buf, want, off);

		if (n < 0)
			return (int)n;
		have = (size_t)n;
	}
	memset(buf + have, 0, len - have);
	return 0;
}

static int check_range(const struct cow *c, uint64_t off, uint64_t len)
{
	if (off > c->size || len > c->size - off)
		return -ERANGE;
	return 0;
}

int cow_read(struct cow *c, void *buf, uint64_t off, size_t len)
{
	uint8_t *p = buf;
	uint64_t end, last_sector;
	int rc = check_range(c, off, len);

	if (rc)
		return rc;
	end = off + len;
	last_sector = (end + SECTOR - 1) / SECTOR;
	while (off < end) {
		uint64_t sector = off / SECTOR, run_end;
		int in_overlay;
		size_t n;

		run_end = (sector + bitmap_run(c->bm, sector, last_sector - sector,
					       &in_overlay)) * SECTOR;
		n = (size_t)((run_end < end ? run_end : end) - off);
		if (in_overlay)
			rc = read_or_zero(c->overlay_fd, p, off, n, c->size);
		else
			rc = read_or_zero(c->base_fd, p, off, n, c->base_size);
		if (rc)
			return rc;
		p += n;
		off += n;
	}
	return 0;
}

/* -ENOSPC if writing sectors [first, first + n) would pass the write limit. */
static int check_limit(const struct cow *c, uint64_t first, uint64_t n)
{
	uint64_t used, fresh;

	if (!c->limit)
		return 0;
	used = cow_used_bytes(c);
	fresh = n - bitmap_count_range(c->bm, first, n);
	if (fresh && (used > c->limit || fresh > (c->limit - used) / SECTOR))
		return -ENOSPC;
	return 0;
}

/*
 * Write [off, off + len) to the overlay. A partial sector at either end is completed
 * from its current contents (read-modify-write) so the whole sector can move to the
 * overlay; the result goes out as one pwritev.
 */
static int write_overlay(struct cow *c, const uint8_t *buf, uint64_t off, size_t len)
{
	uint8_t head[SECTOR], tail[SECTOR];
	uint64_t end = off + len;
	size_t head_off = (size_t)(off % SECTOR), tail_len = (size_t)(end % SECTOR);
	uint64_t first = off / SECTOR, last = (end - 1) / SECTOR;
	struct iovec iov[3];
	int cnt = 0, rc;

	if (first == last && (head_off || tail_len)) {
		rc = cow_read(c, head, first * SECTOR, SECTOR);
		if (rc)
			return rc;
		memcpy(head + head_off, buf, len);
		iov[cnt++] = (struct iovec){ head, SECTOR };
		return writev_full(c->overlay_fd, iov, cnt, first * SECTOR);
	}
	if (head_off) {
		size_t n = SECTOR - head_off;

		rc = cow_read(c, head, first * SECTOR, SECTOR);
		if (rc)
			return rc;
		memcpy(head + head_off, buf, n);
		iov[cnt++] = (struct iovec){ head, SECTOR };
		buf += n;
		len -= n;
	}
	if (tail_len) {
		rc = cow_read(c, tail, last * SECTOR, SECTOR);
		if (rc)
			return rc;
		memcpy(tail, buf + len - tail_len, tail_len);
		len -= tail_len;
	}
	if (len)
		iov[cnt++] = (struct iovec){ (void *)buf, len };
	if (tail_len)
		iov[cnt++] = (struct iovec){ tail, SECTOR };
	return writev_full(c->overlay_fd, iov, cnt, first * SECTOR);
}

int cow_write(struct cow *c, const void *buf, uint64_t off, size_t len, int fua)
{
	uint64_t first, n;
	int rc = check_range(c, off, len);

	if (rc || !len)
		return rc;
	first = off / SECTOR;
	n = (off + len - 1) / SECTOR - first + 1;
	rc = check_limit(c, first, n);
	if (rc)
		return rc;
	/* Data first, then the bits that point at it (see the file comment). */
	rc = write_overlay(c, buf, off, len);
	if (!rc && fua)
		rc = sync_fd(c->overlay_fd);
	if (!rc)
		rc = bitmap_set(c->bm, first, n);
	if (!rc && fua)
		rc = bitmap_sync(c->bm);
	return rc;
}

int cow_flush(struct cow *c)
{
	int rc = sync_fd(c->overlay_fd);

	return rc ? rc : bitmap_sync(c->bm);
}

int cow_discard(struct cow *c, uint64_t off, uint64_t len)
{
	uint64_t first, end;
	int rc = check_range(c, off, len);

	if (rc)
		return rc;
	first = (off + SECTOR - 1) / SECTOR;
	end = (off + len) / SECTOR;
	if (first >= end)
		return 0;
	/*
	 * Bits first: a crash between the two steps leaves the sectors reading from
	 * the base with stale overlay blocks still allocated, never a set bit
	 * pointing at a punched hole.
	 */
	rc = bitmap_clear(c->bm, first, end - first);
	if (rc)
		return rc;
	while (fallocate(c->overlay_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			 (off_t)(first * SECTOR), (off_t)((end - first) * SECTOR)) < 0) {
		if (errno == EOPNOTSUPP)
			break;
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

uint64_t cow_size(const struct cow *c)
{
	return c->size;
}

uint64_t cow_used_bytes(const struct cow *c)
{
	return bitmap_count(c->bm) * SECTOR;
}

void cow_close(struct cow *c)
{
	int saved = errno;

	if (!c)
		return;
	bitmap_close(c->bm);
	if (c->overlay_fd >= 0)
		close(c->overlay_fd);
	if (c->base_fd >= 0)
		close(c->base_fd);
	free(c);
	errno = saved;
}

/* Fill err with "<what> <path>: <strerror(errno)>" and return -errno. */
static int sys_err(char *err, size_t errlen, const char *what, const char *path)
{
	int e = errno;

	set_err(err, errlen, "%s %s: %s", what, path, strerror(e));
	return -e;
}

static int same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

static int open_base(struct cow *c, const char *path, struct stat *st,
		     char *err, size_t errlen)
{
	off_t end;

	c->base_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (c->base_fd < 0 || fstat(c->base_fd, st) < 0)
		return sys_err(err, errlen, "cannot open base", path);
	if (!S_ISREG(st->st_mode) && !S_ISBLK(st->st_mode)) {
		set_err(err, errlen, "base %s is not a regular file or block device", path);
		return -EINVAL;
	}
	/* SEEK_END also gives the size of a block device (st_size is 0 there). */
	end = lseek(c->base_fd, 0, SEEK_END);
	if (end < 0)
		return sys_err(err, errlen, "cannot size base", path);
	c->base_size = (uint64_t)end;
	return 0;
}

static int open_overlay(struct cow *c, const char *path, const struct stat *base,
			char *err, size_t errlen)
{
	struct stat st;

	c->overlay_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (c->overlay_fd < 0 || fstat(c->overlay_fd, &st) < 0)
		return sys_err(err, errlen, "cannot open overlay", path);
	if (!S_ISREG(st.st_mode)) {
		set_err(err, errlen, "overlay %s is not a regular file", path);
		return -EINVAL;
	}
	if (base && same_file(&st, base)) {
		set_err(err, errlen, "overlay %s is the base image", path);
		return -EINVAL;
	}
	/* A new (or short) overlay grows sparse to the device size; data is kept. */
	if ((uint64_t)st.st_size < c->size && ftruncate(c->overlay_fd, (off_t)c->size) < 0)
		return sys_err(err, errlen, "cannot size overlay", path);
	return 0;
}

/* Refuse a bitmap path that names the base or the overlay (it would be written). */
static int check_bitmap_path(const struct cow *c, const char *path,
			     const struct stat *base, char *err, size_t errlen)
{
	struct stat st, ov;

	if (stat(path, &st) < 0)
		return 0;
	if ((base && same_file(&st, base)) ||
	    (fstat(c->overlay_fd, &ov) == 0 && same_file(&st, &ov))) {
		set_err(err, errlen, "bitmap %s is the base image or the overlay", path);
		return -EINVAL;
	}
	return 0;
}

/* Best effort: make a newly created file's directory entry durable. */
static void sync_dir_of(const char *path)
{
	char copy[PATH_MAX];
	int fd;

	if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy))
		return;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	fsync(fd);
	close(fd);
}

static int check_config(const struct cow_config *cfg, char *err, size_t errlen)
{
	if (!cfg || !cfg->size_bytes || cfg->size_bytes % SECTOR ||
	    cfg->size_bytes > (uint64_t)INT64_MAX) {
		set_err(err, errlen, "invalid device size (must be a non-zero multiple of %u)",
			SECTOR);
		return -EINVAL;
	}
	if (!cfg->overlay[0] || !cfg->bitmap[0]) {
		set_err(err, errlen, "overlay and bitmap paths are required");
		return -EINVAL;
	}
	return 0;
}

struct cow *cow_open(const struct cow_config *cfg, char *err, size_t errlen)
{
	struct stat base_st;
	const struct stat *base = NULL;
	struct cow *c;
	int rc = check_config(cfg, err, errlen);

	if (rc) {
		errno = -rc;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		set_err(err, errlen, "cannot allocate the cow store");
		errno = ENOMEM;
		return NULL;
	}
	c->base_fd = -1;
	c->overlay_fd = -1;
	c->size = cfg->size_bytes;
	c->limit = cfg->limit_bytes;
	if (cfg->base[0]) {
		rc = open_base(c, cfg->base, &base_st, err, errlen);
		if (rc)
			goto fail;
		base = &base_st;
	}
	rc = open_overlay(c, cfg->overlay, base, err, errlen);
	if (!rc)
		rc = check_bitmap_path(c, cfg->bitmap, base, err, errlen);
	if (rc)
		goto fail;
	c->bm = bitmap_open(cfg->bitmap, c->size / SECTOR, err, errlen);
	if (!c->bm) {
		rc = -errno;
		goto fail;
	}
	sync_dir_of(cfg->overlay);
	sync_dir_of(cfg->bitmap);
	return c;

fail:
	cow_close(c);
	errno = -rc;
	return NULL;
}
