/*
 * test_scsi.c — the SCSI transparent command set of the bridge core
 * (esp32/core/msc_scsi.c): unknown opcodes -> ILLEGAL REQUEST 05/20/00 (SPC-4), LBAs
 * past the end -> 05/21/00 (SBC-3 §5.11, §5.28), the target's sense passed through
 * unchanged to REQUEST SENSE and the CSW, READ CAPACITY (10)/(16), INQUIRY,
 * MODE SENSE, write-through WRITE with FUA forwarded, SYNCHRONIZE CACHE forwarded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "bot.h"
#include "fake_bot_io.h"
#include "fake_transport.h"
#include "msc_scsi.h"

extern int bplat_log_level;

struct env {
	struct fake f;
	struct bridge b;
	struct scsi_lu lu;
	uint8_t small[SCSI_SMALL_MAX];
};

static struct env *env_new(void)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	bplat_log_level = 0;
	fake_setup(&e->f, &e->b, NULL, 0, 0);
	scsi_lu_init(&e->lu, &e->b);
	assert_int_equal(bridge_poll(&e->b, 0), BRIDGE_UP);
	return e;
}

/* Run a CDB through scsi_begin; returns its rc, fills r and s. */
static int begin(struct env *e, const uint8_t *cdb, uint8_t len, struct scsi_req *r,
		 struct bsense *s)
{
	return scsi_begin(&e->lu, cdb, len, r, e->small, s);
}

static void assert_sense(const struct bsense *s, uint8_t key, uint8_t asc, uint8_t ascq)
{
	assert_int_equal(s->key, key);
	assert_int_equal(s->asc, asc);
	assert_int_equal(s->ascq, ascq);
}

/* REQUEST SENSE: returns the fixed-format sense bytes. */
static void request_sense(struct env *e, uint8_t out[18])
{
	static const uint8_t rs[6] = { 0x03, 0, 0, 0, 18, 0 };
	struct scsi_req r;
	struct bsense s;

	assert_int_equal(begin(e, rs, 6, &r, &s), 0);
	assert_int_equal(r.len, 18);
	memcpy(out, e->small, 18);
}

static void test_unknown_opcodes(void **state)
{
	/* FORMAT UNIT, WRITE SAME (10), UNMAP, group 3 (reserved), vendor group 6,
	 * VERIFY (16), REPORT LUNS in a 12-byte CDB (handled by no USB stick) */
	static const uint8_t ops[] = { 0x04, 0x41, 0x42, 0x7e, 0xc0, 0x8f, 0xa0 };
	struct env *e = env_new();

	(void)state;
	for (size_t i = 0; i < sizeof(ops); i++) {
		uint8_t cdb[16] = { ops[i] }, sb[18];
		struct scsi_req r;
		struct bsense s;

		assert_int_equal(begin(e, cdb, 16, &r, &s), -1);
		assert_sense(&s, BS_ILLEGAL_REQUEST, 0x20, 0x00);
		assert_int_equal(r.dir, SCSI_DIR_NONE);
		request_sense(e, sb);
		assert_int_equal(sb[0], 0x70);
		assert_int_equal(sb[2], BS_ILLEGAL_REQUEST);
		assert_int_equal(sb[12], 0x20);
		/* REQUEST SENSE consumed it */
		request_sense(e, sb);
		assert_int_equal(sb[2], BS_NO_SENSE);
	}
	free(e);
}

