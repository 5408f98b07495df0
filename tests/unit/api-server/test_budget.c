/*
 * test_budget.c — the image budget held by fetches in progress (budget.h): a start
 * holds BUDGET_START bytes, growth is refused past the account's limit counting its
 * ready images and every fetch's hold, an end turns the hold into ready bytes or gives
 * it back, accounts are apart, the ready bytes are asked once per account entry, and
 * sums near UINT64_MAX do not wrap.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "budget.h"

/* The `used` function: bytes per account (index = id), how often asked, a failure. */
struct ready {
	uint64_t bytes[4];
	unsigned asked;
	int fail;
};

static int ready_used(void *arg, int64_t id, uint64_t *used, char *err, size_t errlen)
{
	struct ready *r = arg;

	r->asked++;
	if (r->fail) {
		snprintf(err, errlen, "database down");
		return r->fail;
	}
	*used = r->bytes[id];
	return 0;
}

static void test_two_fetches_share_the_limit(void **state)
{
	struct ready r = { .bytes = { 0, 1000 } };
	struct budget b;
	uint64_t h1 = 0, h2 = 0;
	char err[256] = "";

	(void)state;
	budget_init(&b, ready_used, &r);
	/* account 1: 1000 ready of a 5000 limit */
	assert_int_equal(budget_begin(&b, 1, 5000, &h1, err, sizeof(err)), 0);
	assert_int_equal(h1, BUDGET_START);
	assert_int_equal(budget_begin(&b, 1, 5000, &h2, err, sizeof(err)), 0);
	assert_int_equal(r.asked, 1); /* asked once for the account's entry */
	assert_int_equal(budget_accounts(&b), 1);

	assert_int_equal(budget_grow(&b, 1, 5000, &h1, 3000, err, sizeof(err)), 0);
	assert_int_equal(h1, 3000);
	assert_int_equal(budget_grow(&b, 1, 5000, &h1, 100, err, sizeof(err)), 0);
	assert_int_equal(h1, 3000); /* never shrinks */
	/* 1000 ready + 3000 + 1001 > 5000 */
	assert_int_equal(budget_grow(&b, 1, 5000, &h2, 1001, err, sizeof(err)), -EDQUOT);
	assert_non_null(strstr(err, "image budget exceeded"));
	assert_int_equal(h2, BUDGET_START);
	assert_int_equal(budget_grow(&b, 1, 5000, &h2, 1000, err, sizeof(err)), 0);

	/* the first becomes a 2500-byte image: 3500 ready, the second holds 1000 */
	budget_end(&b, 1, h1, 2500);
	assert_int_equal(budget_grow(&b, 1, 5000, &h2, 1501, err, sizeof(err)), -EDQUOT);
	assert_int_equal(budget_grow(&b, 1, 5000, &h2, 1500, err, sizeof(err)), 0);
	budget_end(&b, 1, h2, 0); /* failed: its hold given back */
	assert_int_equal(budget_accounts(&b), 0);
	budget_fini(&b);
}

static void test_start_refused_and_accounts_apart(void **state)
{
	struct ready r = { .bytes = { 0, 4800, 0 } };
	struct budget b;
	uint64_t h1 = 0, h2 = 0, h3 = 0;
	char err[256] = "";

	(void)state;
	budget_init(&b, ready_used, &r);
	/* account 1 has 4800 of 5000: one fetch's 512 does not fit */
	assert_int_equal(budget_begin(&b, 1, 5000, &h1, err, sizeof(err)), -EDQUOT);
	assert_non_null(strstr(err, "use 4800"));
	assert_int_equal(budget_accounts(&b), 0); /* the refused start left nothing */
	assert_int_equal(budget_begin(&b, 1, 5312, &h1, err, sizeof(err)), 0);
	assert_int_equal(budget_begin(&b, 1, 5312, &h2, err, sizeof(err)), -EDQUOT);
	/* account 2 is not touched by account 1's holds */
	assert_int_equal(budget_begin(&b, 2, 512, &h3, err, sizeof(err)), 0);
	assert_int_equal(budget_accounts(&b), 2);
	/* growth of a fetch that never began */
	h2 = 0;
	assert_int_equal(budget_grow(&b, 3, 5000, &h2, 10, err, sizeof(err)), -EIO);
	budget_end(&b, 1, h1, 0);
	budget_end(&b, 2, h3, 0);
	budget_end(&b, 3, 0, 0); /* unknown: nothing happens */
	assert_int_equal(budget_accounts(&b), 0);
	budget_fini(&b);
}

