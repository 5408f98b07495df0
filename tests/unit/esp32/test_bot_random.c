/*
 * test_bot_random.c — the ESP32 bridge's USB side (esp32/core/bot.c over msc_scsi.c
 * and the bridge) under seeded random Bulk-Only Transport commands, against a model
 * of the disk behind it.
 *
 * Lab equipment is a USB host we do not control: the CBWs are random (mostly valid
 * ones, now and then a wrong size, signature, reserved bit, LUN or CB length), their
 * dCBWDataTransferLength and direction agree with the CDB or not, and the CDBs are
 * the commands the bridge serves (READ/WRITE (10)/(16) over the fake disk's edges,
 * INQUIRY, MODE SENSE, READ CAPACITY, REQUEST SENSE, SYNCHRONIZE CACHE...) or
 * random bytes. Checked per command (USB MSC BOT 1.0):
 *  - a CBW that is not valid and meaningful (§6.2) moves nothing, sends no CSW and
 *    stalls both bulk endpoints;
 *  - otherwise exactly one CSW (§5.2) ends what the device sent: signature "USBS",
 *    the CBW's tag, a status 00h/01h/02h and dCSWDataResidue = the host's length
 *    minus the bytes moved; data moves only in the CBW's direction and never past its
 *    length; a phase error (02h) moves none; a data phase shorter than the host
 *    expected ends with a stall of its endpoint (§6.7);
 *  - a READ that passes returns the model's blocks, a WRITE that passes changes the
 *    model by exactly its blocks, and the fake disk always equals the model — also
 *    with the bridge's read-ahead on, so its cache never serves data older than a
 *    write.
 * Seed: SCSIPUB_TEST_SEED or a fixed one; a failure prints it with the command.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot_env.h"

#define DEFAULT_SEED 0xb07ull
#define COMMANDS 20000
#define DISK (FAKE_NB * FAKE_BS)

struct rig {
	struct bot_env e;
	uint8_t ra[8 * FAKE_BS];
	uint8_t model[DISK];
	uint8_t out[16384];   /* what the host sends in a data-out phase */
	uint64_t seed;
	unsigned index;
	uint64_t near;        /* the last command's LBA */
};

static void rig_init(struct rig *g, uint32_t ra_blocks)
{
	memset(g, 0, sizeof(*g));
	bot_env_init(&g->e, ra_blocks ? g->ra : NULL, ra_blocks ? sizeof(g->ra) : 0,
		     ra_blocks);
	memcpy(g->model, g->e.f.disk, DISK);
	g->seed = test_seed_from_env(DEFAULT_SEED);
	test_rng_seed(g->seed + ra_blocks);
}

#define failf(g, ...) test_seed_fail((g)->seed, "command", (g)->index, __VA_ARGS__)

/* ---- one random command ------------------------------------------------------------ */

struct cmd {
	uint8_t cbw[32];
	size_t cbw_len;
	uint8_t cdb[16];
	uint8_t cdb_len;
	uint32_t data_len;
	int in;
	int valid;         /* the CBW is valid and meaningful (§6.2), by this test's reading */
	uint64_t lba;      /* READ/WRITE only */
	uint32_t blocks;
};

static int is_read(uint8_t op) { return op == 0x28 || op == 0x88; }
static int is_write(uint8_t op) { return op == 0x2a || op == 0x8a; }

/* LBA and TRANSFER LENGTH of a READ/WRITE (10) or (16) CDB (SBC-3). */
static void cdb_range(const uint8_t *cdb, uint64_t *lba, uint32_t *blocks)
{
	*lba = 0;
	if (cdb[0] == 0x28 || cdb[0] == 0x2a) {
		for (int i = 0; i < 4; i++)
			*lba = *lba << 8 | cdb[2 + i];
		*blocks = (uint32_t)(cdb[7] << 8 | cdb[8]);
	} else if (cdb[0] == 0x88 || cdb[0] == 0x8a) {
		for (int i = 0; i < 8; i++)
			*lba = *lba << 8 | cdb[2 + i];
		*blocks = (uint32_t)cdb[10] << 24 | (uint32_t)cdb[11] << 16 |
			  (uint32_t)cdb[12] << 8 | cdb[13];
	} else {
		*blocks = 0;
	}
}

