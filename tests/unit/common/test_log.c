/*
 * test_log.c — the common logger (log.h): line shape per level, debug only when
 * verbose, quiet writes nothing, the 1 KiB cut, timestamps, and whole lines from
 * concurrent threads.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

/* stderr goes to a temporary file between capture_start and capture_end. */
static FILE *cap_file;
static int saved_stderr = -1;

static void capture_start(void)
{
	fflush(stderr);
	cap_file = tmpfile();
	assert_non_null(cap_file);
	saved_stderr = dup(STDERR_FILENO);
	assert_true(saved_stderr >= 0);
	assert_true(dup2(fileno(cap_file), STDERR_FILENO) >= 0);
}

/* Restore stderr and return what was written (caller frees), *len its size. */
static char *capture_end(size_t *len)
{
	long n;
	char *buf;

	assert_true(dup2(saved_stderr, STDERR_FILENO) >= 0);
	close(saved_stderr);
	saved_stderr = -1;
	n = lseek(fileno(cap_file), 0, SEEK_END);
	assert_true(n >= 0);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fileno(cap_file), buf, (size_t)n, 0), n);
	fclose(cap_file);
	*len = (size_t)n;
	return buf;
}

static int setup(void **state)
{
	(void)state;
	plog_program = "scsipub-test";
	plog_verbose = 0;
	plog_quiet = 0;
	plog_timestamps = 0;
	return 0;
}

static void test_levels(void **state)
{
	size_t len;
	char *out;

	(void)state;
	capture_start();
	plog_at(PLOG_ERROR, "disk %d gone", 3);
	plog_at(PLOG_WARN, "low on %s", "space");
	plog_at(PLOG_INFO, "ready");
	plog("ready (%zu devices)", (size_t)2);
	plog_at(PLOG_DEBUG, "hidden");
	plog_debug("hidden too");
	out = capture_end(&len);
	assert_string_equal(out, "scsipub-test: error: disk 3 gone\n"
				 "scsipub-test: warning: low on space\n"
				 "scsipub-test: ready\n"
				 "scsipub-test: ready (2 devices)\n");
	free(out);

	plog_verbose = 1;
	capture_start();
	plog_at(PLOG_DEBUG, "event %u", 7u);
	plog_debug("detail");
	out = capture_end(&len);
	assert_string_equal(out, "scsipub-test: event 7\nscsipub-test: detail\n");
	free(out);
}

static void test_quiet(void **state)
{
	size_t len;
	char *out;

	(void)state;
	plog_quiet = 1;
	plog_verbose = 1;
	capture_start();
	plog_at(PLOG_ERROR, "not written %s", "at all");
	plog_debug("nor this");
	out = capture_end(&len);
	assert_int_equal(len, 0);
	free(out);
}

/* A long message is cut so the line, newline included, is PLOG_LINE_MAX bytes. */
static void test_cut(void **state)
{
	char msg[3000];
	size_t len;
	char *out;

	(void)state;
	memset(msg, 'x', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	capture_start();
	plog_at(PLOG_WARN, "%s", msg);
	plog("after");
	out = capture_end(&len);
	assert_int_equal(len, PLOG_LINE_MAX + strlen("scsipub-test: after\n"));
	assert_memory_equal(out, "scsipub-test: warning: xxx", 26);
	assert_int_equal(out[PLOG_LINE_MAX - 2], 'x');
	assert_int_equal(out[PLOG_LINE_MAX - 1], '\n');
	assert_string_equal(out + PLOG_LINE_MAX, "scsipub-test: after\n");
	free(out);
}

/* "YYYY-MM-DDTHH:MM:SSZ <program>: <message>". */
static void test_timestamps(void **state)
{
	size_t len;
	char *out;

	(void)state;
	plog_timestamps = 1;
	capture_start();
	plog("saved PR state of %s", "pv1l0");
	out = capture_end(&len);
	assert_int_equal(len, 21 + strlen("scsipub-test: saved PR state of pv1l0\n"));
	assert_int_equal(out[4], '-');
	assert_int_equal(out[10], 'T');
	assert_int_equal(out[19], 'Z');
	assert_int_equal(out[20], ' ');
	assert_string_equal(out + 21, "scsipub-test: saved PR state of pv1l0\n");
	free(out);
}

#define THREADS 8
#define LINES 200

static void *writer(void *arg)
{
	char msg[900];
	int c = 'a' + (int)(intptr_t)arg;

	memset(msg, c, sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	for (int i = 0; i < LINES; i++)
		plog("%s", msg);
	return NULL;
}

/* Lines of concurrent threads never interleave: each line is one thread's. */
static void test_threads(void **state)
{
	pthread_t t[THREADS];
	size_t len, lines = 0;
	char *out, *p, *nl;

	(void)state;
	capture_start();
	for (intptr_t i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, writer, (void *)i), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	out = capture_end(&len);
	for (p = out; (nl = strchr(p, '\n')); p = nl + 1, lines++) {
		size_t plen = strlen("scsipub-test: ");

		assert_int_equal((size_t)(nl - p), plen + 899);
		assert_memory_equal(p, "scsipub-test: ", plen);
		for (const char *q = p + plen + 1; q < nl; q++)
			assert_int_equal(*q, p[plen]);
	}
	assert_int_equal(*p, '\0');
	assert_int_equal(lines, THREADS * LINES);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_levels, setup),
		cmocka_unit_test_setup(test_quiet, setup),
		cmocka_unit_test_setup(test_cut, setup),
		cmocka_unit_test_setup(test_timestamps, setup),
		cmocka_unit_test_setup(test_threads, setup),
	};
	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
