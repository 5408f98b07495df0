/*
 * settings.c — the settings file as command-line options (settings.h), read with GLib's
 * GKeyFile.
 */
#include "settings.h"
#include "reason.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

static const char *const sections[] = {
	SETTINGS_COMMON, SETTINGS_HANDLER, SETTINGS_CFGD, SETTINGS_PORTAL, SETTINGS_API, SETTINGS_PRSTORE,
};
#define NSECTIONS (sizeof(sections) / sizeof(sections[0]))

enum settings_kind settings_kind_getopt(const char *name, const void *longopts)
{
	for (const struct option *o = longopts; o && o->name; o++)
		if (!strcmp(o->name, name))
			return o->has_arg == no_argument ? SETTINGS_FLAG : SETTINGS_VALUE;
	return SETTINGS_UNKNOWN;
}

static bool known_section(const char *s)
{
	for (size_t i = 0; i < NSECTIONS; i++)
		if (!strcmp(sections[i], s))
			return true;
	return false;
}

/*
 * Find --config's value and whether --help/-h is present in argv[first..argc).
 * 0, or -EINVAL for "--config" as the last argument.
 */
static int scan_argv(int argc, char **argv, int first, const char **path, bool *help)
{
	for (int i = first; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			*help = true;
		} else if (!strcmp(a, "--config")) {
			if (i + 1 >= argc)
				return -EINVAL;
			*path = argv[++i];
		} else if (!strncmp(a, "--config=", 9)) {
			*path = a + 9;
		}
	}
	return 0;
}

/*
 * Append the options of [section] to args (g_strdup'd). In SETTINGS_COMMON a key the
 * program does not declare is skipped; elsewhere it is an error.
 */
static int add_section(GKeyFile *kf, const char *path, const char *section, bool common,
		       settings_kind_fn kind, const void *kind_arg, GPtrArray *args, char *err,
		       size_t errlen)
{
	gchar **keys;
	gsize n = 0;
	int r = 0;

	if (!g_key_file_has_group(kf, section))
		return 0;
	keys = g_key_file_get_keys(kf, section, &n, NULL);
	for (gsize i = 0; keys && i < n && r == 0; i++) {
		const char *k = keys[i];
		enum settings_kind kd = strcmp(k, "config") && strcmp(k, "help") ? kind(k, kind_arg)
									   : SETTINGS_UNKNOWN;
		GError *ge = NULL;

		if (kd == SETTINGS_UNKNOWN) {
			if (!common)
				r = reason_fail(err, errlen, -EINVAL,
						"%s: [%s] %s: not an option of this "
						"program (see its --help)", path, section, k);
			continue;
		}
		if (kd == SETTINGS_FLAG) {
			gboolean on = g_key_file_get_boolean(kf, section, k, &ge);

			if (ge) {
				r = reason_fail(err, errlen, -EINVAL,
						"%s: [%s] %s: a flag takes true or false",
						path, section, k);
				g_error_free(ge);
			} else if (on) {
				g_ptr_array_add(args, g_strdup_printf("--%s", k));
			}
		} else {
			gchar *v = g_key_file_get_string(kf, section, k, &ge);

			/* GLib returns a value even with an error (bad escape) */
			if (!v || ge) {
				r = reason_fail(err, errlen, -EINVAL, "%s: [%s] %s: %s", path,
						section, k,
						ge ? ge->message : "unreadable value");
				if (ge)
					g_error_free(ge);
				g_free(v);
			} else {
				g_ptr_array_add(args, g_strdup_printf("--%s=%s", k, v));
				g_free(v);
			}
		}
	}
	g_strfreev(keys);
	return r;
}

/* argv[0..first), args, argv[first..argc) as one malloc'd block into *out. */
static int pack(int argc, char **argv, int first, GPtrArray *args, int *outc, char ***out)
{
	size_t total = 0, nargs = (size_t)argc + args->len, i;
	char **v, *s;
	int k = 0;

	for (i = 0; i < (size_t)argc; i++)
		total += strlen(argv[i]) + 1;
	for (i = 0; i < args->len; i++)
		total += strlen(g_ptr_array_index(args, i)) + 1;
	if (nargs > (size_t)INT_MAX)
		return -ENOMEM;
	v = malloc((nargs + 1) * sizeof(*v) + total);
	if (!v)
		return -ENOMEM;
	s = (char *)(v + nargs + 1);
#define PUT(str) do { size_t l_ = strlen(str) + 1; memcpy(s, (str), l_); v[k++] = s; s += l_; } while (0)
	for (i = 0; i < (size_t)first; i++)
		PUT(argv[i]);
	for (i = 0; i < args->len; i++)
		PUT((const char *)g_ptr_array_index(args, i));
	for (i = (size_t)first; i < (size_t)argc; i++)
		PUT(argv[i]);
#undef PUT
	v[k] = NULL;
	*outc = k;
	*out = v;
	return 0;
}

int settings_apply(const char *section, const char *default_path, settings_kind_fn kind,
	       const void *kind_arg, int *argc, char ***argv, int first, char *err,
	       size_t errlen)
{
	const char *given = NULL, *path;
	GKeyFile *kf;
	GPtrArray *args;
	GError *ge = NULL;
	gchar **groups;
	bool help = false;
	int r = 0;

	if (first > *argc)
		first = *argc;
	if (first < 0)
		first = 0;
	if (!section || !strcmp(section, SETTINGS_COMMON) || !known_section(section))
		return reason_fail(err, errlen, -EINVAL, "no settings section [%s]",
				   section ? section : "(null)");
	if (scan_argv(*argc, *argv, first, &given, &help) < 0)
		return reason_fail(err, errlen, -EINVAL, "--config needs a value (FILE)");
	if (help)
		return 0;
	path = given ? given : default_path ? default_path : SETTINGS_DEFAULT_PATH;
	if (!path[0])
		return reason_fail(err, errlen, -EINVAL, "--config: empty file name");
	kf = g_key_file_new();
	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &ge)) {
		bool absent = ge->domain == G_FILE_ERROR && ge->code == G_FILE_ERROR_NOENT;

		if (!(absent && !given))
			r = reason_fail(err, errlen, -EINVAL, "settings file %s: %s", path,
					ge->message);
		g_error_free(ge);
		g_key_file_free(kf);
		return r;
	}
	groups = g_key_file_get_groups(kf, NULL);
	for (size_t i = 0; groups && groups[i] && r == 0; i++)
		if (!known_section(groups[i]))
			r = reason_fail(err, errlen, -EINVAL,
					"%s: unknown section [%s] (known: common, "
					"handler, cfgd, portal, api, prstore)", path,
					groups[i]);
	g_strfreev(groups);
	args = g_ptr_array_new_with_free_func(g_free);
	if (r == 0)
		r = add_section(kf, path, SETTINGS_COMMON, true, kind, kind_arg, args, err, errlen);
	if (r == 0)
		r = add_section(kf, path, section, false, kind, kind_arg, args, err, errlen);
	if (r == 0 && (r = pack(*argc, *argv, first, args, argc, argv)) < 0)
		reason_fail(err, errlen, r, "settings file %s: out of memory", path);
	g_ptr_array_free(args, TRUE);
	g_key_file_free(kf);
	return r;
}
