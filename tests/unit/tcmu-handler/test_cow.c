/*
 * test_cow.c — unit tests for tcmu-handler/cow.c: reads through the base, overlay
 * writes incl. partial sectors and ranges crossing the base's end, the write limit
 * in allocation units (the sparse pattern charged what it occupies), the disk reserve
 * (fake free-space source), ENOSPC from the filesystem (fallocate/pwritev
 * interposed), discard, reopening (daemon restart) and kill -9 survival, that the base file is
 * never modified, and writes and reads from several threads at once (sectors that
 * share allocation units; the write limit charged exactly once per unit).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_tmpdir.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cow.h"
#include "fsspace.h"

#define DEV 4096u      /* default device size: 8 sectors */
#define BASE_LEN 1000u /* a base shorter than the device, not sector-aligned */

struct fx {
	char dir[64];
	struct cow_config cfg;
	uint8_t base[64 * 1024]; /* what the base file holds */
	size_t base_len;
	char err[256];
};

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 7 + 3) | 1; /* never zero, so zeros are distinguishable */
}

static void write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

static off_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

/* Give the fixture a base of len bytes (pattern bytes). */
static void make_base(struct fx *fx, size_t len)
{
	assert_true(len <= sizeof(fx->base));
	for (size_t i = 0; i < len; i++)
		fx->base[i] = pattern(i);
	fx->base_len = len;
	snprintf(fx->cfg.base, sizeof(fx->cfg.base), "%s/base.img", fx->dir);
	write_file(fx->cfg.base, fx->base, len);
}

/* The byte a device with base fx->base reads at off when nothing was written. */
static uint8_t base_byte(const struct fx *fx, size_t off)
{
	return off < fx->base_len ? fx->base[off] : 0;
}

static void assert_base_unchanged(const struct fx *fx)
{
	uint8_t *buf = malloc(fx->base_len + 1);
	int fd = open(fx->cfg.base, O_RDONLY);

	assert_non_null(buf);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, fx->base_len + 1), (ssize_t)fx->base_len);
	assert_memory_equal(buf, fx->base, fx->base_len);
	close(fd);
	free(buf);
}

static struct cow *open_cow(struct fx *fx)
{
	struct cow *c = cow_open(&fx->cfg, fx->dir, fx->err, sizeof(fx->err));

	if (!c)
		print_error("cow_open: %s\n", fx->err);
	assert_non_null(c);
	return c;
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	assert_non_null(test_mkdtemp(fx->dir, sizeof(fx->dir), "test_cow"));
	fx->cfg.size_bytes = DEV;
	snprintf(fx->cfg.overlay, sizeof(fx->cfg.overlay), "%s/overlay", fx->dir);
	snprintf(fx->cfg.bitmap, sizeof(fx->cfg.bitmap), "%s/bitmap", fx->dir);
	*state = fx;
	return 0;
}

static int setup_base(void **state)
{
	setup(state);
	make_base(*state, BASE_LEN);
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(test_rmdir_flat(fx->dir), 0);
	free(fx);
	return 0;
}

static void test_blank_reads_zeros(void **state)
{
	struct fx *fx = *state;
	struct cow *c = open_cow(fx);
	uint8_t buf[DEV], zero[DEV] = { 0 };

	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(cow_size(c), DEV);
	assert_int_equal(cow_read(c, buf, 0, DEV), 0);
	assert_memory_equal(buf, zero, DEV);
	assert_int_equal(cow_used_bytes(c), 0);
	/* Overlay created sparse at the device size; bitmap ceil(8 / 8) bytes. */
	assert_int_equal(file_size(fx->cfg.overlay), DEV);
	assert_int_equal(file_size(fx->cfg.bitmap), 1);
	cow_close(c);
}

static void test_base_reads_through(void **state)
{
	struct fx *fx = *state;
	struct cow *c;
	uint8_t buf[DEV];

	make_base(fx, DEV);
	c = open_cow(fx);
	assert_int_equal(cow_read(c, buf, 0, DEV), 0);
	assert_memory_equal(buf, fx->base, DEV);
	assert_int_equal(cow_read(c, buf, 777, 10), 0); /* unaligned */
	assert_memory_equal(buf, fx->base + 777, 10);
	cow_close(c);
}

static void test_read_crosses_base_end(void **state)
{
	struct fx *fx = *state; /* base of 1000 bytes on a 4096-byte device */
	struct cow *c = open_cow(fx);
	uint8_t buf[DEV];

	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(cow_read(c, buf, 0, DEV), 0);
	for (size_t i = 0; i < DEV; i++)
		assert_int_equal(buf[i], base_byte(fx, i));
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(cow_read(c, buf, 990, 20), 0); /* 10 base bytes, 10 zeros */
	for (size_t i = 0; i < 20; i++)
		assert_int_equal(buf[i], base_byte(fx, 990 + i));
	cow_close(c);
}

static void test_write_read_back(void **state)
{
	struct fx *fx = *state;
	struct cow *c = open_cow(fx);
	uint8_t in[1024], out[DEV];

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i ^ 0x5a);
	assert_int_equal(cow_write(c, in, 1024, sizeof(in), 0), 0); /* sectors 2, 3 */
	assert_int_equal(cow_used_bytes(c), 1024);
	assert_int_equal(cow_read(c, out, 0, DEV), 0);
	assert_memory_equal(out + 1024, in, sizeof(in));
	for (size_t i = 0; i < DEV; i++)
		if (i < 1024 || i >= 2048)
			assert_int_equal(out[i], 0);
	cow_close(c);
}

static void test_write_over_base(void **state)
{
	struct fx *fx = *state;
	struct cow *c;
	uint8_t in[512], out[DEV];

	make_base(fx, DEV);
	c = open_cow(fx);
	memset(in, 0x11, sizeof(in));
	assert_int_equal(cow_write(c, in, 1536, 512, 0), 0); /* sector 3 */
	assert_int_equal(cow_read(c, out, 0, DEV), 0);
	/* One read across base, overlay, base runs. */
	assert_memory_equal(out, fx->base, 1536);
	assert_memory_equal(out + 1536, in, 512);
	assert_memory_equal(out + 2048, fx->base + 2048, DEV - 2048);
	assert_base_unchanged(fx);
	cow_close(c);
}

