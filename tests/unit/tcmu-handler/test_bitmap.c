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
#include <sys/wait.h>
#include <unistd.h>

#include "bitmap.h"

struct fx {
	char dir[64];
	char mdir[64];   /* mirror directory */
	char path[128];
	char err[256];
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	assert_non_null(test_mkdtemp(fx->dir, sizeof(fx->dir), "test_bitmap"));
	assert_non_null(test_mkdtemp(fx->mdir, sizeof(fx->mdir), "test_bitmap_mirror"));
	snprintf(fx->path, sizeof(fx->path), "%s/bits", fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(test_rmdir_flat(fx->dir), 0);
	assert_int_equal(test_rmdir_flat(fx->mdir), 0);
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
	struct bitmap *b = bitmap_open(fx->path, NULL, 17, fx->err, sizeof(fx->err));
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
	struct bitmap *b = bitmap_open(fx->path, NULL, nbits, fx->err, sizeof(fx->err));
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
	struct bitmap *b = bitmap_open(fx->path, NULL, 100, fx->err, sizeof(fx->err));

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
	struct bitmap *b = bitmap_open(fx->path, NULL, 64, fx->err, sizeof(fx->err));

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
	struct bitmap *b = bitmap_open(fx->path, NULL, 20, fx->err, sizeof(fx->err));

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
	struct bitmap *b = bitmap_open(fx->path, NULL, 200, fx->err, sizeof(fx->err));

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
	struct bitmap *b = bitmap_open(fx->path, NULL, 1000, fx->err, sizeof(fx->err));
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
	struct bitmap *b = bitmap_open(fx->path, NULL, 24, fx->err, sizeof(fx->err));
	uint8_t buf[3];

	assert_non_null(b);
	assert_int_equal(bitmap_set(b, 0, 1), 0);
	assert_int_equal(bitmap_set(b, 9, 1), 0);
	assert_int_equal(bitmap_set(b, 20, 4), 0);
	/* The durable file is behind until a sync (bitmap.h). */
	assert_true(bitmap_dirty(b));
	read_file_bytes(fx->path, buf, 3);
	assert_int_equal(buf[0] | buf[1] | buf[2], 0);
	assert_int_equal(bitmap_sync(b), 0);
	assert_false(bitmap_dirty(b));
	read_file_bytes(fx->path, buf, 3);
	assert_int_equal(buf[0], 0x01);
	assert_int_equal(buf[1], 0x02);
	assert_int_equal(buf[2], 0xf0);
	assert_int_equal(bitmap_clear(b, 9, 1), 0);
	assert_int_equal(bitmap_sync(b), 0);
	read_file_bytes(fx->path, buf, 3);
	assert_int_equal(buf[1], 0x00);
	bitmap_close(b);
}

/*
 * Open path with a mirror in fx->mdir, apply ops, and die the way kill -9 does: no
 * close, no sync (a child process that _exits).
 */
static void crash_after(struct fx *fx, uint64_t nbits, int sync_first, uint64_t start,
			uint64_t n)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct bitmap *b = bitmap_open(fx->path, fx->mdir, nbits, NULL, 0);

		if (!b || (sync_first && bitmap_sync(b)) || bitmap_set(b, start, n))
			_exit(1);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* kill -9: the mirror outlives the process; reopened, every bit is there. */
static void test_mirror_survives_a_crash(void **state)
{
	struct fx *fx = *state;
	struct bitmap *b;
	uint8_t buf[125];

	crash_after(fx, 1000, 0, 10, 30);
	assert_int_equal(count_entries(fx->mdir), 1);
	read_file_bytes(fx->path, buf, sizeof(buf));
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0); /* never synced: the durable file is behind */
	b = bitmap_open(fx->path, fx->mdir, 1000, fx->err, sizeof(fx->err));
	assert_non_null(b);
	assert_int_equal(bitmap_count(b), 30);
	assert_true(bitmap_test(b, 10) && bitmap_test(b, 39) && !bitmap_test(b, 40));
	assert_true(bitmap_dirty(b)); /* ahead of the durable file */
	assert_int_equal(bitmap_sync(b), 0);
	bitmap_close(b);
	/* Nothing left that the durable file lacks: the mirror is gone. */
	assert_int_equal(count_entries(fx->mdir), 0);
	b = bitmap_open(fx->path, NULL, 1000, fx->err, sizeof(fx->err));
	assert_non_null(b);
	assert_int_equal(bitmap_count(b), 30);
	bitmap_close(b);
}

/*
 * A power loss takes the tmpfs mirror with it (simulated: the mirror directory
 * emptied): what was synced is there, later bits are not, so no bit on disk points
 * at overlay data that was never made durable.
 */
static void test_power_loss_keeps_synced_bits_only(void **state)
{
	struct fx *fx = *state;
	struct bitmap *b = bitmap_open(fx->path, fx->mdir, 1000, fx->err, sizeof(fx->err));

	assert_non_null(b);
	assert_int_equal(bitmap_set(b, 0, 8), 0);
	assert_int_equal(bitmap_sync(b), 0);
	bitmap_close(b);
	crash_after(fx, 1000, 0, 500, 8);
	assert_int_equal(test_rmdir_flat(fx->mdir), 0);
	assert_int_equal(mkdir(fx->mdir, 0700), 0);
	b = bitmap_open(fx->path, fx->mdir, 1000, fx->err, sizeof(fx->err));
	assert_non_null(b);
	assert_int_equal(bitmap_count(b), 8);
	assert_true(bitmap_test(b, 7) && !bitmap_test(b, 500));
	assert_false(bitmap_dirty(b));
	bitmap_close(b);
}

