/*
 * test_db.c — the store (db.h: db.c, db_image.c, db_session.c) against a throwaway
 * PostgreSQL cluster (scripts/pg-local.sh):
 * migrations (idempotent, a failing one rolled back), accounts and hashed keys,
 * image lifecycle with the budget check, sessions with LUNs, the in-use check.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "db.h"
#include "pg_test.h"

static struct pg_test pg;
static struct db *d;
static char err[512];

#define KEY1 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define KEY2 "FEDCBA9876543210FEDCBA9876543210FEDCBA9876543210FEDCBA9876543210"

static int group_setup(void **state)
{
	int v = -1;

	(void)state;
	if (pg_test_start(&pg))
		return -1;
	d = db_open(pg.url, 10, err, sizeof(err));
	if (!d) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	if (db_migrate(d, db_schema, db_schema_count, &v, err, sizeof(err)) || v < 1) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	db_close(d);
	pg_test_stop(&pg);
	return 0;
}

static void test_migrate(void **state)
{
	struct db_migration m[8];
	int v = -1;

	(void)state;
	assert_true(db_schema_count >= 1 && db_schema_count < 7);
	assert_int_equal(db_migrate(d, db_schema, db_schema_count, &v, err, sizeof(err)), 0);
	assert_int_equal(v, (int)db_schema_count);
	memcpy(m, db_schema, db_schema_count * sizeof(m[0]));
	m[db_schema_count] = (struct db_migration){ "900_bad.sql",
		"CREATE TABLE zz_half (a int); SELECT no_such_column FROM zz_half;" };
	assert_int_equal(db_migrate(d, m, db_schema_count + 1, &v, err, sizeof(err)), -EIO);
	assert_int_equal(v, (int)db_schema_count);
	assert_non_null(strstr(err, "900_bad.sql"));
	/* rolled back: a good migration creating the same table applies afterwards */
	m[db_schema_count] = (struct db_migration){ "900_good.sql",
		"CREATE TABLE zz_half (a int); DROP TABLE zz_half;" };
	assert_int_equal(db_migrate(d, m, db_schema_count + 1, &v, err, sizeof(err)), 0);
	assert_int_equal(v, (int)db_schema_count + 1);
	assert_true(strlen(db_server_version(d)) >= 2);
}

static void test_accounts(void **state)
{
	struct db_account a;
	int64_t id = 0;

	(void)state;
	assert_int_equal(db_account_create(d, "alice", 1000, KEY1, &id, err, sizeof(err)), 0);
	assert_true(id > 0);
	assert_int_equal(db_account_create(d, "alice", 1, KEY2, NULL, err, sizeof(err)),
			 -EEXIST);
	assert_int_equal(db_account_by_key(d, KEY1, &a, err, sizeof(err)), 0);
	assert_int_equal(a.id, id);
	assert_string_equal(a.name, "alice");
	assert_int_equal(a.image_budget_bytes, 1000);
	assert_int_equal(db_account_by_key(d, KEY2, &a, err, sizeof(err)), -ENOENT);
	/* keys are stored lowercase: an uppercase hash finds the same account */
	assert_int_equal(db_account_create(d, "bob", 5000, KEY2, NULL, err, sizeof(err)), 0);
	assert_int_equal(db_account_by_key(d, KEY2, &a, err, sizeof(err)), 0);
	assert_string_equal(a.name, "bob");
	/* iSCSI CHAP secret: made once, kept, replaced only by a rotation. */
	{
		char sec[DB_CHAP_SECRET_MAX + 1];

		assert_int_equal(db_account_chap(d, id, "Abcdefghijkl0123", false, sec, err,
						 sizeof(err)), 0);
		assert_string_equal(sec, "Abcdefghijkl0123");
		assert_int_equal(db_account_chap(d, id, "Zzzzzzzzzzzz9999", false, sec, err,
						 sizeof(err)), 0);
		assert_string_equal(sec, "Abcdefghijkl0123");
		assert_int_equal(db_account_chap(d, id, "Zzzzzzzzzzzz9999", true, sec, err,
						 sizeof(err)), 0);
		assert_string_equal(sec, "Zzzzzzzzzzzz9999");
		/* The column's CHECK refuses what could not be a CHAP secret. */
		assert_int_equal(db_account_chap(d, id, "short", true, sec, err, sizeof(err)),
				 -EIO);
		assert_int_equal(db_account_chap(d, 999999, "Abcdefghijkl0123", false, sec, err,
						 sizeof(err)), -ENOENT);
	}
}