static void test_partial_sector_write(void **state)
{
	struct fx *fx = *state;
	struct cow *c;
	uint8_t in[1000], out[DEV];

	make_base(fx, DEV);
	c = open_cow(fx);
	memset(in, 0x22, sizeof(in));
	/* Bytes 100..1099: head of sector 0, all of sector 1, head of sector 2. */
	assert_int_equal(cow_write(c, in, 100, sizeof(in), 0), 0);
	assert_int_equal(cow_used_bytes(c), 3 * 512);
	assert_int_equal(cow_read(c, out, 0, DEV), 0);
	assert_memory_equal(out, fx->base, 100);
	assert_memory_equal(out + 100, in, sizeof(in));
	assert_memory_equal(out + 1100, fx->base + 1100, DEV - 1100);
	assert_base_unchanged(fx);
	cow_close(c);
}

static void test_partial_within_one_sector(void **state)
{
	struct fx *fx = *state;
	struct cow *c;
	uint8_t out[DEV];

	make_base(fx, DEV);
	c = open_cow(fx);
	assert_int_equal(cow_write(c, "abc", 1030, 3, 0), 0);   /* inside sector 2 */
	assert_int_equal(cow_write(c, "XY", 1031, 2, 0), 0);    /* again, now allocated */
	assert_int_equal(cow_write(c, "tail", 2044, 4, 0), 0);  /* end of sector 3 */
	assert_int_equal(cow_write(c, "head", 2048, 4, 0), 0);  /* start of sector 4 */
	assert_int_equal(cow_used_bytes(c), 3 * 512);
	assert_int_equal(cow_read(c, out, 0, DEV), 0);
	for (size_t i = 0; i < DEV; i++) {
		uint8_t want = fx->base[i];

		if (i == 1030)
			want = 'a';
		else if (i >= 1031 && i < 1033)
			want = (uint8_t)"XY"[i - 1031];
		else if (i >= 2044 && i < 2048)
			want = (uint8_t)"tail"[i - 2044];
		else if (i >= 2048 && i < 2052)
			want = (uint8_t)"head"[i - 2048];
		assert_int_equal(out[i], want);
	}
	cow_close(c);
}

static void test_write_crosses_base_end(void **state)
{
	struct fx *fx = *state; /* base of 1000 bytes on a 4096-byte device */
	struct cow *c = open_cow(fx);
	uint8_t in[200], out[DEV];

	memset(in, 0x33, sizeof(in));
	assert_int_equal(cow_write(c, in, 900, sizeof(in), 0), 0); /* 900..1099 */
	assert_int_equal(cow_used_bytes(c), 2 * 512); /* sectors 1 and 2 */
	assert_int_equal(cow_read(c, out, 0, DEV), 0);
	for (size_t i = 0; i < DEV; i++)
		assert_int_equal(out[i], i >= 900 && i < 1100 ? 0x33 : base_byte(fx, i));
	assert_base_unchanged(fx);
	cow_close(c);
}

static void test_out_of_range(void **state)
{
	struct fx *fx = *state;
	struct cow *c = open_cow(fx);
	uint8_t buf[512] = { 0 };

	assert_int_equal(cow_read(c, buf, DEV, 1), -ERANGE);
	assert_int_equal(cow_read(c, buf, DEV - 100, 200), -ERANGE);
	assert_int_equal(cow_read(c, buf, UINT64_MAX, 2), -ERANGE); /* no wrap-around */
	assert_int_equal(cow_write(c, buf, DEV - 511, 512, 0), -ERANGE);
	assert_int_equal(cow_write(c, buf, UINT64_MAX - 1, 4, 1), -ERANGE);
	assert_int_equal(cow_discard(c, DEV, 512), -ERANGE);
	assert_int_equal(cow_discard(c, 512, UINT64_MAX), -ERANGE);
	assert_int_equal(cow_used_bytes(c), 0);
	/* Up to the last byte is fine, and zero-length at the end too. */
	assert_int_equal(cow_read(c, buf, DEV - 512, 512), 0);
	assert_int_equal(cow_write(c, buf, DEV - 1, 1, 0), 0);
	assert_int_equal(cow_read(c, buf, DEV, 0), 0);
	assert_int_equal(cow_write(c, buf, DEV, 0, 0), 0);
	assert_int_equal(cow_used_bytes(c), 512);
	cow_close(c);
}

/* The allocation unit of the filesystem the fixture's files live on. */
static uint32_t tmp_unit(const struct fx *fx)
{
	int fd = open(fx->dir, O_RDONLY | O_DIRECTORY);
	uint32_t u;

	assert_true(fd >= 0);
	u = fsspace_block_size_fd(fd);
	close(fd);
	assert_true(u >= 512 && u <= 64 * 1024);
	return u;
}

/* Bytes the file at path occupies on its filesystem (st_blocks × 512). */
static uint64_t disk_bytes(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_blocks * 512;
}

