/*
 * cow_config.c — parse and format the `cow` dev_config string (contract in
 * cow_config.h). One table lists every key, its type and where it lands.
 */
#include "cow_config.h"
#include "reason.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX COW_CONFIG_SUBTYPE "/"
#define PATH_FORBIDDEN ";,:\n"
#define SECTOR 512u

enum key_type { KEY_BYTES, KEY_PATH, KEY_FLAG };

struct key {
	const char *name;
	enum key_type type;
	int required;
	size_t field;  /* offsetof the member in struct cow_config */
};

static const struct key keys[] = {
	{ "size",    KEY_BYTES, 1, offsetof(struct cow_config, size_bytes) },
	{ "overlay", KEY_PATH,  1, offsetof(struct cow_config, overlay) },
	{ "bitmap",  KEY_PATH,  1, offsetof(struct cow_config, bitmap) },
	{ "base",    KEY_PATH,  0, offsetof(struct cow_config, base) },
	{ "limit",   KEY_BYTES, 0, offsetof(struct cow_config, limit_bytes) },
	{ "ro",      KEY_FLAG,  0, offsetof(struct cow_config, read_only) },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* Copy at most 32 bytes of s[0..len) into out for an error message, one line. */
static const char *quote(char out[40], const char *s, size_t len)
{
	size_t n = len < 32 ? len : 32, i;

	for (i = 0; i < n; i++)
		out[i] = (s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	if (n < len)
		memcpy(out + i, "...", 4);
	else
		out[i] = '\0';
	return out;
}

static const struct key *find_key(const char *s, size_t len)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strlen(keys[i].name) == len && !memcmp(keys[i].name, s, len))
			return &keys[i];
	return NULL;
}

/* Plain decimal digits only: no sign, no spaces, no suffix, no overflow. */
static int parse_bytes(const char *v, size_t len, uint64_t *out)
{
	unsigned long long n;
	char *end;

	if (!len || v[0] < '0' || v[0] > '9')
		return -1;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || end != v + len)
		return -1;
	*out = n;
	return 0;
}

static int parse_value(const struct key *k, const char *v, size_t len,
		       struct cow_config *out, char *err, size_t errlen)
{
	char q[40];

	if (k->type == KEY_FLAG) {
		if (len != 1 || (v[0] != '0' && v[0] != '1'))
			return reason_fail(err, errlen, -EINVAL, "%s must be 0 or 1, not '%s'",
					   k->name, quote(q, v, len));
		*(int *)((char *)out + k->field) = v[0] == '1';
		return 0;
	}
	if (k->type == KEY_BYTES) {
		uint64_t *dst = (uint64_t *)((char *)out + k->field);

		if (parse_bytes(v, len, dst))
			return reason_fail(err, errlen, -EINVAL, "bad number for %s: '%s'",
					   k->name, quote(q, v, len));
		return 0;
	}
	if (!len)
		return reason_fail(err, errlen, -EINVAL, "empty path for %s", k->name);
	if (len >= sizeof(out->overlay))
		return reason_fail(err, errlen, -EINVAL,
				   "path for %s is too long (%zu bytes, at most %zu)", k->name,
				   len, sizeof(out->overlay) - 1);
	for (size_t i = 0; i < len; i++)
		if (strchr(PATH_FORBIDDEN, v[i]))
			return reason_fail(err, errlen, -EINVAL,
					   "path for %s contains a forbidden character (';', ',', ':' or newline)",
					   k->name);
	memcpy((char *)out + k->field, v, len);
	((char *)out + k->field)[len] = '\0';
	return 0;
}

/* Parse one "key=value" field of length len. */
static int parse_field(const char *f, size_t len, unsigned int *seen,
		       struct cow_config *out, char *err, size_t errlen)
{
	const char *eq = memchr(f, '=', len);
	const struct key *k;
	char q[40];

	if (!len)
		return reason_fail(err, errlen, -EINVAL, "empty field");
	if (!eq)
		return reason_fail(err, errlen, -EINVAL, "field '%s' is not key=value",
				   quote(q, f, len));
	k = find_key(f, (size_t)(eq - f));
	if (!k)
		return reason_fail(err, errlen, -EINVAL, "unknown key '%s'",
				   quote(q, f, (size_t)(eq - f)));
	if (*seen & (1u << (k - keys)))
		return reason_fail(err, errlen, -EINVAL, "duplicate key '%s'", k->name);
	*seen |= 1u << (k - keys);
	return parse_value(k, eq + 1, len - (size_t)(eq - f) - 1, out, err, errlen);
}

int cow_config_parse(const char *s, struct cow_config *out, char *err, size_t errlen)
{
	unsigned int seen = 0;
	int rc;

	if (!s || !out)
		return reason_fail(err, errlen, -EINVAL, "no config");
	memset(out, 0, sizeof(*out));
	if (!strncmp(s, PREFIX, strlen(PREFIX)))
		s += strlen(PREFIX);
	if (!*s)
		return reason_fail(err, errlen, -EINVAL, "empty config");
	for (;;) {
		const char *semi = strchr(s, ';');
		size_t len = semi ? (size_t)(semi - s) : strlen(s);

		rc = parse_field(s, len, &seen, out, err, errlen);
		if (rc)
			return rc;
		if (!semi)
			break;
		s = semi + 1;
	}
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].required && !(seen & (1u << i)))
			return reason_fail(err, errlen, -EINVAL, "missing key '%s'",
					   keys[i].name);
	if (!out->size_bytes)
		return reason_fail(err, errlen, -EINVAL, "size must not be 0");
	if (out->size_bytes % SECTOR)
		return reason_fail(err, errlen, -EINVAL, "size %llu is not a multiple of %u",
				   (unsigned long long)out->size_bytes, SECTOR);
	return 0;
}

/*
 * 0, -ENAMETOOLONG (no NUL within the field) or -EINVAL (empty when required or a
 * forbidden character).
 */
static int check_path(const char *p, size_t max, int required)
{
	size_t len = strnlen(p, max);

	if (len == max)
		return -ENAMETOOLONG;
	if (!len && required)
		return -EINVAL;
	if (strpbrk(p, PATH_FORBIDDEN))
		return -EINVAL;
	return 0;
}

int cow_config_format(const struct cow_config *c, char *buf, size_t buflen)
{
	char tmp[1024], lim[32] = "";
	int n, rc;

	if (buf && buflen)
		buf[0] = '\0';
	if (!c || !buf)
		return -EINVAL;
	if (!c->size_bytes || c->size_bytes % SECTOR)
		return -EINVAL;
	rc = check_path(c->overlay, sizeof(c->overlay), 1);
	if (!rc)
		rc = check_path(c->bitmap, sizeof(c->bitmap), 1);
	if (!rc)
		rc = check_path(c->base, sizeof(c->base), 0);
	if (rc)
		return rc;
	if (c->limit_bytes)
		snprintf(lim, sizeof(lim), ";limit=%llu", (unsigned long long)c->limit_bytes);
	n = snprintf(tmp, sizeof(tmp), PREFIX "size=%llu;overlay=%s;bitmap=%s%s%s%s%s",
		     (unsigned long long)c->size_bytes, c->overlay, c->bitmap,
		     c->base[0] ? ";base=" : "", c->base, lim, c->read_only ? ";ro=1" : "");
	if (n < 0)
		return -EINVAL;
	if (n > COW_CONFIG_MAX || (size_t)n >= buflen)
		return -ENAMETOOLONG;
	memcpy(buf, tmp, (size_t)n + 1);
	return n;
}
