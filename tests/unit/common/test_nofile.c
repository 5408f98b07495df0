/*
 * test_nofile — nofile_raise: the soft limit goes up to the hard limit; a root process
 * lifts a low hard limit to NOFILE_WANT, another keeps its hard limit. Each case runs
 * in a child process so the test runner's own limits stay as they were.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nofile.h"

/* In a child: limits {soft, hard}, optionally give up root, then nofile_raise; the
 * child exits 0 when it returned `want` and the soft limit now in effect is `want`. */
static int child_case(rlim_t soft, rlim_t hard, int drop_root, long want)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		struct rlimit rl = { soft, hard };
		long got;

		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			_exit(10);
		if (drop_root && getuid() == 0 && setuid(65534) < 0)
			_exit(11);
		got = nofile_raise();
		if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
			_exit(12);
		_exit(got == want && (long)rl.rlim_cur == want ? 0 : 13);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void test_soft_up_to_hard(void **state)
{
	(void)state;
	/* Without root the hard limit stays: soft goes to it. */
	assert_int_equal(child_case(64, 256, 1, 256), 0);
}

/* Can this process raise its hard limit (root with CAP_SYS_RESOURCE: not in every
 * container)? Probed in a child. */
static int can_lift_hard(void)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		struct rlimit lo = { 256, 256 }, up = { 512, 512 };

		_exit(setrlimit(RLIMIT_NOFILE, &lo) == 0 && setrlimit(RLIMIT_NOFILE, &up) == 0 ? 0 : 1);
	}
	return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void test_root_lifts_hard(void **state)
{
	(void)state;
	if (!can_lift_hard()) {
		/* Without CAP_SYS_RESOURCE the hard limit stays, as for the portal. */
		assert_int_equal(child_case(64, 256, 0, 256), 0);
		return;
	}
	assert_int_equal(child_case(64, 256, 0, NOFILE_WANT), 0);
	/* A hard limit above NOFILE_WANT is kept, not lowered. */
	assert_int_equal(child_case(64, NOFILE_WANT * 2, 0, NOFILE_WANT * 2), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_soft_up_to_hard),
		cmocka_unit_test(test_root_lifts_hard),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