/* The limit counts whole allocation units, partial and sparse writes included. */
static void test_write_limit(void **state)
{
	struct fx *fx = *state;
	uint32_t u = tmp_unit(fx);
	uint8_t *a = malloc(u), *b = malloc(u), *out = malloc(8 * (size_t)u);
	struct cow *c;

	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(out);
	fx->cfg.size_bytes = 16 * (uint64_t)u;
	fx->cfg.limit_bytes = 4 * (uint64_t)u;
	c = open_cow(fx);
	assert_int_equal(cow_alloc_unit(c), u);
	memset(a, 0x44, u);
	memset(b, 0x55, u);
	assert_int_equal(cow_write(c, a, 0, u, 0), 0);               /* unit 0, whole */
	assert_int_equal(cow_write(c, a, u, 512, 0), 0);             /* unit 1, a sector */
	assert_int_equal(cow_write(c, a, 2 * u + 700, 10, 0), 0);    /* unit 2, partial */
	assert_int_equal(cow_charged_bytes(c), 3 * (uint64_t)u);
	assert_int_equal(cow_used_bytes(c), u + 1024);
	/* Units 2 (in use) and 3 (new): the fourth unit, allowed. */
	assert_int_equal(cow_write(c, a, 3 * u - 512, 1024, 0), 0);
	assert_int_equal(cow_charged_bytes(c), 4 * (uint64_t)u);

	/* Any new unit now: -EDQUOT, nothing written. */
	assert_int_equal(cow_write(c, b, 5 * u, 1, 0), -EDQUOT);
	assert_int_equal(cow_write(c, b, 4 * u - 512, 1024, 1), -EDQUOT); /* 3 + new 4 */
	assert_int_equal(cow_charged_bytes(c), 4 * (uint64_t)u);
	assert_int_equal(cow_read(c, out, 0, 8 * (size_t)u), 0);
	for (size_t i = 4 * (size_t)u - 512; i < 8 * (size_t)u; i++)
		assert_int_equal(out[i], 0);

	/* Sectors of units in use cost nothing more, written or not before. */
	assert_int_equal(cow_write(c, b, u + 512, u - 512, 0), 0);  /* rest of unit 1 */
	assert_int_equal(cow_write(c, b, 10, 5, 1), 0);
	assert_int_equal(cow_charged_bytes(c), 4 * (uint64_t)u);
	assert_int_equal(cow_read(c, out, 0, 2 * (size_t)u), 0);
	assert_int_equal(out[9], 0x44);
	assert_int_equal(out[10], 0x55);
	assert_int_equal(out[u], 0x44);
	assert_int_equal(out[u + 512], 0x55);

	/* A partly discarded unit stays charged; a wholly discarded one frees room. */
	assert_int_equal(cow_discard(c, 0, u / 2), 0);
	assert_int_equal(cow_charged_bytes(c), 4 * (uint64_t)u);
	assert_int_equal(cow_write(c, b, 5 * u, 1, 0), -EDQUOT);
	assert_int_equal(cow_discard(c, 0, u), 0);
	assert_int_equal(cow_charged_bytes(c), 3 * (uint64_t)u);
	assert_int_equal(cow_write(c, b, 5 * u, 1, 0), 0);
	assert_int_equal(cow_charged_bytes(c), 4 * (uint64_t)u);
	cow_close(c);

	/* A restarted daemon counts the same units from the bitmap. */
	c = open_cow(fx);
	assert_int_equal(cow_charged_bytes(c), 4 * (uint64_t)u);
	assert_int_equal(cow_write(c, b, 6 * u, 1, 0), -EDQUOT);
	cow_close(c);
	free(a);
	free(b);
	free(out);
}

static void test_limit_not_unit_multiple(void **state)
{
	struct fx *fx = *state;
	uint32_t u = tmp_unit(fx);
	uint8_t buf[512] = { 1 };
	struct cow *c;

	fx->cfg.size_bytes = 4 * (uint64_t)u;
	fx->cfg.limit_bytes = 2 * (uint64_t)u - 1; /* room for one whole unit only */
	c = open_cow(fx);
	assert_int_equal(cow_write(c, buf, 0, 1, 0), 0);
	assert_int_equal(cow_write(c, buf, u, 1, 0), -EDQUOT);
	assert_int_equal(cow_charged_bytes(c), u);
	assert_int_equal(cow_used_bytes(c), 512);
	cow_close(c);
}

/*
 * The sparse pattern of issue 8: one sector per filesystem block. Charged a whole
 * unit each, so the limit is reached after limit / unit writes (limit / unit × 512
 * bytes of payload, not limit bytes), and what is charged is what the overlay really
 * occupies on disk (st_blocks), within a block of file metadata.
 */
static void test_sparse_pattern_charged_what_it_allocates(void **state)
{
	struct fx *fx = *state;
	uint32_t u = tmp_unit(fx);
	uint64_t limit = 64 * (uint64_t)u, n = 0;
	uint8_t sector[512];
	struct cow *c;
	int rc;

	fx->cfg.size_bytes = 1024 * (uint64_t)u;
	fx->cfg.limit_bytes = limit;
	c = open_cow(fx);
	memset(sector, 0x3c, sizeof(sector));
	while ((rc = cow_write(c, sector, n * u, sizeof(sector), 0)) == 0)
		n++;
	assert_int_equal(rc, -EDQUOT);
	assert_int_equal(n, limit / u);
	assert_int_equal(cow_used_bytes(c), n * 512);
	assert_int_equal(cow_charged_bytes(c), limit);
	assert_true(disk_bytes(fx->cfg.overlay) >= limit);
	assert_true(disk_bytes(fx->cfg.overlay) <= limit + u);
	/* Every other unit: the same, with holes between the extents. */
	cow_close(c);
	assert_int_equal(test_rmdir_flat(fx->dir), 0);
	assert_int_equal(mkdir(fx->dir, 0700), 0);
	c = open_cow(fx);
	for (n = 0; (rc = cow_write(c, sector, 2 * n * u + 512, sizeof(sector), 0)) == 0; n++)
		;
	assert_int_equal(rc, -EDQUOT);
	assert_int_equal(n, limit / u);
	assert_true(disk_bytes(fx->cfg.overlay) >= limit);
	assert_true(disk_bytes(fx->cfg.overlay) <= limit + 2 * (uint64_t)u);
	cow_close(c);
}

struct fake_fs {
	uint64_t avail;  /* what the fake free-space source reports */
	int err;         /* non-zero: it fails with -err instead */
	unsigned calls;
};

static int fake_avail(void *arg, int fd, uint64_t *avail)
{
	struct fake_fs *f = arg;

	(void)fd;
	f->calls++;
	if (f->err)
		return -f->err;
	*avail = f->avail;
	return 0;
}