static int64_t account(const char *key)
{
	struct db_account a;

	assert_int_equal(db_account_by_key(d, key, &a, err, sizeof(err)), 0);
	return a.id;
}

static void test_images(void **state)
{
	int64_t alice = account(KEY1);
	struct db_image im, *v;
	uint64_t used = 0;
	int n;

	(void)state;
	assert_int_equal(db_image_begin(d, alice, "disk", "http://x/a.img", NULL, err,
					sizeof(err)), 0);
	assert_int_equal(db_image_begin(d, alice, "disk", "http://x/b.img", NULL, err,
					sizeof(err)), -EEXIST);
	assert_int_equal(db_image_progress(d, alice, "disk", 10, 600), 0);
	assert_int_equal(db_image_get(d, alice, "disk", &im, err, sizeof(err)), 0);
	assert_int_equal(im.state, DB_IMAGE_FETCHING);
	assert_int_equal(im.bytes_done, 10);
	assert_int_equal(im.bytes_total, 600);
	assert_string_equal(im.url, "http://x/a.img");
	db_image_clear(&im);
	assert_int_equal(db_image_ready(d, alice, "disk", KEY2, 512, &used, err, sizeof(err)),
			 0);
	assert_int_equal(used, 0);
	assert_int_equal(db_image_get(d, alice, "disk", &im, err, sizeof(err)), 0);
	assert_int_equal(im.state, DB_IMAGE_READY);
	assert_int_equal(im.size_bytes, 512);
	assert_string_equal(im.sha256, "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210");
	db_image_clear(&im);

	/* budget 1000: 512 used, another 512 does not fit */
	assert_int_equal(db_image_begin(d, alice, "big", "http://x/c", NULL, err, sizeof(err)), 0);
	assert_int_equal(db_image_ready(d, alice, "big", KEY1, 512, &used, err, sizeof(err)),
			 -EDQUOT);
	assert_int_equal(used, 512);
	assert_non_null(strstr(err, "budget"));
	assert_int_equal(db_image_delete(d, alice, "big", false, err, sizeof(err)), 0);
	assert_int_equal(db_image_get(d, alice, "big", &im, err, sizeof(err)), -ENOENT);

	/* a failed image is replaced by a new begin */
	assert_int_equal(db_image_begin(d, alice, "bad", "http://x/d", NULL, err, sizeof(err)), 0);
	assert_int_equal(db_image_fail(d, alice, "bad", "HTTP 404"), 0);
	assert_int_equal(db_image_get(d, alice, "bad", &im, err, sizeof(err)), 0);
	assert_int_equal(im.state, DB_IMAGE_FAILED);
	assert_string_equal(im.error, "HTTP 404");
	db_image_clear(&im);
	assert_int_equal(db_image_begin(d, alice, "bad", "http://x/e", NULL, err, sizeof(err)), 0);
	assert_int_equal(db_image_get(d, alice, "bad", &im, err, sizeof(err)), 0);
	assert_int_equal(im.state, DB_IMAGE_FETCHING);
	assert_null(im.error);
	db_image_clear(&im);

	n = db_image_list(d, alice, &v, err, sizeof(err));
	assert_int_equal(n, 2);
	assert_string_equal(v[0].name, "bad");
	assert_string_equal(v[1].name, "disk");
	db_images_free(v, (size_t)n);
	assert_int_equal(db_image_used(d, alice, &used, err, sizeof(err)), 0);
	assert_int_equal(used, 512);
	/* a client's delete waits for the fetch; a fetch's own cleanup touches no row
	 * that is not fetching */
	assert_int_equal(db_image_delete(d, alice, "bad", true, err, sizeof(err)), -EBUSY);
	assert_non_null(strstr(err, "still being fetched"));
	assert_int_equal(db_image_fail(d, alice, "disk", "late"), 0);
	assert_int_equal(db_image_delete(d, alice, "disk", false, err, sizeof(err)), -ENOENT);
	assert_int_equal(db_image_get(d, alice, "disk", &im, err, sizeof(err)), 0);
	assert_int_equal(im.state, DB_IMAGE_READY);
	assert_null(im.error);
	db_image_clear(&im);
	assert_int_equal(db_image_fail(d, alice, "bad", "HTTP 404"), 0);
	assert_int_equal(db_image_delete(d, alice, "bad", true, err, sizeof(err)), 0);
	assert_int_equal(db_image_delete(d, alice, "bad", true, err, sizeof(err)), -ENOENT);
}