static void gen(struct rig *g, struct cmd *c)
{
	static const uint8_t rw[] = { 0x28, 0x2a, 0x88, 0x8a, 0x28, 0x2a };
	static const uint8_t ops[] = { 0x00, 0x03, 0x12, 0x1a, 0x5a, 0x1b, 0x1e, 0x23, 0x25,
				       0x9e, 0x35, 0x91 };
	/* Two thirds READ and WRITE, the data path; the rest the other commands served,
	 * or any opcode. */
	uint8_t op = test_chance(67) ? rw[test_below(sizeof(rw))]
		     : test_chance(80) ? ops[test_below(sizeof(ops))] : (uint8_t)test_rnd();
	uint32_t len, tag;
	uint8_t cb_len;

	memset(c, 0, sizeof(*c));
	c->cdb[0] = op;
	c->cdb_len = op < 0x20 ? 6 : op >= 0x80 && op < 0xa0 ? 16 : op >= 0xa0 ? 12 : 10;
	/* Near the last command's blocks half the time: reads into the read-ahead
	 * window just after a write beside or over it. */
	if (test_chance(50)) {
		int64_t l = (int64_t)g->near + (int64_t)test_below(25) - 12;

		c->lba = l < 0 ? 0 : (uint64_t)l;
	} else {
		c->lba = test_chance(90) ? test_below(FAKE_NB) : FAKE_NB + test_below(3);
	}
	c->blocks = test_chance(10) ? 0 : 1 + (uint32_t)test_below(test_chance(50) ? 7 : 12);
	g->near = c->lba;
	if (test_chance(10)) {
		for (int i = 1; i < 16; i++)
			c->cdb[i] = (uint8_t)test_rnd();
	} else if (op == 0x28 || op == 0x2a) {
		for (int i = 0; i < 4; i++)
			c->cdb[2 + i] = (uint8_t)(c->lba >> (24 - 8 * i));
		c->cdb[7] = (uint8_t)(c->blocks >> 8);
		c->cdb[8] = (uint8_t)c->blocks;
	} else if (op == 0x88 || op == 0x8a) {
		for (int i = 0; i < 8; i++)
			c->cdb[2 + i] = (uint8_t)(c->lba >> (56 - 8 * i));
		c->cdb[13] = (uint8_t)c->blocks;
	} else if (op == 0x12 || op == 0x1a || op == 0x03) {
		c->cdb[4] = (uint8_t)test_below(256); /* allocation length */
	}
	cdb_range(c->cdb, &c->lba, &c->blocks);

	/* The host's expectation: mostly what the command moves, sometimes not. */
	len = (is_read(op) || is_write(op)) && c->blocks <= 32 ? c->blocks * FAKE_BS
							       : (uint32_t)test_below(256);
	switch (test_below(10)) {
	case 0: len = 0; break;
	case 1: len = (uint32_t)test_below(len + 1); break;
	case 2: len += 1 + (uint32_t)test_below(2 * FAKE_BS); break;
	default: break;
	}
	if (len > sizeof(g->out))
		len = sizeof(g->out);
	c->data_len = len;
	c->in = is_write(op) ? test_chance(10) : !test_chance(10);
	c->valid = 1;
	c->cbw_len = 31;
	cb_len = test_chance(95) ? c->cdb_len : (uint8_t)(1 + test_below(16));
	tag = (uint32_t)test_rnd(); /* after cb_len: a defined order */
	mk_cbw(c->cbw, tag, len, c->in, c->cdb, cb_len);
	switch (test_below(40)) { /* now and then a CBW the device must not act on */
	case 0: c->cbw_len = test_chance(50) ? 30 : 32; c->valid = 0; break;
	case 1: c->cbw[1] = 'T'; c->valid = 0; break;
	case 2: c->cbw[12] |= (uint8_t)(1 + test_below(0x7f)); c->valid = 0; break;
	case 3: c->cbw[13] = (uint8_t)(1 + test_below(255)); c->valid = 0; break;
	case 4:
		c->cbw[14] = test_chance(50) ? 0 : (uint8_t)(17 + test_below(239));
		c->valid = 0;
		break;
	default: break;
	}
	for (uint32_t i = 0; i < len; i++)
		g->out[i] = (uint8_t)test_rnd();
}

/* ---- checks ------------------------------------------------------------------------ */

