/*
 * options.c — the option table (see options.h).
 */
#include "options.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* OPT_ADDR_OFF: an OPT_ADDR that may be set to "" (feature off). */
enum opt_type {
	OPT_ADDR, OPT_ADDR_OFF, OPT_HOSTPORT, OPT_PATH, OPT_U64, OPT_U32, OPT_FLAG
};

struct opt {
	const char *name;
	const char *alias;   /* older name still accepted (NULL = none) */
	enum opt_type type;
	size_t off;          /* field in struct portal_options */
	size_t size;         /* field size for strings */
	const char *def;     /* default as text ("" = none) */
	const char *unit;
	uint64_t min, max;   /* numbers */
	const char *help;
};

#define F(f) offsetof(struct portal_options, f), sizeof(((struct portal_options *)0)->f)

static const struct opt table[] = {
	{ "listen", NULL, OPT_ADDR, F(listen), "0.0.0.0:3260", "ADDR:PORT", 0, 0,
	  "address the portal accepts initiators on" },
	{ "public", NULL, OPT_HOSTPORT, F(public_addr), "", "HOST:PORT", 0, 0,
	  "address SendTargets advertises (default: --listen unless it is a wildcard)" },
	{ "lio", NULL, OPT_ADDR, F(lio), "127.0.0.1:3262", "ADDR:PORT", 0, 0,
	  "LIO's loopback network portal that normal sessions are relayed to" },
	{ "images", NULL, OPT_PATH, F(images), "/var/lib/scsipub/images", "DIR", 0, 0,
	  "catalog: *.img and *.iso files, recursively" },
	{ "state", NULL, OPT_PATH, F(state), "/var/lib/scsipub", "DIR", 0, 0,
	  "state directory; session overlays live in DIR/overlays" },
	{ "configfs", NULL, OPT_PATH, F(configfs), "/sys/kernel/config/target", "DIR", 0, 0,
	  "LIO configfs root" },
	{ "anon-write-limit", "write-limit", OPT_U64, F(anon_write_limit), "67108864", "BYTES",
	  0, UINT64_MAX,
	  "overlay data each anonymous session may write (64 MiB tier cap); 0 = unlimited" },
	{ "max-pdu", NULL, OPT_U32, F(max_pdu), "65536", "BYTES", 512, 16777215,
	  "largest PDU data segment read from an initiator before relaying" },
	{ "max-conn-per-ip", NULL, OPT_U32, F(max_conn_per_ip), "16", "CONNS", 0, 65535,
	  "open connections per source address (IPv6: per /64); more are closed at once; "
	  "0 = no cap" },
	{ "login-rate", NULL, OPT_U32, F(login_rate), "10", "PER-SECOND", 0, 100000,
	  "new connections (logins) per source address per second, token bucket; 0 = off" },
	{ "login-burst", NULL, OPT_U32, F(login_burst), "40", "CONNS", 1, 100000,
	  "token bucket size of --login-rate: logins at once from a quiet address" },
	{ "login-timeout", NULL, OPT_U32, F(login_timeout), "10", "SECONDS", 1, 3600,
	  "a connection whose login (discovery: until Full Feature Phase; normal: its first "
	  "Login PDU) is not done by then is dropped" },
	{ "nopin-interval", NULL, OPT_U32, F(nopin_interval), "5", "SECONDS", 3, 60,
	  "LIO sends a NOP-In after this long without traffic (anonymous sessions' ACLs)" },
	{ "nopin-timeout", NULL, OPT_U32, F(nopin_timeout), "5", "SECONDS", 3, 60,
	  "LIO drops a connection whose NOP-In is unanswered this long; also the TCP "
	  "keepalive/user timeout of relayed initiators" },
	{ "tls-listen", NULL, OPT_ADDR_OFF, F(tls_listen), "0.0.0.0:3261", "ADDR:PORT", 0, 0,
	  "TLS listener (TLS 1.2/1.3, same service as --listen); empty = off" },
	{ "tls-public", NULL, OPT_HOSTPORT, F(tls_public), "", "HOST:PORT", 0, 0,
	  "address SendTargets advertises on TLS connections (default: --public's host "
	  "with --tls-listen's port)" },
	{ "tls-cert", NULL, OPT_PATH, F(tls_cert), "", "FILE", 0, 0,
	  "PEM certificate (chain) of the TLS listener; none = TLS listener off" },
	{ "tls-key", NULL, OPT_PATH, F(tls_key), "", "FILE", 0, 0,
	  "PEM private key (unencrypted) of --tls-cert (default: in --tls-cert's file)" },
	{ "tls-reload-interval", NULL, OPT_U32, F(tls_reload_interval), "60", "SECONDS", 1,
	  86400, "look at --tls-cert/--tls-key this often; changed files are reloaded" },
	{ "keep-overlays", NULL, OPT_FLAG, F(keep_overlays), "off", "flag", 0, 0,
	  "keep overlay + bitmap files at session teardown and startup (crash tests)" },
	{ "verbose", NULL, OPT_FLAG, F(verbose), "off", "flag", 0, 0,
	  "log discovery logins, SendTargets and logouts too" },
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

int options_split_hostport(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	const char *colon, *h = s;
	size_t hl;
	char *end;
	unsigned long p;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			return -EINVAL;
		h = s + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || strchr(s, ':') != colon)
			return -EINVAL;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= hostlen || !colon[1])
		return -EINVAL;
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (*end || errno || p == 0 || p > 65535 || colon[1] < '0' || colon[1] > '9')
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (uint16_t)p;
	return 0;
}

