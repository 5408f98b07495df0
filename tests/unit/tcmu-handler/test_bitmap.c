/*
 * test_bitmap.c — unit tests for tcmu-handler/bitmap.c: ranges across byte
 * boundaries, counts, runs, the on-disk format (LSB first) and persistence.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_tmpdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bitmap.h"

struct fx {
	char dir[64];
	char path[128];
	char err[256];
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	assert_non_null(test_mkdtemp(fx->dir, sizeof(fx->dir), "test_bitmap"));
	snprintf(fx->path, sizeof(fx->path), "%s/bits", fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(test_rmdir_flat(fx->dir), 0);
	free(fx);
	return 0;
}

static off_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static void read_file_bytes(const char *path, uint8_t *buf, size_t len)
{
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, 0), (ssize_t)len);
	close(fd);
}

static void write_file_bytes(const char *path, const uint8_t *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, len, 0), (ssize_t)len);
	close(fd);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

static void test_create_zeroed(void **state)
{
	struct fx *fx = *state;
	struct bitmap *b = bitmap_open(fx->path, 17, fx->err, sizeof(fx->err));
	uint8_t buf[3] = { 0xaa, 0xaa, 0xaa };

	assert_non_null(b);
	assert_int_equal(bitmap_nbits(b), 17);
	assert_int_equal(bitmap_count(b), 0);
	assert_int_equal(file_size(fx->path), 3); /* ceil(17 / 8) */
	read_file_bytes(fx->path, buf, 3);
	assert_int_equal(buf[0] | buf[1] | buf[2], 0);
	assert_int_equal(count_entries(fx->dir), 1); /* no temporary file left behind */
	for (uint64_t i = 0; i < 17; i++)
		assert_int_equal(bitmap_test(b, i), 0);
	bitmap_close(b);
}

/* A new bitmap file is allocated whole: setting bits later never needs space. */
static void test_create_allocates(void **state)
{
	struct fx *fx = *state;
	uint64_t nbits = 8ull * 64 * 1024; /* 64 KiB of bits: a 256 MiB device */
	struct bitmap *b = bitmap_open(fx->path, nbits, fx->err, sizeof(fx->err));
	struct stat st;

	assert_non_null(b);
	assert_int_equal(stat(fx->path, &st), 0);
	assert_int_equal(st.st_size, 64 * 1024);
	assert_true((uint64_t)st.st_blocks * 512 >= 64 * 1024);
	bitmap_close(b);
}

static void test_set_clear_across_bytes(void **state)
{
	struct fx *fx = *state;
	struct bitmap *b = bitmap_open(fx->path, 100, fx->err, sizeof(fx->err));

	assert_non_null(b);
	assert_int_equal(bitmap_set(b, 5, 10), 0); /* bits 5..14: bytes 0 and 1 */
	for (uint64_t i = 0; i < 100; i++)
		assert_int_equal(bitmap_test(b, i), i >= 5 && i < 15);
	assert_int_equal(bitmap_count(b), 10);

	assert_int_equal(bitmap_clear(b, 7, 2), 0); /* 7, 8: straddles byte 0/1 */
	assert_false(bitmap_test(b, 7));
	assert_false(bitmap_test(b, 8));
	assert_true(bitmap_test(b, 6));
	assert_true(bitmap_test(b, 9));
	assert_int_equal(bitmap_count(b), 8);

	assert_int_equal(bitmap_set(b, 0, 100), 0); /* everything, incl. last partial byte */
	assert_int_equal(bitmap_count(b), 100);
	assert_int_equal(bitmap_clear(b, 1, 98), 0);
	assert_int_equal(bitmap_count(b), 2);
	assert_true(bitmap_test(b, 0));
	assert_true(bitmap_test(b, 99));
	assert_false(bitmap_test(b, 100)); /* past the end reads as clear */
	bitmap_close(b);
}

