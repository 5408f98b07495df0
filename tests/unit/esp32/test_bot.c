/*
 * test_bot.c — USB MSC Bulk-Only Transport 1.0 edge cases the USB side can send to
 * the bridge core (esp32/core/bot.c): CBW validity (§6.2.1: size, signature) and
 * meaning (§6.2.2: reserved bits, LUN, CB length), the thirteen host/device cases
 * (§6.7) including CBW/CDB length mismatches, CSW tag/residue/status (§5.2).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "bot_env.h"

static struct bot_env *env_new(void)
{
	struct bot_env *e = malloc(sizeof(*e));

	assert_non_null(e);
	bot_env_init(e, NULL, 0, 0);
	return e;
}

static int run(struct bot_env *e, const uint8_t cbw[31], size_t n)
{
	return bot_command(&e->lu, cbw, n, &e->bio, e->buf, sizeof(e->buf));
}

static const uint8_t read10_8[10] = { 0x28, 0, 0, 0, 0, 4, 0, 0, 8, 0 };  /* LBA 4, 8 blocks */
static const uint8_t write10_2[10] = { 0x2a, 0, 0, 0, 0, 1, 0, 0, 2, 0 }; /* LBA 1, 2 blocks */
static const uint8_t tur[6] = { 0 };
static const uint8_t inquiry36[6] = { 0x12, 0, 0, 0, 36, 0 };

static void test_wrong_signature_stalls_both(void **state)
{
	struct bot_env *e = env_new();
	uint8_t cbw[31];
	struct bot_cbw c;

	(void)state;
	mk_cbw(cbw, 7, 4096, true, read10_8, 10);
	cbw[3] = 'D'; /* "USBD" */
	assert_int_equal(bot_cbw_parse(cbw, 31, 0, &c), BOT_CBW_INVALID);
	assert_int_equal(run(e, cbw, 31), 1);
	assert_true(e->io.stall_in);
	assert_true(e->io.stall_out);
	assert_int_equal(e->io.in_len, 0); /* no CSW: the host must do Reset Recovery */
	assert_int_equal(e->f.reads, 0);
	free(e);
}

static void test_wrong_cbw_size_is_invalid(void **state)
{
	uint8_t cbw[32];
	struct bot_cbw c;

	(void)state;
	mk_cbw(cbw, 1, 0, false, tur, 6);
	cbw[31] = 0;
	assert_int_equal(bot_cbw_parse(cbw, 30, 0, &c), BOT_CBW_INVALID);
	assert_int_equal(bot_cbw_parse(cbw, 32, 0, &c), BOT_CBW_INVALID);
	assert_int_equal(bot_cbw_parse(cbw, 31, 0, &c), BOT_CBW_OK);
}

static void test_not_meaningful_cbws(void **state)
{
	uint8_t cbw[31];
	struct bot_cbw c;

	(void)state;
	mk_cbw(cbw, 1, 0, false, tur, 6);
	cbw[14] = 0; /* CB length 0 */
	assert_int_equal(bot_cbw_parse(cbw, 31, 0, &c), BOT_CBW_NOT_MEANINGFUL);
	cbw[14] = 17;
	assert_int_equal(bot_cbw_parse(cbw, 31, 0, &c), BOT_CBW_NOT_MEANINGFUL);
	cbw[14] = 6;
	cbw[13] = 1; /* LUN 1 of a single-LUN device */
	assert_int_equal(bot_cbw_parse(cbw, 31, 0, &c), BOT_CBW_NOT_MEANINGFUL);
	cbw[13] = 0;
	cbw[12] = 0x01; /* reserved flag bit */
	assert_int_equal(bot_cbw_parse(cbw, 31, 0, &c), BOT_CBW_NOT_MEANINGFUL);
	cbw[12] = 0x80;
	assert_int_equal(bot_cbw_parse(cbw, 31, 0, &c), BOT_CBW_OK);
	assert_true(c.dir_in);
	assert_int_equal(c.tag, 1);
}

