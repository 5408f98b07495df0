/*
 * test_scsi_random.c — the handler's SCSI emulation (scsi_execute) under a seeded
 * stream of random CDBs and random data, checked against a model of the medium.
 *
 * LIO hands a user backstore every CDB an initiator sends except REPORT LUNS and the
 * reservation commands (scsi.h), so scsi_execute parses what anyone on the internet
 * writes into a SCSI Command PDU. The stream mixes the opcodes of the dispatch table
 * (scsi_ops) with arbitrary ones; CDB fields are random within the bits each command
 * evaluates (its CDB USAGE DATA), with LBAs and lengths drawn near the edges (0, the
 * last block, the capacity, the maximum transfer length, beyond); data-out is right,
 * short, long or empty, split over one to four iovecs, each its own allocation so
 * AddressSanitizer sees any access past it. The CDB is exactly as long as the kernel
 * copies for its operation code group (K:scsi_command_size), also a separate
 * allocation.
 *
 * Checked for every command:
 *  - the status is GOOD or CHECK CONDITION; CHECK CONDITION carries current,
 *    fixed-format sense (SPC-4 §4.5.3, response code 70h, additional length 10);
 *  - its sense key and ASC are one that the CDB, the parameter list or the range can
 *    cause: ILLEGAL REQUEST with INVALID COMMAND OPERATION CODE 20/00, LBA OUT OF
 *    RANGE 21/00, INVALID FIELD IN CDB 24/00, INVALID FIELD IN PARAMETER LIST 26/00,
 *    PARAMETER LIST LENGTH ERROR 1A/00, SAVING PARAMETERS NOT SUPPORTED 39/00 or
 *    INVALID FIELD IN COMMAND INFORMATION UNIT 0E/03; MISCOMPARE 1D/00; DATA
 *    PROTECT / WRITE PROTECTED 27/00 only on a write-protected LU or one with a
 *    write limit. Never MEDIUM ERROR or HARDWARE ERROR: those would mean that input
 *    reached the store out of bounds or made the handler allocate past its bounds;
 *  - a READ, WRITE or WRITE AND VERIFY whose range passes the capacity is not GOOD,
 *    and one with only valid fields, a range within the capacity and the maximum
 *    transfer length and its whole data-out is GOOD (on an LU without write
 *    protection or write limit);
 *  - data_in_len is within the Data-In buffer, and a GOOD READ returns exactly the
 *    model's bytes, min(transfer length, buffer) of them;
 *  - the model changes only on GOOD, as SBC-3 says: WRITE / WRITE AND VERIFY store
 *    their data, WRITE SAME (§5.45, §5.46) its one block (or, with UNMAP and a zero
 *    block, the base image again), UNMAP (§5.28) the base image over each
 *    descriptor, COMPARE AND WRITE (§5.3) its write half; a command that fails
 *    changes nothing.
 * At the end: SYNCHRONIZE CACHE, the store closed and opened again, and every block
 * of the medium equals the model.
 *
 * Four logical units: write cache on (WCE = 1), write-through (WCE = 0, fewer
 * commands: each write syncs), write-protected, and a write limit of 512 KiB of
 * overlay allocation. The seed is SCSIPUB_TEST_SEED (decimal or 0x-hex) or a fixed
 * one, printed; a failure prints the seed, the command's index, its CDB and the
 * buffer's length, so the stream can be replayed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_rng.h"
#include "test_tmpdir.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scsi_priv.h"

#define BS 512u
#define DEV_BLOCKS 16384u                        /* 8 MiB */
#define DEV_BYTES ((size_t)DEV_BLOCKS * BS)
#define BASE_BLOCKS 128u                         /* the base image: the first 64 KiB */
#define MAX_XFER 2048u                           /* MAXIMUM TRANSFER LENGTH, blocks */
#define DEFAULT_SEED 0x5c5109ull
#define CDB_MAX 264                              /* 0x7f: 8 + 255 additional bytes */

/* ---- random data ---------------------------------------------------------------- */

static void rnd_fill(uint8_t *p, size_t n)
{
	while (n) {
		uint64_t v = test_rnd();
		size_t k = n < 8 ? n : 8;

		memcpy(p, &v, k);
		p += k;
		n -= k;
	}
}

/* ---- the logical unit and its model --------------------------------------------- */

