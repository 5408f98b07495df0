/*
 * test_aptpl.c — LIO APTPL metadata text (aptpl.h): the kernel's own file parses
 * (holder with res_type=08 in hex, ISIDs, the empty form), restore writes are decimal,
 * malformed text is refused with a reason and leaves the state empty.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "aptpl.h"

/* As K:core_scsi3_update_aptpl_buf writes it (holder first, type 8 printed "%02x"). */
static const char kernel_text[] =
	"PR_REG_START: 0\n"
	"initiator_fabric=iSCSI\n"
	"initiator_node=iqn.2025-01.test.scsipub:node-a\n"
	"initiator_sid=23d000001\n"
	"sa_res_key=2577\n"
	"res_holder=1\n"
	"res_type=08\n"
	"res_scope=00\n"
	"res_all_tg_pt=0\n"
	"mapped_lun=0\n"
	"target_fabric=iSCSI\n"
	"target_node=iqn.2025-01.pub.scsipub:s.abc\n"
	"tpgt=1\n"
	"port_rtpi=1\n"
	"target_lun=0\n"
	"PR_REG_END: 0\n"
	"PR_REG_START: 1\n"
	"initiator_fabric=iSCSI\n"
	"initiator_node=iqn.2025-01.test.scsipub:node-b\n"
	"sa_res_key=178\n"
	"res_holder=0\n"
	"res_all_tg_pt=1\n"
	"mapped_lun=3\n"
	"target_fabric=iSCSI\n"
	"target_node=iqn.2025-01.pub.scsipub:s.abc\n"
	"tpgt=1\n"
	"port_rtpi=1\n"
	"target_lun=3\n"
	"PR_REG_END: 1\n";

static void test_parse_kernel_file(void **state)
{
	struct aptpl_state st;
	char err[256];

	(void)state;
	assert_int_equal(aptpl_parse(kernel_text, &st, err, sizeof(err)), 0);
	assert_int_equal(st.n, 2);
	assert_string_equal(st.regs[0].initiator, "iqn.2025-01.test.scsipub:node-a");
	assert_string_equal(st.regs[0].isid, "23d000001");
	assert_int_equal(st.regs[0].key, 2577);
	assert_true(st.regs[0].holder);
	assert_int_equal(st.regs[0].type, APTPL_EXCLUSIVE_ACCESS_ALLREG);
	assert_string_equal(st.regs[0].target, "iqn.2025-01.pub.scsipub:s.abc");
	assert_int_equal(st.regs[0].tpgt, 1);
	assert_false(st.regs[1].holder);
	assert_true(st.regs[1].all_tg_pt);
	assert_string_equal(st.regs[1].isid, "");
	assert_int_equal(st.regs[1].mapped_lun, 3);
	assert_int_equal(st.regs[1].target_lun, 3);
	aptpl_state_free(&st);
	assert_null(st.regs);
}

static void test_parse_empty_forms(void **state)
{
	struct aptpl_state st;

	(void)state;
	assert_int_equal(aptpl_parse("No Registrations or Reservations\n", &st, NULL, 0), 0);
	assert_int_equal(st.n, 0);
	/* The kernel writes strlen + 1 bytes: a trailing NUL ends the text. */
	assert_int_equal(aptpl_parse("", &st, NULL, 0), 0);
	assert_int_equal(st.n, 0);
}

static void test_format_decimal_roundtrip(void **state)
{
	struct aptpl_state st, back;
	char line[APTPL_LINE_MAX], text[2 * APTPL_LINE_MAX], *p;
	int n;

	(void)state;
	assert_int_equal(aptpl_parse(kernel_text, &st, NULL, 0), 0);
	n = aptpl_format_reg(&st.regs[0], line, sizeof(line));
	assert_true(n > 0);
	/* Decimal: the kernel's base-0 parser would read "08" as octal. */
	assert_non_null(strstr(line, "res_type=8,"));
	assert_non_null(strstr(line, "initiator_sid=23d000001,"));
	assert_non_null(strstr(line, "sa_res_key=2577,"));
	assert_null(strchr(line, '\n'));
	/* The restore write, as a block, parses back to the same registration
	 * (res_type in hex and in decimal agree below 10). */
	snprintf(text, sizeof(text), "PR_REG_START: 0\n%s\nPR_REG_END: 0\n", line);
	for (p = text; (p = strchr(p, ',')); )
		*p = '\n';
	assert_int_equal(aptpl_parse(text, &back, NULL, 0), 0);
	assert_int_equal(back.n, 1);
	st.n = 1;
	assert_true(aptpl_state_equal(&st, &back));
	back.generation = 5;
	assert_false(aptpl_state_equal(&st, &back));
	assert_int_equal(aptpl_format_reg(&st.regs[0], line, 20), -ENOSPC);
	st.regs[0].key = 0;
	assert_int_equal(aptpl_format_reg(&st.regs[0], line, sizeof(line)), -EINVAL);
	st.n = 2;
	aptpl_state_free(&st);
	aptpl_state_free(&back);
}

static void test_parse_errors(void **state)
{
	static const char *const bad[] = {
		"garbage\n",
		"PR_REG_START: 0\ninitiator_node=i\ntarget_node=t\nsa_res_key=1\n",  /* no END */
		"PR_REG_START: 0\ninitiator_node=i\ntarget_node=t\nPR_REG_END: 0\n", /* no key */
		"PR_REG_START: 0\ninitiator_node=i\ntarget_node=t\nsa_res_key=0\nPR_REG_END: 0\n",
		"PR_REG_START: 0\ninitiator_node=i\ntarget_node=t\nsa_res_key=1\nres_holder=1\n"
		"res_type=02\nPR_REG_END: 0\n",                                      /* bad type */
		"PR_REG_START: 0\ninitiator_node=i\ntarget_node=t\nsa_res_key=1\nbogus=1\n"
		"PR_REG_END: 0\n",
		"PR_REG_START: 0\nno equals sign\nPR_REG_END: 0\n",
		"PR_REG_START: 0\ninitiator_node=i\ntarget_node=t\nsa_res_key=-1\nPR_REG_END: 0\n",
		"PR_REG_START: 0\ntpgt=70000\nPR_REG_END: 0\n",
	};
	struct aptpl_state st;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(aptpl_parse(bad[i], &st, err, sizeof(err)), -EINVAL);
		assert_int_equal(st.n, 0);
		assert_null(st.regs);
		assert_non_null(strstr(err, "APTPL line"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_kernel_file),
		cmocka_unit_test(test_parse_empty_forms),
		cmocka_unit_test(test_format_decimal_roundtrip),
		cmocka_unit_test(test_parse_errors),
	};
	return cmocka_run_group_tests_name("aptpl", tests, NULL, NULL);
}