static void test_lba_past_end(void **state)
{
	struct env *e = env_new();
	struct scsi_req r;
	struct bsense s;
	/* last block exactly: fine */
	uint8_t ok10[10] = { 0x28, 0, 0, 0, 0, FAKE_NB - 1, 0, 0, 1, 0 };
	/* last block + 1 more */
	uint8_t over10[10] = { 0x28, 0, 0, 0, 0, FAKE_NB - 1, 0, 0, 2, 0 };
	/* first LBA past the end, zero length */
	uint8_t at_end_w10[10] = { 0x2a, 0, 0, 0, 0, FAKE_NB + 1, 0, 0, 0, 0 };
	/* READ (16) whose LBA + count wraps 64 bits */
	uint8_t wrap16[16] = { 0x88, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			       0, 0, 0, 2, 0, 0 };
	uint8_t w16[16] = { 0x8a, 0, 0, 0, 0, 0, 0, 0, 0, FAKE_NB, 0, 0, 0, 1, 0, 0 };

	(void)state;
	assert_int_equal(begin(e, ok10, 10, &r, &s), 0);
	assert_true(r.rw);
	assert_int_equal(r.len, FAKE_BS);
	assert_int_equal(begin(e, over10, 10, &r, &s), -1);
	assert_sense(&s, BS_ILLEGAL_REQUEST, 0x21, 0x00);
	assert_int_equal(begin(e, at_end_w10, 10, &r, &s), -1);
	assert_sense(&s, BS_ILLEGAL_REQUEST, 0x21, 0x00);
	assert_int_equal(begin(e, wrap16, 16, &r, &s), -1);
	assert_sense(&s, BS_ILLEGAL_REQUEST, 0x21, 0x00);
	assert_int_equal(begin(e, w16, 16, &r, &s), -1);
	assert_sense(&s, BS_ILLEGAL_REQUEST, 0x21, 0x00);
	/* the bridge itself refuses too (TinyUSB path) */
	assert_int_equal(bridge_read(&e->b, FAKE_NB, 1, e->small, &s), -1);
	assert_sense(&s, BS_ILLEGAL_REQUEST, 0x21, 0x00);
	assert_int_equal(e->f.reads + e->f.writes, 0);
	free(e);
}

/* The target's CHECK CONDITION reaches the USB host unchanged: CSW status 1, then
 * REQUEST SENSE returns the target's key/ASC/ASCQ and sense-key-specific bytes. */
static void test_sense_passthrough(void **state)
{
	struct env *e = env_new();
	struct fio *io = calloc(1, sizeof(*io));
	struct bot_io bio = { fio_send, fio_recv, fio_stall, io };
	static const uint8_t rd[10] = { 0x28, 0, 0, 0, 0, 2, 0, 0, 1, 0 };
	static const uint8_t rs[6] = { 0x03, 0, 0, 0, 18, 0 };
	uint8_t cbw[31], buf[4096];

	(void)state;
	assert_non_null(io);
	/* MEDIUM ERROR / UNRECOVERED READ ERROR, and DATA PROTECT / SPACE ALLOCATION
	 * FAILED WRITE PROTECT (what scsipub's disk budget answers) with a field pointer */
	bsense_set(&e->f.sense, BS_MEDIUM_ERROR, 0x11, 0x00);
	e->f.check_next = true;
	mk_cbw(cbw, 1, FAKE_BS, true, rd, 10);
	assert_int_equal(bot_command(&e->lu, cbw, 31, &bio, buf, sizeof(buf)), 0);
	assert_int_equal(last_csw(io)[12], BOT_CSW_FAILED);
	assert_int_equal(csw_residue(last_csw(io)), FAKE_BS);
	io->in_len = 0;
	mk_cbw(cbw, 2, 18, true, rs, 6);
	assert_int_equal(bot_command(&e->lu, cbw, 31, &bio, buf, sizeof(buf)), 0);
	assert_int_equal(io->in[2], BS_MEDIUM_ERROR);
	assert_int_equal(io->in[12], 0x11);
	assert_int_equal(io->in[13], 0x00);

	bsense_set(&e->f.sense, BS_DATA_PROTECT, 0x27, 0x07);
	e->f.sense.sks_valid = true;
	e->f.sense.sks[0] = 0x40;
	e->f.sense.sks[2] = 0x05;
	e->f.check_next = true;
	{
		struct bsense s;
		uint8_t sb[18];

		assert_int_equal(bridge_write(&e->b, 0, 1, buf, &s), -1);
		assert_sense(&s, BS_DATA_PROTECT, 0x27, 0x07);
		scsi_set_pending(&e->lu, &s);
		request_sense(e, sb);
		assert_int_equal(sb[2], BS_DATA_PROTECT);
		assert_int_equal(sb[12], 0x27);
		assert_int_equal(sb[13], 0x07);
		assert_int_equal(sb[15], 0xc0); /* SKSV + C/D */
		assert_int_equal(sb[17], 0x05);
	}
	free(io);
	free(e);
}