struct fx {
	char dir[64];
	struct cow_config cfg;
	struct scsi_lu lu;
	uint8_t *base;   /* the medium as the base image shows it: base, then zeros */
	uint8_t *model;  /* what the medium must hold now */
	uint64_t seed;
	unsigned index;  /* the command being checked */
	char err[256];
};

static void store_open(struct fx *fx)
{
	fx->lu.cow = cow_open(&fx->cfg, fx->dir, fx->err, sizeof(fx->err));
	if (!fx->lu.cow)
		print_error("cow_open: %s\n", fx->err);
	assert_non_null(fx->lu.cow);
}

static struct fx *fx_new(int write_cache, int write_protect, uint64_t limit_bytes)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	int fd;

	assert_non_null(fx);
	assert_non_null(test_mkdtemp(fx->dir, sizeof(fx->dir), "test_scsi_random"));
	fx->base = calloc(1, DEV_BYTES);
	fx->model = malloc(DEV_BYTES);
	assert_non_null(fx->base);
	assert_non_null(fx->model);
	for (size_t i = 0; i < (size_t)BASE_BLOCKS * BS; i++)
		fx->base[i] = (uint8_t)(i * 13 + 5) | 1;
	memcpy(fx->model, fx->base, DEV_BYTES);

	fx->cfg.size_bytes = DEV_BYTES;
	fx->cfg.limit_bytes = limit_bytes;
	snprintf(fx->cfg.overlay, sizeof(fx->cfg.overlay), "%s/overlay", fx->dir);
	snprintf(fx->cfg.bitmap, sizeof(fx->cfg.bitmap), "%s/bitmap", fx->dir);
	snprintf(fx->cfg.base, sizeof(fx->cfg.base), "%s/base.img", fx->dir);
	fd = open(fx->cfg.base, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, fx->base, (size_t)BASE_BLOCKS * BS),
			 (ssize_t)(BASE_BLOCKS * BS));
	close(fd);
	store_open(fx);
	strcpy(fx->lu.serial, "sp-0123456789abcdef");
	fx->lu.max_xfer_blocks = MAX_XFER;
	fx->lu.write_cache = write_cache;
	fx->lu.write_protect = write_protect;
	fx->seed = test_seed_from_env(DEFAULT_SEED);
	test_rng_seed(fx->seed);
	return fx;
}

static void fx_free(struct fx *fx)
{
	cow_close(fx->lu.cow);
	assert_int_equal(test_rmdir_flat(fx->dir), 0);
	free(fx->base);
	free(fx->model);
	free(fx);
}

/* ---- one random command ----------------------------------------------------------- */

struct gen {
	uint8_t *cdb;       /* cdb_len bytes, its own allocation */
	size_t cdb_len;
	uint8_t *data;      /* the data buffer's contents, flat (len bytes) */
	size_t len;
	struct iovec iov[4];
	int iov_cnt;
	int valid_fields; /* only bits the command evaluates were set (CDB USAGE DATA) */
};

/* Bytes of CDB the kernel hands over for opcode op (K:scsi_command_size). */
static size_t cdb_size(uint8_t op, uint8_t additional)
{
	static const uint8_t by_group[8] = { 6, 10, 10, 12, 16, 12, 10, 10 };

	return op == 0x7f ? 8u + additional : by_group[op >> 5];
}

/* The ops whose LBA and length sit where cdb_lba_len's SBC-3 layouts put them. */
static int lba_layout(uint8_t op)
{
	switch (op) {
	case OP_READ_6: case OP_WRITE_6:
	case OP_READ_10: case OP_WRITE_10: case OP_WRITE_VERIFY_10: case OP_VERIFY_10:
	case OP_PRE_FETCH_10: case OP_SYNC_CACHE_10: case OP_WRITE_SAME_10:
	case OP_READ_12: case OP_WRITE_12: case OP_WRITE_VERIFY_12: case OP_VERIFY_12:
	case OP_READ_16: case OP_WRITE_16: case OP_WRITE_VERIFY_16: case OP_VERIFY_16:
	case OP_PRE_FETCH_16: case OP_SYNC_CACHE_16: case OP_WRITE_SAME_16:
		return 1;
	default:
		return 0;
	}
}

static int is_read(uint8_t op)
{
	return op == OP_READ_6 || op == OP_READ_10 || op == OP_READ_12 || op == OP_READ_16;
}

