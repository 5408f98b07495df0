/*
 * test_conntab.c — the live connection table: JSON fields and order, atomic file
 * publication on add/remove, byte-count rewrites at most once per tick, clear.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "test_tmpdir.h"

#include "conntab.h"

static char *slurp(const char *p)
{
	FILE *f = fopen(p, "r");
	char *buf = calloc(1, 65536);
	size_t n;

	assert_non_null(f);
	assert_non_null(buf);
	n = fread(buf, 1, 65535, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static struct json_object *parse_file(const char *p)
{
	char *s = slurp(p);
	struct json_object *o = json_tokener_parse(s);

	assert_non_null(o);
	assert_true(json_object_is_type(o, json_type_array));
	free(s);
	return o;
}

static const char *str(struct json_object *o, const char *k)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(o, k, &v));
	return json_object_get_string(v);
}

static uint64_t num(struct json_object *o, const char *k)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(o, k, &v));
	assert_true(json_object_is_type(v, json_type_int));
	return json_object_get_uint64(v);
}

/* The table's clock in these tests (conntab_set_clock): moved by hand. */
static int64_t fake_ms = 1000000;

static int64_t fake_clock(void)
{
	return fake_ms;
}

static void test_publish(void **state)
{
	char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX + 8], sub[PATH_MAX + 8];
	struct conntab *t;
	struct json_object *a, *e;
	uint64_t id1, id2;
	struct stat st;

	(void)state;
	assert_non_null(test_mkdtemp(dir, sizeof(dir), "test_conntab"));
	assert_int_equal(conntab_default_path(dir, path, sizeof(path)), 0);
	snprintf(sub, sizeof(sub), "%s/%s", dir, CONNTAB_SUBDIR);
	assert_int_equal(stat(sub, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_non_null(strstr(path, "/portal/connections.json"));

	t = conntab_new(path);
	assert_non_null(t);
	conntab_set_clock(t, fake_clock);
	assert_int_equal(conntab_publish(t), 0);
	a = parse_file(path);
	assert_int_equal(json_object_array_length(a), 0);
	json_object_put(a);
	assert_int_equal(conntab_due_ms(t, fake_ms), -1); /* nothing to write */

	/* A tick after the last write, an add is written at once. */
	fake_ms += CONNTAB_TICK_MS;
	id1 = conntab_add(t, "192.0.2.7:50123", "iqn.1993-08.org.debian:01:a", NULL,
			  "iqn.2025-01.pub.scsipub:blank", CONNTAB_ANONYMOUS, 1700000000);
	a = parse_file(path);
	assert_int_equal(json_object_array_length(a), 1);
	json_object_put(a);
	assert_int_equal(conntab_due_ms(t, fake_ms), -1);
	/* Within the tick, the next waits for conntab_tick (one write per tick). */
	fake_ms += CONNTAB_TICK_MS - 1;
	id2 = conntab_add(t, "[2001:db8::1]:4000", "iqn.x:\"quoted\"", "iqn.lio:x",
			  "iqn.2025-01.pub.scsipub:s.abc", CONNTAB_PROVISIONED, 1700000005);
	assert_true(id1 > 0 && id2 > 0 && id1 != id2);
	assert_int_equal(conntab_count(t), 2);
	a = parse_file(path);
	assert_int_equal(json_object_array_length(a), 1);
	json_object_put(a);
	assert_int_equal(conntab_due_ms(t, fake_ms), 1);
	assert_false(conntab_tick(t, fake_ms));
	fake_ms++;
	assert_int_equal(conntab_due_ms(t, fake_ms), 0);
	assert_true(conntab_tick(t, fake_ms));
	assert_int_equal(conntab_due_ms(t, fake_ms), -1);
	{
		struct stat st;

		/* Owner and group only: initiator names are not for everyone (issue 8). */
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0640);
		assert_int_equal(stat(sub, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0750);
	}
	a = parse_file(path); /* both, written by the tick */
	assert_int_equal(json_object_array_length(a), 2);
	e = json_object_array_get_idx(a, 0); /* oldest first */
	assert_string_equal(str(e, "peer"), "192.0.2.7:50123");
	assert_string_equal(str(e, "initiator"), "iqn.1993-08.org.debian:01:a");
	assert_string_equal(str(e, "target"), "iqn.2025-01.pub.scsipub:blank");
	assert_string_equal(str(e, "kind"), "anonymous");
	assert_int_equal(num(e, "bytes_in"), 0);
	assert_int_equal(num(e, "bytes_out"), 0);
	assert_int_equal(num(e, "since"), 1700000000);
	e = json_object_array_get_idx(a, 1);
	assert_string_equal(str(e, "kind"), "provisioned");
	assert_string_equal(str(e, "initiator"), "iqn.x:\"quoted\""); /* escaped and back */
	assert_string_equal(str(e, "lio_initiator"), "iqn.lio:x");
	assert_null(json_object_object_get(json_object_array_get_idx(a, 0), "lio_initiator"));
	assert_string_equal(str(e, "peer"), "[2001:db8::1]:4000");
	json_object_put(a);

	/* Byte counts: not written at once; the tick writes them, at most once a tick. */
	conntab_bytes(t, id2, 1000, 2000000);
	a = parse_file(path);
	assert_int_equal(num(json_object_array_get_idx(a, 1), "bytes_in"), 0);
	json_object_put(a);
	assert_false(conntab_tick(t, fake_ms)); /* within the tick of the last write */
	fake_ms += CONNTAB_TICK_MS;
	assert_true(conntab_tick(t, fake_ms));
	a = parse_file(path);
	assert_int_equal(num(json_object_array_get_idx(a, 1), "bytes_in"), 1000);
	assert_int_equal(num(json_object_array_get_idx(a, 1), "bytes_out"), 2000000);
	json_object_put(a);
	fake_ms += CONNTAB_TICK_MS;
	assert_false(conntab_tick(t, fake_ms)); /* nothing changed */
	conntab_bytes(t, id2, 1000, 2000000);
	assert_false(conntab_tick(t, fake_ms)); /* same values */
	conntab_bytes(t, id1, 5, 6);
	assert_false(conntab_tick(t, fake_ms - CONNTAB_TICK_MS + 1)); /* within the tick */
	conntab_bytes(t, 0, 1, 1);    /* unknown ids are ignored */
	conntab_bytes(t, 999, 1, 1);

	/* A remove a tick after the last write is written at once (with the counters
	 * waiting); no temporary file is left. */
	conntab_remove(t, id1);
	conntab_remove(t, 999);
	a = parse_file(path);
	assert_int_equal(json_object_array_length(a), 1);
	assert_string_equal(str(json_object_array_get_idx(a, 0), "target"),
			    "iqn.2025-01.pub.scsipub:s.abc");
	json_object_put(a);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(access(tmp, F_OK), -1);

	conntab_clear(t);
	assert_int_equal(conntab_count(t), 0);
	a = parse_file(path);
	assert_int_equal(json_object_array_length(a), 0);
	json_object_put(a);
	conntab_free(t);

	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(sub), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void test_memory_only(void **state)
{
	struct conntab *t = conntab_new(NULL);
	char *s;

	(void)state;
	assert_non_null(t);
	s = conntab_json(t);
	assert_string_equal(s, "[]");
	free(s);
	conntab_add(t, "p:1", "i", NULL, "t", CONNTAB_ANONYMOUS, 42);
	s = conntab_json(t);
	assert_string_equal(s, "[{\"peer\":\"p:1\",\"initiator\":\"i\",\"target\":\"t\","
			       "\"kind\":\"anonymous\",\"bytes_in\":0,\"bytes_out\":0,"
			       "\"since\":42}]");
	free(s);
	assert_int_equal(conntab_publish(t), 0);
	conntab_free(t);
	conntab_free(NULL);
}

static void test_unwritable(void **state)
{
	struct conntab *t = conntab_new("/nonexistent-dir/connections.json");

	(void)state;
	assert_non_null(t);
	assert_int_equal(conntab_publish(t), -ENOENT);
	assert_true(conntab_add(t, "p:1", "i", NULL, "t", CONNTAB_ANONYMOUS, 1) > 0); /* still listed */
	assert_int_equal(conntab_count(t), 1);
	conntab_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_publish),
		cmocka_unit_test(test_memory_only),
		cmocka_unit_test(test_unwritable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
