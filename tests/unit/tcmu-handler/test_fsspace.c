/*
 * test_fsspace.c — unit tests for tcmu-handler/fsspace.c: available bytes of a real
 * filesystem (the test's temporary directory) by path and by fd agree with statvfs,
 * the reserve verdict on both sides of the available amount, errors for a missing
 * path, and the allocation unit's range.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_tmpdir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "fsspace.h"

static int setup(void **state)
{
	static char dir[64];

	assert_non_null(test_mkdtemp(dir, sizeof(dir), "test_fsspace"));
	*state = dir;
	return 0;
}

static int teardown(void **state)
{
	assert_int_equal(test_rmdir_flat(*state), 0);
	return 0;
}

static int near(uint64_t a, uint64_t b)
{
	return (a > b ? a - b : b - a) < (64u << 20);
}

static void test_avail_matches_statvfs(void **state)
{
	const char *dir = *state;
	struct statvfs st;
	uint64_t by_path = 0, by_fd = 0, want;
	int fd = open(dir, O_RDONLY | O_DIRECTORY);

	assert_true(fd >= 0);
	assert_int_equal(statvfs(dir, &st), 0);
	want = (uint64_t)st.f_bavail * (st.f_frsize ? st.f_frsize : st.f_bsize);
	assert_int_equal(fsspace_avail_path(dir, &by_path), 0);
	assert_int_equal(fsspace_avail_fd(fd, &by_fd), 0);
	/* Other processes write meanwhile: within 64 MiB of each other. */
	assert_true(near(by_path, want));
	assert_true(near(by_fd, by_path));
	close(fd);
}

static void test_has_reserve(void **state)
{
	const char *dir = *state;
	uint64_t avail = 0;

	assert_int_equal(fsspace_has_reserve(dir, 0, NULL), 1);
	assert_int_equal(fsspace_has_reserve(dir, 1, &avail), 1);
	assert_true(avail > 0);
	assert_int_equal(fsspace_has_reserve(dir, UINT64_MAX, &avail), 0);
	assert_true(avail > 0 && avail < UINT64_MAX);
	assert_int_equal(fsspace_has_reserve("/nonexistent/scsipub", 1, NULL), -ENOENT);
}

static void test_block_size(void **state)
{
	const char *dir = *state;
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	uint32_t b;

	assert_true(fd >= 0);
	b = fsspace_block_size_fd(fd);
	assert_true(b >= 512 && b <= 1024 * 1024);
	assert_int_equal(b & (b - 1), 0);
	close(fd);
	assert_int_equal(fsspace_block_size_fd(-1), 4096); /* fstatvfs fails: the fallback */
	assert_int_equal(fsspace_avail_fd(-1, &(uint64_t){ 0 }), -EBADF);
}

/* The option tables' text default is the handler's number. */
static void test_default_text(void **state)
{
	(void)state;
	assert_int_equal(strtoull(FSSPACE_DEFAULT_RESERVE_TEXT, NULL, 10),
			 FSSPACE_DEFAULT_RESERVE);
	assert_int_equal(FSSPACE_DEFAULT_RESERVE, 512ull << 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_avail_matches_statvfs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_has_reserve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_block_size, setup, teardown),
		cmocka_unit_test(test_default_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