static void test_set_is_idempotent(void **state)
{
	struct fx *fx = *state;
	struct bitmap *b = bitmap_open(fx->path, 64, fx->err, sizeof(fx->err));

	assert_non_null(b);
	assert_int_equal(bitmap_set(b, 10, 20), 0);
	assert_int_equal(bitmap_set(b, 15, 20), 0); /* overlaps: only 5 new bits */
	assert_int_equal(bitmap_count(b), 25);
	assert_int_equal(bitmap_clear(b, 40, 10), 0); /* already clear */
	assert_int_equal(bitmap_count(b), 20 + 5);
	assert_int_equal(bitmap_set(b, 0, 0), 0);
	assert_int_equal(bitmap_count(b), 25);
	assert_int_equal(bitmap_sync(b), 0);
	assert_int_equal(bitmap_sync(b), 0);
	bitmap_close(b);
}

static void test_out_of_range(void **state)
{
	struct fx *fx = *state;
	struct bitmap *b = bitmap_open(fx->path, 20, fx->err, sizeof(fx->err));

	assert_non_null(b);
	assert_int_equal(bitmap_set(b, 15, 6), -ERANGE);
	assert_int_equal(bitmap_set(b, 21, 0), -ERANGE);
	assert_int_equal(bitmap_clear(b, UINT64_MAX, 2), -ERANGE);
	assert_int_equal(bitmap_count(b), 0); /* nothing changed */
	assert_int_equal(bitmap_set(b, 15, 5), 0); /* up to the last bit is fine */
	assert_int_equal(bitmap_count(b), 5);
	bitmap_close(b);
}

static void test_count_range(void **state)
{
	struct fx *fx = *state;
	struct bitmap *b = bitmap_open(fx->path, 200, fx->err, sizeof(fx->err));

	assert_non_null(b);
	assert_int_equal(bitmap_set(b, 3, 30), 0);  /* 3..32 */
	assert_int_equal(bitmap_set(b, 100, 1), 0);
	assert_int_equal(bitmap_count_range(b, 0, 200), 31);
	assert_int_equal(bitmap_count_range(b, 0, 3), 0);
	assert_int_equal(bitmap_count_range(b, 2, 3), 2);
	assert_int_equal(bitmap_count_range(b, 7, 17), 17);  /* unaligned, mid run */
	assert_int_equal(bitmap_count_range(b, 30, 80), 4);  /* 30, 31, 32, 100 */
	assert_int_equal(bitmap_count_range(b, 190, 100), 0); /* clipped */
	assert_int_equal(bitmap_count_range(b, 500, 10), 0);
	bitmap_close(b);
}

static void test_run(void **state)
{
	struct fx *fx = *state;
	struct bitmap *b = bitmap_open(fx->path, 1000, fx->err, sizeof(fx->err));
	int s = -1;

	assert_non_null(b);
	assert_int_equal(bitmap_set(b, 64, 640), 0); /* 64..703: whole 64-bit words */
	assert_int_equal(bitmap_set(b, 710, 3), 0);  /* 710..712 */

	assert_int_equal(bitmap_run(b, 0, 1000, &s), 64);
	assert_int_equal(s, 0);
	assert_int_equal(bitmap_run(b, 10, 1000, &s), 54);
	assert_int_equal(s, 0);
	assert_int_equal(bitmap_run(b, 64, 1000, &s), 640);
	assert_int_equal(s, 1);
	assert_int_equal(bitmap_run(b, 65, 1000, &s), 639);
	assert_int_equal(s, 1);
	assert_int_equal(bitmap_run(b, 64, 100, &s), 100); /* capped by max */
	assert_int_equal(s, 1);
	assert_int_equal(bitmap_run(b, 704, 1000, &s), 6);
	assert_int_equal(s, 0);
	assert_int_equal(bitmap_run(b, 710, 1000, &s), 3);
	assert_int_equal(s, 1);
	assert_int_equal(bitmap_run(b, 713, 1000, &s), 287); /* clipped to nbits */
	assert_int_equal(s, 0);
	assert_int_equal(bitmap_run(b, 999, 5, &s), 1);
	s = 1;
	assert_int_equal(bitmap_run(b, 1000, 5, &s), 0);
	assert_int_equal(s, 0);
	assert_int_equal(bitmap_run(b, 0, 0, &s), 0);
	bitmap_close(b);
}