static int is_write(uint8_t op)
{
	return op == OP_WRITE_6 || op == OP_WRITE_10 || op == OP_WRITE_12 ||
	       op == OP_WRITE_16 || op == OP_WRITE_VERIFY_10 || op == OP_WRITE_VERIFY_12 ||
	       op == OP_WRITE_VERIFY_16;
}

/* LBA and length fields as scsi_sbc.c reads them (SPC-4 §4.2.5 CDB formats). */
static void get_lba_len(const uint8_t *c, uint64_t *lba, uint32_t *n)
{
	switch (c[0] >> 5) {
	case 0:
		*lba = get_be24(c + 1) & 0x1fffff;
		*n = c[4];
		break;
	case 1:
	case 2:
		*lba = get_be32(c + 2);
		*n = get_be16(c + 7);
		break;
	case 5:
		*lba = get_be32(c + 2);
		*n = get_be32(c + 6);
		break;
	default:
		*lba = get_be64(c + 2);
		*n = get_be32(c + 10);
		break;
	}
}

static void put_lba_len(uint8_t *c, uint64_t lba, uint32_t n)
{
	switch (c[0] >> 5) {
	case 0:
		c[1] = (uint8_t)((c[1] & 0xe0) | ((lba >> 16) & 0x1f));
		c[2] = (uint8_t)(lba >> 8);
		c[3] = (uint8_t)lba;
		c[4] = (uint8_t)n;
		break;
	case 1:
	case 2:
		put_be32(c + 2, (uint32_t)lba);
		put_be16(c + 7, (uint16_t)n);
		break;
	case 5:
		put_be32(c + 2, (uint32_t)lba);
		put_be32(c + 6, n);
		break;
	default:
		put_be64(c + 2, lba);
		put_be32(c + 10, n);
		break;
	}
}

/* Whether blocks [lba, lba + n) lie on the medium (SBC-3 §4.5), said here, not by
 * the code under test. */
static int in_range(uint64_t lba, uint64_t n)
{
	return lba <= DEV_BLOCKS && n <= DEV_BLOCKS - lba;
}

/* An LBA near the edges: mostly inside the medium, sometimes at or past its end. */
static uint64_t pick_lba(void)
{
	switch (test_below(10)) {
	case 0: return 0;
	case 1: return test_below(BASE_BLOCKS + 8);             /* around the base's end */
	case 2: return DEV_BLOCKS - 1 - test_below(16);
	case 3: return DEV_BLOCKS + test_below(3) - 1;            /* last, capacity, past */
	case 4: /* the ends of the 64-bit and the 32-bit LBA fields */
		return test_chance(50) ? UINT64_MAX - test_below(4) : 0xffffffffull - test_below(4);
	default: return test_below(DEV_BLOCKS);
	}
}

/* A transfer length in blocks: mostly small, sometimes at or past the limits. */
static uint32_t pick_len(void)
{
	switch (test_below(12)) {
	case 0: return 0;
	case 1: return MAX_XFER + (uint32_t)test_below(3) - 1;
	case 2: return test_chance(50) ? 0xffff : 0xffffffffu;
	case 3: case 4: return 1 + (uint32_t)test_below(256);
	default: return 1 + (uint32_t)test_below(16);
	}
}

