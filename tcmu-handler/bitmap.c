/*
 * bitmap.c — per-sector allocation bitmap: a durable file written at sync time and a
 * mirror mapped from tmpfs that holds the current bits (contract in bitmap.h).
 *
 * Mirror file: a MIRROR_HDR-byte header (struct mirror_hdr, zero padded), then the
 * bits in the durable file's format. Dirty tracking: one flag per DIRTY_PAGE bytes of
 * the durable file, set when a bit in that page changes, cleared once a sync has
 * written and fdatasynced the page.
 */
#include "bitmap.h"
#include "fullio.h"
#include "reason.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIRROR_MAGIC "scsipub bitmap mirror 1\n"
#define MIRROR_HDR   4096u
#define MIRROR_EXT   ".bits"
#define DIRTY_PAGE   4096u
#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"

struct mirror_hdr {
	char magic[24];
	char boot_id[40];    /* BOOT_ID_PATH's text, NUL padded */
	uint64_t dev, ino;   /* the durable file's st_dev and st_ino */
	uint64_t nbits;
	char path[MIRROR_HDR - 128]; /* the durable file's path */
};
_Static_assert(sizeof(struct mirror_hdr) <= MIRROR_HDR, "mirror header fits its page");

struct bitmap {
	int fd;          /* the durable file */
	uint64_t nbits;
	size_t nbytes;   /* ceil(nbits / 8): the durable file's size */
	uint64_t count;  /* set bits */
	uint8_t *bits;   /* the current bits: in the mirror's mapping, or malloc'd */
	uint8_t *heap;   /* bits before (or without) a mirror; freed at close */
	void *map;       /* the mirror's mapping (MIRROR_HDR + nbytes), or NULL */
	size_t maplen;
	char mirror[PATH_MAX]; /* the mirror's path ("" = none) */
	uint8_t *dirty;  /* one flag per DIRTY_PAGE bytes of the durable file */
	size_t npages, ndirty;
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

/* "<mirror_dir>/<dev>-<ino>.bits" for the durable file st into out. 0 or -ENAMETOOLONG. */
static int mirror_path(char *out, size_t len, const char *mirror_dir, const struct stat *st)
{
	int n = snprintf(out, len, "%s/%llx-%llx" MIRROR_EXT, mirror_dir,
			 (unsigned long long)st->st_dev, (unsigned long long)st->st_ino);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/*
 * This boot's id (BOOT_ID_PATH) into out, NUL padded. 0 or -errno. Read once per
 * process (it cannot change before a reboot); a failed read is tried again next time.
 */
static int read_boot_id(char out[40])
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static char text[40];
	static int loaded;
	ssize_t n = 1;
	int fd;

	memset(out, 0, 40);
	pthread_mutex_lock(&mu);
	if (!loaded) {
		fd = open(BOOT_ID_PATH, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			n = -errno;
		} else {
			n = fullio_pread(fd, text, sizeof(text) - 1, 0);
			close(fd);
		}
		if (n > 0) {
			text[strcspn(text, "\n")] = '\0';
			loaded = 1;
		}
	}
	if (loaded)
		memcpy(out, text, sizeof(text));
	else if (n >= 0)
		n = -EIO;
	pthread_mutex_unlock(&mu);
	return n < 0 ? (int)n : 0;
}

/*
 * Create a zeroed bitmap file atomically: size and allocate a temporary file in the
 * same directory, remove any mirror left under its inode number (mirror_dir), then
 * link it into place (fails with EEXIST if someone else won). Returns an fd open
 * O_RDWR or -errno (-ENOSPC when the filesystem is full).
 */
static int create_zeroed(const char *path, size_t nbytes, const char *mirror_dir)
{
	char tmp[PATH_MAX], old[PATH_MAX];
	struct stat st;
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
	if (!rc && mirror_dir && fstat(fd, &st) == 0 &&
	    mirror_path(old, sizeof(old), mirror_dir, &st) == 0 && unlink(old) < 0 &&
	    errno != ENOENT)
		rc = -errno;
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
	return 0;
}

/* Set bits in the n bytes at bits, eight bytes to a word. */
static uint64_t count_bits(const uint8_t *bits, size_t n)
{
	uint64_t count = 0, w;
	size_t i = 0;

	for (; n - i >= sizeof(w); i += sizeof(w)) {
		memcpy(&w, bits + i, sizeof(w));
		count += (uint64_t)__builtin_popcountll(w);
	}
	for (; i < n; i++)
		count += (uint64_t)__builtin_popcount(bits[i]);
	return count;
}

/*
 * Open (or create) the durable file behind b and load it into b->bits. *created
 * tells whether this call made the file. 0 or -errno with err filled.
 */
static int open_file(struct bitmap *b, const char *path, const char *mirror_dir,
		     int *created, char *err, size_t errlen)
{
	int rc = -ENOENT;

	*created = 0;
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
		rc = create_zeroed(path, b->nbytes, mirror_dir);
		if (rc >= 0) {
			b->fd = rc;
			*created = 1;
			return 0;
		}
		if (rc == -EEXIST)
			rc = -ENOENT;
	}
	return reason_fail(err, errlen, rc, "cannot open bitmap %s: %s", path, strerror(-rc));
}