static bool numeric_ip(const char *host)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static int set(const struct opt *o, struct portal_options *po, const char *v, char *err,
	       size_t errlen)
{
	char *field = (char *)po + o->off;
	char host[OPTIONS_ADDR_MAX];
	uint16_t port;

	switch (o->type) {
	case OPT_ADDR_OFF:
		if (!v[0]) {
			field[0] = '\0';
			return 0;
		}
		/* fall through */
	case OPT_ADDR:
	case OPT_HOSTPORT:
		if (strlen(v) >= o->size || options_split_hostport(v, host, sizeof(host), &port) < 0)
			return fail(err, errlen, "--%s: '%s' is not %s", o->name, v, o->unit);
		if (o->type != OPT_HOSTPORT && !numeric_ip(host))
			return fail(err, errlen, "--%s: '%s' is not a numeric IP address",
				    o->name, host);
		for (const char *c = host; *c; c++)
			if (*c == ',' || (unsigned char)*c <= ' ' || *c == '/')
				return fail(err, errlen, "--%s: bad character in '%s'", o->name, v);
		strcpy(field, v);
		return 0;
	case OPT_PATH:
		if (!v[0] || strlen(v) >= o->size)
			return fail(err, errlen, "--%s: empty or too long path", o->name);
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
	case OPT_FLAG:
		*(bool *)(void *)field = true;
		return 0;
	}
	return -EINVAL;
}