/* The reserve: new units that would cross it → -ENOSPC, nothing written. */
static void test_reserve(void **state)
{
	struct fx *fx = *state;
	uint32_t u = tmp_unit(fx);
	uint64_t reserve = 1 << 20;
	struct fake_fs fs = { reserve + 2 * (uint64_t)u, 0, 0 };
	uint8_t *buf = calloc(4, u), *out = malloc(8 * (size_t)u);
	struct cow *c;

	assert_non_null(buf);
	assert_non_null(out);
	fx->cfg.size_bytes = 16 * (uint64_t)u;
	c = open_cow(fx);
	cow_set_reserve(c, reserve, fake_avail, &fs);
	memset(buf, 0x21, 4 * (size_t)u);
	assert_int_equal(cow_write(c, buf, 0, 3 * (size_t)u, 0), -ENOSPC); /* 3 > 2 */
	assert_int_equal(cow_charged_bytes(c), 0);
	assert_int_equal(cow_used_bytes(c), 0);
	assert_int_equal(disk_bytes(fx->cfg.overlay), 0);
	assert_int_equal(cow_write(c, buf, 0, 2 * (size_t)u, 0), 0);       /* exactly */
	assert_int_equal(cow_charged_bytes(c), 2 * (uint64_t)u);
	fs.avail = reserve - 1;
	assert_int_equal(cow_write(c, buf, 3 * u, 1, 1), -ENOSPC);
	/* Rewrites need no space: the source is not even asked. */
	fs.calls = 0;
	memset(buf, 0x22, u);
	assert_int_equal(cow_write(c, buf, u / 2, u, 1), 0);
	assert_int_equal(fs.calls, 0);
	assert_int_equal(cow_read(c, out, 0, 4 * (size_t)u), 0);
	for (size_t i = 0; i < 4 * (size_t)u; i++)
		assert_int_equal(out[i], i < u / 2 ? 0x21 : i < u / 2 + u ? 0x22 :
					 i < 2 * (size_t)u ? 0x21 : 0);
	/* A source that cannot tell does not block writes. */
	fs.err = EIO;
	assert_int_equal(cow_write(c, buf, 3 * u, 1, 0), 0);
	/* No reserve: not asked. */
	fs.err = 0;
	fs.calls = 0;
	cow_set_reserve(c, 0, fake_avail, &fs);
	assert_int_equal(cow_write(c, buf, 5 * u, 1, 0), 0);
	assert_int_equal(fs.calls, 0);
	/* The default source (statvfs of the real filesystem) lets a small reserve by. */
	cow_set_reserve(c, 4096, NULL, NULL);
	assert_int_equal(cow_write(c, buf, 7 * u, 1, 0), 0);
	assert_int_equal(cow_charged_bytes(c), 5 * (uint64_t)u);
	cow_close(c);
	free(buf);
	free(out);
}

/*
 * The filesystem itself full, as the kernel says it: fallocate and pwritev are
 * interposed below and fail with the errno a test arms (once armed, every call
 * fails until disarmed). The real calls run otherwise.
 */
static int fail_fallocate, fail_pwritev; /* errno to fail with; 0 = pass through */

int fallocate(int fd, int mode, off_t off, off_t len)
{
	int (*real)(int, int, off_t, off_t);
	void *sym;

	if (fail_fallocate && !(mode & FALLOC_FL_PUNCH_HOLE)) {
		errno = fail_fallocate;
		return -1;
	}
	sym = dlsym(RTLD_NEXT, "fallocate");
	memcpy(&real, &sym, sizeof(real));
	return real(fd, mode, off, len);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	ssize_t (*real)(int, const struct iovec *, int, off_t);
	void *sym;

	if (fail_pwritev) {
		errno = fail_pwritev;
		return -1;
	}
	sym = dlsym(RTLD_NEXT, "pwritev");
	memcpy(&real, &sym, sizeof(real));
	return real(fd, iov, cnt, off);
}

/* One armed failure: the write fails with -ENOSPC and leaves no trace. */
static void enospc_case(struct fx *fx, struct cow *c, int *arm, int err, uint64_t off,
			size_t len, const uint8_t *before, size_t span)
{
	uint64_t used = cow_used_bytes(c), charged = cow_charged_bytes(c);
	uint64_t disk = disk_bytes(fx->cfg.overlay);
	uint8_t *buf = malloc(len), *out = malloc(span);

	assert_non_null(buf);
	assert_non_null(out);
	memset(buf, 0xf0, len);
	*arm = err;
	assert_int_equal(cow_write(c, buf, off, len, 0), -ENOSPC);
	*arm = 0;
	assert_int_equal(cow_used_bytes(c), used);          /* no bit set */
	assert_int_equal(cow_charged_bytes(c), charged);
	assert_int_equal(disk_bytes(fx->cfg.overlay), disk); /* fresh units given back */
	assert_int_equal(cow_read(c, out, 0, span), 0);
	assert_memory_equal(out, before, span);              /* nothing else changed */
	free(buf);
	free(out);
}

