/*
 * optable.h — command-line options declared as a table (name, type, field, default,
 * unit, range, help), parsed, printed as help and logged by one engine. Used by
 * scsipub-portal (options.c) and scsipub-api (api-server/apiopt.c).
 *
 * Options take "--name VALUE" or "--name=VALUE"; flags take no value. Defaults are
 * applied first (every non-flag option with a non-empty default). Each option writes
 * one field of the caller's options struct (`base`), found by offset; string fields
 * are char arrays of `size` bytes.
 */
#ifndef SCSIPUB_OPTABLE_H
#define SCSIPUB_OPTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum optable_type {
	OPTABLE_ADDR,         /* numeric IP ADDR:PORT or [V6]:PORT */
	OPTABLE_ADDR_OFF,     /* OPTABLE_ADDR, or "" (feature off) */
	OPTABLE_HOSTPORT,     /* HOST:PORT, host a name or an address */
	OPTABLE_HOSTPORT_OFF, /* OPTABLE_HOSTPORT, or "" (derived later) */
	OPTABLE_PATH,         /* non-empty string */
	OPTABLE_STR,          /* any string, may be empty */
	OPTABLE_U64,          /* decimal in [min, max] into a uint64_t */
	OPTABLE_U32,          /* decimal in [min, max] into a uint32_t */
	OPTABLE_FLAG,         /* no value: sets a bool */
};

struct optable_opt {
	const char *name;
	const char *alias;       /* older name still accepted (NULL = none) */
	enum optable_type type;
	size_t off;              /* field offset in the options struct */
	size_t size;             /* field size (strings) */
	const char *def;         /* default as text ("" = none) */
	const char *unit;        /* "ADDR:PORT", "BYTES", "SECONDS", ... */
	uint64_t min, max;       /* numbers */
	const char *help;
	bool secret;             /* optable_each prints "(set)" for a value with '@' */
};

/* Field offset and size of member f of struct type T, for a table row. */
#define OPTABLE_FIELD(T, f) offsetof(T, f), sizeof(((T *)0)->f)

/*
 * Parse argv[first..argc) into base per table t (n rows), defaults first (base is
 * not zeroed: the caller clears it). "--help"/"-h" makes *help true and returns 0 at
 * once (the caller prints usage). Returns 0, or -EINVAL with a one-line reason in err
 * naming the option (unknown option, missing value, bad address or number, value on
 * a flag, unexpected argument).
 */
int optable_parse(const struct optable_opt *t, size_t n, int argc, char **argv, int first,
		  void *base, bool *help, char *err, size_t errlen);

/*
 * The table as help text: one "--name UNIT DEFAULT meaning" row per option (and per
 * alias), then --help. Written to out.
 */
void optable_usage(const struct optable_opt *t, size_t n, FILE *out);

/* Call emit once per option with "name=value" (startup log, status page). */
void optable_each(const struct optable_opt *t, size_t n, const void *base,
		  void (*emit)(const char *line, void *arg), void *arg);

/*
 * Whether the table declares option `name` (or it is an alias): -1 no, 0 it takes a
 * value, 1 it is a flag. The values are settings.h's SETTINGS_UNKNOWN, SETTINGS_VALUE,
 * SETTINGS_FLAG, so a program hands its table to the settings file reader.
 */
int optable_kind(const struct optable_opt *t, size_t n, const char *name);

/*
 * Split "HOST:PORT" or "[V6]:PORT" into host (without brackets, hostlen bytes) and
 * port (1..65535). 0 or -EINVAL.
 */
int optable_split_hostport(const char *s, char *host, size_t hostlen, uint16_t *port);

#endif
