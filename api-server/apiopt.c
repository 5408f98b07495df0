/*
 * apiopt.c — the option table (see apiopt.h).
 */
#include "apiopt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "options.h" /* tls-proxy: options_split_hostport */

enum opt_type { OPT_ADDR, OPT_HOSTPORT, OPT_PATH, OPT_STR, OPT_U64, OPT_U32 };

struct opt {
	const char *name;
	enum opt_type type;
	size_t off;          /* field in struct api_options */
	size_t size;         /* field size for strings */
	const char *def;     /* default as text ("" = none) */
	const char *unit;
	uint64_t min, max;   /* numbers */
	const char *help;
};

#define F(f) offsetof(struct api_options, f), sizeof(((struct api_options *)0)->f)

static const struct opt table[] = {
	{ "listen", OPT_ADDR, F(listen), "0.0.0.0:8080", "ADDR:PORT", 0, 0,
	  "address the HTTP API listens on" },
	{ "public", OPT_HOSTPORT, F(public_addr), "", "HOST:PORT", 0, 0,
	  "iSCSI portal address returned to clients (default: this host's name, port 3260)" },
	{ "database", OPT_STR, F(database), "", "URL",  0, 0,
	  "libpq connection URL (default: the DATABASE_URL environment variable)" },
	{ "state", OPT_PATH, F(state), "/var/lib/scsipub", "DIR", 0, 0,
	  "state directory: images/<account>/, sessions/<id>/, portal/, api.ready" },
	{ "configfs", OPT_PATH, F(configfs), "/sys/kernel/config/target", "DIR", 0, 0,
	  "LIO configfs root" },
	{ "catalog", OPT_STR, F(catalog), "", "DIR", 0, 0,
	  "anonymous catalog (*.img, *.iso) sessions may use (default: STATE/catalog)" },
	{ "lio", OPT_ADDR, F(lio), "127.0.0.1:3262", "ADDR:PORT", 0, 0,
	  "LIO's loopback network portal of provisioned targets" },
	{ "admin-key-file", OPT_STR, F(admin_key_file), "", "FILE", 0, 0,
	  "file holding the admin key for GET /admin (default: /admin disabled)" },
	{ "janitor-interval", OPT_U32, F(janitor_interval), "600", "SECONDS", 1, 86400,
	  "tick of the janitor removing pv* objects no session row knows" },
	{ "max-image-bytes", OPT_U64, F(max_image_bytes), "17179869184", "BYTES", 512,
	  INT64_MAX, "largest private image, downloaded and decompressed (16 GiB)" },
	{ "default-image-budget", OPT_U64, F(default_image_budget), "2147483648", "BYTES", 0,
	  INT64_MAX, "private image bytes of an account made without --image-budget (2 GiB)" },
	{ "lun-write-limit", OPT_U64, F(lun_write_limit), "0", "BYTES", 0, UINT64_MAX,
	  "overlay data each provisioned LUN may write; 0 = unlimited" },
	{ "default-ttl", OPT_U32, F(default_ttl), "3600", "SECONDS", 1, 2592000,
	  "ttl_s of sessions that give none: how long a suspended session is kept" },
	{ "fetch-wait", OPT_U32, F(fetch_wait), "1800", "SECONDS", 1, 86400,
	  "how long POST /api/images waits for the fetch before answering 202" },
};
#define NOPTS (sizeof(table) / sizeof(table[0]))

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool numeric_ip(const char *host)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static int set(const struct opt *o, struct api_options *ao, const char *v, char *err,
	       size_t errlen)
{
	char *field = (char *)ao + o->off;
	char host[APIOPT_ADDR_MAX];
	uint16_t port;

	switch (o->type) {
	case OPT_ADDR:
	case OPT_HOSTPORT:
		if (!v[0] && o->type == OPT_HOSTPORT) {
			field[0] = '\0';
			return 0;
		}
		if (strlen(v) >= o->size || options_split_hostport(v, host, sizeof(host), &port) < 0)
			return fail(err, errlen, "--%s: '%s' is not %s", o->name, v, o->unit);
		if (o->type == OPT_ADDR && !numeric_ip(host))
			return fail(err, errlen, "--%s: '%s' is not a numeric IP address",
				    o->name, host);
		for (const char *c = host; *c; c++)
			if ((unsigned char)*c <= ' ' || *c == '"' || *c == '<' || *c == '>' ||
			    *c == '&' || *c == '\\')
				return fail(err, errlen, "--%s: bad character in '%s'", o->name, v);
		strcpy(field, v);
		return 0;
	case OPT_PATH:
		if (!v[0])
			return fail(err, errlen, "--%s: empty path", o->name);
		/* fall through */
	case OPT_STR:
		if (strlen(v) >= o->size)
			return fail(err, errlen, "--%s: too long", o->name);
		strcpy(field, v);
		return 0;
	case OPT_U64:
	case OPT_U32: {
		unsigned long long n;
		char *end;

		errno = 0;
		n = strtoull(v, &end, 10);
		if (!v[0] || *end || errno || v[0] < '0' || v[0] > '9' || n < o->min || n > o->max)
			return fail(err, errlen, "--%s: '%s' is not a number of %s in %llu..%llu",
				    o->name, v, o->unit, (unsigned long long)o->min,
				    (unsigned long long)o->max);
		if (o->type == OPT_U64)
			*(uint64_t *)(void *)field = n;
		else
			*(uint32_t *)(void *)field = (uint32_t)n;
		return 0;
	}
	}
	return -EINVAL;
}

