/*
 * settings.h — the settings file of every scsipub daemon (/etc/scsipub/scsipub.conf),
 * turned into command-line options before the daemon's own parser runs.
 *
 * The file is a GLib key file (GKeyFile: "[section]" lines, "name = value" lines,
 * '#' comments). Each key is the long name of a command-line option of the program,
 * without the leading "--"; a flag takes true or false. Sections:
 *
 *   [common]   read by every program; a key the program does not declare is skipped
 *   [handler]  scsipub-tcmu      [cfgd]    scsipub-cfgd
 *   [portal]   scsipub-portal    [api]     scsipub-api
 *   [prstore]  scsipub-prstore
 *
 * A key in a program's own section that the program does not declare is an error, as
 * is an unknown section, a line that is not a key, a section or a comment, or a flag
 * whose value is not true/false. The merged argument vector is
 *
 *   argv[0..first)  [common] keys  [program] keys  argv[first..argc)
 *
 * so with a parser where the last setting of an option wins (optable.h, getopt_long
 * loops that assign) the command line overrides the program's section, which
 * overrides [common]. A flag set true in the file cannot be cleared on the command
 * line (flags take no value); leave it out of the file instead.
 *
 * "--config FILE" (or "--config=FILE") on the command line picks another file; it
 * stays in the vector, so each program declares "config" in its option table (it is
 * the only option that is read from the command line alone). A missing default file
 * means "no settings"; a missing --config file is an error. "--help"/"-h" skips the
 * file, so help works whatever the file holds.
 */
#ifndef SCSIPUB_SETTINGS_H
#define SCSIPUB_SETTINGS_H

#include <stddef.h>

#define SETTINGS_DEFAULT_PATH "/etc/scsipub/scsipub.conf"

/* Section names (SETTINGS_COMMON is read by every program). */
#define SETTINGS_COMMON  "common"
#define SETTINGS_HANDLER "handler" /* scsipub-tcmu */
#define SETTINGS_CFGD    "cfgd"    /* scsipub-cfgd */
#define SETTINGS_PORTAL  "portal"  /* scsipub-portal */
#define SETTINGS_API     "api"     /* scsipub-api */
#define SETTINGS_PRSTORE "prstore" /* scsipub-prstore */

/* What a program's option parser says about a long option name. */
enum settings_kind {
	SETTINGS_UNKNOWN = -1, /* not an option of this program */
	SETTINGS_VALUE = 0,    /* takes a value: becomes "--name=VALUE" */
	SETTINGS_FLAG = 1,     /* takes none: true becomes "--name", false nothing */
};

/*
 * The program's answer for option `name` (without "--"); arg is the callback's
 * context (settings_apply's kind_arg).
 */
typedef enum settings_kind (*settings_kind_fn)(const char *name, const void *arg);

/*
 * settings_kind_fn over a getopt_long table: kind_arg is a `const struct option *`
 * ended by a row whose name is NULL; has_arg == no_argument means a flag.
 */
enum settings_kind settings_kind_getopt(const char *name, const void *longopts);

/*
 * Read the settings file for `section` (one of the SETTINGS_* names but SETTINGS_COMMON) and
 * replace *argc and *argv with the merged vector described above. The file is
 * `--config`'s value if argv[first..) has one, else default_path (NULL =
 * SETTINGS_DEFAULT_PATH). kind/kind_arg tell which keys the program declares; "config"
 * and "help" are never taken from the file.
 *
 * The new vector and its strings are one malloc'd block: when *argv changed, one
 * free(*argv) releases it (daemons keep it for their lifetime: getopt_long callers
 * hold pointers into it). The caller's old vector is not touched. When there is no
 * file, or --help/-h is given, *argc and *argv stay as they are.
 *
 * Returns 0; -EINVAL for a file that cannot be read (a missing --config file too)
 * or parsed, an unknown section or key, a flag that is not true/false, a value with
 * a bad escape, --config without a value; -ENOMEM. err (errlen bytes) then holds one
 * line naming the file and, where there is one, the section and key.
 */
int settings_apply(const char *section, const char *default_path, settings_kind_fn kind,
	       const void *kind_arg, int *argc, char ***argv, int first, char *err,
	       size_t errlen);

#endif
