/*
 * cow.c — the copy-on-write store behind one TCMU device (contract in cow.h).
 *
 * Layout: base (read-only, optional) + overlay (sparse, device-sized) + bitmap
 * (bitmap.h, 1 bit per 512-byte sector). Reads and writes walk runs of sectors that
 * share a bit state and issue one pread/pwrite per run.
 *
 * Crash safety: overlay data is pwritten before its bits are set in the bitmap's
 * mirror (bitmap.h), so after a kill -9 the overlay and the mirror hold every
 * completed write and no bit points at unwritten data. The durable bitmap file is
 * written only by cow_flush (SBC-3 SYNCHRONIZE CACHE) and FUA writes, after an
 * fdatasync of the overlay, so after a power loss no bit on disk points at data that
 * did not reach the disk. A discard that punches overlay blocks out makes its cleared
 * bits durable first (cow_discard).
 *
 * Space: the store counts allocation units (filesystem blocks) that hold at least one
 * set sector (alloc_units); a write computes the units of its range that hold none
 * ("fresh" units), charges them against the write limit and the disk reserve, and
 * fallocates them before writing any data, so ENOSPC surfaces before the overlay is
 * touched. A failed write punches its fresh units out again (no bit points into
 * them), so alloc_units stays equal to what the overlay occupies.
 *
 * Concurrency (contract in cow.h): mu guards the bitmap, alloc_units, no_fallocate and
 * the claim table, and is held only around them (a fresh unit's fallocate included),
 * never across the data's pread/pwrite. Every read and write first claims the
 * allocation units [u_lo, u_hi] it touches in `claims`, a reader-writer lock per unit
 * range: a write's claim is exclusive, a read's is shared, and a claim waits while an
 * overlapping one it conflicts with is held. So while a write runs nobody else changes
 * the bits of its units (which of them are fresh, the read-modify-write of a partial
 * sector and a failed write's punch all see a stable state) and nobody reads them (a
 * pread never copies a sector that a pwrite has half written), while reads of the same
 * units still run side by side. A write's fresh units are charged at once
 * (alloc_units), so a concurrent write sees them as spent against the limit.
 */
#include "cow.h"
#include "bitmap.h"
#include "fsspace.h"
#include "fullio.h"
#include "reason.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define SECTOR 512u
#define COW_CLAIMS_MAX 64 /* reads and writes running at once on one store; more wait */

struct cow {
	int base_fd;         /* -1 for a blank disk */
	int overlay_fd;
	uint64_t size;       /* device size in bytes */
	uint64_t base_size;  /* bytes of the base (0 for a blank disk) */
	uint64_t limit;      /* write limit in bytes of allocation units; 0 = none */
	struct bitmap *bm;   /* one bit per sector: set = sector lives in the overlay */
	uint64_t nsec;       /* sectors of the device */
	uint32_t unit;       /* allocation unit in bytes (filesystem block) */
	uint32_t spu;        /* sectors per allocation unit */
	uint64_t alloc_units; /* units holding at least one set sector */
	uint64_t reserve;    /* bytes to keep available on the filesystem; 0 = none */
	cow_avail_fn avail;  /* free-space source of the reserve check */
	void *avail_arg;
	int no_fallocate;    /* the filesystem refused fallocate (EOPNOTSUPP) */
	pthread_mutex_t mu;  /* bm, alloc_units, no_fallocate, claims */
	pthread_cond_t unit_freed; /* a read or write released its units */
	struct claim {
		uint64_t lo, hi; /* allocation units, inclusive */
		int shared;      /* 1: a read (overlaps other reads), 0: a write */
	} claims[COW_CLAIMS_MAX]; /* units of running reads and writes */
	unsigned nclaims;
};

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
		ssize_t n = fullio_pread(fd, buf, want, off);

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

/*
 * Read [off, off + len) (in range) run by run from the overlay or the base. The caller
 * holds a claim on its units (cow_read's shared one, or the exclusive one of the write
 * whose partial sector this completes), so their bits cannot change under it.
 */