int apiopt_parse(int argc, char **argv, int first, struct api_options *ao, char *err,
		 size_t errlen)
{
	int r;

	memset(ao, 0, sizeof(*ao));
	for (size_t i = 0; i < NOPTS; i++)
		if (table[i].def[0] && (r = set(&table[i], ao, table[i].def, err, errlen)) < 0)
			return r;
	for (int i = first; i < argc; i++) {
		const char *a = argv[i], *val, *eq;
		const struct opt *o = NULL;
		size_t nl;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			apiopt_usage(stdout);
			ao->help = true;
			return 0;
		}
		if (strncmp(a, "--", 2))
			return fail(err, errlen, "unexpected argument '%s' (see --help)", a);
		a += 2;
		eq = strchr(a, '=');
		nl = eq ? (size_t)(eq - a) : strlen(a);
		for (size_t k = 0; k < NOPTS; k++)
			if (strlen(table[k].name) == nl && !strncmp(table[k].name, a, nl))
				o = &table[k];
		if (!o)
			return fail(err, errlen, "unknown option '--%.*s' (see --help)", (int)nl, a);
		if (eq)
			val = eq + 1;
		else if (i + 1 < argc)
			val = argv[++i];
		else
			return fail(err, errlen, "--%s needs a value (%s)", o->name, o->unit);
		if ((r = set(o, ao, val, err, errlen)) < 0)
			return r;
	}
	return 0;
}

void apiopt_usage(FILE *out)
{
	fprintf(out,
		"usage: scsipub-api [OPTIONS]\n"
		"       scsipub-api account-create NAME [--image-budget BYTES] [--database URL]\n"
		"HTTP API of scsipub's provisioned tier (images, sessions, status, metrics).\n\n");
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *o = &table[i];

		fprintf(out, "  --%-22s %-10s %s\n  %-35s default: %s\n", o->name, o->unit,
			o->help, "", o->def[0] ? o->def : "(none)");
	}
}

void apiopt_each(const struct api_options *ao, void (*emit)(const char *line, void *arg),
		 void *arg)
{
	char line[PATH_MAX + 64];

	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *o = &table[i];
		const char *field = (const char *)ao + o->off;

		switch (o->type) {
		case OPT_U64:
			snprintf(line, sizeof(line), "%s=%" PRIu64, o->name,
				 *(const uint64_t *)(const void *)field);
			break;
		case OPT_U32:
			snprintf(line, sizeof(line), "%s=%" PRIu32, o->name,
				 *(const uint32_t *)(const void *)field);
			break;
		default:
			/* never print a database password */
			snprintf(line, sizeof(line), "%s=%.*s", o->name, PATH_MAX,
				 !strcmp(o->name, "database") && strchr(field, '@') ? "(set)" : field);
			break;
		}
		emit(line, arg);
	}
}
