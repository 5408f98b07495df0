/*
 * test_settings.c — the settings file as command-line options (common/settings.h): merge
 * order and precedence with a real getopt_long loop, flags, [common] versus a
 * program's section, --config, --help, and every kind of bad file.
 */
#include <errno.h>
#include <getopt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "settings.h"
#include "test_tmpdir.h"

static const struct option lo[] = {
	{ "state", required_argument, NULL, 's' },
	{ "listen", required_argument, NULL, 'l' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "config", required_argument, NULL, 'C' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct fx {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || !test_mkdtemp(f->dir, sizeof(f->dir), "test_settings"))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/scsipub.conf", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	test_rmdir_flat(f->dir);
	free(f);
	return 0;
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

/* settings_apply on a copy of the given arguments (NULL-terminated list). */
static int apply(const char *section, const char *path, int first, int *argc, char ***argv,
		 char *err, ...)
{
	static char *store[16];
	va_list ap;
	int n = 0;
	const char *a;

	va_start(ap, err);
	while ((a = va_arg(ap, const char *)) && n < 15)
		store[n++] = (char *)a;
	va_end(ap);
	store[n] = NULL;
	*argc = n;
	*argv = store;
	return settings_apply(section, path, settings_kind_getopt, lo, argc, argv, first, err, 256);
}

static void assert_argv(int argc, char **argv, const char *const *want)
{
	int i;

	for (i = 0; want[i]; i++) {
		assert_true(i < argc);
		assert_string_equal(argv[i], want[i]);
	}
	assert_int_equal(argc, i);
	assert_null(argv[argc]);
}

static void test_merge_order(void **state)
{
	struct fx *f = *state;
	char err[256] = "", **argv;
	int argc;
	static const char *const want[] = { "prog", "--state=/srv/common", "--verbose",
					    "--state=/srv/portal", "--listen=[::]:3260",
					    "--listen", "10.0.0.1:3260", NULL };

	write_file(f->path, "# settings\n[common]\nstate = /srv/common\nunknown-here = 1\n"
		   "verbose = true\n\n[portal]\nstate = /srv/portal\nlisten = [::]:3260\n"
		   "[api]\nnot-ours = x\n");
	assert_int_equal(apply(SETTINGS_PORTAL, f->path, 1, &argc, &argv, err, "prog", "--listen",
			       "10.0.0.1:3260", NULL), 0);
	assert_argv(argc, argv, want);
	free(argv);
}

/* The real use: a getopt_long loop that assigns sees the command line last. */
static void test_command_line_wins(void **state)
{
	struct fx *f = *state;
	char err[256] = "", **argv;
	const char *st = "default", *listen = "default";
	int argc, c;

	write_file(f->path, "[common]\nstate = /from/common\nlisten = 1.1.1.1:1\n"
		   "[handler]\nstate = /from/handler\n");
	assert_int_equal(apply(SETTINGS_HANDLER, f->path, 1, &argc, &argv, err, "prog",
			       "--listen=2.2.2.2:2", NULL), 0);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (c == 's')
			st = optarg;
		else if (c == 'l')
			listen = optarg;
		else
			assert_true(c == 'C'); /* no other option may come out */
	}
	assert_int_equal(optind, argc);
	assert_string_equal(st, "/from/handler");
	assert_string_equal(listen, "2.2.2.2:2");
	free(argv);
}

static void test_missing_default_file_is_no_settings(void **state)
{
	struct fx *f = *state;
	char err[256] = "", **argv, **before;
	int argc;

	assert_int_equal(apply(SETTINGS_API, f->path, 1, &argc, &argv, err, "prog", "--state",
			       "/x", NULL), 0);
	before = argv;
	assert_int_equal(apply(SETTINGS_API, f->path, 1, &argc, &argv, err, "prog", "--state",
			       "/x", NULL), 0);
	assert_ptr_equal(argv, before); /* untouched: nothing allocated */
	assert_int_equal(argc, 3);
	assert_string_equal(err, "");
}

static void test_config_option_picks_file(void **state)
{
	struct fx *f = *state;
	char err[256] = "", **argv, other[160];
	int argc;
	static const char *const want[] = { "prog", "--state=/other", "--config", NULL, NULL };
	const char *w[5];

	snprintf(other, sizeof(other), "%s/other.conf", f->dir);
	write_file(f->path, "[prstore]\nstate = /default\n");
	write_file(other, "[prstore]\nstate = /other\n");
	assert_int_equal(apply(SETTINGS_PRSTORE, f->path, 1, &argc, &argv, err, "prog", "--config",
			       other, NULL), 0);
	memcpy(w, want, sizeof(w));
	w[3] = other;
	assert_argv(argc, argv, w);
	free(argv);

	char eq[200];

	snprintf(eq, sizeof(eq), "--config=%s", other);
	assert_int_equal(apply(SETTINGS_PRSTORE, f->path, 1, &argc, &argv, err, "prog", eq, NULL), 0);
	assert_int_equal(argc, 3);
	assert_string_equal(argv[1], "--state=/other");
	assert_string_equal(argv[2], eq);
	free(argv);
}

static void test_missing_config_file_is_an_error(void **state)
{
	struct fx *f = *state;
	char err[256] = "", **argv, gone[160];
	int argc;

	snprintf(gone, sizeof(gone), "%s/absent.conf", f->dir);
	assert_int_equal(apply(SETTINGS_PORTAL, f->path, 1, &argc, &argv, err, "prog", "--config",
			       gone, NULL), -EINVAL);
	assert_non_null(strstr(err, gone));
	assert_int_equal(apply(SETTINGS_PORTAL, f->path, 1, &argc, &argv, err, "prog", "--config",
			       NULL), -EINVAL);
	assert_non_null(strstr(err, "--config needs a value"));
}

static void test_unknown_key_in_own_section(void **state)
{
	struct fx *f = *state;
	char err[256] = "", **argv;
	int argc;

	write_file(f->path, "[common]\nnobody-has-this = 1\n[cfgd]\nstaet = /typo\n");
	assert_int_equal(apply(SETTINGS_CFGD, f->path, 1, &argc, &argv, err, "prog", NULL), -EINVAL);
	assert_non_null(strstr(err, f->path));
	assert_non_null(strstr(err, "[cfgd] staet"));
	/* the same key in [common] only is another program's business */
	write_file(f->path, "[common]\nstaet = /typo\n[cfgd]\nstate = /ok\n");
	assert_int_equal(apply(SETTINGS_CFGD, f->path, 1, &argc, &argv, err, "prog", NULL), 0);
	assert_int_equal(argc, 2);
	assert_string_equal(argv[1], "--state=/ok");
	free(argv);
}

static void test_config_and_help_keys_refused(void **state)
{
	struct fx *f = *state;
	char err[256] = "", **argv;
	int argc;

	write_file(f->path, "[portal]\nconfig = /elsewhere\n");
	assert_int_equal(apply(SETTINGS_PORTAL, f->path, 1, &argc, &argv, err, "prog", NULL), -EINVAL);
	assert_non_null(strstr(err, "[portal] config"));
	write_file(f->path, "[portal]\nhelp = true\n");
	assert_int_equal(apply(SETTINGS_PORTAL, f->path, 1, &argc, &argv, err, "prog", NULL), -EINVAL);
	assert_non_null(strstr(err, "[portal] help"));
}

static void test_unknown_section(void **state)
{
	struct fx *f = *state;
	char err[256] = "", **argv;
	int argc;

	write_file(f->path, "[protal]\nstate = /x\n");
	assert_int_equal(apply(SETTINGS_PORTAL, f->path, 1, &argc, &argv, err, "prog", NULL), -EINVAL);
	assert_non_null(strstr(err, "unknown section [protal]"));
	/* and a program must name a real section of its own */
	assert_int_equal(apply(SETTINGS_COMMON, f->path, 1, &argc, &argv, err, "prog", NULL), -EINVAL);
	assert_int_equal(apply("nope", f->path, 1, &argc, &argv, err, "prog", NULL), -EINVAL);
}

static void test_flags(void **state)
{
	struct fx *f = *state;
	char err[256] = "", **argv;
	int argc;

	write_file(f->path, "[handler]\nverbose = false\n");
	assert_int_equal(apply(SETTINGS_HANDLER, f->path, 1, &argc, &argv, err, "prog", NULL), 0);
	assert_int_equal(argc, 1); /* false adds nothing */
	free(argv);
	write_file(f->path, "[handler]\nverbose = 1\n");
	assert_int_equal(apply(SETTINGS_HANDLER, f->path, 1, &argc, &argv, err, "prog", NULL), 0);
	assert_int_equal(argc, 2);
	assert_string_equal(argv[1], "--verbose");
	free(argv);
	write_file(f->path, "[handler]\nverbose = yes please\n");
	assert_int_equal(apply(SETTINGS_HANDLER, f->path, 1, &argc, &argv, err, "prog", NULL), -EINVAL);
	assert_non_null(strstr(err, "[handler] verbose: a flag takes true or false"));
}

static void test_values_verbatim_and_escapes(void **state)
{
	struct fx *f = *state;
	char err[256] = "", **argv;
	int argc;

	write_file(f->path, "[api]\nlisten =\nstate = \\s/with lead space # not a comment\n");
	assert_int_equal(apply(SETTINGS_API, f->path, 1, &argc, &argv, err, "prog", NULL), 0);
	assert_int_equal(argc, 3);
	assert_string_equal(argv[1], "--listen=");
	assert_string_equal(argv[2], "--state= /with lead space # not a comment");
	free(argv);
	write_file(f->path, "[api]\nstate = bad\\qescape\n");
	assert_int_equal(apply(SETTINGS_API, f->path, 1, &argc, &argv, err, "prog", NULL), -EINVAL);
	assert_non_null(strstr(err, "[api] state"));
}

static void test_syntax_error_names_file(void **state)
{
	struct fx *f = *state;
	char err[256] = "", **argv;
	int argc;

	write_file(f->path, "state = /before/any/section\n");
	assert_int_equal(apply(SETTINGS_API, f->path, 1, &argc, &argv, err, "prog", NULL), -EINVAL);
	assert_non_null(strstr(err, f->path));
	write_file(f->path, "[api]\njust some words\n");
	assert_int_equal(apply(SETTINGS_API, f->path, 1, &argc, &argv, err, "prog", NULL), -EINVAL);
	assert_non_null(strstr(err, f->path));
}

static void test_help_skips_a_bad_file(void **state)
{
	struct fx *f = *state;
	char err[256] = "", **argv;
	int argc;

	write_file(f->path, "garbage\n");
	assert_int_equal(apply(SETTINGS_API, f->path, 1, &argc, &argv, err, "prog", "--help", NULL), 0);
	assert_int_equal(argc, 2);
	assert_int_equal(apply(SETTINGS_API, f->path, 1, &argc, &argv, err, "prog", "-h", NULL), 0);
	assert_int_equal(argc, 2);
}

/* A subcommand's own words stay in front: options go in at `first`. */
static void test_insert_after_subcommand(void **state)
{
	struct fx *f = *state;
	char err[256] = "", **argv;
	int argc;
	static const char *const want[] = { "prog", "account-create", "alice",
					    "--state=/s", "--listen=x", NULL };

	write_file(f->path, "[api]\nstate = /s\n");
	assert_int_equal(apply(SETTINGS_API, f->path, 3, &argc, &argv, err, "prog",
			       "account-create", "alice", "--listen=x", NULL), 0);
	assert_argv(argc, argv, want);
	free(argv);
	/* first past the end: appended */
	assert_int_equal(apply(SETTINGS_API, f->path, 9, &argc, &argv, err, "prog", NULL), 0);
	assert_int_equal(argc, 2);
	assert_string_equal(argv[1], "--state=/s");
	free(argv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_merge_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_line_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_default_file_is_no_settings, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_config_option_picks_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_config_file_is_an_error, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unknown_key_in_own_section, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_and_help_keys_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_section, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_values_verbatim_and_escapes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syntax_error_names_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_help_skips_a_bad_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_insert_after_subcommand, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