int options_parse(int argc, char **argv, struct portal_options *po, char *err, size_t errlen)
{
	char host[OPTIONS_ADDR_MAX];
	uint16_t port;
	int r;

	memset(po, 0, sizeof(*po));
	for (size_t i = 0; i < NOPTS; i++)
		if (table[i].type != OPT_FLAG && table[i].def[0] &&
		    (r = set(&table[i], po, table[i].def, err, errlen)) < 0)
			return r;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL, *eq;
		const struct opt *o = NULL;
		size_t nl;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			options_usage(stdout);
			po->help = true;
			return 0;
		}
		if (strncmp(a, "--", 2))
			return fail(err, errlen, "unexpected argument '%s' (see --help)", a);
		a += 2;
		eq = strchr(a, '=');
		nl = eq ? (size_t)(eq - a) : strlen(a);
		for (size_t k = 0; k < NOPTS; k++)
			if ((strlen(table[k].name) == nl && !strncmp(table[k].name, a, nl)) ||
			    (table[k].alias && strlen(table[k].alias) == nl &&
			     !strncmp(table[k].alias, a, nl)))
				o = &table[k];
		if (!o)
			return fail(err, errlen, "unknown option '--%.*s' (see --help)", (int)nl, a);
		if (o->type == OPT_FLAG) {
			if (eq)
				return fail(err, errlen, "--%s takes no value", o->name);
		} else if (eq) {
			val = eq + 1;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			return fail(err, errlen, "--%s needs a value (%s)", o->name, o->unit);
		}
		r = set(o, po, val ? val : "", err, errlen);
		if (r < 0)
			return r;
	}
	if (!po->public_addr[0]) {
		r = options_split_hostport(po->listen, host, sizeof(host), &port);
		if (r < 0 || !strcmp(host, "0.0.0.0") || !strcmp(host, "::"))
			return fail(err, errlen, "--public HOST:PORT is required when --listen is "
				    "a wildcard address (%s)", po->listen);
		strcpy(po->public_addr, po->listen);
	}
	if (!po->tls_public[0] && po->tls_listen[0]) {
		uint16_t tls_port;
		char pub[OPTIONS_ADDR_MAX];

		if (options_split_hostport(po->tls_listen, host, sizeof(host), &tls_port) < 0 ||
		    options_split_hostport(po->public_addr, pub, sizeof(pub), &port) < 0)
			return fail(err, errlen, "--tls-public: cannot derive it from --public");
		r = snprintf(po->tls_public, sizeof(po->tls_public),
			     strchr(pub, ':') ? "[%s]:%u" : "%s:%u", pub, tls_port);
		if (r < 0 || (size_t)r >= sizeof(po->tls_public))
			return fail(err, errlen, "--tls-public: too long when derived from --public");
	}
	return 0;
}

void options_usage(FILE *out)
{
	fprintf(out, "usage: scsipub-portal [OPTION]...\n"
		"Public iSCSI portal: answers discovery itself, provisions a copy-on-write\n"
		"LUN per initiator and target in LIO, and relays normal sessions to LIO.\n\n"
		"%-18s %-10s %-26s %s\n", "option", "unit", "default", "meaning");
	for (size_t i = 0; i < NOPTS; i++) {
		fprintf(out, "--%-16s %-10s %-26s %s\n", table[i].name, table[i].unit,
			table[i].def[0] ? table[i].def : "-", table[i].help);
		if (table[i].alias)
			fprintf(out, "--%-16s %-10s %-26s %s --%s\n", table[i].alias, table[i].unit,
				"", "alias of", table[i].name);
	}
	fprintf(out, "--%-16s %-10s %-26s %s\n", "help", "flag", "-", "show this table");
}

void options_each(const struct portal_options *po, void (*emit)(const char *line, void *arg),
		  void *arg)
{
	char line[PATH_MAX + 64];

	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *o = &table[i];
		const char *field = (const char *)po + o->off;

		switch (o->type) {
		case OPT_ADDR:
		case OPT_ADDR_OFF:
		case OPT_HOSTPORT:
		case OPT_PATH:
			snprintf(line, sizeof(line), "%s=%s", o->name, field);
			break;
		case OPT_U64:
			snprintf(line, sizeof(line), "%s=%llu", o->name,
				 (unsigned long long)*(const uint64_t *)(const void *)field);
			break;
		case OPT_U32:
			snprintf(line, sizeof(line), "%s=%u", o->name,
				 *(const uint32_t *)(const void *)field);
			break;
		case OPT_FLAG:
			snprintf(line, sizeof(line), "%s=%s", o->name,
				 *(const bool *)(const void *)field ? "on" : "off");
			break;
		}
		emit(line, arg);
	}
}