static void test_used_fails_and_no_wrap(void **state)
{
	struct ready r = { .fail = -EIO };
	struct budget b;
	uint64_t h = 0;
	char err[256] = "";

	(void)state;
	budget_init(&b, ready_used, &r);
	assert_int_equal(budget_begin(&b, 1, 5000, &h, err, sizeof(err)), -EIO);
	assert_string_equal(err, "database down");
	assert_int_equal(budget_accounts(&b), 0);

	r.fail = 0;
	r.bytes[1] = UINT64_MAX - 100; /* more ready than any limit below */
	assert_int_equal(budget_begin(&b, 1, 1000, &h, err, sizeof(err)), -EDQUOT);
	r.bytes[1] = 0;
	assert_int_equal(budget_begin(&b, 1, UINT64_MAX, &h, err, sizeof(err)), 0);
	assert_int_equal(budget_grow(&b, 1, UINT64_MAX, &h, UINT64_MAX, err, sizeof(err)), 0);
	assert_int_equal(h, UINT64_MAX);
	assert_int_equal(budget_grow(&b, 1, 1000, &h, UINT64_MAX, err, sizeof(err)), 0);
	budget_end(&b, 1, h, 0);
	assert_int_equal(budget_accounts(&b), 0);
	budget_fini(&b);
}

/* How many fetches run: per account (-EAGAIN) and in all (-EBUSY); an ended fetch
 * frees its place. */
static void test_fetch_limits(void **state)
{
	struct ready r = { .bytes = { 0, 0, 0 } };
	struct budget b;
	uint64_t h1 = 0, h2 = 0, h3 = 0, h4 = 0;
	char err[256] = "";

	(void)state;
	budget_init(&b, ready_used, &r);
	budget_set_limits(&b, 3, 2);
	assert_int_equal(budget_begin(&b, 1, 5000, &h1, err, sizeof(err)), 0);
	assert_int_equal(budget_begin(&b, 1, 5000, &h2, err, sizeof(err)), 0);
	assert_int_equal(budget_begin(&b, 1, 5000, &h3, err, sizeof(err)), -EAGAIN);
	assert_non_null(strstr(err, "the account runs 2 image fetches"));
	assert_int_equal(budget_begin(&b, 2, 5000, &h3, err, sizeof(err)), 0);
	assert_int_equal(budget_begin(&b, 2, 5000, &h4, err, sizeof(err)), -EBUSY);
	assert_non_null(strstr(err, "the server runs 3 image fetches"));
	budget_end(&b, 1, h1, 0);
	assert_int_equal(budget_begin(&b, 2, 5000, &h4, err, sizeof(err)), 0);
	budget_end(&b, 1, h2, 0);
	budget_end(&b, 2, h3, 0);
	budget_end(&b, 2, h4, 0);
	assert_int_equal(budget_accounts(&b), 0);
	/* 0 = no limit */
	budget_set_limits(&b, 0, 0);
	assert_int_equal(budget_begin(&b, 1, 5000, &h1, err, sizeof(err)), 0);
	assert_int_equal(budget_begin(&b, 1, 5000, &h2, err, sizeof(err)), 0);
	assert_int_equal(budget_begin(&b, 1, 5000, &h3, err, sizeof(err)), 0);
	budget_end(&b, 1, h1, 0);
	budget_end(&b, 1, h2, 0);
	budget_end(&b, 1, h3, 0);
	budget_fini(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_fetches_share_the_limit),
		cmocka_unit_test(test_start_refused_and_accounts_apart),
		cmocka_unit_test(test_used_fails_and_no_wrap),
		cmocka_unit_test(test_fetch_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