/* Fill d (len bytes) for the command in c: valid-looking data mostly, random else. */
static void fill_data(const struct fx *fx, const uint8_t *c, uint8_t *d, size_t len)
{
	uint64_t lba;
	uint32_t n;
	size_t half, off;

	rnd_fill(d, len);
	switch (c[0]) {
	case OP_COMPARE_AND_WRITE: /* verify half from the medium, so it may match */
		lba = get_be64(c + 2);
		half = (size_t)c[13] * BS;
		if (test_chance(60) && lba < DEV_BLOCKS && half <= DEV_BYTES - lba * BS) {
			off = (size_t)lba * BS;
			memcpy(d, fx->model + off, half < len ? half : len);
			if (test_chance(20) && half && half <= len) { /* a miscompare */
				uint8_t flip = (uint8_t)(1 + test_below(255));

				d[test_below(half)] ^= flip;
			}
		}
		break;
	case OP_VERIFY_10: case OP_VERIFY_12: case OP_VERIFY_16:
		get_lba_len(c, &lba, &n);
		if (test_chance(60) && lba < DEV_BLOCKS) {
			off = (size_t)lba * BS;
			memcpy(d, fx->model + off, len < DEV_BYTES - off ? len : DEV_BYTES - off);
		}
		break;
	case OP_WRITE_SAME_10: case OP_WRITE_SAME_16:
		if (test_chance(40))
			memset(d, 0, len);
		break;
	case OP_UNMAP: /* a header that agrees with the list, mostly */
		if (len >= 8 && test_chance(80)) {
			size_t count = (len - 8) / 16;

			put_be16(d, (uint16_t)(len - 2));
			put_be16(d + 2, (uint16_t)(count * 16));
			memset(d + 4, 0, 4);
			for (size_t i = 0; i < count; i++) {
				uint8_t *p = d + 8 + i * 16;

				put_be64(p, pick_lba());
				put_be32(p + 8, test_chance(80) ? (uint32_t)test_below(64)
								: pick_len());
				memset(p + 12, 0, 4);
			}
		}
		break;
	default:
		break;
	}
}

/* The data buffer's length for the command in c. */
static size_t pick_data_len(const uint8_t *c)
{
	uint64_t lba;
	uint32_t n;
	size_t want = 0;

	if (lba_layout(c[0])) {
		get_lba_len(c, &lba, &n);
		if ((c[0] == OP_READ_6 || c[0] == OP_WRITE_6) && !n)
			n = 256;
		want = n <= MAX_XFER + 1 ? (size_t)n * BS : (size_t)(MAX_XFER + 1) * BS;
		if (c[0] == OP_WRITE_SAME_10 || c[0] == OP_WRITE_SAME_16)
			want = BS;
		if (c[0] == OP_SYNC_CACHE_10 || c[0] == OP_SYNC_CACHE_16 ||
		    c[0] == OP_PRE_FETCH_10 || c[0] == OP_PRE_FETCH_16)
			want = 0;
	} else if (c[0] == OP_COMPARE_AND_WRITE) {
		want = 2 * (size_t)c[13] * BS;
	} else if (c[0] == OP_UNMAP) {
		want = get_be16(c + 7);
	} else {
		want = test_below(600);
	}
	switch (test_below(10)) {
	case 0: return 0;
	case 1: return want ? test_below(want) : test_below(64);                 /* short */
	case 2: return want + 1 + test_below(BS);                            /* long */
	default: return want;
	}
}

static void gen_free(struct gen *g)
{
	for (int i = 0; i < g->iov_cnt; i++)
		free(g->iov[i].iov_base);
	free(g->cdb);
	free(g->data);
	memset(g, 0, sizeof(*g));
}

