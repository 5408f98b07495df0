/*
 * optable.c — the option-table engine (optable.h).
 */
#include "optable.h"
#include "reason.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

int optable_split_hostport(const char *s, char *host, size_t hostlen, uint16_t *port)
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

/* Characters never allowed in an advertised host: list separators (SendTargets),
 * paths, and what would need escaping in the status page's HTML. */
static bool bad_host_char(char c)
{
	return (unsigned char)c <= ' ' || strchr(",/\"<>&\\", c) != NULL;
}

static int set(const struct optable_opt *o, void *base, const char *v, char *err,
	       size_t errlen)
{
	char *field = (char *)base + o->off;
	char host[300];
	uint16_t port;

	switch (o->type) {
	case OPTABLE_ADDR_OFF:
	case OPTABLE_HOSTPORT_OFF:
		if (!v[0]) {
			field[0] = '\0';
			return 0;
		}
		/* fall through */
	case OPTABLE_ADDR:
	case OPTABLE_HOSTPORT:
		if (strlen(v) >= o->size || optable_split_hostport(v, host, sizeof(host), &port) < 0)
			return reason_fail(err, errlen, -EINVAL, "--%s: '%s' is not %s",
					   o->name, v, o->unit);
		if ((o->type == OPTABLE_ADDR || o->type == OPTABLE_ADDR_OFF) && !numeric_ip(host))
			return reason_fail(err, errlen, -EINVAL,
					   "--%s: '%s' is not a numeric IP address", o->name,
					   host);
		for (const char *c = host; *c; c++)
			if (bad_host_char(*c))
				return reason_fail(err, errlen, -EINVAL,
						   "--%s: bad character in '%s'", o->name, v);
		strcpy(field, v);
		return 0;
	case OPTABLE_PATH:
		if (!v[0] || strlen(v) >= o->size)
			return reason_fail(err, errlen, -EINVAL,
					   "--%s: empty or too long path", o->name);
		strcpy(field, v);
		return 0;
	case OPTABLE_STR:
		if (strlen(v) >= o->size)
			return reason_fail(err, errlen, -EINVAL, "--%s: too long", o->name);
		strcpy(field, v);
		return 0;
	case OPTABLE_U64:
	case OPTABLE_U32: {
		unsigned long long num;
		char *end;

		errno = 0;
		num = strtoull(v, &end, 10);
		if (!v[0] || *end || errno || v[0] < '0' || v[0] > '9' || num < o->min ||
		    num > o->max)
			return reason_fail(err, errlen, -EINVAL,
					   "--%s: '%s' is not a number of %s in %llu..%llu",
					   o->name, v, o->unit, (unsigned long long)o->min,
					   (unsigned long long)o->max);
		if (o->type == OPTABLE_U64)
			*(uint64_t *)(void *)field = num;
		else
			*(uint32_t *)(void *)field = (uint32_t)num;
		return 0;
	}
	case OPTABLE_FLAG:
		*(bool *)(void *)field = true;
		return 0;
	}
	return -EINVAL;
}

static bool named(const char *want, const char *a, size_t nl)
{
	return want && strlen(want) == nl && !strncmp(want, a, nl);
}

int optable_parse(const struct optable_opt *t, size_t n, int argc, char **argv, int first,
		  void *base, bool *help, char *err, size_t errlen)
{
	int r;

	*help = false;
	for (size_t i = 0; i < n; i++)
		if (t[i].type != OPTABLE_FLAG && t[i].def[0] &&
		    (r = set(&t[i], base, t[i].def, err, errlen)) < 0)
			return r;
	for (int i = first; i < argc; i++) {
		const char *a = argv[i], *val = NULL, *eq;
		const struct optable_opt *o = NULL;
		size_t nl;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			*help = true;
			return 0;
		}
		if (strncmp(a, "--", 2))
			return reason_fail(err, errlen, -EINVAL,
					   "unexpected argument '%s' (see --help)", a);
		a += 2;
		eq = strchr(a, '=');
		nl = eq ? (size_t)(eq - a) : strlen(a);
		for (size_t k = 0; k < n; k++)
			if (named(t[k].name, a, nl) || named(t[k].alias, a, nl))
				o = &t[k];
		if (!o)
			return reason_fail(err, errlen, -EINVAL,
					   "unknown option '--%.*s' (see --help)", (int)nl, a);
		if (o->type == OPTABLE_FLAG) {
			if (eq)
				return reason_fail(err, errlen, -EINVAL, "--%s takes no value",
						   o->name);
		} else if (eq) {
			val = eq + 1;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			return reason_fail(err, errlen, -EINVAL, "--%s needs a value (%s)",
					   o->name, o->unit);
		}
		r = set(o, base, val ? val : "", err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

int optable_kind(const struct optable_opt *t, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(t[i].name, name) || (t[i].alias && !strcmp(t[i].alias, name)))
			return t[i].type == OPTABLE_FLAG ? 1 : 0;
	return -1;
}

void optable_usage(const struct optable_opt *t, size_t n, FILE *out)
{
	fprintf(out, "%-22s %-10s %-26s %s\n", "option", "unit", "default", "meaning");
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "--%-20s %-10s %-26s %s\n", t[i].name, t[i].unit,
			t[i].def[0] ? t[i].def : "-", t[i].help);
		if (t[i].alias)
			fprintf(out, "--%-20s %-10s %-26s %s --%s\n", t[i].alias, t[i].unit, "",
				"alias of", t[i].name);
	}
	fprintf(out, "--%-20s %-10s %-26s %s\n", "help", "flag", "-", "show this table");
}

void optable_each(const struct optable_opt *t, size_t n, const void *base,
		  void (*emit)(const char *line, void *arg), void *arg)
{
	char line[PATH_MAX + 64];

	for (size_t i = 0; i < n; i++) {
		const struct optable_opt *o = &t[i];
		const char *field = (const char *)base + o->off;

		switch (o->type) {
		case OPTABLE_U64:
			snprintf(line, sizeof(line), "%s=%llu", o->name,
				 (unsigned long long)*(const uint64_t *)(const void *)field);
			break;
		case OPTABLE_U32:
			snprintf(line, sizeof(line), "%s=%u", o->name,
				 *(const uint32_t *)(const void *)field);
			break;
		case OPTABLE_FLAG:
			snprintf(line, sizeof(line), "%s=%s", o->name,
				 *(const bool *)(const void *)field ? "on" : "off");
			break;
		default:
			/* never print a password from a URL's userinfo */
			snprintf(line, sizeof(line), "%s=%.*s", o->name, PATH_MAX,
				 o->secret && strchr(field, '@') ? "(set)" : field);
			break;
		}
		emit(line, arg);
	}
}
