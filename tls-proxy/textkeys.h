/*
 * textkeys.h — iSCSI text key=value lists (RFC 7143 §6.1, §6.2, §13): parse the data
 * segment of a Login or Text Request, and build the one of a response.
 *
 * On the wire a list is "key=value\0key=value\0..." with every pair NUL-terminated.
 * The parser is strict, because the data comes from anyone on the Internet:
 *  - every pair ends with NUL (the data segment, without its padding, ends in NUL);
 *  - no empty pair, no pair without '=', no empty key;
 *  - key: 1..63 characters from [A-Za-z0-9.+@_-] (§6.1 key-name);
 *  - value: valid UTF-8 without control characters, at most 255 bytes for the
 *    name-valued keys (InitiatorName, TargetName, InitiatorAlias, TargetAlias,
 *    SendTargets) and 8192 bytes for any other (§6.1 "8192 bytes" limit);
 *  - no key twice (§6.2: a key MUST NOT be offered more than once);
 *  - at most TK_MAX_PAIRS pairs.
 */
#ifndef SCSIPUB_TEXTKEYS_H
#define SCSIPUB_TEXTKEYS_H

#include <stddef.h>

#define TK_KEY_MAX 63
#define TK_NAME_VALUE_MAX 255
#define TK_VALUE_MAX 8192
#define TK_MAX_PAIRS 256

struct tk_pair {
	const char *key;    /* NUL-terminated, points into tk_list.buf */
	const char *value;  /* NUL-terminated, may be "" */
};

struct tk_list {
	char *buf;             /* private copy of the data (malloc'd) */
	struct tk_pair *pairs; /* malloc'd, n entries */
	size_t n;
};

/*
 * Parse len bytes at data into *out (owned by the caller: tk_free). len == 0 gives an
 * empty list. Returns 0, -EINVAL for malformed input with a one-line reason in why
 * (whylen bytes, may be NULL), or -ENOMEM.
 */
int tk_parse(const void *data, size_t len, struct tk_list *out, char *why, size_t whylen);
void tk_free(struct tk_list *l);
/* The value of key (case-sensitive, as §6.1 says), or NULL. */
const char *tk_get(const struct tk_list *l, const char *key);

/* A growing "key=value\0" buffer for responses. */
struct tk_buf {
	char *data;
	size_t len, cap;
	int err;          /* first error (-ENOMEM), sticky; add calls then do nothing */
};
void tk_buf_init(struct tk_buf *b);
void tk_buf_free(struct tk_buf *b);
/* Append "key=value\0". 0 or the sticky -errno. */
int tk_buf_add(struct tk_buf *b, const char *key, const char *value);
/* Append "key=<decimal>\0". */
int tk_buf_add_uint(struct tk_buf *b, const char *key, unsigned long value);

#endif