static void mark_dirty(struct bitmap *b, size_t first_byte, size_t last_byte)
{
	for (size_t p = first_byte / DIRTY_PAGE; p <= last_byte / DIRTY_PAGE; p++) {
		if (!b->dirty[p]) {
			b->dirty[p] = 1;
			b->ndirty++;
		}
	}
}

/* Header of a mirror for the durable file st at path. */
static int fill_hdr(struct mirror_hdr *h, const struct bitmap *b, const char *path,
		    const struct stat *st)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, MIRROR_MAGIC, sizeof(h->magic));
	h->dev = (uint64_t)st->st_dev;
	h->ino = (uint64_t)st->st_ino;
	h->nbits = b->nbits;
	if (strlen(path) >= sizeof(h->path))
		return -ENAMETOOLONG;
	strcpy(h->path, path);
	return read_boot_id(h->boot_id);
}

/*
 * Map the mirror at b->mirror if its header equals want (same boot, path, file and
 * size). 1 when mapped (b->map set), 0 when missing or stale, -errno otherwise.
 */
static int map_existing(struct bitmap *b, const struct mirror_hdr *want)
{
	struct mirror_hdr h;
	struct stat st;
	int fd = open(b->mirror, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == b->maplen &&
	    fullio_pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
	    memcmp(&h, want, sizeof(h)) == 0) {
		b->map = mmap(NULL, b->maplen, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (b->map == MAP_FAILED) {
			b->map = NULL;
			rc = -errno;
		} else {
			rc = 1;
		}
	}
	close(fd);
	return rc;
}

/* Write a new mirror holding b->bits (temporary file, renamed into place), map it. */
static int map_new(struct bitmap *b, const struct mirror_hdr *hdr)
{
	char tmp[PATH_MAX];
	int fd, rc = 0;
	int n = snprintf(tmp, sizeof(tmp), "%s.XXXXXX", b->mirror);

	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)b->maplen) < 0)
		rc = -errno;
	if (!rc)
		rc = fullio_pwrite(fd, hdr, sizeof(*hdr), 0);
	if (!rc)
		rc = fullio_pwrite(fd, b->bits, b->nbytes, MIRROR_HDR);
	if (!rc) {
		b->map = mmap(NULL, b->maplen, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (b->map == MAP_FAILED) {
			b->map = NULL;
			rc = -errno;
		}
	}
	if (!rc && rename(tmp, b->mirror) < 0)
		rc = -errno;
	if (rc) {
		if (b->map)
			munmap(b->map, b->maplen);
		b->map = NULL;
		unlink(tmp);
	}
	close(fd);
	return rc;
}

/*
 * Put b's bits in its mirror: the existing one when it is this file's (bitmap.h),
 * with the pages where it is ahead of the durable file marked dirty; else a new one
 * made from the durable file (the only choice when created). 0 or -errno with err.
 */
static int attach_mirror(struct bitmap *b, const char *path, const char *mirror_dir,
			 int created, char *err, size_t errlen)
{
	struct mirror_hdr hdr;
	struct stat st;
	uint8_t *mbits;
	int rc;

	if (fstat(b->fd, &st) < 0)
		return reason_fail(err, errlen, -errno, "cannot stat bitmap %s: %s", path,
				   strerror(errno));
	rc = mirror_path(b->mirror, sizeof(b->mirror), mirror_dir, &st);
	if (!rc)
		rc = fill_hdr(&hdr, b, path, &st);
	if (rc) {
		b->mirror[0] = '\0';
		return reason_fail(err, errlen, rc, "bitmap %s: cannot name its mirror: %s",
				   path, strerror(-rc));
	}
	b->maplen = MIRROR_HDR + b->nbytes;
	rc = created ? 0 : map_existing(b, &hdr);
	if (rc == 1) {
		mbits = (uint8_t *)b->map + MIRROR_HDR;
		for (size_t p = 0; p < b->npages; p++) {
			size_t off = p * DIRTY_PAGE;
			size_t len = b->nbytes - off < DIRTY_PAGE ? b->nbytes - off : DIRTY_PAGE;

			if (memcmp(mbits + off, b->bits + off, len))
				mark_dirty(b, off, off);
		}
		b->bits = mbits;
		mask_tail(b);
		return 0;
	}
	if (rc == 0)
		rc = map_new(b, &hdr);
	if (rc) {
		b->mirror[0] = '\0';
		return reason_fail(err, errlen, rc, "bitmap %s: cannot make its mirror in %s: %s",
				   path, mirror_dir, strerror(-rc));
	}
	b->bits = (uint8_t *)b->map + MIRROR_HDR;
	return 0;
}