static void test_file_format_lsb_first(void **state)
{
	struct fx *fx = *state;
	struct bitmap *b = bitmap_open(fx->path, 24, fx->err, sizeof(fx->err));
	uint8_t buf[3];

	assert_non_null(b);
	assert_int_equal(bitmap_set(b, 0, 1), 0);
	assert_int_equal(bitmap_set(b, 9, 1), 0);
	assert_int_equal(bitmap_set(b, 20, 4), 0);
	/* Written through before returning: visible without close or sync. */
	read_file_bytes(fx->path, buf, 3);
	assert_int_equal(buf[0], 0x01);
	assert_int_equal(buf[1], 0x02);
	assert_int_equal(buf[2], 0xf0);
	assert_int_equal(bitmap_clear(b, 9, 1), 0);
	read_file_bytes(fx->path, buf, 3);
	assert_int_equal(buf[1], 0x00);
	bitmap_close(b);
}

static void test_persistence(void **state)
{
	struct fx *fx = *state;
	struct bitmap *b = bitmap_open(fx->path, 1000, fx->err, sizeof(fx->err));

	assert_non_null(b);
	assert_int_equal(bitmap_set(b, 7, 100), 0);
	assert_int_equal(bitmap_clear(b, 50, 3), 0);
	assert_int_equal(bitmap_set(b, 999, 1), 0);
	assert_int_equal(bitmap_sync(b), 0);
	bitmap_close(b);

	b = bitmap_open(fx->path, 1000, fx->err, sizeof(fx->err));
	assert_non_null(b);
	assert_int_equal(bitmap_count(b), 98);
	for (uint64_t i = 0; i < 1000; i++)
		assert_int_equal(bitmap_test(b, i),
				 (i >= 7 && i < 107 && !(i >= 50 && i < 53)) || i == 999);
	bitmap_close(b);
}

static void test_load_ignores_tail_bits(void **state)
{
	struct fx *fx = *state;
	const uint8_t ones[2] = { 0xff, 0xff };
	struct bitmap *b;
	int s;

	write_file_bytes(fx->path, ones, sizeof(ones));
	b = bitmap_open(fx->path, 12, fx->err, sizeof(fx->err));
	assert_non_null(b);
	assert_int_equal(bitmap_count(b), 12); /* bits 12..15 are not sectors */
	assert_false(bitmap_test(b, 12));
	assert_int_equal(bitmap_run(b, 0, 100, &s), 12);
	assert_int_equal(s, 1);
	bitmap_close(b);
}

static void test_wrong_size_rejected(void **state)
{
	struct fx *fx = *state;
	const uint8_t two[2] = { 0, 0 };

	write_file_bytes(fx->path, two, sizeof(two));
	errno = 0;
	assert_null(bitmap_open(fx->path, 100, fx->err, sizeof(fx->err)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(fx->err, fx->path));
	assert_non_null(strstr(fx->err, "expected 13"));
	assert_int_equal(file_size(fx->path), 2); /* left alone */
}

static void test_open_errors(void **state)
{
	struct fx *fx = *state;
	char p[200];

	snprintf(p, sizeof(p), "%s/no/such/dir/bits", fx->dir);
	errno = 0;
	assert_null(bitmap_open(p, 8, fx->err, sizeof(fx->err)));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(fx->err, "cannot open bitmap"));
	assert_non_null(strstr(fx->err, "No such file or directory"));

	errno = 0;
	assert_null(bitmap_open(fx->dir, 8, fx->err, sizeof(fx->err))); /* a directory */
	assert_true(errno != 0);

	errno = 0;
	assert_null(bitmap_open(fx->path, 0, NULL, 0));
	assert_int_equal(errno, EINVAL);
	bitmap_close(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_zeroed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_allocates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_clear_across_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_is_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_count_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_format_lsb_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persistence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_ignores_tail_bits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_size_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