static void gen_cmd(const struct fx *fx, struct gen *g)
{
	uint8_t c[CDB_MAX] = { 0 };
	const struct scsi_op *op = NULL;
	size_t cut[5];

	static const uint8_t rw[] = { OP_READ_6, OP_READ_10, OP_READ_12, OP_READ_16,
				      OP_WRITE_6, OP_WRITE_10, OP_WRITE_12, OP_WRITE_16 };

	memset(g, 0, sizeof(*g));
	/* Half READ and WRITE (the model's reads), most of the rest the table's. */
	if (test_chance(50)) {
		op = scsi_op_find(rw[test_below(sizeof(rw))], 0, NULL);
		c[0] = op->opcode;
	} else if (test_chance(70)) {
		op = &scsi_ops[test_below(scsi_ops_count)];
		c[0] = op->opcode;
	} else {
		c[0] = (uint8_t)test_rnd();
	}
	c[7] = (uint8_t)test_rnd(); /* 0x7f's ADDITIONAL CDB LENGTH, a field for the rest */
	g->cdb_len = cdb_size(c[0], c[7]);
	if (op && test_chance(85)) {
		g->valid_fields = 1;
		/* The bits the command evaluates, random; the rest zero. */
		for (size_t i = 1; i < g->cdb_len && i < op->cdb_len; i++)
			c[i] = test_chance(30) ? (uint8_t)(test_rnd() & op->usage[i]) : 0;
		if (op->has_sa)
			c[1] = (uint8_t)((c[1] & 0xe0) | op->sa);
		if (lba_layout(c[0])) {
			uint32_t n = pick_len(); /* length, then LBA: a defined order */
			uint64_t lba = pick_lba();

			put_lba_len(c, lba, n);
		} else if (c[0] == OP_COMPARE_AND_WRITE) {
			put_be64(c + 2, pick_lba());
			c[13] = test_chance(80) ? (uint8_t)test_below(8) : (uint8_t)test_rnd();
		} else if (c[0] == OP_UNMAP) {
			put_be16(c + 7, (uint16_t)(test_chance(80) ? 8 + 16 * test_below(6)
							      : test_below(300 * 16)));
		}
	} else {
		rnd_fill(c + 1, g->cdb_len - 1);
		if (c[0] == 0x7f)
			g->cdb_len = cdb_size(c[0], c[7]);
	}
	g->cdb = malloc(g->cdb_len);
	assert_non_null(g->cdb);
	memcpy(g->cdb, c, g->cdb_len);

	g->len = pick_data_len(g->cdb);
	g->data = malloc(g->len ? g->len : 1);
	assert_non_null(g->data);
	fill_data(fx, g->cdb, g->data, g->len);
	if (!g->len)
		return;
	/* One to four iovecs, each its own allocation of exactly its length. */
	g->iov_cnt = 1 + (int)test_below(4);
	cut[0] = 0;
	cut[g->iov_cnt] = g->len;
	for (int i = 1; i < g->iov_cnt; i++)
		cut[i] = test_below(g->len + 1);
	for (int i = 1; i < g->iov_cnt; i++) /* sort the inner cuts */
		for (int j = i + 1; j < g->iov_cnt; j++)
			if (cut[j] < cut[i]) {
				size_t t = cut[i];

				cut[i] = cut[j];
				cut[j] = t;
			}
	for (int i = 0; i < g->iov_cnt; i++) {
		size_t n = cut[i + 1] - cut[i];

		g->iov[i].iov_base = malloc(n ? n : 1);
		assert_non_null(g->iov[i].iov_base);
		memcpy(g->iov[i].iov_base, g->data + cut[i], n);
		g->iov[i].iov_len = n;
	}
}

/* ---- checks ------------------------------------------------------------------------ */

static void report(const struct fx *fx, const struct gen *g, const char *what)
{
	char hex[3 * CDB_MAX + 1] = "";

	for (size_t i = 0; i < g->cdb_len && i < 32; i++)
		snprintf(hex + 3 * i, 4, "%02x ", g->cdb[i]);
	print_error("seed 0x%llx, command %u: %s\n  CDB %s(%zu bytes), buffer %zu bytes "
		    "in %d iovecs\n", (unsigned long long)fx->seed, fx->index, what, hex,
		    g->cdb_len, g->len, g->iov_cnt);
}

static int sense_allowed(const struct fx *fx, uint8_t key, uint16_t asc)
{
	switch (key) {
	case SENSE_ILLEGAL_REQUEST:
		return asc == ASC_INVALID_OPCODE || asc == ASC_LBA_OUT_OF_RANGE ||
		       asc == ASC_INVALID_FIELD_IN_CDB || asc == ASC_INVALID_FIELD_IN_PARAM ||
		       asc == ASC_PARAM_LIST_LENGTH_ERROR || asc == ASC_SAVING_PARAMS_UNSUPPORTED ||
		       asc == ASC_INVALID_FIELD_IN_CMD_IU;
	case SENSE_MISCOMPARE:
		return asc == ASC_MISCOMPARE_DURING_VERIFY;
	case SENSE_DATA_PROTECT:
		return asc == ASC_WRITE_PROTECTED &&
		       (fx->lu.write_protect || fx->cfg.limit_bytes);
	default:
		return 0;
	}
}

/* The model after a GOOD command that changes the medium (SBC-3, see the top). 1 when
 * the command was one of those, else 0. */