/* §6.7 case table: host expectation against device intent. */
static void test_thirteen_cases(void **state)
{
	static const struct {
		bool in; uint32_t h; enum scsi_dir dd; uint32_t dl;
		int bcase; bool phase; uint32_t len; bool stall;
	} t[] = {
		{ false, 0, SCSI_DIR_NONE, 0, 1, false, 0, false },
		{ true, 0, SCSI_DIR_IN, 512, 2, true, 0, false },
		{ false, 0, SCSI_DIR_OUT, 512, 3, true, 0, false },
		{ true, 512, SCSI_DIR_NONE, 0, 4, false, 0, true },
		{ true, 1024, SCSI_DIR_IN, 512, 5, false, 512, true },
		{ true, 512, SCSI_DIR_IN, 512, 6, false, 512, false },
		{ true, 512, SCSI_DIR_IN, 4096, 7, true, 0, true },
		{ true, 512, SCSI_DIR_OUT, 512, 8, true, 0, true },
		{ false, 512, SCSI_DIR_NONE, 0, 9, false, 0, true },
		{ false, 512, SCSI_DIR_IN, 512, 10, true, 0, true },
		{ false, 1024, SCSI_DIR_OUT, 512, 11, false, 512, true },
		{ false, 512, SCSI_DIR_OUT, 512, 12, false, 512, false },
		{ false, 512, SCSI_DIR_OUT, 4096, 13, true, 0, true },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct bot_cbw c = { .data_len = t[i].h, .dir_in = t[i].in };
		struct scsi_req r = { .dir = t[i].dd, .len = t[i].dl };
		struct bot_plan p;

		bot_plan(&c, &r, &p);
		assert_int_equal(p.bot_case, t[i].bcase);
		assert_int_equal(p.phase_error, t[i].phase);
		assert_int_equal(p.len, t[i].len);
		assert_int_equal(p.stall_after, t[i].stall);
	}
}

/* CBW says 512 bytes, the READ (10) CDB asks for 8 blocks: case 7, phase error,
 * nothing read from the target. */
static void test_cbw_cdb_length_mismatch_read(void **state)
{
	struct bot_env *e = env_new();
	uint8_t cbw[31];
	const uint8_t *csw;

	(void)state;
	mk_cbw(cbw, 0x1234, 512, true, read10_8, 10);
	assert_int_equal(run(e, cbw, 31), 0);
	csw = last_csw(&e->io);
	assert_non_null(csw);
	assert_int_equal(e->io.in_len, 13);
	assert_memory_equal(csw, "USBS\x34\x12\0\0", 8);
	assert_int_equal(csw[12], BOT_CSW_PHASE_ERROR);
	assert_true(e->io.stall_in);
	assert_int_equal(e->f.reads, 0);
	free(e);
}

/* CBW says data-out of 512, the WRITE (10) CDB has 2 blocks: case 13, nothing
 * written. */
static void test_cbw_cdb_length_mismatch_write(void **state)
{
	struct bot_env *e = env_new();
	uint8_t cbw[31], before[FAKE_NB * FAKE_BS];

	(void)state;
	memcpy(before, e->f.disk, sizeof(before));
	mk_cbw(cbw, 9, 512, false, write10_2, 10);
	assert_int_equal(run(e, cbw, 31), 0);
	assert_int_equal(last_csw(&e->io)[12], BOT_CSW_PHASE_ERROR);
	assert_true(e->io.stall_out);
	assert_int_equal(e->f.writes, 0);
	assert_memory_equal(before, e->f.disk, sizeof(before));
	free(e);
}

/* A READ (10) CDB in a CBW whose bCBWCBLength is 6: the CDB is cut short of its
 * group length; CHECK CONDITION 05/24/00, then REQUEST SENSE returns it. */
static void test_cb_length_shorter_than_cdb(void **state)
{
	struct bot_env *e = env_new();
	uint8_t cbw[31];
	static const uint8_t rs[6] = { 0x03, 0, 0, 0, 18, 0 };

	(void)state;
	mk_cbw(cbw, 2, 4096, true, read10_8, 6);
	assert_int_equal(run(e, cbw, 31), 0);
	assert_int_equal(last_csw(&e->io)[12], BOT_CSW_FAILED);
	assert_int_equal(csw_residue(last_csw(&e->io)), 4096); /* case 4 */
	assert_true(e->io.stall_in);
	e->io.in_len = 0;
	mk_cbw(cbw, 3, 18, true, rs, 6);
	assert_int_equal(run(e, cbw, 31), 0);
	assert_int_equal(e->io.in_len, 18 + 13);
	assert_int_equal(e->io.in[2], BS_ILLEGAL_REQUEST);
	assert_int_equal(e->io.in[12], 0x24);
	assert_int_equal(e->io.in[13], 0x00);
	free(e);
}

/* INQUIRY with a 36-byte allocation in a 64-byte data-in: case 5, residue 28. */
static void test_case5_residue(void **state)
{
	struct bot_env *e = env_new();
	uint8_t cbw[31];

	(void)state;
	mk_cbw(cbw, 4, 64, true, inquiry36, 6);
	assert_int_equal(run(e, cbw, 31), 0);
	assert_int_equal(e->io.in_len, 36 + 13);
	assert_int_equal(last_csw(&e->io)[12], BOT_CSW_PASSED);
	assert_int_equal(csw_residue(last_csw(&e->io)), 28);
	assert_true(e->io.stall_in);
	assert_memory_equal(e->io.in + 8, "scsipub ", 8);
	free(e);
}

