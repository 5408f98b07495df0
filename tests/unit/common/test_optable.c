/*
 * test_optable.c — the shared option-table engine (optable.h): defaults, both value
 * spellings, aliases, flags, optional host:port, number ranges, secrets in the log.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "optable.h"

struct o {
	char addr[64];
	char pub[64];
	char url[128];
	uint32_t n;
	bool flag;
	bool help;
};

#define F(f) OPTABLE_FIELD(struct o, f)
static const struct optable_opt t[] = {
	{ "addr", NULL, OPTABLE_ADDR, F(addr), "127.0.0.1:1", "ADDR:PORT", 0, 0, "a", false },
	{ "pub", NULL, OPTABLE_HOSTPORT_OFF, F(pub), "", "HOST:PORT", 0, 0, "p", false },
	{ "url", NULL, OPTABLE_STR, F(url), "", "URL", 0, 0, "u", true },
	{ "n", "old-n", OPTABLE_U32, F(n), "7", "SECONDS", 3, 60, "n", false },
	{ "flag", NULL, OPTABLE_FLAG, F(flag), "off", "flag", 0, 0, "f", false },
};
#define N (sizeof(t) / sizeof(t[0]))

static int parse(struct o *o, int argc, char **argv, char *err)
{
	memset(o, 0, sizeof(*o));
	return optable_parse(t, N, argc, argv, 1, o, &o->help, err, 256);
}

static void collect(const char *line, void *arg)
{
	strcat(arg, line);
	strcat(arg, ";");
}

static void test_parse(void **state)
{
	char err[256], log[1024] = "";
	struct o o;
	char *a1[] = { "x", NULL };
	char *a2[] = { "x", "--addr=[::1]:5", "--old-n", "9", "--flag", "--pub", "",
		       "--url", "postgresql://u:pw@h/db", NULL };
	char *bad1[] = { "x", "--flag=1", NULL };
	char *bad2[] = { "x", "--n", "2", NULL };
	char *bad3[] = { "x", "--addr", "host.example:1", NULL };
	char *bad4[] = { "x", "--pub", "a<b:1", NULL };
	char *bad5[] = { "x", "--n", NULL };
	char *bad6[] = { "x", "plain", NULL };
	char *help[] = { "x", "--help", "--bogus", NULL };

	(void)state;
	assert_int_equal(parse(&o, 1, a1, err), 0);
	assert_string_equal(o.addr, "127.0.0.1:1");
	assert_int_equal(o.n, 7);
	assert_false(o.flag);
	assert_int_equal(parse(&o, 9, a2, err), 0);
	assert_string_equal(o.addr, "[::1]:5");
	assert_int_equal(o.n, 9);
	assert_true(o.flag);
	assert_string_equal(o.pub, "");
	optable_each(t, N, &o, collect, log);
	assert_non_null(strstr(log, "url=(set);"));
	assert_non_null(strstr(log, "flag=on;"));
	assert_null(strstr(log, "pw"));
	assert_int_equal(parse(&o, 2, bad1, err), -EINVAL);
	assert_non_null(strstr(err, "takes no value"));
	assert_int_equal(parse(&o, 3, bad2, err), -EINVAL);
	assert_non_null(strstr(err, "3..60"));
	assert_int_equal(parse(&o, 3, bad3, err), -EINVAL);
	assert_non_null(strstr(err, "numeric"));
	assert_int_equal(parse(&o, 3, bad4, err), -EINVAL);
	assert_non_null(strstr(err, "bad character"));
	assert_int_equal(parse(&o, 2, bad5, err), -EINVAL);
	assert_non_null(strstr(err, "needs a value"));
	assert_int_equal(parse(&o, 2, bad6, err), -EINVAL);
	assert_non_null(strstr(err, "unexpected argument"));
	assert_int_equal(parse(&o, 3, help, err), 0);
	assert_true(o.help);
}

/* optable_kind answers the settings file reader (settings.h): value, flag, unknown. */
static void test_kind(void **state)
{
	(void)state;
	assert_int_equal(optable_kind(t, N, "addr"), 0);
	assert_int_equal(optable_kind(t, N, "old-n"), 0); /* an alias is a name too */
	assert_int_equal(optable_kind(t, N, "flag"), 1);
	assert_int_equal(optable_kind(t, N, "nope"), -1);
	assert_int_equal(optable_kind(t, N, "ad"), -1);   /* no prefix matching */
	assert_int_equal(optable_kind(t, N, ""), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_kind),
	};
	return cmocka_run_group_tests_name("optable", tests, NULL, NULL);
}
