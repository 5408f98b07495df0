/*
 * test_cfgd_proto.c — scsipub-cfgd's request parser (configfs-manager/cfgd_proto.c):
 * every op parses and formats back to the same request; refused: another protocol
 * version (EPROTO), unknown ops and keys, missing fields, characters outside a field's
 * set ('/' in names, control bytes), oversize fields and messages, trailing bytes,
 * prov_create with no LUNs, a size not a multiple of 512, a relative base path, a zero
 * PR key, more registrations than CFGD_PR_REGS_MAX.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aptpl.h"
#include "cfgd_proto.h"

static int parse(const char *s, struct cfgd_req *q)
{
	char err[256];

	return cfgd_req_parse(s, strlen(s), q, err, sizeof(err));
}

static void test_ops_round_trip(void **state)
{
	static const char *const ok[] = {
		"{\"v\":1,\"op\":\"hello\"}",
		"{\"v\":1,\"op\":\"list\"}",
		"{\"v\":1,\"op\":\"anon_create\",\"target\":\"iqn.2025-01.pub.scsipub:blank\","
		"\"client\":\"iqn.X:Y\",\"peer\":\"[::1]:3260\"}",
		"{\"v\":1,\"op\":\"anon_create\",\"target\":\"iqn.2025-01.pub.scsipub:multi\","
		"\"client\":\"iqn.X:Y\",\"peer\":\"192.0.2.1:1\"}",
		"{\"v\":1,\"op\":\"anon_create\",\"target\":\"iqn.2025-01.pub.scsipub:ro.deb-12\","
		"\"client\":\"iqn.X:Y\",\"peer\":\"192.0.2.1:1\"}",
		"{\"v\":1,\"op\":\"anon_destroy\",\"backstore\":\"sp0123456789abcdef\"}",
		"{\"v\":1,\"op\":\"anon_create\",\"target\":\"iqn.2025-01.pub.scsipub:p.7.ci-pi\","
		"\"client\":\"iqn.X:Y\",\"peer\":\"192.0.2.1:1\"}",
		"{\"v\":1,\"op\":\"anon_count\",\"target\":\"iqn.2025-01.pub.scsipub:p.7.ci-pi\"}",
		"{\"v\":1,\"op\":\"acl_sweep\",\"target\":\"iqn.2025-01.pub.scsipub:s.a\","
		"\"initiator\":\"iqn.A:B\"}",
		"{\"v\":1,\"op\":\"prov_destroy\",\"id\":\"abc\"}",
		"{\"v\":1,\"op\":\"prov_status\",\"id\":\"abc\"}",
		"{\"v\":1,\"op\":\"prov_list\"}",
		"{\"v\":1,\"op\":\"prov_list\",\"after\":\"abc\"}",
		"{\"v\":1,\"op\":\"prov_create\",\"id\":\"abc\",\"chap_user\":\"u\",\"chap_secret\":"
		"\"secretsecret12\",\"write_limit\":0,\"luns\":[{\"base\":\"\",\"size\":1048576,"
		"\"generation\":3,\"pr\":[{\"initiator\":\"iqn.1994-05.com.example:a\",\"isid\":"
		"\"0x23d000000\",\"key\":\"18446744073709551615\",\"holder\":true,\"type\":1,"
		"\"scope\":0,\"all_tg_pt\":false,\"mapped_lun\":0,\"target\":"
		"\"iqn.2025-01.pub.scsipub:s.abc\",\"tpgt\":1,\"target_lun\":0}]}]}",
	};
	char buf[CFGD_MSG_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct cfgd_req q, q2;
		int n;

		assert_int_equal(parse(ok[i], &q), 0);
		n = cfgd_req_format(&q, buf, sizeof(buf));
		assert_true(n > 0);
		assert_int_equal(cfgd_req_parse(buf, (size_t)n, &q2, NULL, 0), 0);
		assert_int_equal(q.op, q2.op);
		assert_string_equal(q.target, q2.target);
		assert_string_equal(q.id, q2.id);
		assert_string_equal(q.after, q2.after);
		if (q.op == CFGD_OP_PROV_CREATE) {
			assert_int_equal(q.prov->n_luns, 1);
			assert_int_equal(q.prov->luns[0].size_bytes, 1048576);
			assert_int_equal(q.prov->luns[0].pr->n, 1);
			assert_int_equal(q.prov->luns[0].pr->generation, 3);
			assert_true(q.prov->luns[0].pr->regs[0].key == UINT64_MAX);
			assert_true(aptpl_state_equal(q.prov->luns[0].pr, q2.prov->luns[0].pr));
		}
		cfgd_req_clear(&q);
		cfgd_req_clear(&q2);
	}
}

static void test_refused(void **state)
{
	static const struct {
		const char *msg;
		int r;
	} bad[] = {
		{ "{\"v\":2,\"op\":\"hello\"}", -EPROTO },
		{ "{\"op\":\"hello\"}", -EPROTO },
		{ "{\"v\":1,\"op\":\"format_disk\"}", -EINVAL },
		{ "{\"v\":1,\"op\":\"hello\",\"x\":\"y\"}", -EINVAL },
		{ "{\"v\":1,\"op\":\"anon_destroy\"}", -EINVAL },
		{ "{\"v\":1,\"op\":\"anon_destroy\",\"backstore\":\"../../etc\"}", -EINVAL },
		{ "{\"v\":1,\"op\":\"acl_sweep\",\"target\":\"iqn.2025-01.pub.scsipub:s.a\","
		  "\"initiator\":\"iqn.a/../x\"}", -EINVAL },
		{ "{\"v\":1,\"op\":\"anon_create\",\"target\":\"iqn.x\",\"client\":\"a\\u0001b\","
		  "\"peer\":\"p\"}", -EINVAL },
		{ "{\"v\":1,\"op\":\"anon_create\",\"target\":\"IQN.X\",\"client\":\"a\","
		  "\"peer\":\"p\"}", -EINVAL },
		{ "{\"v\":1,\"op\":\"hello\"} {}", -EINVAL },
		{ "[1,2]", -EINVAL },
		{ "{\"v\":1,\"op\":\"prov_create\",\"id\":\"a\",\"chap_user\":\"u\",\"chap_secret\":"
		  "\"s\",\"write_limit\":0,\"luns\":[]}", -EINVAL },
		{ "{\"v\":1,\"op\":\"prov_create\",\"id\":\"a\",\"chap_user\":\"u\",\"chap_secret\":"
		  "\"s\",\"write_limit\":0,\"luns\":[{\"base\":\"\",\"size\":1000,\"generation\":0,"
		  "\"pr\":[]}]}", -EINVAL },
		{ "{\"v\":1,\"op\":\"prov_create\",\"id\":\"a\",\"chap_user\":\"u\",\"chap_secret\":"
		  "\"s\",\"write_limit\":0,\"luns\":[{\"base\":\"x.img\",\"size\":1024,"
		  "\"generation\":0,\"pr\":[]}]}", -EINVAL },
		{ "{\"v\":1,\"op\":\"prov_create\",\"id\":\"a\",\"chap_user\":\"u\",\"chap_secret\":"
		  "\"s\",\"write_limit\":0,\"luns\":[{\"base\":\"\",\"size\":1024,\"generation\":0,"
		  "\"pr\":[{\"initiator\":\"iqn.a:b\",\"isid\":\"\",\"key\":\"0\",\"holder\":false,"
		  "\"type\":0,\"scope\":0,\"all_tg_pt\":false,\"mapped_lun\":0,\"target\":\"iqn.t\","
		  "\"tpgt\":1,\"target_lun\":0}]}]}", -EINVAL },
	};
	struct cfgd_req q;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i].msg, &q), bad[i].r);
		assert_null(q.prov); /* nothing to free after a refusal */
	}
}