static void test_enospc_from_filesystem(void **state)
{
	struct fx *fx = *state;
	uint32_t u = tmp_unit(fx);
	size_t span = 8 * (size_t)u;
	uint8_t *model = calloc(1, span), *out = malloc(span);
	struct cow *c;

	assert_non_null(model);
	assert_non_null(out);
	fx->cfg.size_bytes = span;
	c = open_cow(fx);
	memset(model, 0x5e, u);
	assert_int_equal(cow_write(c, model, 0, u, 1), 0); /* unit 0 in use */

	/* fallocate ENOSPC on new units: refused before any data is written. */
	enospc_case(fx, c, &fail_fallocate, ENOSPC, 2 * u, 2 * (size_t)u, model, span);
	/* The filesystem's own quota (EDQUOT) is the same exhaustion. */
	enospc_case(fx, c, &fail_fallocate, EDQUOT, 3 * u + 100, 10, model, span);
	/* pwritev ENOSPC after fallocate worked: the units are punched out again. */
	enospc_case(fx, c, &fail_pwritev, ENOSPC, 4 * u, u, model, span);
	/* A write straddling unit 0 (in use) and unit 1 (new). */
	enospc_case(fx, c, &fail_fallocate, ENOSPC, u - 512, 1024, model, span);

	/* A filesystem without fallocate: pwritev's ENOSPC is the answer. */
	fail_fallocate = EOPNOTSUPP;
	assert_int_equal(cow_write(c, model, 5 * u, 512, 0), 0); /* learns: no fallocate */
	fail_fallocate = 0;
	memset(model + 5 * (size_t)u, 0x5e, 512);
	enospc_case(fx, c, &fail_pwritev, ENOSPC, 6 * u, u, model, span);

	/* Disarmed: the same writes go through; the store was not damaged. */
	memset(model + 2 * (size_t)u, 0x77, 2 * (size_t)u);
	assert_int_equal(cow_write(c, model + 2 * (size_t)u, 2 * u, 2 * (size_t)u, 1), 0);
	assert_int_equal(cow_flush(c), 0);
	cow_close(c);
	c = open_cow(fx);
	assert_int_equal(cow_read(c, out, 0, span), 0);
	assert_memory_equal(out, model, span);
	assert_int_equal(cow_charged_bytes(c), 4 * (uint64_t)u); /* units 0, 2, 3, 5 */
	cow_close(c);
	free(model);
	free(out);
}

static void test_discard(void **state)
{
	struct fx *fx = *state;
	struct cow *c;
	uint8_t in[DEV], out[DEV];
	struct stat st;

	make_base(fx, DEV);
	c = open_cow(fx);
	memset(in, 0x66, sizeof(in));
	assert_int_equal(cow_write(c, in, 0, DEV, 0), 0);
	assert_int_equal(cow_used_bytes(c), DEV);

	/* [100, 1100) holds only sector 1 whole; sectors 0 and 2 are partial. */
	assert_int_equal(cow_discard(c, 100, 1000), 0);
	assert_int_equal(cow_used_bytes(c), DEV - 512);
	/* Sectors 5 and 6 exactly. */
	assert_int_equal(cow_discard(c, 2560, 1024), 0);
	assert_int_equal(cow_used_bytes(c), DEV - 3 * 512);
	/* Less than a sector: nothing. */
	assert_int_equal(cow_discard(c, 3600, 300), 0);
	assert_int_equal(cow_discard(c, 0, 0), 0);
	assert_int_equal(cow_used_bytes(c), DEV - 3 * 512);

	assert_int_equal(cow_read(c, out, 0, DEV), 0);
	for (size_t i = 0; i < DEV; i++) {
		int dropped = (i >= 512 && i < 1024) || (i >= 2560 && i < 3584);

		assert_int_equal(out[i], dropped ? fx->base[i] : 0x66);
	}
	assert_int_equal(cow_flush(c), 0);
	cow_close(c);

	/* The cleared bits are persistent and the overlay keeps its size. */
	assert_int_equal(stat(fx->cfg.overlay, &st), 0);
	assert_int_equal(st.st_size, DEV);
	c = open_cow(fx);
	assert_int_equal(cow_used_bytes(c), DEV - 3 * 512);
	assert_int_equal(cow_read(c, out, 512, 512), 0);
	assert_memory_equal(out, fx->base + 512, 512);
	assert_base_unchanged(fx);
	cow_close(c);
}

static void test_reopen_keeps_data(void **state)
{
	struct fx *fx = *state;
	struct cow *c = open_cow(fx);
	uint8_t in[700], out[DEV];

	memset(in, 0x77, sizeof(in));
	assert_int_equal(cow_write(c, in, 2000, sizeof(in), 1), 0); /* FUA */
	assert_int_equal(cow_write(c, in, 300, 10, 0), 0);
	assert_int_equal(cow_flush(c), 0);
	cow_close(c);

	c = open_cow(fx); /* the restarted daemon */
	assert_int_equal(cow_used_bytes(c), 4 * 512); /* sectors 0, 3, 4, 5 */
	assert_int_equal(cow_read(c, out, 0, DEV), 0);
	for (size_t i = 0; i < DEV; i++) {
		int w = (i >= 2000 && i < 2700) || (i >= 300 && i < 310);

		assert_int_equal(out[i], w ? 0x77 : base_byte(fx, i));
	}
	assert_base_unchanged(fx);
	cow_close(c);
}

/* Open, write, then SIGKILL ourselves: what the daemon sees after kill -9. */
static void child_write_and_die(struct fx *fx, int fua, int flush)
{
	struct cow *c = cow_open(&fx->cfg, fx->dir, fx->err, sizeof(fx->err));
	uint8_t in[1536];

	memset(in, 0x88, sizeof(in));
	if (!c || cow_write(c, in, 256, sizeof(in), fua) ||
	    (flush && cow_flush(c)))
		_exit(1);
	kill(getpid(), SIGKILL);
	_exit(2);
}

static void kill9_case(struct fx *fx, int fua, int flush)
{
	struct cow *c;
	uint8_t out[DEV];
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		child_write_and_die(fx, fua, flush);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);

	c = open_cow(fx);
	assert_int_equal(cow_used_bytes(c), 4 * 512); /* sectors 0-3 */
	assert_int_equal(cow_read(c, out, 0, DEV), 0);
	for (size_t i = 0; i < DEV; i++)
		assert_int_equal(out[i], i >= 256 && i < 1792 ? 0x88 : base_byte(fx, i));
	assert_base_unchanged(fx);
	cow_close(c);
}

static void test_survives_kill9_fua(void **state)
{
	kill9_case(*state, 1, 0);
}

static void test_survives_kill9_flush(void **state)
{
	kill9_case(*state, 0, 1);
}

static void test_survives_kill9_plain(void **state)
{
	kill9_case(*state, 0, 0); /* page cache survives a process kill */
}