static void test_capacity_inquiry_mode_sense(void **state)
{
	struct env *e = env_new();
	struct scsi_req r;
	struct bsense s;
	static const uint8_t rc10[10] = { 0x25 };
	static const uint8_t rc16[16] = { 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32 };
	static const uint8_t sa_bad[16] = { 0x9e, 0x11 };
	static const uint8_t ms6[6] = { 0x1a, 0, 0x3f, 0, 192, 0 };
	static const uint8_t ms10_bad[10] = { 0x5a, 0, 0x1c, 0, 0, 0, 0, 0, 64, 0 };
	static const uint8_t vpd80[6] = { 0x12, 1, 0x80, 0, 64, 0 };

	(void)state;
	assert_int_equal(begin(e, rc10, 10, &r, &s), 0);
	assert_int_equal(r.len, 8);
	assert_int_equal(e->small[3], FAKE_NB - 1);
	assert_int_equal(e->small[6], FAKE_BS >> 8);
	assert_int_equal(begin(e, rc16, 16, &r, &s), 0);
	assert_int_equal(r.len, 32);
	assert_int_equal(e->small[7], FAKE_NB - 1);
	assert_int_equal(begin(e, sa_bad, 16, &r, &s), -1);
	assert_sense(&s, BS_ILLEGAL_REQUEST, 0x24, 0x00);
	assert_int_equal(begin(e, ms6, 6, &r, &s), 0);
	assert_int_equal(r.len, 24);
	assert_int_equal(e->small[0], 23);
	assert_int_equal(e->small[2] & 0x80, 0); /* not write protected */
	assert_int_equal(e->small[4], 0x08);     /* caching page */
	assert_int_equal(e->small[6] & 0x04, 0); /* WCE = 0: write-through */
	assert_int_equal(begin(e, ms10_bad, 10, &r, &s), -1);
	assert_sense(&s, BS_ILLEGAL_REQUEST, 0x24, 0x00);
	assert_int_equal(begin(e, vpd80, 6, &r, &s), -1);
	assert_sense(&s, BS_ILLEGAL_REQUEST, 0x24, 0x00);
	free(e);
}

/* WRITE (10) with FUA: the target has the data, with FUA, when scsi_rw returns;
 * SYNCHRONIZE CACHE (10) reaches the target; a WRITE without FUA is sent with FUA. */
static void test_write_through_fua_and_sync(void **state)
{
	struct env *e = env_new();
	struct scsi_req r;
	struct bsense s;
	static const uint8_t w10[10] = { 0x2a, 0x08, 0, 0, 0, 3, 0, 0, 1, 0 };
	static const uint8_t sc10[10] = { 0x35 };
	uint8_t data[FAKE_BS];

	(void)state;
	memset(data, 0x5c, sizeof(data));
	assert_int_equal(begin(e, w10, 10, &r, &s), 0);
	assert_true(r.fua);
	assert_int_equal(r.dir, SCSI_DIR_OUT);
	assert_int_equal(e->f.writes, 0);
	assert_int_equal(scsi_rw(&e->lu, &r, 0, data, FAKE_BS, &s), 0);
	assert_int_equal(e->f.writes, 1);
	assert_int_equal(e->f.fua_writes, 1);
	assert_memory_equal(e->f.disk + 3 * FAKE_BS, data, FAKE_BS);
	assert_int_equal(begin(e, sc10, 10, &r, &s), 0);
	assert_int_equal(e->f.flushes, 1);
	/* A WRITE without FUA goes to the target with FUA all the same: the host was told
	 * WCE = 0 and never flushes, and the target may cache. */
	static const uint8_t w10_nofua[10] = { 0x2a, 0x00, 0, 0, 0, 4, 0, 0, 1, 0 };
	assert_int_equal(begin(e, w10_nofua, 10, &r, &s), 0);
	assert_false(r.fua);
	assert_int_equal(scsi_rw(&e->lu, &r, 0, data, FAKE_BS, &s), 0);
	assert_int_equal(e->f.writes, 2);
	assert_int_equal(e->f.fua_writes, 2);
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_opcodes),
		cmocka_unit_test(test_lba_past_end),
		cmocka_unit_test(test_sense_passthrough),
		cmocka_unit_test(test_capacity_inquiry_mode_sense),
		cmocka_unit_test(test_write_through_fua_and_sync),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