static int read_runs(struct cow *c, uint8_t *p, uint64_t off, size_t len)
{
	uint64_t end, last_sector;
	int rc;

	end = off + len;
	last_sector = (end + SECTOR - 1) / SECTOR;
	while (off < end) {
		uint64_t sector = off / SECTOR, run_end;
		int in_overlay;
		size_t n;

		pthread_mutex_lock(&c->mu);
		run_end = (sector + bitmap_run(c->bm, sector, last_sector - sector,
					       &in_overlay)) * SECTOR;
		pthread_mutex_unlock(&c->mu);
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

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Allocation units in [u_lo, u_hi) holding at least one set sector (walks bit runs). */
static uint64_t units_in_use(const struct cow *c, uint64_t u_lo, uint64_t u_hi)
{
	uint64_t s = u_lo * c->spu, end = min_u64(u_hi * c->spu, c->nsec);
	uint64_t n = 0, next = u_lo; /* next: first unit not counted yet */

	while (s < end) {
		int set;
		uint64_t run = bitmap_run(c->bm, s, end - s, &set);

		if (!run)
			break;
		if (set) {
			uint64_t a = s / c->spu, b = (s + run - 1) / c->spu;

			if (a < next)
				a = next;
			if (b >= a) {
				n += b - a + 1;
				next = b + 1;
			}
		}
		s += run;
	}
	return n;
}

static int unit_in_use(const struct cow *c, uint64_t u)
{
	return bitmap_count_range(c->bm, u * c->spu, c->spu) != 0;
}

/* fallocate with EINTR retried. 0 or -errno. */
static int falloc(int fd, int mode, uint64_t off, uint64_t len)
{
	while (fallocate(fd, mode, (off_t)off, (off_t)len) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

/*
 * Apply fallocate mode to every maximal run of units in [u_lo, u_hi] that holds no set
 * sector, clipped to the device size. Stops at the first error: 0 or -errno.
 */
static int fresh_runs(struct cow *c, uint64_t u_lo, uint64_t u_hi, int mode)
{
	uint64_t u = u_lo;

	while (u <= u_hi) {
		uint64_t start, off, end;
		int rc;

		if (unit_in_use(c, u)) {
			u++;
			continue;
		}
		start = u;
		while (u + 1 <= u_hi && !unit_in_use(c, u + 1))
			u++;
		off = start * c->unit;
		end = min_u64((u + 1) * c->unit, c->size);
		rc = falloc(c->overlay_fd, mode, off, end - off);
		if (rc)
			return rc;
		u++;
	}
	return 0;
}

/* Give the units of [u_lo, u_hi] that hold no set sector back to the filesystem. */
static void release_fresh(struct cow *c, uint64_t u_lo, uint64_t u_hi)
{
	(void)fresh_runs(c, u_lo, u_hi, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
}

/* A full filesystem, however it says so. */
static int space_err(int rc)
{
	return rc == -EDQUOT ? -ENOSPC : rc;
}

/*
 * Charge `fresh` new units: -EDQUOT past the write limit, -ENOSPC when they would
 * leave less than the reserve available. 0 when the write may go ahead.
 */
static int check_space(const struct cow *c, uint64_t fresh)
{
	uint64_t want = fresh * c->unit, used = c->alloc_units * c->unit, avail;

	if (!fresh)
		return 0;
	if (c->limit && (used > c->limit || want > c->limit - used))
		return -EDQUOT;
	if (c->reserve && c->avail(c->avail_arg, c->overlay_fd, &avail) == 0 &&
	    (avail < c->reserve || want > avail - c->reserve))
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
		rc = read_runs(c, head, first * SECTOR, SECTOR);
		if (rc)
			return rc;
		memcpy(head + head_off, buf, len);
		iov[cnt++] = (struct iovec){ head, SECTOR };
		return fullio_pwritev(c->overlay_fd, iov, cnt, first * SECTOR);
	}
	if (head_off) {
		size_t n = SECTOR - head_off;

		rc = read_runs(c, head, first * SECTOR, SECTOR);
		if (rc)
			return rc;
		memcpy(head + head_off, buf, n);
		iov[cnt++] = (struct iovec){ head, SECTOR };
		buf += n;
		len -= n;
	}
	if (tail_len) {
		rc = read_runs(c, tail, last * SECTOR, SECTOR);
		if (rc)
			return rc;
		memcpy(tail, buf + len - tail_len, tail_len);
		len -= tail_len;
	}
	if (len)
		iov[cnt++] = (struct iovec){ (void *)buf, len };
	if (tail_len)
		iov[cnt++] = (struct iovec){ tail, SECTOR };
	return fullio_pwritev(c->overlay_fd, iov, cnt, first * SECTOR);
}

/*
 * Whether a claim of units [lo, hi] (shared: a read) must wait: it overlaps a held
 * claim and one of the two is a write, or the table is full. Caller holds mu.
 */
static int units_busy(const struct cow *c, uint64_t lo, uint64_t hi, int shared)
{
	unsigned i;

	if (c->nclaims == COW_CLAIMS_MAX)
		return 1;
	for (i = 0; i < c->nclaims; i++)
		if (lo <= c->claims[i].hi && c->claims[i].lo <= hi &&
		    !(shared && c->claims[i].shared))
			return 1;
	return 0;
}

/* Claim units [lo, hi] for one read (shared) or write, waiting out conflicts. */
static void claim_units(struct cow *c, uint64_t lo, uint64_t hi, int shared)
{
	while (units_busy(c, lo, hi, shared))
		pthread_cond_wait(&c->unit_freed, &c->mu);
	c->claims[c->nclaims++] = (struct claim){ lo, hi, shared };
}

/* Give one claim of units [lo, hi] back (claim_units). Caller holds mu. */
static void release_units(struct cow *c, uint64_t lo, uint64_t hi, int shared)
{
	unsigned i;

	for (i = 0; i < c->nclaims; i++) {
		if (c->claims[i].lo == lo && c->claims[i].hi == hi &&
		    c->claims[i].shared == shared) {
			c->claims[i] = c->claims[--c->nclaims];
			break;
		}
	}
	pthread_cond_broadcast(&c->unit_freed);
}

int cow_read(struct cow *c, void *buf, uint64_t off, size_t len)
{
	uint64_t u_lo, u_hi;
	int rc = check_range(c, off, len);

	if (rc || !len)
		return rc;
	u_lo = off / SECTOR / c->spu;
	u_hi = (off + len - 1) / SECTOR / c->spu;
	pthread_mutex_lock(&c->mu);
	claim_units(c, u_lo, u_hi, 1);
	pthread_mutex_unlock(&c->mu);
	rc = read_runs(c, buf, off, len);
	pthread_mutex_lock(&c->mu);
	release_units(c, u_lo, u_hi, 1);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

int cow_write(struct cow *c, const void *buf, uint64_t off, size_t len, int fua)
{
	uint64_t first, n, u_lo, u_hi, fresh;
	int rc = check_range(c, off, len);

	if (rc || !len)
		return rc;
	first = off / SECTOR;
	n = (off + len - 1) / SECTOR - first + 1;
	u_lo = first / c->spu;
	u_hi = (first + n - 1) / c->spu;

	pthread_mutex_lock(&c->mu);
	claim_units(c, u_lo, u_hi, 0);
	fresh = u_hi - u_lo + 1 - units_in_use(c, u_lo, u_hi + 1);
	rc = check_space(c, fresh);
	if (rc) {
		release_units(c, u_lo, u_hi, 0);
		pthread_mutex_unlock(&c->mu);
		return rc;
	}
	c->alloc_units += fresh;
	/* Reserve the new units first: a full filesystem fails here, nothing written. */
	if (fresh && !c->no_fallocate) {
		rc = fresh_runs(c, u_lo, u_hi, 0);
		if (rc == -EOPNOTSUPP) {
			c->no_fallocate = 1;
			rc = 0;
		}
	}
	pthread_mutex_unlock(&c->mu);

	/* Data first, then the bits that point at it (see the file comment). */
	if (!rc)
		rc = write_overlay(c, buf, off, len);
	if (!rc && fua)
		rc = sync_fd(c->overlay_fd);

	pthread_mutex_lock(&c->mu);
	if (rc) {
		if (fresh)
			release_fresh(c, u_lo, u_hi);
		c->alloc_units -= fresh;
		rc = space_err(rc);
	} else {
		rc = bitmap_set(c->bm, first, n);
		if (!rc && fua)
			rc = bitmap_sync(c->bm);
	}
	release_units(c, u_lo, u_hi, 0);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

int cow_flush(struct cow *c)
{
	int rc = sync_fd(c->overlay_fd);

	return rc ? rc : bitmap_sync(c->bm);
}

int cow_discard(struct cow *c, uint64_t off, uint64_t len)
{
	uint64_t first, end, u_lo, u_hi, before, freed;
	int rc = check_range(c, off, len);

	if (rc)
		return rc;
	first = (off + SECTOR - 1) / SECTOR;
	end = (off + len) / SECTOR;
	if (first >= end)
		return 0;
	u_lo = first / c->spu;
	u_hi = (end - 1) / c->spu;
	pthread_mutex_lock(&c->mu); /* for cow_used_bytes / cow_charged_bytes */
	before = units_in_use(c, u_lo, u_hi + 1);
	rc = bitmap_clear(c->bm, first, end - first);
	freed = rc ? 0 : before - units_in_use(c, u_lo, u_hi + 1);
	c->alloc_units -= freed;
	pthread_mutex_unlock(&c->mu);
	if (rc)
		return rc;
	if (!freed)
		return 0;
	/*
	 * Whole units left without a set sector go back to the filesystem, once the
	 * cleared bits are durable: a crash or power loss at any point leaves the
	 * sectors reading from the base or from their old overlay blocks, never a set
	 * bit pointing at a punched hole.
	 */
	rc = cow_flush(c);
	if (rc)
		return rc;
	rc = fresh_runs(c, u_lo, u_hi, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
	return rc == -EOPNOTSUPP ? 0 : rc;
}

uint64_t cow_size(const struct cow *c)
{
	return c->size;
}

uint64_t cow_used_bytes(const struct cow *c)
{
	struct cow *m = (struct cow *)c; /* the lock only */
	uint64_t n;

	pthread_mutex_lock(&m->mu);
	n = bitmap_count(c->bm);
	pthread_mutex_unlock(&m->mu);
	return n * SECTOR;
}

uint64_t cow_charged_bytes(const struct cow *c)
{
	struct cow *m = (struct cow *)c; /* the lock only */
	uint64_t n;

	pthread_mutex_lock(&m->mu);
	n = c->alloc_units;
	pthread_mutex_unlock(&m->mu);
	return n * c->unit;
}

uint32_t cow_alloc_unit(const struct cow *c)
{
	return c->unit;
}

static int avail_statvfs(void *arg, int fd, uint64_t *avail)
{
	(void)arg;
	return fsspace_avail_fd(fd, avail);
}

void cow_set_reserve(struct cow *c, uint64_t reserve_bytes, cow_avail_fn avail, void *arg)
{
	c->reserve = reserve_bytes;
	c->avail = avail ? avail : avail_statvfs;
	c->avail_arg = avail ? arg : NULL;
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
	pthread_cond_destroy(&c->unit_freed);
	pthread_mutex_destroy(&c->mu);
	free(c);
	errno = saved;
}

/* Fill err with "<what> <path>: <strerror(errno)>" and return -errno. */
static int sys_err(char *err, size_t errlen, const char *what, const char *path)
{
	int e = errno;

	return reason_fail(err, errlen, -e, "%s %s: %s", what, path, strerror(e));
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
		return reason_fail(err, errlen, -EINVAL,
				   "base %s is not a regular file or block device", path);
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
		return reason_fail(err, errlen, -EINVAL, "overlay %s is not a regular file",
				   path);
	}
	if (base && same_file(&st, base)) {
		return reason_fail(err, errlen, -EINVAL, "overlay %s is the base image", path);
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
		return reason_fail(err, errlen, -EINVAL,
				   "bitmap %s is the base image or the overlay", path);
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

/* Whether paths a and b name entries of one directory, by their text up to the last '/'. */
static int same_dir(const char *a, const char *b)
{
	const char *sa = strrchr(a, '/'), *sb = strrchr(b, '/');

	if (!sa || !sb)
		return !sa && !sb;
	return sa - a == sb - b && memcmp(a, b, (size_t)(sa - a)) == 0;
}

static int check_config(const struct cow_config *cfg, char *err, size_t errlen)
{
	if (!cfg || !cfg->size_bytes || cfg->size_bytes % SECTOR ||
	    cfg->size_bytes > (uint64_t)INT64_MAX) {
		return reason_fail(err, errlen, -EINVAL,
				   "invalid device size (must be a non-zero multiple of %u)",
				   SECTOR);
	}
	if (!cfg->overlay[0] || !cfg->bitmap[0]) {
		return reason_fail(err, errlen, -EINVAL,
				   "overlay and bitmap paths are required");
	}
	return 0;
}

struct cow *cow_open(const struct cow_config *cfg, const char *mirror_dir, char *err,
		     size_t errlen)
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
		errno = reason_fail(err, errlen, ENOMEM, "cannot allocate the cow store");
		return NULL;
	}
	c->base_fd = -1;
	c->overlay_fd = -1;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->unit_freed, NULL);
	c->size = cfg->size_bytes;
	c->nsec = c->size / SECTOR;
	c->limit = cfg->limit_bytes;
	cow_set_reserve(c, 0, NULL, NULL);
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
	c->bm = bitmap_open(cfg->bitmap, mirror_dir, c->nsec, err, errlen);
	if (!c->bm) {
		rc = -errno;
		goto fail;
	}
	c->unit = fsspace_block_size_fd(c->overlay_fd);
	c->spu = c->unit / SECTOR;
	c->alloc_units = units_in_use(c, 0, (c->nsec + c->spu - 1) / c->spu);
	sync_dir_of(cfg->overlay);
	if (!same_dir(cfg->overlay, cfg->bitmap))
		sync_dir_of(cfg->bitmap);
	return c;

fail:
	cow_close(c);
	errno = -rc;
	return NULL;
}