/*
 * What a power loss can leave on disk at worst (cow.h): the tmpfs mirror is gone, and
 * overlay bytes written since the last flush never reached the disk (the page cache
 * wrote the bitmap back first): punched out here. Returns the reopened store.
 */
static struct cow *power_loss(struct fx *fx, uint64_t lost_off, uint64_t lost_len)
{
	char p[128];
	DIR *d = opendir(fx->dir);
	struct dirent *e;
	int fd;

	assert_non_null(d);
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);

		if (n > 5 && !strcmp(e->d_name + n - 5, ".bits")) {
			snprintf(p, sizeof(p), "%s/%.40s", fx->dir, e->d_name);
			assert_int_equal(unlink(p), 0);
		}
	}
	closedir(d);
	if (lost_len) {
		fd = open(fx->cfg.overlay, O_RDWR);
		assert_true(fd >= 0);
		assert_int_equal(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					   (off_t)lost_off, (off_t)lost_len), 0);
		close(fd);
	}
	return open_cow(fx);
}

/* Fork a child that runs fn on a fresh store, then dies by SIGKILL (no close). */
static void crash_child(struct fx *fx, void (*fn)(struct cow *c))
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct cow *c = cow_open(&fx->cfg, fx->dir, fx->err, sizeof(fx->err));

		if (!c)
			_exit(1);
		fn(c);
		kill(getpid(), SIGKILL);
		_exit(2);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
}

/* Sectors 0-1 written and flushed, then sectors 4-7 written for the first time. */
static void flushed_then_fresh(struct cow *c)
{
	uint8_t a[1024], b[2048];

	memset(a, 0xa1, sizeof(a));
	memset(b, 0xb2, sizeof(b));
	if (cow_write(c, a, 0, sizeof(a), 0) || cow_flush(c) ||
	    cow_write(c, b, 2048, sizeof(b), 0))
		_exit(3);
}

/*
 * SBC-3 §4.15 with WCE = 1: after a power loss a sector written since the last
 * SYNCHRONIZE CACHE holds its new data or its old data. Old data for a sector never
 * written before is the base's, never zeros from an overlay hole.
 */
static void test_power_loss_unflushed_first_write_reads_base(void **state)
{
	struct fx *fx = *state;
	uint8_t out[DEV];
	struct cow *c;

	make_base(fx, DEV);
	crash_child(fx, flushed_then_fresh);
	c = power_loss(fx, 2048, 2048);
	assert_int_equal(cow_read(c, out, 0, DEV), 0);
	for (size_t i = 0; i < DEV; i++)
		assert_int_equal(out[i], i < 1024 ? 0xa1 : base_byte(fx, i));
	assert_int_equal(cow_used_bytes(c), 1024);
	cow_close(c);
}

/* The same crash without the power loss: every completed write is there (mirror). */
static void test_kill9_keeps_unflushed_first_write(void **state)
{
	struct fx *fx = *state;
	uint8_t out[DEV];
	struct cow *c;

	make_base(fx, DEV);
	crash_child(fx, flushed_then_fresh);
	c = open_cow(fx);
	assert_int_equal(cow_read(c, out, 0, DEV), 0);
	for (size_t i = 0; i < DEV; i++)
		assert_int_equal(out[i], i < 1024 ? 0xa1 : i >= 2048 ? 0xb2 : base_byte(fx, i));
	cow_close(c);
}

/* Written and flushed, then discarded whole (its unit punched), then power lost. */
static void flushed_then_discarded(struct cow *c)
{
	uint8_t a[DEV];

	memset(a, 0xc3, sizeof(a));
	if (cow_write(c, a, 0, sizeof(a), 0) || cow_flush(c) || cow_discard(c, 0, DEV))
		_exit(3);
}

/* A discard that punched overlay blocks never leaves a durable bit on the hole. */
static void test_power_loss_after_discard_reads_base(void **state)
{
	struct fx *fx = *state;
	uint8_t out[DEV];
	struct cow *c;

	make_base(fx, DEV);
	crash_child(fx, flushed_then_discarded);
	c = power_loss(fx, 0, 0); /* the discard punched the data already */
	assert_int_equal(cow_read(c, out, 0, DEV), 0);
	for (size_t i = 0; i < DEV; i++)
		assert_int_equal(out[i], base_byte(fx, i));
	assert_int_equal(cow_used_bytes(c), 0);
	cow_close(c);
}

static void test_bitmap_file_format(void **state)
{
	struct fx *fx = *state;
	struct cow *c;
	uint8_t bits[2], one = 1;
	int fd;

	fx->cfg.size_bytes = 16 * 512;
	c = open_cow(fx);
	assert_int_equal(cow_write(c, &one, 0, 1, 0), 0);        /* sector 0 */
	assert_int_equal(cow_write(c, &one, 9 * 512, 1, 0), 0);  /* sector 9 */
	fd = open(fx->cfg.bitmap, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, bits, 2, 0), 2);
	/* The durable bitmap gets its bits at the flush, after their data (cow.h). */
	assert_int_equal(bits[0] | bits[1], 0);
	assert_int_equal(cow_flush(c), 0);
	assert_int_equal(pread(fd, bits, 2, 0), 2);
	close(fd);
	assert_int_equal(bits[0], 0x01);
	assert_int_equal(bits[1], 0x02);
	cow_close(c);
}

