/*
 * poolspec.c — parsing of scsipub-cfgd's --pool setting (see poolspec.h).
 */
#include "poolspec.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anontarget.h"

static int bad(char *err, size_t errlen, const char *fmt, const char *what)
{
	snprintf(err, errlen, fmt, what);
	return -EINVAL;
}

/* A decimal number at s (no minus sign) into *v, *end after its digits; false when
 * there is no digit, a minus sign, or it overflows. */
static bool number_at(const char *s, char **end, unsigned long *v)
{
	errno = 0;
	*v = strtoul(s, end, 10);
	return !errno && *end != s && *s != '-';
}

int poolspec_parse(const char *text, struct poolspec out[POOLSPEC_TARGETS_MAX], unsigned *n,
		   char *err, size_t errlen)
{
	char buf[1024], *save = NULL;
	unsigned total = 0;

	*n = 0;
	if (strlen(text) >= sizeof(buf))
		return bad(err, errlen, "pool: setting too long (%s)", "1023 bytes at most");
	snprintf(buf, sizeof(buf), "%s", text);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '='), *end, iqn[CATALOG_IQN_MAX + 2];
		enum anontarget_kind k;
		unsigned long v, vmax;
		int len;

		if (!eq || eq == t)
			return bad(err, errlen, "pool: '%s' is not TARGET=COUNT[:MAX]", t);
		*eq = '\0';
		if (!number_at(eq + 1, &end, &v) || (*end && *end != ':') || v == 0 ||
		    v > POOLSPEC_TOTAL_MAX)
			return bad(err, errlen, "pool: %s: COUNT must be 1..1024", t);
		vmax = v;
		if (*end == ':' && (!number_at(end + 1, &end, &vmax) || *end || vmax < v ||
				    vmax > POOLSPEC_TOTAL_MAX))
			return bad(err, errlen, "pool: %s: MAX must be COUNT..1024", t);
		if (!strncmp(t, CATALOG_IQN_PREFIX, strlen(CATALOG_IQN_PREFIX)))
			len = snprintf(iqn, sizeof(iqn), "%s", t);
		else
			len = snprintf(iqn, sizeof(iqn), CATALOG_IQN_PREFIX "%s", t);
		if (len < 0 || (size_t)len > CATALOG_IQN_MAX)
			return bad(err, errlen, "pool: target name too long: %.64s", t);
		k = anontarget_kind(iqn);
		if (k != ANONTARGET_PRIVATE && k != ANONTARGET_MULTI)
			return bad(err, errlen, "pool: %s: only blank, image.<name> and multi "
				   "can be pooled", t);
		for (unsigned i = 0; i < *n; i++)
			if (!strcmp(out[i].iqn, iqn))
				return bad(err, errlen, "pool: %s named twice", t);
		if (*n == POOLSPEC_TARGETS_MAX)
			return bad(err, errlen, "pool: at most %s targets", "8");
		total += (unsigned)vmax;
		if (total > POOLSPEC_TOTAL_MAX)
			return bad(err, errlen, "pool: sizes add up to more than %s", "1024");
		memcpy(out[*n].iqn, iqn, (size_t)len + 1);
		out[*n].count = (unsigned)v;
		out[*n].max = (unsigned)vmax;
		(*n)++;
	}
	return 0;
}