/* TEST UNIT READY with a data-in the host expects: case 4, status of the command,
 * residue = dCBWDataTransferLength. */
static void test_case4_tur(void **state)
{
	struct bot_env *e = env_new();
	uint8_t cbw[31];

	(void)state;
	mk_cbw(cbw, 5, 16, true, tur, 6);
	assert_int_equal(run(e, cbw, 31), 0);
	assert_int_equal(last_csw(&e->io)[12], BOT_CSW_PASSED);
	assert_int_equal(csw_residue(last_csw(&e->io)), 16);
	assert_true(e->io.stall_in);
	free(e);
}

/* A good READ (10) and WRITE (10) move the data, CSW residue 0. */
static void test_read_write_roundtrip(void **state)
{
	struct bot_env *e = env_new();
	uint8_t cbw[31], data[2 * FAKE_BS];

	(void)state;
	mk_cbw(cbw, 6, 8 * FAKE_BS, true, read10_8, 10);
	assert_int_equal(run(e, cbw, 31), 0);
	assert_int_equal(e->io.in_len, 8 * FAKE_BS + 13);
	assert_memory_equal(e->io.in, e->f.disk + 4 * FAKE_BS, 8 * FAKE_BS);
	assert_int_equal(last_csw(&e->io)[12], BOT_CSW_PASSED);
	assert_int_equal(csw_residue(last_csw(&e->io)), 0);
	assert_false(e->io.stall_in);

	memset(data, 0xa5, sizeof(data));
	e->io.in_len = 0;
	e->io.out = data;
	e->io.out_len = sizeof(data);
	mk_cbw(cbw, 7, sizeof(data), false, write10_2, 10);
	assert_int_equal(run(e, cbw, 31), 0);
	assert_int_equal(e->io.in_len, 13);
	assert_int_equal(last_csw(&e->io)[12], BOT_CSW_PASSED);
	assert_memory_equal(e->f.disk + FAKE_BS, data, sizeof(data));
	free(e);
}

/* A buffer smaller than one block (e.g. --chunk-kb below a 4 KiB sector): the READ
 * fails with 05/24/00 at once, nothing moved, instead of moving nothing for ever;
 * INQUIRY bytes 5-7 are zero whatever the shared buffer last held. */
static void test_small_buffer_and_clean_inquiry(void **state)
{
	struct bot_env *e = env_new();
	static const uint8_t rs[6] = { 0x03, 0, 0, 0, 18, 0 };
	uint8_t cbw[31];

	(void)state;
	mk_cbw(cbw, 8, 8 * FAKE_BS, true, read10_8, 10);
	assert_int_equal(bot_command(&e->lu, cbw, 31, &e->bio, e->buf, FAKE_BS - 1), 0);
	assert_int_equal(e->io.in_len, 13);
	assert_int_equal(last_csw(&e->io)[12], BOT_CSW_FAILED);
	assert_int_equal(csw_residue(last_csw(&e->io)), 8 * FAKE_BS);
	e->io.in_len = 0;
	mk_cbw(cbw, 9, 18, true, rs, 6);
	assert_int_equal(run(e, cbw, 31), 0);
	assert_int_equal(e->io.in[2] & 0x0f, 0x05);
	assert_int_equal(e->io.in[12], 0x24);

	memset(e->buf, 0xff, sizeof(e->buf)); /* what a READ left there */
	e->io.in_len = 0;
	mk_cbw(cbw, 10, 36, true, inquiry36, 6);
	assert_int_equal(run(e, cbw, 31), 0);
	assert_int_equal(e->io.in[5], 0);
	assert_int_equal(e->io.in[6], 0);
	assert_int_equal(e->io.in[7], 0);
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_buffer_and_clean_inquiry),
		cmocka_unit_test(test_wrong_signature_stalls_both),
		cmocka_unit_test(test_wrong_cbw_size_is_invalid),
		cmocka_unit_test(test_not_meaningful_cbws),
		cmocka_unit_test(test_thirteen_cases),
		cmocka_unit_test(test_cbw_cdb_length_mismatch_read),
		cmocka_unit_test(test_cbw_cdb_length_mismatch_write),
		cmocka_unit_test(test_cb_length_shorter_than_cdb),
		cmocka_unit_test(test_case5_residue),
		cmocka_unit_test(test_case4_tur),
		cmocka_unit_test(test_read_write_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