static void test_limits(void **state)
{
	char *big = malloc(CFGD_MSG_MAX + 64), name[CFGD_NAME_MAX + 2];
	struct cfgd_req q;
	size_t n;

	(void)state;
	assert_non_null(big);
	/* a message over CFGD_MSG_MAX */
	memset(big, ' ', CFGD_MSG_MAX + 10);
	memcpy(big, "{\"v\":1,\"op\":\"hello\"}", 20);
	assert_int_equal(cfgd_req_parse(big, CFGD_MSG_MAX + 10, &q, NULL, 0), -EINVAL);
	/* a name one character over CFGD_NAME_MAX */
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	n = (size_t)snprintf(big, CFGD_MSG_MAX, "{\"v\":1,\"op\":\"acl_sweep\",\"target\":"
			     "\"iqn.x\",\"initiator\":\"%s\"}", name);
	assert_int_equal(cfgd_req_parse(big, n, &q, NULL, 0), -EINVAL);
	name[CFGD_NAME_MAX] = '\0';
	n = (size_t)snprintf(big, CFGD_MSG_MAX, "{\"v\":1,\"op\":\"acl_sweep\",\"target\":"
			     "\"iqn.x\",\"initiator\":\"%s\"}", name);
	assert_int_equal(cfgd_req_parse(big, n, &q, NULL, 0), 0);
	/* more registrations than CFGD_PR_REGS_MAX */
	{
		const char *reg = "{\"initiator\":\"iqn.a:b\",\"isid\":\"\",\"key\":\"1\",\"holder\":"
				  "false,\"type\":0,\"scope\":0,\"all_tg_pt\":false,\"mapped_lun\":0,"
				  "\"target\":\"iqn.t\",\"tpgt\":1,\"target_lun\":0}";
		size_t len = strlen(reg) + 1, cap = 200 + (CFGD_PR_REGS_MAX + 1) * len;
		char *m = malloc(cap);
		size_t off;

		assert_non_null(m);
		off = (size_t)snprintf(m, cap, "{\"v\":1,\"op\":\"prov_create\",\"id\":\"a\","
				       "\"chap_user\":\"u\",\"chap_secret\":\"s\",\"write_limit\":0,"
				       "\"luns\":[{\"base\":\"\",\"size\":1024,\"generation\":0,\"pr\":[");
		for (int i = 0; i <= CFGD_PR_REGS_MAX; i++)
			off += (size_t)snprintf(m + off, cap - off, "%s%s", i ? "," : "", reg);
		off += (size_t)snprintf(m + off, cap - off, "]}]}");
		assert_true(off < CFGD_MSG_MAX);
		assert_int_equal(cfgd_req_parse(m, off, &q, NULL, 0), -EINVAL);
		free(m);
	}
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ops_round_trip),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
