/*
 * test_placehint.c — the portal's CPU hints to scsipub-tcmu (placehint.h) and the
 * control socket they travel on (unixsock.h).
 */
#include <errno.h>
#include <setjmp.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "placehint.h"
#include "test_tmpdir.h"
#include "unixsock.h"

#define NAME63 "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0"

static int parse(const char *msg, char *name, int *cpu)
{
	return placehint_parse(msg, strlen(msg), name, PLACEHINT_NAME_MAX + 1, cpu);
}

static void test_parse_good(void **state)
{
	char name[PLACEHINT_NAME_MAX + 1];
	int cpu = -1;

	(void)state;
	assert_int_equal(parse("sp0123456789abcdef 1\n", name, &cpu), 0);
	assert_string_equal(name, "sp0123456789abcdef");
	assert_int_equal(cpu, 1);
	assert_int_equal(parse("a 0", name, &cpu), 0);  /* newline optional */
	assert_string_equal(name, "a");
	assert_int_equal(cpu, 0);
	assert_int_equal(parse("x 1023", name, &cpu), 0);  /* CPU_SETSIZE - 1 */
	assert_int_equal(cpu, CPU_SETSIZE - 1);
	/* PLACEHINT_NAME_MAX characters exactly (a provisioned LUN's pv<id>l<N> fits) */
	assert_int_equal(parse(NAME63 " 7", name, &cpu), 0);
	assert_int_equal(strlen(name), PLACEHINT_NAME_MAX);
	assert_int_equal(parse("pv0123456789abcdef0123456789abcdefl255 1", name, &cpu), 0);
	/* A withdrawn hint. */
	assert_int_equal(parse("pvabcl0 -\n", name, &cpu), 0);
	assert_string_equal(name, "pvabcl0");
	assert_int_equal(cpu, PLACEHINT_NONE);
	assert_int_equal(parse("x -", name, &cpu), 0);
	assert_int_equal(cpu, PLACEHINT_NONE);
}

static void test_parse_bad(void **state)
{
	static const char *bad[] = {
		"", "\n", " 1", "sp", "sp ", "sp \n", "sp 1 ", "sp  1", "sp 01", "sp -1",
		"sp +1", "sp 1x", "sp 1024", "sp 99999", "SP 1", "s.p 1", "s/p 1", "sp\t1",
		"sp 1\n\n", NAME63 "1 1", "sp --", "sp - ", "sp -\n\n", "sp -0", "- 1", "sp 1-",
	};
	char name[PLACEHINT_NAME_MAX + 1] = "unchanged";
	int cpu = -7;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i], name, &cpu), -EINVAL);
		assert_string_equal(name, "unchanged");
		assert_int_equal(cpu, -7);
	}
	/* A NUL inside the datagram is no name character either. */
	assert_int_equal(placehint_parse("sp\0 1", 5, name, sizeof(name), &cpu), -EINVAL);
	/* The caller's buffer bounds the name. */
	assert_int_equal(placehint_parse("abcd 1", 6, name, 4, &cpu), -EINVAL);
}

static void test_send_recv(void **state)
{
	char dir[64], path[128], name[PLACEHINT_NAME_MAX + 1], err[256] = "";
	struct stat st;
	int fd, cpu = -1, tx;

	(void)state;
	assert_non_null(test_mkdtemp(dir, sizeof(dir), "placehint"));
	snprintf(path, sizeof(path), "%s/sub/place.sock", dir);
	fd = unixsock_listen(path, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, "", err,
			     sizeof(err));
	assert_true(fd >= 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);

	assert_int_equal(placehint_recv(fd, name, sizeof(name), &cpu), 0);  /* none yet */
	assert_int_equal(placehint_send(path, "spabc", 3), 0);
	assert_int_equal(placehint_recv(fd, name, sizeof(name), &cpu), 1);
	assert_string_equal(name, "spabc");
	assert_int_equal(cpu, 3);
	assert_int_equal(placehint_recv(fd, name, sizeof(name), &cpu), 0);

	/* What the sender refuses never leaves it. */
	assert_int_equal(placehint_send(path, "sp/../x", 0), -EINVAL);
	assert_int_equal(placehint_send(path, "spabc", CPU_SETSIZE), -EINVAL);
	assert_int_equal(placehint_send(path, "spabc", -2), -EINVAL);
	assert_int_equal(placehint_send(path, NAME63 "1", 0), -EINVAL);
	assert_int_equal(placehint_recv(fd, name, sizeof(name), &cpu), 0);

	/* A malformed or oversized datagram from anyone else is consumed and refused;
	 * the next good one still arrives. */
	tx = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_true(tx >= 0);
	{
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		char big[200];

		memcpy(a.sun_path, path, strlen(path) + 1);
		memset(big, 'a', sizeof(big));
		assert_int_equal(sendto(tx, "no cpu\n", 7, 0, (struct sockaddr *)&a, sizeof(a)), 7);
		assert_int_equal(sendto(tx, big, sizeof(big), 0, (struct sockaddr *)&a, sizeof(a)),
				 (ssize_t)sizeof(big));
	}
	close(tx);
	assert_int_equal(placehint_recv(fd, name, sizeof(name), &cpu), -EINVAL);
	assert_int_equal(placehint_recv(fd, name, sizeof(name), &cpu), -EINVAL);
	assert_int_equal(placehint_send(path, "spdef", 0), 0);
	assert_int_equal(placehint_recv(fd, name, sizeof(name), &cpu), 1);
	assert_string_equal(name, "spdef");
	assert_int_equal(cpu, 0);
	/* A withdrawal travels as "-". */
	assert_int_equal(placehint_send(path, "pvabcl1", PLACEHINT_NONE), 0);
	assert_int_equal(placehint_recv(fd, name, sizeof(name), &cpu), 1);
	assert_string_equal(name, "pvabcl1");
	assert_int_equal(cpu, PLACEHINT_NONE);

	/* A second listener replaces the stale socket file. */
	close(fd);
	fd = unixsock_listen(path, SOCK_DGRAM | SOCK_NONBLOCK, NULL, err, sizeof(err));
	assert_true(fd >= 0);
	assert_int_equal(placehint_send(path, "spabc", 1), 0);
	assert_int_equal(placehint_recv(fd, name, sizeof(name), &cpu), 1);
	close(fd);

	/* Nobody listening: the sender is told, and does not wait. */
	assert_int_equal(placehint_send(path, "spabc", 1), -ECONNREFUSED);
	unlink(path);
	assert_int_equal(placehint_send(path, "spabc", 1), -ENOENT);
	snprintf(path, sizeof(path), "%s/sub", dir);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(test_rmdir_flat(dir), 0);
}

static void test_listen_errors(void **state)
{
	char err[256] = "", longpath[200];

	(void)state;
	assert_int_equal(unixsock_listen("/tmp/x.sock", SOCK_DGRAM, "no-such-group-here", err,
					 sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no-such-group-here"));
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(unixsock_listen(longpath, SOCK_DGRAM, "", err, sizeof(err)),
			 -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_send_recv),
		cmocka_unit_test(test_listen_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