/* Replace n bytes at off of the only file in dir. */
static void poke_only_file(const char *dir, off_t off, const void *bytes, size_t n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];
	int fd;

	assert_non_null(d);
	while ((e = readdir(d)) && e->d_name[0] == '.')
		;
	assert_non_null(e);
	snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
	closedir(d);
	fd = open(p, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, bytes, n, off), (ssize_t)n);
	close(fd);
}

/* A mirror from another boot (its boot id differs) is not used, and is replaced. */
static void test_mirror_of_another_boot_ignored(void **state)
{
	struct fx *fx = *state;
	struct bitmap *b;

	crash_after(fx, 1000, 0, 100, 50);
	poke_only_file(fx->mdir, 24, "0123", 4); /* the header's boot id */
	b = bitmap_open(fx->path, fx->mdir, 1000, fx->err, sizeof(fx->err));
	assert_non_null(b);
	assert_int_equal(bitmap_count(b), 0);
	assert_false(bitmap_dirty(b));
	assert_int_equal(count_entries(fx->mdir), 1);
	bitmap_close(b);
	assert_int_equal(count_entries(fx->mdir), 0);
}

/*
 * A new durable file (a new session's) never inherits the mirror of an earlier file
 * at its path, even when the filesystem hands out the same inode number again.
 */
static void test_new_file_starts_empty(void **state)
{
	struct fx *fx = *state;
	struct bitmap *b;

	for (int round = 0; round < 3; round++) {
		crash_after(fx, 1000, 0, 0, 1000);
		assert_int_equal(unlink(fx->path), 0);
		b = bitmap_open(fx->path, fx->mdir, 1000, fx->err, sizeof(fx->err));
		assert_non_null(b);
		assert_int_equal(bitmap_count(b), 0);
		bitmap_close(b);
		assert_int_equal(unlink(fx->path), 0);
		assert_int_equal(bitmap_mirror_sweep(fx->mdir) >= 0, 1);
	}
}

/* The sweep removes mirrors whose durable file is gone and keeps the others. */
static void test_mirror_sweep(void **state)
{
	struct fx *fx = *state;
	char other[128], keep[160];
	struct bitmap *b;
	int fd;

	crash_after(fx, 1000, 0, 0, 10);            /* live: its file stays */
	snprintf(other, sizeof(other), "%s", fx->path);
	snprintf(fx->path, sizeof(fx->path), "%s/bits2", fx->dir);
	crash_after(fx, 64, 0, 0, 1);               /* its file is deleted below */
	assert_int_equal(unlink(fx->path), 0);
	snprintf(keep, sizeof(keep), "%s/notes.txt", fx->mdir);
	fd = open(keep, O_WRONLY | O_CREAT, 0600);  /* not a mirror: left alone */
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(count_entries(fx->mdir), 3);
	assert_int_equal(bitmap_mirror_sweep(fx->mdir), 1);
	assert_int_equal(count_entries(fx->mdir), 2);
	assert_int_equal(bitmap_mirror_sweep(fx->mdir), 0);
	snprintf(fx->path, sizeof(fx->path), "%s", other);
	b = bitmap_open(fx->path, fx->mdir, 1000, fx->err, sizeof(fx->err));
	assert_non_null(b);
	assert_int_equal(bitmap_count(b), 10);
	assert_int_equal(bitmap_sync(b), 0);
	bitmap_close(b);
	assert_int_equal(count_entries(fx->mdir), 1); /* only notes.txt */
	assert_int_equal(unlink(keep), 0);
}

static void test_persistence(void **state)
{
	struct fx *fx = *state;
	struct bitmap *b = bitmap_open(fx->path, NULL, 1000, fx->err, sizeof(fx->err));

	assert_non_null(b);
	assert_int_equal(bitmap_set(b, 7, 100), 0);
	assert_int_equal(bitmap_clear(b, 50, 3), 0);
	assert_int_equal(bitmap_set(b, 999, 1), 0);
	assert_int_equal(bitmap_sync(b), 0);
	bitmap_close(b);

	b = bitmap_open(fx->path, NULL, 1000, fx->err, sizeof(fx->err));
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
	b = bitmap_open(fx->path, NULL, 12, fx->err, sizeof(fx->err));
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
	assert_null(bitmap_open(fx->path, NULL, 100, fx->err, sizeof(fx->err)));
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
	assert_null(bitmap_open(p, NULL, 8, fx->err, sizeof(fx->err)));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(fx->err, "cannot open bitmap"));
	assert_non_null(strstr(fx->err, "No such file or directory"));

	errno = 0;
	assert_null(bitmap_open(fx->dir, NULL, 8, fx->err, sizeof(fx->err))); /* a directory */
	assert_true(errno != 0);

	errno = 0;
	assert_null(bitmap_open(fx->path, NULL, 0, NULL, 0));
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
		cmocka_unit_test_setup_teardown(test_mirror_survives_a_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_power_loss_keeps_synced_bits_only, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mirror_of_another_boot_ignored, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_new_file_starts_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mirror_sweep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_ignores_tail_bits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_size_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