struct bitmap *bitmap_open(const char *path, const char *mirror_dir, uint64_t nbits,
			   char *err, size_t errlen)
{
	struct bitmap *b;
	int rc, created;

	if (!path || !*path || nbits == 0 || (nbits - 1) / 8 >= SIZE_MAX - MIRROR_HDR) {
		errno = reason_fail(err, errlen, EINVAL, "invalid bitmap parameters");
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		goto nomem;
	b->fd = -1;
	b->nbits = nbits;
	b->nbytes = (size_t)((nbits - 1) / 8 + 1);
	b->npages = (b->nbytes - 1) / DIRTY_PAGE + 1;
	b->heap = calloc(b->nbytes, 1);
	b->dirty = calloc(b->npages, 1);
	if (!b->heap || !b->dirty)
		goto nomem;
	b->bits = b->heap;
	rc = open_file(b, path, mirror_dir, &created, err, errlen);
	if (!rc && mirror_dir)
		rc = attach_mirror(b, path, mirror_dir, created, err, errlen);
	if (rc < 0) {
		bitmap_close(b);
		errno = -rc;
		return NULL;
	}
	if (!created) /* a file made just now holds no set bit */
		b->count = count_bits(b->bits, b->nbytes);
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
	if (b->map) {
		munmap(b->map, b->maplen);
		/* The durable file holds every bit: nothing for a later open to pick up. */
		if (!b->ndirty)
			unlink(b->mirror);
	}
	if (b->fd >= 0)
		close(b->fd);
	free(b->heap);
	free(b->dirty);
	free(b);
}

int bitmap_dirty(const struct bitmap *b)
{
	return b->ndirty != 0;
}

/* 1 if the mirror file at path is of no use to any bitmap (bitmap_mirror_sweep). */
static int mirror_is_stale(int dirfd, const char *name, const char *boot_id)
{
	struct mirror_hdr h;
	struct stat st;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return errno != ENOENT;
	n = fullio_pread(fd, &h, sizeof(h), 0);
	close(fd);
	if (n != (ssize_t)sizeof(h) || memcmp(h.magic, MIRROR_MAGIC, sizeof(h.magic)) ||
	    memcmp(h.boot_id, boot_id, sizeof(h.boot_id)))
		return 1;
	h.path[sizeof(h.path) - 1] = '\0';
	if (stat(h.path, &st) < 0)
		return errno == ENOENT || errno == ENOTDIR;
	return (uint64_t)st.st_dev != h.dev || (uint64_t)st.st_ino != h.ino;
}

int bitmap_mirror_sweep(const char *mirror_dir)
{
	char boot_id[40];
	struct dirent *e;
	DIR *d;
	int removed = 0, rc = read_boot_id(boot_id);

	if (rc)
		return rc;
	d = opendir(mirror_dir);
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name), ext = strlen(MIRROR_EXT);

		if (len <= ext || strcmp(e->d_name + len - ext, MIRROR_EXT))
			continue;
		if (mirror_is_stale(dirfd(d), e->d_name, boot_id) &&
		    unlinkat(dirfd(d), e->d_name, 0) == 0)
			removed++;
	}
	closedir(d);
	return removed;
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
	uint64_t i = start, end, bytes, count = 0;

	n = clip(b, start, n);
	end = start + n;
	while (i < end && (i & 7))
		count += (uint64_t)get_bit(b->bits, i++);
	bytes = (end - i) / 8; /* the whole bytes between */
	count += count_bits(b->bits + (i >> 3), (size_t)bytes);
	i += bytes * 8;
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
	mark_dirty(b, (size_t)(start >> 3), (size_t)((start + n - 1) >> 3));
	return 0;
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
	size_t p = 0;

	if (!b->ndirty)
		return 0;
	/* One pwrite per run of dirty pages. */
	while (p < b->npages) {
		size_t q = p, off, end;
		int rc;

		if (!b->dirty[p]) {
			p++;
			continue;
		}
		while (q < b->npages && b->dirty[q])
			q++;
		off = p * DIRTY_PAGE;
		end = q * DIRTY_PAGE < b->nbytes ? q * DIRTY_PAGE : b->nbytes;
		rc = fullio_pwrite(b->fd, b->bits + off, end - off, off);
		if (rc < 0)
			return rc;
		p = q;
	}
	/*
	 * After a failed fdatasync the kernel may have dropped the dirty pages: they
	 * stay marked, so the next call writes them again.
	 */
	while (fdatasync(b->fd) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	memset(b->dirty, 0, b->npages);
	b->ndirty = 0;
	return 0;
}