static void test_sessions(void **state)
{
	int64_t alice = account(KEY1), bob = account(KEY2);
	struct db_lun luns[2] = { { 0, "disk", DB_LUN_PRIVATE }, { 1, "blank", DB_LUN_CATALOG } };
	struct db_session s = { .id = "00aa11bb22cc33dd", .account_id = alice,
				.chap_user = "u00aa11bb22cc33dd", .chap_secret = "secretsecret12",
				.persistent = true, .ttl_s = 60, .luns = luns, .n_luns = 2 };
	struct db_session g, *v;
	int n;

	(void)state;
	assert_int_equal(db_session_insert(d, &s, err, sizeof(err)), 0);
	assert_int_equal(db_session_insert(d, &s, err, sizeof(err)), -EEXIST);
	assert_int_equal(db_session_exists(d, s.id), 1);
	assert_int_equal(db_session_exists(d, "ffff"), 0);
	/* a missing private image rolls the whole insert back */
	strcpy(luns[0].image_name, "nope");
	strcpy(s.id, "0000000000000001");
	assert_int_equal(db_session_insert(d, &s, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "nope"));
	assert_int_equal(db_session_exists(d, s.id), 0);

	assert_int_equal(db_session_get(d, "00aa11bb22cc33dd", alice, &g, err, sizeof(err)), 0);
	assert_int_equal(g.n_luns, 2);
	assert_string_equal(g.luns[0].image_name, "disk");
	assert_int_equal(g.luns[1].kind, DB_LUN_CATALOG);
	assert_string_equal(g.account_name, "alice");
	assert_true(g.persistent);
	assert_int_equal(g.state, DB_SESSION_LIVE);
	assert_int_equal(g.suspended_at, 0);
	db_session_clear(&g);
	/* other accounts do not see it */
	assert_int_equal(db_session_get(d, "00aa11bb22cc33dd", bob, &g, err, sizeof(err)),
			 -ENOENT);

	assert_int_equal(db_image_delete(d, alice, "disk", true, err, sizeof(err)), -EBUSY);
	assert_non_null(strstr(err, "in use"));

	assert_int_equal(db_session_set_state(d, "00aa11bb22cc33dd", DB_SESSION_SUSPENDED), 0);
	assert_int_equal(db_session_set_written(d, "00aa11bb22cc33dd", 4096), 0);
	n = db_session_list(d, -1, &v, err, sizeof(err));
	assert_int_equal(n, 1);
	assert_int_equal(v[0].state, DB_SESSION_SUSPENDED);
	assert_true(v[0].suspended_at > 0);
	assert_int_equal(v[0].bytes_written_hint, 4096);
	assert_int_equal(v[0].n_luns, 2);
	db_sessions_free(v, (size_t)n);
	n = db_session_list(d, bob, &v, err, sizeof(err));
	assert_int_equal(n, 0);
	db_sessions_free(v, 0);

	assert_int_equal(db_session_delete(d, "00aa11bb22cc33dd", err, sizeof(err)), 0);
	assert_int_equal(db_session_delete(d, "00aa11bb22cc33dd", err, sizeof(err)), -ENOENT);
	assert_int_equal(db_image_delete(d, alice, "disk", true, err, sizeof(err)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_migrate),
		cmocka_unit_test(test_accounts),
		cmocka_unit_test(test_images),
		cmocka_unit_test(test_sessions),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