static void test_many_runs(void **state)
{
	struct fx *fx = *state;
	enum { SECTORS = 100, SIZE = SECTORS * 512 };
	static uint8_t in[SIZE], out[SIZE];
	struct cow *c;

	make_base(fx, SIZE - 300);
	fx->cfg.size_bytes = SIZE;
	c = open_cow(fx);
	/* Allocate every third sector, and a long run in the middle. */
	for (size_t s = 0; s < SECTORS; s += 3) {
		memset(in, (int)(s + 1), 512);
		assert_int_equal(cow_write(c, in, s * 512, 512, 0), 0);
	}
	memset(in, 0xab, 20 * 512);
	assert_int_equal(cow_write(c, in, 40 * 512 + 7, 20 * 512 - 14, 0), 0);
	assert_int_equal(cow_read(c, out, 3, SIZE - 6), 0);
	for (size_t i = 3; i < SIZE - 3; i++) {
		size_t s = i / 512;
		uint8_t want = base_byte(fx, i);

		if (i >= 40 * 512 + 7 && i < 60 * 512 - 7)
			want = 0xab;
		else if (s % 3 == 0)
			want = (uint8_t)(s + 1);
		assert_int_equal(out[i - 3], want);
	}
	assert_base_unchanged(fx);
	cow_close(c);
}

static void test_existing_overlay_reused(void **state)
{
	struct fx *fx = *state;
	struct cow *c = open_cow(fx);
	uint8_t out[16];

	assert_int_equal(cow_write(c, "persist", 4000, 7, 0), 0);
	cow_close(c);
	/* A restarted daemon opening the same files (no flush: close does not flush). */
	c = open_cow(fx);
	assert_int_equal(cow_read(c, out, 4000, 7), 0);
	assert_memory_equal(out, "persist", 7);
	assert_int_equal(file_size(fx->cfg.overlay), DEV);
	cow_close(c);
}

/* Deterministic random operations, checked against a plain in-memory model. */
static void test_random_against_model(void **state)
{
	struct fx *fx = *state;
	enum { SIZE = 64 * 512 };
	static uint8_t model[SIZE], buf[SIZE];
	uint64_t seed = 12345;
	struct cow *c;

	make_base(fx, SIZE - 700);
	fx->cfg.size_bytes = SIZE;
	for (size_t i = 0; i < SIZE; i++)
		model[i] = base_byte(fx, i);
	c = open_cow(fx);
	for (int op = 0; op < 2000; op++) {
		size_t off, len;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		off = (size_t)(seed >> 33) % SIZE;
		len = (size_t)(seed >> 13) % (SIZE - off + 1) % 3000;
		switch ((seed >> 5) % 8) {
		case 0: case 1: case 2:
			for (size_t i = 0; i < len; i++)
				buf[i] = (uint8_t)(op + i);
			assert_int_equal(cow_write(c, buf, off, len, (int)(seed & 1)), 0);
			memcpy(model + off, buf, len);
			break;
		case 3: {
			size_t first = (off + 511) / 512 * 512, end = (off + len) / 512 * 512;

			assert_int_equal(cow_discard(c, off, len), 0);
			for (size_t i = first; i < end; i++)
				model[i] = base_byte(fx, i);
			break;
		}
		case 4:
			if (op % 5 == 0) { /* restart now and then */
				cow_close(c);
				c = open_cow(fx);
			}
			break;
		default:
			assert_int_equal(cow_read(c, buf, off, len), 0);
			assert_memory_equal(buf, model + off, len);
		}
	}
	assert_int_equal(cow_read(c, buf, 0, SIZE), 0);
	assert_memory_equal(buf, model, SIZE);
	assert_base_unchanged(fx);
	cow_close(c);
}

static void test_open_errors(void **state)
{
	struct fx *fx = *state;
	char want[512];

	snprintf(fx->cfg.base, sizeof(fx->cfg.base), "%s/missing.img", fx->dir);
	snprintf(want, sizeof(want), "cannot open base %s: No such file or directory",
		 fx->cfg.base);
	errno = 0;
	assert_null(cow_open(&fx->cfg, NULL, fx->err, sizeof(fx->err)));
	assert_int_equal(errno, ENOENT);
	assert_string_equal(fx->err, want);
	fx->cfg.base[0] = '\0';

	snprintf(fx->cfg.overlay, sizeof(fx->cfg.overlay), "%s/nodir/overlay", fx->dir);
	errno = 0;
	assert_null(cow_open(&fx->cfg, NULL, fx->err, sizeof(fx->err)));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(fx->err, "cannot open overlay"));
	snprintf(fx->cfg.overlay, sizeof(fx->cfg.overlay), "%s/overlay", fx->dir);

	fx->cfg.size_bytes = 1000;
	errno = 0;
	assert_null(cow_open(&fx->cfg, NULL, fx->err, sizeof(fx->err)));
	assert_int_equal(errno, EINVAL);
	fx->cfg.size_bytes = DEV;

	errno = 0;
	assert_null(cow_open(NULL, NULL, NULL, 0));
	assert_int_equal(errno, EINVAL);
	cow_close(NULL);
}

