/*
 * test_fullio.c — whole-buffer positioned I/O (fullio.h): write and read back at
 * offsets, short reads only at end of file, gather writes, errors as negative errno.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fullio.h"

static int temp_fd(void)
{
	FILE *f = tmpfile();
	int fd;

	assert_non_null(f);
	fd = dup(fileno(f));
	fclose(f);
	assert_true(fd >= 0);
	return fd;
}

static void test_write_read(void **state)
{
	char buf[64];
	int fd = temp_fd();

	(void)state;
	assert_int_equal(fullio_pwrite(fd, "hello", 5, 10), 0);
	assert_int_equal(fullio_pwrite(fd, "", 0, 99), 0); /* nothing to write */
	/* The hole before offset 10 reads as zeros; the read stops at end of file (15). */
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(fullio_pread(fd, buf, sizeof(buf), 0), 15);
	assert_memory_equal(buf, "\0\0\0\0\0\0\0\0\0\0hello", 15);
	assert_int_equal(fullio_pread(fd, buf, 3, 11), 3);
	assert_memory_equal(buf, "ell", 3);
	assert_int_equal(fullio_pread(fd, buf, sizeof(buf), 15), 0);
	assert_int_equal(fullio_pread(fd, buf, sizeof(buf), 1000), 0);
	close(fd);
}

static void test_writev(void **state)
{
	char a[] = "iSCSI ", b[] = "LUN ", c[] = "CDB";
	struct iovec iov[3] = {
		{ a, strlen(a) }, { b, strlen(b) }, { c, strlen(c) },
	};
	char buf[32] = "";
	int fd = temp_fd();

	(void)state;
	assert_int_equal(fullio_pwritev(fd, iov, 3, 512), 0);
	assert_int_equal(fullio_pwritev(fd, iov, 0, 0), 0); /* nothing to write */
	assert_int_equal(fullio_pread(fd, buf, sizeof(buf), 512), 13);
	assert_string_equal(buf, "iSCSI LUN CDB");
	close(fd);
}

/* Errors come back as negative errno: a pipe has no offsets, a closed fd is bad. */
static void test_errors(void **state)
{
	struct iovec iov = { "x", 1 };
	char buf[4];
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(fullio_pwrite(p[1], "x", 1, 0), -ESPIPE);
	assert_int_equal(fullio_pwritev(p[1], &iov, 1, 0), -ESPIPE);
	assert_int_equal(fullio_pread(p[0], buf, sizeof(buf), 0), -ESPIPE);
	close(p[0]);
	close(p[1]);
	assert_int_equal(fullio_pread(p[0], buf, sizeof(buf), 0), -EBADF);
	assert_int_equal(fullio_pwrite(p[1], "x", 1, 0), -EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_read),
		cmocka_unit_test(test_writev),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests_name("fullio", tests, NULL, NULL);
}