static uint32_t le32_at(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Run c and check it; returns the CSW status, or -1 when there was none. */
static int run_and_check(struct rig *g, const struct cmd *c)
{
	uint32_t sent, moved, residue;
	const uint8_t *csw;
	int r;

	g->e.io.in_len = 0;
	g->e.io.out = g->out;
	g->e.io.out_len = c->in ? 0 : c->data_len;
	g->e.io.out_pos = 0;
	g->e.io.stall_in = g->e.io.stall_out = false;
	r = bot_command(&g->e.lu, c->cbw, c->cbw_len, &g->e.bio, g->e.buf, sizeof(g->e.buf));
	if (!c->valid) {
		if (r != 1 || g->e.io.in_len || g->e.io.out_pos || !g->e.io.stall_in ||
		    !g->e.io.stall_out)
			failf(g, "a CBW not valid or meaningful was acted on (%d)", r);
		return -1;
	}
	if (r != 0)
		failf(g, "bot_command returned %d for a valid CBW", r);
	if (g->e.io.in_len < BOT_CSW_LEN)
		failf(g, "no CSW");
	csw = last_csw(&g->e.io);
	sent = g->e.io.in_len - BOT_CSW_LEN;
	moved = sent + g->e.io.out_pos;
	residue = csw_residue(csw);
	if (le32_at(csw) != BOT_CSW_SIGNATURE || le32_at(csw + 4) != le32_at(c->cbw + 4) ||
	    csw[12] > BOT_CSW_PHASE_ERROR)
		failf(g, "a CSW with another signature, tag or status %u", csw[12]);
	if ((sent && !c->in) || (g->e.io.out_pos && c->in) || moved > c->data_len)
		failf(g, "%u bytes in and %u out against a CBW of %u bytes %s", sent,
		      g->e.io.out_pos, c->data_len, c->in ? "in" : "out");
	if (residue != c->data_len - moved)
		failf(g, "residue %u for %u of %u bytes moved", residue, moved, c->data_len);
	if (csw[12] == BOT_CSW_PHASE_ERROR && moved)
		failf(g, "a phase error after %u bytes", moved);
	if (c->data_len && moved < c->data_len && csw[12] != BOT_CSW_PHASE_ERROR &&
	    !(c->in ? g->e.io.stall_in : g->e.io.stall_out))
		failf(g, "a short data phase (%u of %u) without a stall", moved, c->data_len);
	return csw[12];
}

/* The model after a command that passed (status 00h). */
static void model_apply(struct rig *g, const struct cmd *c, uint32_t moved)
{
	size_t off = (size_t)c->lba * FAKE_BS, n = (size_t)c->blocks * FAKE_BS;
	uint8_t op = c->cdb[0];

	if (!(is_read(op) || is_write(op)))
		return;
	if (c->lba > FAKE_NB || c->blocks > FAKE_NB - c->lba) {
		if (c->blocks)
			failf(g, "a READ/WRITE past the disk passed");
		return;
	}
	if (moved != n)
		failf(g, "a READ/WRITE of %zu bytes passed after moving %u", n, moved);
	if (is_read(op) && memcmp(g->e.io.in, g->model + off, n))
		failf(g, "READ returned other data than the model's");
	if (is_write(op))
		memcpy(g->model + off, g->out, n);
}

static void run(uint32_t ra_blocks)
{
	struct rig *g = malloc(sizeof(*g));
	unsigned passed = 0, failed = 0, phase = 0, invalid = 0, reads = 0, writes = 0;

	assert_non_null(g);
	rig_init(g, ra_blocks);
	for (g->index = 0; g->index < COMMANDS; g->index++) {
		struct cmd c;
		int st;

		gen(g, &c);
		st = run_and_check(g, &c);
		if (st == BOT_CSW_PASSED) {
			uint32_t moved = g->e.io.in_len - BOT_CSW_LEN + g->e.io.out_pos;

			model_apply(g, &c, moved);
			reads += is_read(c.cdb[0]);
			writes += is_write(c.cdb[0]);
		}
		passed += st == BOT_CSW_PASSED;
		failed += st == BOT_CSW_FAILED;
		phase += st == BOT_CSW_PHASE_ERROR;
		invalid += st < 0;
		if (memcmp(g->e.f.disk, g->model, DISK))
			failf(g, "the disk differs from the model");
	}
	print_message("seed 0x%llx, read-ahead %u blocks: %u commands: %u passed (%u READ, %u "
		      "WRITE), %u failed, %u phase errors, %u CBWs refused\n",
		      (unsigned long long)g->seed, ra_blocks, COMMANDS, passed, reads, writes,
		      failed, phase, invalid);
	assert_true(reads > COMMANDS / 50 && writes > COMMANDS / 50);
	assert_true(failed > 0 && phase > 0 && invalid > 0);
	free(g);
}

static void test_no_readahead(void **state)
{
	(void)state;
	run(0);
}

static void test_readahead(void **state)
{
	(void)state;
	run(8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_readahead),
		cmocka_unit_test(test_readahead),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