static int model_apply(struct fx *fx, const struct gen *g)
{
	const uint8_t *c = g->cdb;
	uint64_t lba;
	uint32_t n;

	if (is_write(c[0])) {
		get_lba_len(c, &lba, &n);
		if (c[0] == OP_WRITE_6 && !n)
			n = 256;
		memcpy(fx->model + lba * BS, g->data, (size_t)n * BS);
	} else if (c[0] == OP_WRITE_SAME_10 || c[0] == OP_WRITE_SAME_16) {
		uint8_t block[BS] = { 0 }, zero[BS] = { 0 };
		int ndob = c[0] == OP_WRITE_SAME_16 && (c[1] & 1);
		uint64_t blocks;

		get_lba_len(c, &lba, &n);
		blocks = n ? n : DEV_BLOCKS - lba; /* 0: to the end, maybe nothing */
		if (!blocks)
			return 1;
		if (!ndob)
			memcpy(block, g->data, BS);
		for (uint64_t b = lba; b < lba + blocks; b++)
			memcpy(fx->model + b * BS,
			       (c[1] & 0x08) && !memcmp(block, zero, BS) ? fx->base + b * BS
									 : block, BS);
	} else if (c[0] == OP_UNMAP) {
		size_t plen = get_be16(c + 7), got = plen < g->len ? plen : g->len, bd;

		if (got < 8)
			return 1; /* PARAMETER LIST LENGTH 0: nothing to unmap */
		bd = get_be16(g->data + 2);
		if (bd > got - 8)
			bd = got - 8;
		for (size_t i = 0; i < bd / 16; i++) {
			const uint8_t *p = g->data + 8 + i * 16;

			lba = get_be64(p);
			n = get_be32(p + 8);
			memcpy(fx->model + lba * BS, fx->base + lba * BS, (size_t)n * BS);
		}
	} else if (c[0] == OP_COMPARE_AND_WRITE) {
		size_t half = (size_t)c[13] * BS;

		memcpy(fx->model + get_be64(c + 2) * BS, g->data + half, half);
	} else {
		return 0;
	}
	return 1;
}

/*
 * Whether g is a READ or WRITE that must complete GOOD (SBC-3 §4.5): only fields the
 * command evaluates set, none of RDPROTECT/WRPROTECT (the masks leave them out), a
 * range within the capacity and the maximum transfer length, the whole data-out
 * there, on an LU that neither is write-protected nor has a write limit.
 */
static int must_succeed(const struct fx *fx, const struct gen *g)
{
	uint64_t lba;
	uint32_t n;

	if (!g->valid_fields || fx->lu.write_protect || fx->cfg.limit_bytes ||
	    !(is_read(g->cdb[0]) || is_write(g->cdb[0])))
		return 0;
	get_lba_len(g->cdb, &lba, &n);
	if ((g->cdb[0] == OP_READ_6 || g->cdb[0] == OP_WRITE_6) && !n)
		n = 256;
	if (n > MAX_XFER || !in_range(lba, n))
		return 0;
	return is_read(g->cdb[0]) || g->len >= (size_t)n * BS;
}

/* What a stream did, so a run that exercised nothing fails. */
struct tally {
	unsigned reads, changes, checks, miscompares;
};

static void check_cmd(struct fx *fx, const struct gen *g, struct tally *t)
{
	struct scsi_cmd cmd;
	uint64_t lba;
	uint32_t n;
	int st;

	memset(&cmd, 0, sizeof(cmd));
	cmd.cdb = g->cdb;
	cmd.iov = g->iov_cnt ? (struct iovec *)g->iov : NULL;
	cmd.iov_cnt = g->iov_cnt;
	st = scsi_execute(&fx->lu, &cmd);

	if (st != SCSI_STATUS_GOOD && st != SCSI_STATUS_CHECK_CONDITION) {
		report(fx, g, "status neither GOOD nor CHECK CONDITION");
		fail();
	}
	if (cmd.data_in_len > g->len) {
		report(fx, g, "data_in_len past the buffer");
		fail();
	}
	if (st != SCSI_STATUS_GOOD && must_succeed(fx, g)) {
		report(fx, g, "CHECK CONDITION for a valid READ or WRITE");
		fail();
	}
	if (st == SCSI_STATUS_CHECK_CONDITION) {
		uint8_t key = cmd.sense[2] & 0x0f;
		uint16_t asc = (uint16_t)(cmd.sense[12] << 8 | cmd.sense[13]);

		if ((cmd.sense[0] & 0x7f) != 0x70 || cmd.sense[7] != 10) {
			report(fx, g, "sense data not fixed format");
			fail();
		}
		if (!sense_allowed(fx, key, asc)) {
			char what[96];

			snprintf(what, sizeof(what), "sense key %xh ASC/ASCQ %02x/%02x", key,
				 asc >> 8, asc & 0xff);
			report(fx, g, what);
			fail();
		}
		t->checks++;
		t->miscompares += key == SENSE_MISCOMPARE;
		return;
	}
	if (is_read(g->cdb[0]) || is_write(g->cdb[0])) {
		get_lba_len(g->cdb, &lba, &n);
		if ((g->cdb[0] == OP_READ_6 || g->cdb[0] == OP_WRITE_6) && !n)
			n = 256;
		if (!in_range(lba, n)) {
			report(fx, g, "GOOD for a range past the capacity");
			fail();
		}
		if (is_read(g->cdb[0])) {
			size_t want = (size_t)n * BS < g->len ? (size_t)n * BS : g->len;
			size_t at = 0;

			if (cmd.data_in_len != want) {
				report(fx, g, "READ returned a length other than asked");
				fail();
			}
			for (int i = 0; i < g->iov_cnt && at < want; i++) {
				size_t k = g->iov[i].iov_len < want - at ? g->iov[i].iov_len
									 : want - at;

				if (memcmp(g->iov[i].iov_base, fx->model + lba * BS + at, k)) {
					report(fx, g, "READ data differs from the model");
					fail();
				}
				at += k;
			}
			t->reads += want > 0;
			return;
		}
	}
	t->changes += model_apply(fx, g);
}

