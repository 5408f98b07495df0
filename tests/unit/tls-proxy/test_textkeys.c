/*
 * test_textkeys.c — unit tests for tls-proxy/textkeys.c: well-formed lists, every
 * malformed case (missing '=', missing NUL, empty pair, empty key, duplicates, key
 * and value length limits, bad UTF-8 and control characters) and the builder.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "textkeys.h"

#define PARSE(lit, l) tk_parse(lit, sizeof(lit) - 1, l, why, sizeof(why))

static char why[200];

static void test_valid(void **state)
{
	struct tk_list l;

	(void)state;
	assert_int_equal(PARSE("InitiatorName=iqn.x\0SessionType=Discovery\0Empty=\0", &l), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(tk_get(&l, "InitiatorName"), "iqn.x");
	assert_string_equal(tk_get(&l, "SessionType"), "Discovery");
	assert_string_equal(tk_get(&l, "Empty"), "");
	assert_null(tk_get(&l, "initiatorname")); /* keys are case-sensitive */
	tk_free(&l);
	/* '=' inside a value belongs to the value. */
	assert_int_equal(PARSE("K=a=b\0", &l), 0);
	assert_string_equal(tk_get(&l, "K"), "a=b");
	tk_free(&l);
	/* UTF-8 text is fine. */
	assert_int_equal(PARSE("InitiatorAlias=caf\xc3\xa9 \xe2\x82\xac\0", &l), 0);
	tk_free(&l);
}

static void test_empty_data(void **state)
{
	struct tk_list l;

	(void)state;
	assert_int_equal(tk_parse("", 0, &l, why, sizeof(why)), 0);
	assert_int_equal(l.n, 0);
	assert_null(tk_get(&l, "X"));
	tk_free(&l);
}

static void test_malformed(void **state)
{
	struct tk_list l;

	(void)state;
	assert_int_equal(PARSE("NoEquals\0", &l), -EINVAL);
	assert_non_null(strstr(why, "'='"));
	assert_int_equal(PARSE("A=1\0B=2", &l), -EINVAL);         /* last pair lacks NUL */
	assert_non_null(strstr(why, "NUL"));
	assert_int_equal(PARSE("A=1\0\0B=2\0", &l), -EINVAL);     /* empty pair */
	assert_int_equal(PARSE("\0", &l), -EINVAL);
	assert_int_equal(PARSE("=value\0", &l), -EINVAL);         /* empty key */
	assert_int_equal(PARSE("A=1\0A=2\0", &l), -EINVAL);       /* duplicate */
	assert_non_null(strstr(why, "twice"));
	assert_int_equal(PARSE("Bad Key=1\0", &l), -EINVAL);      /* space in key */
	assert_int_equal(PARSE("K=a\x01z\0", &l), -EINVAL);       /* control character */
	assert_int_equal(PARSE("K=\xff\0", &l), -EINVAL);         /* not UTF-8 */
	assert_int_equal(PARSE("K=\xc0\x80\0", &l), -EINVAL);     /* overlong */
	assert_int_equal(PARSE("K=\xed\xa0\x80\0", &l), -EINVAL); /* surrogate */
	assert_int_equal(PARSE("K=\xe2\x82\0", &l), -EINVAL);     /* cut sequence */
	assert_null(l.pairs);
}

static void test_lengths(void **state)
{
	char buf[9000];
	struct tk_list l;
	size_t n;

	(void)state;
	/* Key of 63 is fine, 64 is not. */
	memset(buf, 'k', 63);
	memcpy(buf + 63, "=v", 3);
	assert_int_equal(tk_parse(buf, 66, &l, why, sizeof(why)), 0);
	tk_free(&l);
	memset(buf, 'k', 64);
	memcpy(buf + 64, "=v", 3);
	assert_int_equal(tk_parse(buf, 67, &l, why, sizeof(why)), -EINVAL);

	/* Names: 255 fine, 256 not. */
	n = (size_t)sprintf(buf, "InitiatorName=");
	memset(buf + n, 'a', 255);
	buf[n + 255] = '\0';
	assert_int_equal(tk_parse(buf, n + 256, &l, why, sizeof(why)), 0);
	tk_free(&l);
	memset(buf + n, 'a', 256);
	buf[n + 256] = '\0';
	assert_int_equal(tk_parse(buf, n + 257, &l, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "too long"));

	/* Other values: 8192 fine, 8193 not. */
	n = (size_t)sprintf(buf, "X-Big=");
	memset(buf + n, 'b', 8192);
	buf[n + 8192] = '\0';
	assert_int_equal(tk_parse(buf, n + 8193, &l, why, sizeof(why)), 0);
	tk_free(&l);
	memset(buf + n, 'b', 8193);
	buf[n + 8193] = '\0';
	assert_int_equal(tk_parse(buf, n + 8194, &l, why, sizeof(why)), -EINVAL);
}

static void test_too_many_pairs(void **state)
{
	char buf[TK_MAX_PAIRS * 12 + 32];
	size_t n = 0;
	struct tk_list l;

	(void)state;
	for (int i = 0; i < TK_MAX_PAIRS; i++)
		n += (size_t)sprintf(buf + n, "K%d=1", i) + 1;
	assert_int_equal(tk_parse(buf, n, &l, why, sizeof(why)), 0);
	assert_int_equal(l.n, TK_MAX_PAIRS);
	tk_free(&l);
	n += (size_t)sprintf(buf + n, "Kx=1") + 1;
	assert_int_equal(tk_parse(buf, n, &l, why, sizeof(why)), -EINVAL);
}

static void test_builder(void **state)
{
	struct tk_buf b;
	struct tk_list l;

	(void)state;
	tk_buf_init(&b);
	assert_int_equal(tk_buf_add(&b, "TargetName", "iqn.t"), 0);
	assert_int_equal(tk_buf_add_uint(&b, "MaxRecvDataSegmentLength", 65536), 0);
	assert_int_equal(b.len, sizeof("TargetName=iqn.t\0MaxRecvDataSegmentLength=65536"));
	assert_memory_equal(b.data, "TargetName=iqn.t\0MaxRecvDataSegmentLength=65536\0", b.len);
	/* What we build, we parse. */
	assert_int_equal(tk_parse(b.data, b.len, &l, why, sizeof(why)), 0);
	assert_string_equal(tk_get(&l, "MaxRecvDataSegmentLength"), "65536");
	tk_free(&l);
	for (int i = 0; i < 1000; i++)
		tk_buf_add(&b, "K", "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvv");
	assert_int_equal(b.err, 0);
	assert_true(b.cap >= b.len);
	tk_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_empty_data),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_too_many_pairs),
		cmocka_unit_test(test_builder),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
