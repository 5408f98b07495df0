/*
 * textkeys.c — iSCSI text key=value parsing and building (RFC 7143 §6.1).
 */
#include "textkeys.h"
#include "reason.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool key_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '+' || c == '@' || c == '_';
}

static bool name_valued(const char *key)
{
	static const char *const names[] = {
		"InitiatorName", "TargetName", "InitiatorAlias", "TargetAlias", "SendTargets",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(key, names[i]))
			return true;
	return false;
}

/* Valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF) without C0 controls or DEL. */
static bool text_ok(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		uint32_t cp;
		size_t k;

		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return false;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			k = 1; cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2; cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3; cp = c & 0x07;
		} else {
			return false;
		}
		if (i + k >= n)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

int tk_parse(const void *data, size_t len, struct tk_list *out, char *why, size_t whylen)
{
	const char *in = data;
	size_t pos = 0;
	int r;

	memset(out, 0, sizeof(*out));
	if (len == 0)
		return 0;
	if (in[len - 1] != '\0')
		return reason_fail(why, whylen, -EINVAL, "text data does not end with NUL");
	out->buf = malloc(len);
	out->pairs = calloc(TK_MAX_PAIRS, sizeof(*out->pairs));
	if (!out->buf || !out->pairs) {
		tk_free(out);
		return -ENOMEM;
	}
	memcpy(out->buf, in, len);

	while (pos < len) {
		char *pair = out->buf + pos;
		size_t plen = strlen(pair); /* ends at a NUL inside buf: checked above */
		char *eq = memchr(pair, '=', plen);
		size_t klen, vlen;

		if (plen == 0) {
			r = reason_fail(why, whylen, -EINVAL,
					"empty key=value pair at offset %zu", pos);
			goto bad;
		}
		if (!eq) {
			r = reason_fail(why, whylen, -EINVAL, "pair without '=' at offset %zu",
					pos);
			goto bad;
		}
		klen = (size_t)(eq - pair);
		vlen = plen - klen - 1;
		if (klen == 0) {
			r = reason_fail(why, whylen, -EINVAL, "empty key at offset %zu", pos);
			goto bad;
		}
		if (klen > TK_KEY_MAX) {
			r = reason_fail(why, whylen, -EINVAL,
					"key longer than %d characters at offset %zu",
					TK_KEY_MAX, pos);
			goto bad;
		}
		for (size_t i = 0; i < klen; i++)
			if (!key_char((unsigned char)pair[i])) {
				r = reason_fail(why, whylen, -EINVAL,
						"bad character in key at offset %zu", pos + i);
				goto bad;
			}
		*eq = '\0';
		if (vlen > (name_valued(pair) ? TK_NAME_VALUE_MAX : TK_VALUE_MAX)) {
			r = reason_fail(why, whylen, -EINVAL,
					"value of %.63s too long (%zu bytes)", pair, vlen);
			goto bad;
		}
		if (!text_ok((const unsigned char *)eq + 1, vlen)) {
			r = reason_fail(why, whylen, -EINVAL,
					"value of %.63s is not valid UTF-8 text", pair);
			goto bad;
		}
		for (size_t i = 0; i < out->n; i++)
			if (!strcmp(out->pairs[i].key, pair)) {
				r = reason_fail(why, whylen, -EINVAL, "key %.63s given twice",
						pair);
				goto bad;
			}
		if (out->n == TK_MAX_PAIRS) {
			r = reason_fail(why, whylen, -EINVAL, "more than %d keys",
					TK_MAX_PAIRS);
			goto bad;
		}
		out->pairs[out->n].key = pair;
		out->pairs[out->n].value = eq + 1;
		out->n++;
		pos += plen + 1;
	}
	return 0;
bad:
	tk_free(out);
	return r;
}

void tk_free(struct tk_list *l)
{
	free(l->buf);
	free(l->pairs);
	memset(l, 0, sizeof(*l));
}

const char *tk_get(const struct tk_list *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->pairs[i].key, key))
			return l->pairs[i].value;
	return NULL;
}

void tk_buf_init(struct tk_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void tk_buf_free(struct tk_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

int tk_buf_add(struct tk_buf *b, const char *key, const char *value)
{
	size_t kl = strlen(key), vl = strlen(value), need = kl + 1 + vl + 1;

	if (b->err)
		return b->err;
	if (b->len + need > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + need)
			cap *= 2;
		p = realloc(b->data, cap);
		if (!p)
			return b->err = -ENOMEM;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, key, kl);
	b->data[b->len + kl] = '=';
	memcpy(b->data + b->len + kl + 1, value, vl);
	b->data[b->len + need - 1] = '\0';
	b->len += need;
	return 0;
}

int tk_buf_add_uint(struct tk_buf *b, const char *key, unsigned long value)
{
	char v[24];

	snprintf(v, sizeof(v), "%lu", value);
	return tk_buf_add(b, key, v);
}