/* SYNCHRONIZE CACHE (10) over the whole medium, GOOD. */
static void sync_all(struct fx *fx)
{
	uint8_t c[10] = { OP_SYNC_CACHE_10 };
	struct scsi_cmd cmd;

	memset(&cmd, 0, sizeof(cmd));
	cmd.cdb = c;
	assert_int_equal(scsi_execute(&fx->lu, &cmd), SCSI_STATUS_GOOD);
}

/* Close and reopen the store, then every block must equal the model. */
static void check_medium_after_reopen(struct fx *fx)
{
	uint8_t *buf = malloc(DEV_BYTES);

	assert_non_null(buf);
	sync_all(fx);
	cow_close(fx->lu.cow);
	store_open(fx);
	assert_int_equal(cow_read(fx->lu.cow, buf, 0, DEV_BYTES), 0);
	for (size_t b = 0; b < DEV_BLOCKS; b++)
		if (memcmp(buf + b * BS, fx->model + b * BS, BS)) {
			print_error("seed 0x%llx: block %zu differs from the model after "
				    "reopening\n", (unsigned long long)fx->seed, b);
			fail();
		}
	free(buf);
}

static void run_stream(int write_cache, int write_protect, uint64_t limit, unsigned count)
{
	struct fx *fx = fx_new(write_cache, write_protect, limit);
	struct gen g;
	struct tally t = { 0 };

	print_message("seed 0x%llx, %u commands (WCE %d, write-protected %d, limit %llu)\n",
		      (unsigned long long)fx->seed, count, write_cache, write_protect,
		      (unsigned long long)limit);
	for (fx->index = 0; fx->index < count; fx->index++) {
		gen_cmd(fx, &g);
		check_cmd(fx, &g, &t);
		gen_free(&g);
	}
	print_message("  %u reads checked, %u changes to the medium, %u CHECK CONDITION "
		      "(%u MISCOMPARE)\n", t.reads, t.changes, t.checks, t.miscompares);
	check_medium_after_reopen(fx);
	/* The stream reached every kind of outcome (a write-protected LU changes nothing). */
	assert_true(t.reads > count / 20);
	assert_true(t.checks > count / 20);
	if (write_cache && !write_protect && !limit) /* the long stream */
		assert_true(t.miscompares > 0);
	if (write_protect)
		assert_int_equal(t.changes, 0);
	else
		assert_true(t.changes > count / 50);
	fx_free(fx);
}

static void test_write_cache(void **state)
{
	(void)state;
	run_stream(1, 0, 0, 6000);
}

static void test_write_through(void **state)
{
	(void)state;
	run_stream(0, 0, 0, 1500);
}

static void test_write_protected(void **state)
{
	(void)state;
	run_stream(1, 1, 0, 2000);
}

static void test_write_limit(void **state)
{
	(void)state;
	run_stream(1, 0, 512 * 1024, 3000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_cache),
		cmocka_unit_test(test_write_through),
		cmocka_unit_test(test_write_protected),
		cmocka_unit_test(test_write_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