static void test_bitmap_wrong_size(void **state)
{
	struct fx *fx = *state;
	const uint8_t three[3] = { 0 };

	write_file(fx->cfg.bitmap, three, sizeof(three)); /* 8 sectors need 1 byte */
	errno = 0;
	assert_null(cow_open(&fx->cfg, NULL, fx->err, sizeof(fx->err)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(fx->err, fx->cfg.bitmap));
	assert_int_equal(file_size(fx->cfg.bitmap), 3);
}

static void test_refuses_to_write_base(void **state)
{
	struct fx *fx = *state;

	/* Overlay or bitmap naming the base would modify it. */
	strcpy(fx->cfg.overlay, fx->cfg.base);
	errno = 0;
	assert_null(cow_open(&fx->cfg, NULL, fx->err, sizeof(fx->err)));
	assert_int_equal(errno, EINVAL);
	snprintf(fx->cfg.overlay, sizeof(fx->cfg.overlay), "%s/overlay", fx->dir);

	/* A base of exactly the bitmap's size, so only the identity check catches it. */
	make_base(fx, 1);
	strcpy(fx->cfg.bitmap, fx->cfg.base);
	errno = 0;
	assert_null(cow_open(&fx->cfg, NULL, fx->err, sizeof(fx->err)));
	assert_int_equal(errno, EINVAL);
	assert_base_unchanged(fx);
}


/* ---- several threads on one store (cow.h: reads and non-FUA writes) -------------- */

#define MT_DEV     (256u * 1024u) /* 512 sectors */
#define MT_THREADS 4
#define MT_PASSES  3

struct mt {
	struct cow *c;
	int t;              /* writer number: it owns the sectors s with s % MT_THREADS == t */
	int quota_refused;  /* writes refused with -EDQUOT */
	int bad;            /* sectors a reader saw that no write ever wrote */
};

/* A sector's content in one pass: its own number, the pass and a filler. */
static void mt_fill(uint8_t *p, uint32_t sector, uint32_t pass)
{
	memset(p, (int)(0x40 + pass), 512);
	memcpy(p, &sector, 4);
	memcpy(p + 4, &pass, 4);
}

static void *mt_writer(void *arg)
{
	struct mt *m = arg;
	uint8_t sec[512];
	uint32_t s, pass;

	for (pass = 1; pass <= MT_PASSES; pass++)
		for (s = (uint32_t)m->t; s < MT_DEV / 512; s += MT_THREADS) {
			mt_fill(sec, s, pass);
			if (cow_write(m->c, sec, (uint64_t)s * 512, 512, 0) == -EDQUOT)
				m->quota_refused++;
		}
	return NULL;
}

/* Read the whole device over and over: each sector is blank or some pass of itself. */
static void *mt_reader(void *arg)
{
	struct mt *m = arg;
	uint8_t *buf = malloc(MT_DEV), want[512];
	uint32_t s, pass;
	int round;

	assert_non_null(buf);
	for (round = 0; round < 20; round++) {
		assert_int_equal(cow_read(m->c, buf, 0, MT_DEV), 0);
		for (s = 0; s < MT_DEV / 512; s++) {
			uint8_t *p = buf + (size_t)s * 512;
			int ok = 1;

			memset(want, 0, sizeof(want));
			if (memcmp(p, want, 512) != 0) {
				memcpy(&pass, p + 4, 4);
				ok = pass >= 1 && pass <= MT_PASSES;
				if (ok) {
					mt_fill(want, s, pass);
					ok = memcmp(p, want, 512) == 0;
				}
			}
			m->bad += !ok;
		}
	}
	free(buf);
	return NULL;
}

static void run_mt(struct cow *c, struct mt *m, int readers)
{
	pthread_t th[MT_THREADS + 1];
	int i, n = MT_THREADS + (readers ? 1 : 0);

	for (i = 0; i < n; i++) {
		m[i].c = c;
		m[i].t = i;
		assert_int_equal(pthread_create(&th[i], NULL,
						i < MT_THREADS ? mt_writer : mt_reader, &m[i]),
				 0);
	}
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
}

static void test_threads_share_units(void **state)
{
	struct fx *fx = *state;
	struct mt m[MT_THREADS + 1];
	uint8_t *buf = malloc(MT_DEV), want[512];
	struct cow *c;
	uint32_t s;
	int reopen;

	assert_non_null(buf);
	memset(m, 0, sizeof(m));
	fx->cfg.size_bytes = MT_DEV;
	c = open_cow(fx);
	/* Four writers interleave single sectors, so every allocation unit is shared. */
	run_mt(c, m, 1);
	assert_int_equal(m[MT_THREADS].bad, 0);
	for (reopen = 0; reopen < 2; reopen++) {
		assert_int_equal(cow_read(c, buf, 0, MT_DEV), 0);
		for (s = 0; s < MT_DEV / 512; s++) {
			mt_fill(want, s, MT_PASSES);
			assert_memory_equal(buf + (size_t)s * 512, want, 512);
		}
		assert_int_equal(cow_used_bytes(c), MT_DEV);
		assert_int_equal(cow_charged_bytes(c), MT_DEV);
		/* What was charged is what a fresh count of the bitmap finds. */
		cow_close(c);
		c = open_cow(fx);
	}
	cow_close(c);
	free(buf);
}

static void test_threads_charge_each_unit_once(void **state)
{
	struct fx *fx = *state;
	struct mt m[MT_THREADS + 1];
	uint64_t u, units;
	struct cow *c;
	int refused = 0, i;

	memset(m, 0, sizeof(m));
	fx->cfg.size_bytes = MT_DEV;
	c = open_cow(fx);
	u = cow_alloc_unit(c);
	units = MT_DEV / u;
	cow_close(c);
	/* Room for half the device: the writers race for the other half. */
	fx->cfg.limit_bytes = units / 2 * u;
	c = open_cow(fx);
	run_mt(c, m, 0);
	for (i = 0; i < MT_THREADS; i++)
		refused += m[i].quota_refused;
	assert_true(refused > 0);
	assert_int_equal(cow_charged_bytes(c), units / 2 * u);
	cow_close(c);
	c = open_cow(fx);
	assert_int_equal(cow_charged_bytes(c), units / 2 * u);
	cow_close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_blank_reads_zeros, setup, teardown),
		cmocka_unit_test_setup_teardown(test_base_reads_through, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_crosses_base_end, setup_base, teardown),
		cmocka_unit_test_setup_teardown(test_write_read_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_over_base, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_sector_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_within_one_sector, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_crosses_base_end, setup_base, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limit_not_unit_multiple, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sparse_pattern_charged_what_it_allocates,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_reserve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enospc_from_filesystem, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup_base, teardown),
		cmocka_unit_test_setup_teardown(test_survives_kill9_fua, setup_base, teardown),
		cmocka_unit_test_setup_teardown(test_survives_kill9_flush, setup_base, teardown),
		cmocka_unit_test_setup_teardown(test_survives_kill9_plain, setup_base, teardown),
		cmocka_unit_test_setup_teardown(test_power_loss_unflushed_first_write_reads_base,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill9_keeps_unflushed_first_write, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_power_loss_after_discard_reads_base, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bitmap_file_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_existing_overlay_reused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_against_model, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bitmap_wrong_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_to_write_base, setup_base, teardown),
		cmocka_unit_test_setup_teardown(test_threads_share_units, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads_charge_each_unit_once, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
