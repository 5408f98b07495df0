/*
 * test_scsi.c — unit tests for the SCSI command emulation (scsi.c, scsi_spc.c,
 * scsi_sbc.c) over a real cow store in a temporary directory: INQUIRY and its VPD
 * pages, capacity, READ / WRITE in every CDB size with single and multi-iovec buffers,
 * range and CDB field errors, the write limit (whole allocation units) and the disk
 * reserve (DATA PROTECT 27/07), WRITE SAME / UNMAP reading the base
 * back, COMPARE AND WRITE, VERIFY, MODE SENSE / MODE SELECT and REPORT SUPPORTED
 * OPERATION CODES.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scsi_priv.h"
#include "cdb_build.h"

#define DEV_BYTES (64ull * 1024 * 1024) /* 64 MiB disk */
#define DEV_BLOCKS (DEV_BYTES / 512)     /* 131072 */
#define BASE_LEN (64u * 1024)            /* base image: the first 128 blocks */
#define BS 512u

struct fx {
	char dir[64];
	struct cow_config cfg;
	struct cow *cow;
	struct scsi_lu lu;
	uint8_t base[BASE_LEN];
	char err[256];
};

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 13 + 5) | 1; /* never zero */
}

static void open_store(struct fx *fx, uint64_t limit)
{
	fx->cfg.limit_bytes = limit;
	fx->cow = cow_open(&fx->cfg, fx->dir, fx->err, sizeof(fx->err));
	if (!fx->cow)
		print_error("cow_open: %s\n", fx->err);
	assert_non_null(fx->cow);
	memset(&fx->lu, 0, sizeof(fx->lu));
	fx->lu.cow = fx->cow;
	strcpy(fx->lu.serial, "sp-0123456789abcdef");
	fx->lu.max_xfer_blocks = 2048;
	fx->lu.write_cache = 1;
}

static int setup_common(void **state, uint64_t limit)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	int fd;

	assert_non_null(fx);
	strcpy(fx->dir, "/tmp/test_scsi." "XX" "XX" "XX"); /* mkdtemp template */
	assert_non_null(mkdtemp(fx->dir));
	fx->cfg.size_bytes = DEV_BYTES;
	snprintf(fx->cfg.overlay, sizeof(fx->cfg.overlay), "%s/overlay", fx->dir);
	snprintf(fx->cfg.bitmap, sizeof(fx->cfg.bitmap), "%s/bitmap", fx->dir);
	snprintf(fx->cfg.base, sizeof(fx->cfg.base), "%s/base.img", fx->dir);
	for (size_t i = 0; i < BASE_LEN; i++)
		fx->base[i] = pattern(i);
	fd = open(fx->cfg.base, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, fx->base, BASE_LEN), (ssize_t)BASE_LEN);
	close(fd);
	open_store(fx, limit);
	*state = fx;
	return 0;
}

static int setup(void **state)
{
	return setup_common(state, 0);
}

/*
 * A store with a write limit of 128 blocks (64 KiB) of overlay allocation: a whole
 * number of allocation units on any filesystem whose block is at most 64 KiB.
 */
#define LIMIT_BLOCKS 128u
static int setup_limit(void **state)
{
	return setup_common(state, LIMIT_BLOCKS * BS);
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	DIR *d;
	struct dirent *e;
	char p[512];

	cow_close(fx->cow);
	d = opendir(fx->dir);
	assert_non_null(d);
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", fx->dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	assert_int_equal(rmdir(fx->dir), 0);
	free(fx);
	return 0;
}

/* ---- helpers --------------------------------------------------------------------- */

static int run_iov(struct fx *fx, struct scsi_cmd *cmd, const uint8_t *cdb,
		   struct iovec *iov, int cnt)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->cdb = cdb;
	cmd->iov = iov;
	cmd->iov_cnt = cnt;
	return scsi_execute(&fx->lu, cmd);
}

/* Run cdb with one flat buffer (buf may be NULL with len 0). */
static int run(struct fx *fx, struct scsi_cmd *cmd, const uint8_t *cdb, void *buf,
	       size_t len)
{
	struct iovec iov = { buf, len };

	return run_iov(fx, cmd, cdb, buf ? &iov : NULL, buf ? 1 : 0);
}

static void assert_sense(const struct scsi_cmd *cmd, uint8_t key, uint16_t asc_ascq)
{
	assert_int_equal(cmd->sense[0] & 0x7f, 0x70);
	assert_int_equal(cmd->sense[2] & 0x0f, key);
	assert_int_equal(cmd->sense[12], asc_ascq >> 8);
	assert_int_equal(cmd->sense[13], asc_ascq & 0xff);
}

static void assert_check(struct fx *fx, const uint8_t *cdb, void *buf, size_t len,
			 uint8_t key, uint16_t asc_ascq)
{
	struct scsi_cmd cmd;

	assert_int_equal(run(fx, &cmd, cdb, buf, len), SCSI_STATUS_CHECK_CONDITION);
	assert_sense(&cmd, key, asc_ascq);
}

static void assert_good(struct fx *fx, const uint8_t *cdb, void *buf, size_t len)
{
	struct scsi_cmd cmd;
	int st = run(fx, &cmd, cdb, buf, len);

	if (st != SCSI_STATUS_GOOD)
		print_error("status %d sense key %x asc %02x/%02x\n", st, cmd.sense[2],
			    cmd.sense[12], cmd.sense[13]);
	assert_int_equal(st, SCSI_STATUS_GOOD);
}

static void cdb12(uint8_t *c, uint8_t op, uint8_t b1, uint32_t lba, uint32_t len)
{
	memset(c, 0, 12);
	c[0] = op;
	c[1] = b1;
	put_be32(c + 2, lba);
	put_be32(c + 6, len);
}

static void fill(uint8_t *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 31 + seed * 7 + 1);
}

static void write10(struct fx *fx, uint32_t lba, const uint8_t *data, uint16_t n)
{
	uint8_t c[10];

	cdb10(c, OP_WRITE_10, 0, lba, n);
	assert_good(fx, c, (void *)data, (size_t)n * BS);
}

static void read10(struct fx *fx, uint32_t lba, uint8_t *data, uint16_t n)
{
	uint8_t c[10];
	struct scsi_cmd cmd;

	cdb10(c, OP_READ_10, 0, lba, n);
	assert_int_equal(run(fx, &cmd, c, data, (size_t)n * BS), SCSI_STATUS_GOOD);
	assert_int_equal(cmd.data_in_len, (uint32_t)n * BS);
	assert_true(cmd.data_in);
}

/* What the disk reads at byte off when nothing was written there. */
static uint8_t base_byte(const struct fx *fx, size_t off)
{
	return off < BASE_LEN ? fx->base[off] : 0;
}

static void inquiry(struct fx *fx, struct scsi_cmd *cmd, int evpd, uint8_t page,
		    uint16_t alloc, uint8_t *buf, size_t len)
{
	uint8_t c[6] = { OP_INQUIRY, (uint8_t)evpd, page, 0, 0, 0 };

	put_be16(c + 3, alloc);
	assert_int_equal(run(fx, cmd, c, buf, len), SCSI_STATUS_GOOD);
}

/* ---- INQUIRY --------------------------------------------------------------------- */

static void test_inquiry_standard(void **state)
{
	struct fx *fx = *state;
	struct scsi_cmd cmd;
	uint8_t d[255];

	memset(d, 0xee, sizeof(d));
	inquiry(fx, &cmd, 0, 0, sizeof(d), d, sizeof(d));
	assert_int_equal(cmd.data_in_len, d[4] + 5);
	assert_true(cmd.data_in_len >= 36);
	assert_int_equal(d[0], 0x00);       /* direct access block device */
	assert_int_equal(d[1] & 0x80, 0);   /* not removable */
	assert_int_equal(d[2], 0x06);       /* SPC-4 */
	assert_int_equal(d[3] & 0x0f, 2);   /* RESPONSE DATA FORMAT */
	assert_int_equal(d[3] & 0x10, 0x10); /* HISUP */
	assert_int_equal(d[7] & 0x02, 0x02); /* CMDQUE */
	assert_memory_equal(d + 8, "SCSIPUB ", 8);
	assert_memory_equal(d + 16, "COW DISK        ", 16);
	assert_memory_equal(d + 32, "0001", 4);
	assert_int_equal(d[cmd.data_in_len], 0xee); /* nothing past the data */
}

static void test_inquiry_truncation(void **state)
{
	struct fx *fx = *state;
	struct scsi_cmd cmd;
	uint8_t d[255], full[255];

	inquiry(fx, &cmd, 0, 0, sizeof(full), full, sizeof(full));
	/* Allocation length smaller than the data. */
	memset(d, 0xee, sizeof(d));
	inquiry(fx, &cmd, 0, 0, 5, d, sizeof(d));
	assert_int_equal(cmd.data_in_len, 5);
	assert_memory_equal(d, full, 5);
	assert_int_equal(d[5], 0xee);
	/* Buffer smaller than the allocation length. */
	memset(d, 0xee, sizeof(d));
	inquiry(fx, &cmd, 0, 0, 255, d, 10);
	assert_int_equal(cmd.data_in_len, 10);
	assert_memory_equal(d, full, 10);
	/* A VPD page, truncated: the header alone. */
	inquiry(fx, &cmd, 1, 0xb0, 4, d, sizeof(d));
	assert_int_equal(cmd.data_in_len, 4);
	assert_int_equal(d[1], 0xb0);
	assert_int_equal(get_be16(d + 2), 0x3c);
	/* Allocation length 0: nothing. */
	inquiry(fx, &cmd, 0, 0, 0, d, sizeof(d));
	assert_int_equal(cmd.data_in_len, 0);
}

static void test_inquiry_bad_fields(void **state)
{
	struct fx *fx = *state;
	uint8_t d[255];
	uint8_t evpd0[6] = { OP_INQUIRY, 0, 0x80, 0, 255, 0 };
	uint8_t unknown[6] = { OP_INQUIRY, 1, 0x99, 0, 255, 0 };

	assert_check(fx, evpd0, d, sizeof(d), SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	assert_check(fx, unknown, d, sizeof(d), SENSE_ILLEGAL_REQUEST,
		     ASC_INVALID_FIELD_IN_CDB);
}

static void test_vpd_supported_and_serial(void **state)
{
	struct fx *fx = *state;
	struct scsi_cmd cmd;
	uint8_t d[255];
	const uint8_t want[] = { 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2 };

	inquiry(fx, &cmd, 1, 0x00, sizeof(d), d, sizeof(d));
	assert_int_equal(d[1], 0x00);
	assert_int_equal(get_be16(d + 2), sizeof(want));
	assert_memory_equal(d + 4, want, sizeof(want));
	assert_int_equal(cmd.data_in_len, 4 + sizeof(want));
	/* Every listed page is served. */
	for (size_t i = 0; i < sizeof(want); i++) {
		inquiry(fx, &cmd, 1, want[i], sizeof(d), d, sizeof(d));
		assert_int_equal(d[1], want[i]);
		assert_int_equal(cmd.data_in_len, 4 + get_be16(d + 2));
	}

	inquiry(fx, &cmd, 1, 0x80, sizeof(d), d, sizeof(d));
	assert_int_equal(get_be16(d + 2), strlen(fx->lu.serial));
	assert_memory_equal(d + 4, fx->lu.serial, strlen(fx->lu.serial));
}

/* Find designator type `type` in a device identification page; NULL if absent. */
static const uint8_t *find_designator(const uint8_t *d, uint8_t type)
{
	size_t end = 4 + get_be16(d + 2), p = 4;

	while (p + 4 <= end) {
		if ((d[p + 1] & 0x0f) == type)
			return d + p;
		p += 4 + d[p + 3];
	}
	return NULL;
}

static void test_vpd_device_id(void **state)
{
	struct fx *fx = *state;
	struct scsi_cmd cmd;
	uint8_t d[255], again[255], other[255], t10[64];
	const uint8_t *t, *naa, *naa2;
	size_t slen = strlen(fx->lu.serial);

	inquiry(fx, &cmd, 1, 0x83, sizeof(d), d, sizeof(d));
	assert_int_equal(d[1], 0x83);
	t = find_designator(d, 0x01);
	assert_non_null(t);
	assert_int_equal(t[0] & 0x0f, 2);    /* ASCII */
	assert_int_equal(t[1] & 0x30, 0);    /* associated with the LU */
	assert_int_equal(t[3], 8 + slen);
	memcpy(t10, "SCSIPUB ", 8);
	memcpy(t10 + 8, fx->lu.serial, slen);
	assert_memory_equal(t + 4, t10, 8 + slen);

	naa = find_designator(d, 0x03);
	assert_non_null(naa);
	assert_int_equal(naa[0] & 0x0f, 1);  /* binary */
	assert_int_equal(naa[3], 16);
	assert_int_equal(naa[4] >> 4, 6);    /* NAA IEEE Registered Extended */

	/* Deterministic: the same serial gives the same id... */
	inquiry(fx, &cmd, 1, 0x83, sizeof(again), again, sizeof(again));
	assert_memory_equal(d, again, 4 + get_be16(d + 2));
	/* ...and another serial another one. */
	strcpy(fx->lu.serial, "sp-other");
	inquiry(fx, &cmd, 1, 0x83, sizeof(other), other, sizeof(other));
	naa2 = find_designator(other, 0x03);
	assert_non_null(naa2);
	assert_memory_not_equal(naa + 4, naa2 + 4, 16);
}

static void test_vpd_block_limits(void **state)
{
	struct fx *fx = *state;
	struct scsi_cmd cmd;
	uint8_t d[255];

	inquiry(fx, &cmd, 1, 0xb0, sizeof(d), d, sizeof(d));
	assert_int_equal(cmd.data_in_len, 64);
	assert_int_equal(get_be16(d + 2), 0x3c);
	assert_int_equal(d[5], scsi_max_caw_blocks(&fx->lu));
	assert_int_equal(d[5], 255);                       /* 2048 / 2 > 255 */
	assert_int_equal(get_be16(d + 6), SCSI_XFER_GRANULARITY);
	assert_int_equal(get_be32(d + 8), 2048);           /* MAXIMUM TRANSFER LENGTH */
	assert_int_equal(get_be32(d + 20), SCSI_MAX_UNMAP_LBA_COUNT);
	assert_int_equal(get_be32(d + 24), SCSI_MAX_UNMAP_DESCRIPTORS);
	assert_int_equal(get_be32(d + 28), SCSI_UNMAP_GRANULARITY);
	assert_int_equal(get_be64(d + 36), SCSI_MAX_WRITE_SAME_BLOCKS);

	fx->lu.max_xfer_blocks = 64;
	inquiry(fx, &cmd, 1, 0xb0, sizeof(d), d, sizeof(d));
	assert_int_equal(get_be32(d + 8), 64);
	assert_int_equal(d[5], 32);
}

static void test_vpd_bdc_and_lbp(void **state)
{
	struct fx *fx = *state;
	struct scsi_cmd cmd;
	uint8_t d[255];

	inquiry(fx, &cmd, 1, 0xb1, sizeof(d), d, sizeof(d));
	assert_int_equal(get_be16(d + 2), 0x3c);
	assert_int_equal(get_be16(d + 4), 1); /* non-rotating */

	inquiry(fx, &cmd, 1, 0xb2, sizeof(d), d, sizeof(d));
	assert_int_equal(cmd.data_in_len, 8);
	assert_int_equal(get_be16(d + 2), 4);
	assert_int_equal(d[5] & 0xe0, 0xe0);  /* LBPU, LBPWS, LBPWS10 */
	assert_int_equal(d[5] & 0x04, 0);     /* LBPRZ = 0 */
	assert_int_equal(d[6] & 0x07, 2);     /* thin provisioned */
}

/* ---- TEST UNIT READY / REQUEST SENSE / opcode errors ------------------------------ */

static void test_tur_and_request_sense(void **state)
{
	struct fx *fx = *state;
	struct scsi_cmd cmd;
	uint8_t tur[6] = { OP_TEST_UNIT_READY };
	uint8_t rs[6] = { OP_REQUEST_SENSE, 0, 0, 0, 252, 0 };
	uint8_t d[252];

	assert_good(fx, tur, NULL, 0);

	memset(d, 0xee, sizeof(d));
	assert_int_equal(run(fx, &cmd, rs, d, sizeof(d)), SCSI_STATUS_GOOD);
	assert_int_equal(cmd.data_in_len, 18);
	assert_int_equal(d[0], 0x70);
	assert_int_equal(d[2] & 0x0f, SENSE_NO_SENSE);
	assert_int_equal(d[7], 10);
	assert_int_equal(d[12], 0);
	assert_int_equal(d[13], 0);

	rs[1] = 0x01; /* DESC */
	assert_int_equal(run(fx, &cmd, rs, d, sizeof(d)), SCSI_STATUS_GOOD);
	assert_int_equal(cmd.data_in_len, 8);
	assert_int_equal(d[0], 0x72);
	assert_int_equal(d[1] & 0x0f, SENSE_NO_SENSE);
}

static void test_unknown_opcode_and_sa(void **state)
{
	struct fx *fx = *state;
	uint8_t d[64];
	uint8_t unknown[16] = { 0xc0 };
	uint8_t sai[16] = { OP_SERVICE_ACTION_IN_16, 0x11 };
	uint8_t mi[12] = { OP_MAINTENANCE_IN, 0x0a };

	assert_check(fx, unknown, d, sizeof(d), SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
	assert_check(fx, sai, d, sizeof(d), SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	assert_check(fx, mi, d, sizeof(d), SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
}

/* ---- capacity -------------------------------------------------------------------- */

static void test_read_capacity(void **state)
{
	struct fx *fx = *state;
	struct scsi_cmd cmd;
	uint8_t rc10[10] = { OP_READ_CAPACITY_10 };
	uint8_t rc16[16] = { OP_SERVICE_ACTION_IN_16, SAI_READ_CAPACITY_16 };
	uint8_t d[32];

	assert_int_equal(run(fx, &cmd, rc10, d, sizeof(d)), SCSI_STATUS_GOOD);
	assert_int_equal(cmd.data_in_len, 8);
	assert_int_equal(get_be32(d), DEV_BLOCKS - 1);
	assert_int_equal(get_be32(d + 4), 512);

	/* PMI = 0 with a nonzero LBA. */
	put_be32(rc10 + 2, 5);
	assert_check(fx, rc10, d, sizeof(d), SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	rc10[8] = 0x01; /* PMI = 1: allowed */
	assert_good(fx, rc10, d, sizeof(d));

	memset(d, 0xee, sizeof(d));
	put_be32(rc16 + 10, sizeof(d));
	assert_int_equal(run(fx, &cmd, rc16, d, sizeof(d)), SCSI_STATUS_GOOD);
	assert_int_equal(cmd.data_in_len, 32);
	assert_int_equal(get_be64(d), DEV_BLOCKS - 1);
	assert_int_equal(get_be32(d + 8), 512);
	assert_int_equal(d[12] & 0x01, 0);    /* PROT_EN */
	assert_int_equal(d[14] & 0x80, 0x80); /* LBPME */
	assert_int_equal(d[14] & 0x40, 0);    /* LBPRZ */

	/* ALLOCATION LENGTH truncates. */
	memset(d, 0xee, sizeof(d));
	put_be32(rc16 + 10, 12);
	assert_int_equal(run(fx, &cmd, rc16, d, sizeof(d)), SCSI_STATUS_GOOD);
	assert_int_equal(cmd.data_in_len, 12);
	assert_int_equal(d[12], 0xee);
}

/* ---- READ / WRITE ---------------------------------------------------------------- */

static void test_write_read_10_16(void **state)
{
	struct fx *fx = *state;
	uint8_t *w = malloc(64 * BS), *r = malloc(64 * BS);
	uint8_t c[16];
	struct scsi_cmd cmd;

	assert_non_null(w);
	assert_non_null(r);
	fill(w, 64 * BS, 1);
	write10(fx, 1000, w, 64);
	read10(fx, 1000, r, 64);
	assert_memory_equal(w, r, 64 * BS);

	/* 16-byte CDBs near the end of the disk, FUA set. */
	fill(w, 64 * BS, 2);
	cdb16(c, OP_WRITE_16, 0x08, DEV_BLOCKS - 64, 64);
	assert_good(fx, c, w, 64 * BS);
	memset(r, 0, 64 * BS);
	cdb16(c, OP_READ_16, 0, DEV_BLOCKS - 64, 64);
	assert_int_equal(run(fx, &cmd, c, r, 64 * BS), SCSI_STATUS_GOOD);
	assert_int_equal(cmd.data_in_len, 64 * BS);
	assert_memory_equal(w, r, 64 * BS);

	/* 12-byte CDBs. */
	fill(w, 4 * BS, 3);
	cdb12(c, OP_WRITE_12, 0, 5000, 4);
	assert_good(fx, c, w, 4 * BS);
	cdb12(c, OP_READ_12, 0, 5000, 4);
	memset(r, 0, 4 * BS);
	assert_good(fx, c, r, 4 * BS);
	assert_memory_equal(w, r, 4 * BS);

	/* Data next to what was written is untouched (base or zeros). */
	read10(fx, 999, r, 1);
	for (size_t i = 0; i < BS; i++)
		assert_int_equal(r[i], base_byte(fx, 999 * BS + i));
	free(w);
	free(r);
}

static void test_write_read_6(void **state)
{
	struct fx *fx = *state;
	uint8_t *w = malloc(256 * BS), *r = malloc(256 * BS);
	uint8_t c[6] = { OP_WRITE_6, 0x00, 0x01, 0x00, 0, 0 }; /* LBA 256, 256 blocks */
	struct scsi_cmd cmd;

	assert_non_null(w);
	assert_non_null(r);
	fill(w, 256 * BS, 4);
	assert_good(fx, c, w, 256 * BS);
	c[0] = OP_READ_6;
	assert_int_equal(run(fx, &cmd, c, r, 256 * BS), SCSI_STATUS_GOOD);
	assert_int_equal(cmd.data_in_len, 256 * BS);
	assert_memory_equal(w, r, 256 * BS);
	free(w);
	free(r);
}

static void test_one_block_and_multi_iov(void **state)
{
	struct fx *fx = *state;
	uint8_t w[3 * BS], r[3 * BS], one[BS], back[BS];
	uint8_t c[10];
	struct iovec wi[3] = { { w, 100 }, { w + 100, 700 }, { w + 800, 3 * BS - 800 } };
	struct iovec ri[4] = { { r, 1 }, { r + 1, 511 }, { r + 512, 513 },
			       { r + 1025, 3 * BS - 1025 } };
	struct scsi_cmd cmd;

	/* One block over the base. */
	fill(one, BS, 5);
	write10(fx, 3, one, 1);
	read10(fx, 3, back, 1);
	assert_memory_equal(one, back, BS);
	read10(fx, 2, back, 1);
	assert_memory_equal(back, fx->base + 2 * BS, BS);

	/* Scattered data-out and data-in buffers. */
	fill(w, sizeof(w), 6);
	cdb10(c, OP_WRITE_10, 0, 40, 3);
	assert_int_equal(run_iov(fx, &cmd, c, wi, 3), SCSI_STATUS_GOOD);
	memset(r, 0, sizeof(r));
	cdb10(c, OP_READ_10, 0, 40, 3);
	assert_int_equal(run_iov(fx, &cmd, c, ri, 4), SCSI_STATUS_GOOD);
	assert_int_equal(cmd.data_in_len, sizeof(r));
	assert_memory_equal(w, r, sizeof(r));

	/* A data-in buffer shorter than the transfer: only what fits. */
	memset(r, 0xee, sizeof(r));
	assert_int_equal(run(fx, &cmd, c, r, 700), SCSI_STATUS_GOOD);
	assert_int_equal(cmd.data_in_len, 700);
	assert_memory_equal(w, r, 700);
	assert_int_equal(r[700], 0xee);
}

static void test_zero_length_and_field_errors(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16], buf[4 * BS];
	struct scsi_cmd cmd;

	/* Transfer length 0: nothing moves, GOOD. */
	cdb10(c, OP_READ_10, 0, 10, 0);
	assert_int_equal(run(fx, &cmd, c, buf, sizeof(buf)), SCSI_STATUS_GOOD);
	assert_int_equal(cmd.data_in_len, 0);
	cdb10(c, OP_WRITE_10, 0, 10, 0);
	assert_good(fx, c, NULL, 0);

	/* RDPROTECT / WRPROTECT. */
	cdb10(c, OP_READ_10, 0x20, 10, 1);
	assert_check(fx, c, buf, sizeof(buf), SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	cdb16(c, OP_WRITE_16, 0x40, 10, 1);
	assert_check(fx, c, buf, sizeof(buf), SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);

	/* Longer than MAXIMUM TRANSFER LENGTH. */
	fx->lu.max_xfer_blocks = 2;
	cdb10(c, OP_READ_10, 0, 10, 3);
	assert_check(fx, c, buf, sizeof(buf), SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	cdb10(c, OP_READ_10, 0, 10, 2);
	assert_good(fx, c, buf, sizeof(buf));

	/* A data-out buffer shorter than the transfer length (EDTL < CDB length). */
	cdb10(c, OP_WRITE_10, 0, 10, 2);
	assert_check(fx, c, buf, BS, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CMD_IU);
	cdb10(c, OP_WRITE_10, 0, 10, 1);
	assert_check(fx, c, buf, 200, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CMD_IU);
	assert_check(fx, c, NULL, 0, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CMD_IU);
	assert_int_equal(cow_used_bytes(fx->cow), 0);
}

static void test_out_of_range(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16], buf[2 * BS];

	memset(buf, 0x5a, sizeof(buf));
	cdb10(c, OP_READ_10, 0, DEV_BLOCKS - 1, 2);
	assert_check(fx, c, buf, sizeof(buf), SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	cdb10(c, OP_WRITE_10, 0, DEV_BLOCKS - 1, 2);
	assert_check(fx, c, buf, sizeof(buf), SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	cdb16(c, OP_WRITE_16, 0, DEV_BLOCKS, 1);
	assert_check(fx, c, buf, sizeof(buf), SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	/* LBA + length wrapping around 2^64. */
	cdb16(c, OP_READ_16, 0, UINT64_MAX, 2);
	assert_check(fx, c, buf, sizeof(buf), SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	cdb16(c, OP_WRITE_16, 0, UINT64_MAX - 1, 4);
	assert_check(fx, c, buf, sizeof(buf), SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	/* The last block itself is fine. */
	cdb16(c, OP_WRITE_16, 0, DEV_BLOCKS - 1, 1);
	assert_good(fx, c, buf, BS);
	assert_int_equal(cow_used_bytes(fx->cow), BS);
}

static void test_write_limit(void **state)
{
	struct fx *fx = *state;
	static uint8_t w[LIMIT_BLOCKS * BS], r[LIMIT_BLOCKS * BS];
	uint8_t c[10];

	fill(w, sizeof(w), 7);
	/* Exactly the limit, aligned to any allocation unit up to 64 KiB. */
	write10(fx, LIMIT_BLOCKS, w, LIMIT_BLOCKS);
	assert_int_equal(cow_charged_bytes(fx->cow), LIMIT_BLOCKS * BS);
	cdb10(c, OP_WRITE_10, 0, 8 * LIMIT_BLOCKS, 1);
	assert_check(fx, c, w, BS, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED);
	/* Reads still work, and rewriting allocated blocks too. */
	read10(fx, LIMIT_BLOCKS, r, LIMIT_BLOCKS);
	assert_memory_equal(w, r, sizeof(r));
	read10(fx, 8 * LIMIT_BLOCKS, r, 1);
	fill(w, BS, 8);
	write10(fx, LIMIT_BLOCKS + 1, w, 1);
	read10(fx, LIMIT_BLOCKS + 1, r, 1);
	assert_memory_equal(w, r, BS);
}

/* The reserve check's free-space source: whatever the test says is available. */
static int fake_avail(void *arg, int fd, uint64_t *avail)
{
	(void)fd;
	*avail = *(const uint64_t *)arg;
	return 0;
}

/*
 * The state filesystem at its reserve: writes that need new overlay blocks get
 * CHECK CONDITION, DATA PROTECT / SPACE ALLOCATION FAILED WRITE PROTECT (27/07,
 * SBC-3 §4.7.3.6) and leave nothing behind; reads and rewrites of allocated blocks
 * go on; with room again, writes work again.
 */
static void test_space_allocation_failed(void **state)
{
	struct fx *fx = *state;
	uint32_t unit = cow_alloc_unit(fx->cow), ub = unit / BS; /* blocks per unit */
	uint64_t reserve = 1 << 20, avail = reserve + unit; /* room for one unit */
	static uint8_t w[64 * BS], r[64 * BS];
	uint8_t c[16], zero[BS] = { 0 };
	const uint32_t at = 2 * BASE_LEN / BS; /* past the base: unwritten reads zeros */

	assert_true(ub >= 1 && ub <= 64);
	cow_set_reserve(fx->cow, reserve, fake_avail, &avail);
	fill(w, sizeof(w), 3);
	write10(fx, at + 4 * ub, w, (uint16_t)ub); /* one new unit: exactly the room */
	/* Two new units: refused, and nothing of it is visible. */
	cdb10(c, OP_WRITE_10, 0, at + 8 * ub, (uint16_t)(2 * ub));
	assert_check(fx, c, w, 2 * ub * BS, SENSE_DATA_PROTECT, ASC_SPACE_ALLOC_FAILED);
	avail = reserve - 1; /* below the reserve from now on */
	cdb16(c, OP_WRITE_16, 0, at + 20 * ub, 1);
	assert_check(fx, c, w, BS, SENSE_DATA_PROTECT, ASC_SPACE_ALLOC_FAILED);
	cdb10(c, OP_WRITE_SAME_10, 0, at + 30 * ub, 4);
	assert_check(fx, c, w, BS, SENSE_DATA_PROTECT, ASC_SPACE_ALLOC_FAILED);
	for (uint32_t b = 0; b < 2 * ub; b++) {
		read10(fx, at + 8 * ub + b, r, 1);
		assert_memory_equal(r, zero, BS);
	}
	read10(fx, at + 20 * ub, r, 1);
	assert_memory_equal(r, zero, BS);
	assert_int_equal(cow_charged_bytes(fx->cow), unit);
	/* Reads of what was written and rewrites of its unit still work. */
	read10(fx, at + 4 * ub, r, (uint16_t)ub);
	assert_memory_equal(r, w, ub * BS);
	fill(w, sizeof(w), 4);
	write10(fx, at + 4 * ub, w, (uint16_t)ub);
	read10(fx, at + 4 * ub, r, (uint16_t)ub);
	assert_memory_equal(r, w, ub * BS);
	/* Base blocks read as ever (the base is not overlay data). */
	read10(fx, 0, r, 1);
	assert_memory_equal(r, fx->base, BS);
	/* Room again: the same write goes through. */
	avail = reserve + 64 * (uint64_t)unit;
	cdb10(c, OP_WRITE_10, 0, at + 8 * ub, (uint16_t)(2 * ub));
	assert_good(fx, c, w, 2 * ub * BS);
	assert_int_equal(cow_charged_bytes(fx->cow), 3 * (uint64_t)unit);
}

/* ---- SYNCHRONIZE CACHE, PRE-FETCH, START STOP UNIT ---------------------------------- */

static void test_sync_prefetch_start_stop(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16], blk[BS];
	uint8_t ssu[6] = { OP_START_STOP_UNIT, 0, 0, 0, 0x01, 0 };

	fill(blk, BS, 9);
	write10(fx, 7, blk, 1);
	cdb10(c, OP_SYNC_CACHE_10, 0, 0, 0);
	assert_good(fx, c, NULL, 0);
	cdb16(c, OP_SYNC_CACHE_16, 0, 7, 1);
	assert_good(fx, c, NULL, 0);
	cdb16(c, OP_SYNC_CACHE_16, 0, DEV_BLOCKS, 1);
	assert_check(fx, c, NULL, 0, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	cdb10(c, OP_SYNC_CACHE_10, 0x02, DEV_BLOCKS - 1, 2);
	assert_check(fx, c, NULL, 0, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);

	cdb10(c, OP_PRE_FETCH_10, 0x02, 0, 16);
	assert_good(fx, c, NULL, 0);
	cdb16(c, OP_PRE_FETCH_16, 0, DEV_BLOCKS - 1, 2);
	assert_check(fx, c, NULL, 0, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);

	assert_good(fx, ssu, NULL, 0);  /* start */
	ssu[4] = 0x00;
	assert_good(fx, ssu, NULL, 0);  /* stop (flushes) */
	ssu[4] = 0x30;
	assert_good(fx, ssu, NULL, 0);  /* a power condition */
}

/* ---- WRITE SAME / UNMAP ---------------------------------------------------------- */

static void test_write_same(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16], blk[BS], r[32 * BS], w[16 * BS];

	/* Plain WRITE SAME (10): the block repeated. */
	fill(blk, BS, 10);
	cdb10(c, OP_WRITE_SAME_10, 0, 4000, 16);
	assert_good(fx, c, blk, BS);
	read10(fx, 4000, r, 17);
	for (int i = 0; i < 16; i++)
		assert_memory_equal(r + i * BS, blk, BS);
	assert_int_equal(r[16 * BS], 0); /* past the range: untouched (no base there) */

	/* Overwrite part of the base, then WRITE SAME (16) UNMAP with zeros: base again. */
	fill(w, sizeof(w), 11);
	write10(fx, 8, w, 16);
	memset(blk, 0, BS);
	cdb16(c, OP_WRITE_SAME_16, 0x08, 8, 16);
	assert_good(fx, c, blk, BS);
	read10(fx, 8, r, 16);
	assert_memory_equal(r, fx->base + 8 * BS, 16 * BS);
	assert_int_equal(cow_used_bytes(fx->cow), 16 * BS); /* only the first range */

	/* WRITE SAME (10) UNMAP with NDOB-less zero data behaves the same. */
	write10(fx, 30, w, 2);
	cdb10(c, OP_WRITE_SAME_10, 0x08, 30, 2);
	assert_good(fx, c, blk, BS);
	read10(fx, 30, r, 2);
	assert_memory_equal(r, fx->base + 30 * BS, 2 * BS);

	/* NDOB without UNMAP writes zeros over the base. */
	cdb16(c, OP_WRITE_SAME_16, 0x01, 40, 2);
	assert_good(fx, c, NULL, 0);
	read10(fx, 40, r, 2);
	for (size_t i = 0; i < 2 * BS; i++)
		assert_int_equal(r[i], 0);

	/* UNMAP bit with a nonzero block: written, not unmapped. */
	fill(blk, BS, 12);
	cdb16(c, OP_WRITE_SAME_16, 0x08, 50, 1);
	assert_good(fx, c, blk, BS);
	read10(fx, 50, r, 1);
	assert_memory_equal(r, blk, BS);
}

static void test_write_same_errors(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16], blk[BS];

	memset(blk, 0, BS);
	cdb16(c, OP_WRITE_SAME_16, 0x10, 0, 1); /* ANCHOR */
	assert_check(fx, c, blk, BS, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	/* SBC-3 §5.46: more than MAXIMUM WRITE SAME LENGTH (0xFFFF) is INVALID FIELD. */
	assert_int_equal(SCSI_MAX_WRITE_SAME_BLOCKS, 0xffff);
	cdb16(c, OP_WRITE_SAME_16, 0x08, 0, 0x10000);
	assert_check(fx, c, blk, BS, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	cdb16(c, OP_WRITE_SAME_16, 0x08, 0, 0xffff);
	assert_good(fx, c, blk, BS);
	/* 0 blocks = to the end of a 131072-block disk: more than the maximum. */
	cdb16(c, OP_WRITE_SAME_16, 0, 0, 0);
	assert_check(fx, c, blk, BS, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	/* ...but fine near the end. */
	cdb16(c, OP_WRITE_SAME_16, 0x08, DEV_BLOCKS - 4, 0);
	assert_good(fx, c, blk, BS);
	cdb16(c, OP_WRITE_SAME_16, 0, DEV_BLOCKS - 1, 2);
	assert_check(fx, c, blk, BS, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	/* No data-out block. */
	cdb10(c, OP_WRITE_SAME_10, 0, 0, 1);
	assert_check(fx, c, blk, 100, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
}

/* Build an UNMAP parameter list with n descriptors (lba[i], cnt[i]); returns length. */
static size_t unmap_list(uint8_t *p, const uint64_t *lba, const uint32_t *cnt, size_t n)
{
	size_t len = 8 + 16 * n;

	memset(p, 0, len);
	put_be16(p, (uint16_t)(len - 2));
	put_be16(p + 2, (uint16_t)(16 * n));
	for (size_t i = 0; i < n; i++) {
		put_be64(p + 8 + 16 * i, lba[i]);
		put_be32(p + 8 + 16 * i + 8, cnt[i]);
	}
	return len;
}

static void test_unmap(void **state)
{
	struct fx *fx = *state;
	uint8_t c[10], w[8 * BS], r[8 * BS], p[8 + 16 * 300];
	uint64_t lba[2] = { 10, 20 };
	uint32_t cnt[2] = { 4, 2 };
	size_t len;

	fill(w, sizeof(w), 13);
	write10(fx, 10, w, 8);
	write10(fx, 20, w, 8);
	assert_int_equal(cow_used_bytes(fx->cow), 16 * BS);

	len = unmap_list(p, lba, cnt, 2);
	cdb10(c, OP_UNMAP, 0, 0, (uint16_t)len);
	c[2] = c[3] = c[4] = c[5] = 0;
	assert_good(fx, c, p, len);
	assert_int_equal(cow_used_bytes(fx->cow), 10 * BS);
	read10(fx, 10, r, 8);
	assert_memory_equal(r, fx->base + 10 * BS, 4 * BS);  /* unmapped: the base */
	assert_memory_equal(r + 4 * BS, w + 4 * BS, 4 * BS); /* kept */

	/* A descriptor out of range: error, and nothing is unmapped. */
	lba[0] = 24;
	cnt[0] = 1;
	lba[1] = DEV_BLOCKS - 1;
	cnt[1] = 2;
	len = unmap_list(p, lba, cnt, 2);
	cdb10(c, OP_UNMAP, 0, 0, (uint16_t)len);
	assert_check(fx, c, p, len, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	assert_int_equal(cow_used_bytes(fx->cow), 10 * BS);

	/* Too many descriptors. */
	{
		uint64_t l[SCSI_MAX_UNMAP_DESCRIPTORS + 1];
		uint32_t n[SCSI_MAX_UNMAP_DESCRIPTORS + 1];

		for (size_t i = 0; i <= SCSI_MAX_UNMAP_DESCRIPTORS; i++) {
			l[i] = i;
			n[i] = 1;
		}
		len = unmap_list(p, l, n, SCSI_MAX_UNMAP_DESCRIPTORS + 1);
		cdb10(c, OP_UNMAP, 0, 0, (uint16_t)len);
		assert_check(fx, c, p, len, SENSE_ILLEGAL_REQUEST,
			     ASC_INVALID_FIELD_IN_PARAM);
	}

	/* ANCHOR, a too-short list, and an empty one. */
	len = unmap_list(p, lba, cnt, 0);
	cdb10(c, OP_UNMAP, 0x01, 0, (uint16_t)len);
	assert_check(fx, c, p, len, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	cdb10(c, OP_UNMAP, 0, 0, 4);
	assert_check(fx, c, p, 4, SENSE_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH_ERROR);
	cdb10(c, OP_UNMAP, 0, 0, 0);
	assert_good(fx, c, NULL, 0);
	assert_int_equal(cow_used_bytes(fx->cow), 10 * BS);
}

static void test_unmap_lba_count_limit(void **state)
{
	struct fx *fx = *state;
	uint8_t c[10], p[8 + 16 * 2];
	uint64_t lba[2] = { 0, 0 };
	uint32_t cnt[2] = { DEV_BLOCKS, DEV_BLOCKS };
	size_t len;

	/* Two whole-disk descriptors: 262144 blocks, within the limit. */
	len = unmap_list(p, lba, cnt, 2);
	cdb10(c, OP_UNMAP, 0, 0, (uint16_t)len);
	assert_good(fx, c, p, len);
	{
		/* 9 whole-disk descriptors: 9 × 131072 = 1179648 > 0x100000. */
		uint64_t l[9] = { 0 };
		uint32_t n[9];
		uint8_t q[8 + 16 * 9];

		for (int i = 0; i < 9; i++)
			n[i] = DEV_BLOCKS;
		len = unmap_list(q, l, n, 9);
		cdb10(c, OP_UNMAP, 0, 0, (uint16_t)len);
		assert_check(fx, c, q, len, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAM);
	}
}

/* ---- COMPARE AND WRITE / VERIFY / WRITE AND VERIFY -------------------------------- */

static void test_compare_and_write(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16], d[4 * BS], r[2 * BS];
	struct scsi_cmd cmd;

	/* Match: the current contents (base) as verify data, new data written. */
	memcpy(d, fx->base + 6 * BS, 2 * BS);
	fill(d + 2 * BS, 2 * BS, 14);
	memset(c, 0, sizeof(c));
	c[0] = OP_COMPARE_AND_WRITE;
	put_be64(c + 2, 6);
	c[13] = 2;
	assert_good(fx, c, d, sizeof(d));
	read10(fx, 6, r, 2);
	assert_memory_equal(r, d + 2 * BS, 2 * BS);

	/* Miscompare at byte 700 of the range: INFORMATION = 700, nothing written. */
	memcpy(d, r, 2 * BS);
	d[700] ^= 0xff;
	fill(d + 2 * BS, 2 * BS, 15);
	assert_int_equal(run(fx, &cmd, c, d, sizeof(d)), SCSI_STATUS_CHECK_CONDITION);
	assert_sense(&cmd, SENSE_MISCOMPARE, ASC_MISCOMPARE_DURING_VERIFY);
	assert_int_equal(cmd.sense[0] & 0x80, 0x80); /* VALID */
	assert_int_equal(get_be32(cmd.sense + 3), 700);
	read10(fx, 6, d, 2);
	assert_memory_equal(d, r, 2 * BS);

	/* Limits and range. */
	fx->lu.max_xfer_blocks = 8; /* → at most 4 blocks */
	c[13] = 5;
	assert_check(fx, c, d, sizeof(d), SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	c[13] = 2;
	put_be64(c + 2, DEV_BLOCKS - 1);
	assert_check(fx, c, d, sizeof(d), SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	/* Data-out holding only the verify half. */
	put_be64(c + 2, 6);
	assert_check(fx, c, d, 2 * BS, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CMD_IU);
	/* NUMBER OF LOGICAL BLOCKS 0: GOOD without data, rejected with data (256 wraps). */
	c[13] = 0;
	assert_good(fx, c, NULL, 0);
	assert_check(fx, c, d, sizeof(d), SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	read10(fx, 6, d, 2);
	assert_memory_equal(d, r, 2 * BS);
}

static void test_verify(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16], w[4 * BS], d[4 * BS];
	struct scsi_cmd cmd;

	fill(w, sizeof(w), 16);
	write10(fx, 300, w, 4);

	/* BYTCHK = 0: range check only. */
	cdb10(c, OP_VERIFY_10, 0, 300, 4);
	assert_good(fx, c, NULL, 0);
	cdb10(c, OP_VERIFY_10, 0, DEV_BLOCKS - 2, 4);
	assert_check(fx, c, NULL, 0, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);

	/* BYTCHK = 1: equal data. */
	cdb16(c, OP_VERIFY_16, 0x02, 300, 4);
	memcpy(d, w, sizeof(d));
	assert_good(fx, c, d, sizeof(d));
	cdb12(c, OP_VERIFY_12, 0x02, 300, 4);
	assert_good(fx, c, d, sizeof(d));

	/* BYTCHK = 1: a difference in the third block. */
	d[2 * BS + 17] ^= 0x01;
	cdb10(c, OP_VERIFY_10, 0x02, 300, 4);
	assert_int_equal(run(fx, &cmd, c, d, sizeof(d)), SCSI_STATUS_CHECK_CONDITION);
	assert_sense(&cmd, SENSE_MISCOMPARE, ASC_MISCOMPARE_DURING_VERIFY);
	assert_int_equal(cmd.sense[0] & 0x80, 0x80);
	assert_int_equal(get_be32(cmd.sense + 3), 2 * BS + 17);

	/* BYTCHK = 11b: one block compared with every block. */
	write10(fx, 310, w, 1);
	write10(fx, 311, w, 1);
	cdb10(c, OP_VERIFY_10, 0x06, 310, 2);
	assert_good(fx, c, w, BS);
	cdb10(c, OP_VERIFY_10, 0x06, 310, 3);
	assert_int_equal(run(fx, &cmd, c, w, BS), SCSI_STATUS_CHECK_CONDITION);
	assert_sense(&cmd, SENSE_MISCOMPARE, ASC_MISCOMPARE_DURING_VERIFY);

	/* BYTCHK = 10b is reserved; VRPROTECT unsupported. */
	cdb10(c, OP_VERIFY_10, 0x04, 300, 1);
	assert_check(fx, c, w, BS, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	cdb10(c, OP_VERIFY_10, 0x20, 300, 1);
	assert_check(fx, c, w, BS, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
}

static void test_write_and_verify(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16], w[3 * BS], r[3 * BS];

	fill(w, sizeof(w), 17);
	cdb10(c, OP_WRITE_VERIFY_10, 0x02, 500, 3); /* BYTCHK = 1 */
	assert_good(fx, c, w, sizeof(w));
	read10(fx, 500, r, 3);
	assert_memory_equal(w, r, sizeof(r));

	fill(w, sizeof(w), 18);
	cdb16(c, OP_WRITE_VERIFY_16, 0, 600, 3);
	assert_good(fx, c, w, sizeof(w));
	read10(fx, 600, r, 3);
	assert_memory_equal(w, r, sizeof(r));

	cdb12(c, OP_WRITE_VERIFY_12, 0, DEV_BLOCKS - 1, 3);
	assert_check(fx, c, w, sizeof(w), SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
}

/* ---- MODE SENSE / MODE SELECT ------------------------------------------------------ */

/* Locate page `code` in MODE SENSE data (hdr = 4 or 8); NULL if absent. */
static const uint8_t *find_page(const uint8_t *d, size_t len, size_t hdr, size_t bdl,
				uint8_t code)
{
	size_t p = hdr + bdl;

	while (p + 2 <= len) {
		if ((d[p] & 0x3f) == code)
			return d + p;
		p += 2 + d[p + 1];
	}
	return NULL;
}

/* SBC-3 §4.11, §6.4.1: a write-protected LU (a shared read-only export, ro=1) says
 * WP in both mode parameter headers, refuses every command that changes the medium
 * with DATA PROTECT / WRITE PROTECTED and leaves the data as it was; reads work. */
static void test_write_protect(void **state)
{
	struct fx *fx = *state;
	uint8_t ms6[6] = { OP_MODE_SENSE_6, 0x08, 0x08, 0, 255, 0 };
	uint8_t ms10[10] = { OP_MODE_SENSE_10, 0x08, 0x08, 0, 0, 0, 0, 0, 255, 0 };
	uint8_t ws16[16] = { OP_WRITE_SAME_16, 0x08, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 4, 0, 0 };
	uint8_t unmap[10] = { OP_UNMAP, 0, 0, 0, 0, 0, 0, 0, 24, 0 };
	uint8_t um[24] = { 0, 22, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 4 };
	uint8_t data[4 * BS], back[4 * BS], c[10], d[255];
	struct scsi_cmd cmd;

	fill(data, sizeof(data), 3);
	write10(fx, 8, data, 4);
	assert_int_equal(run(fx, &cmd, ms6, d, sizeof(d)), SCSI_STATUS_GOOD);
	assert_int_equal(d[2] & 0x80, 0); /* writable: WP = 0 */

	fx->lu.write_protect = 1;
	assert_int_equal(run(fx, &cmd, ms6, d, sizeof(d)), SCSI_STATUS_GOOD);
	assert_int_equal(d[2], 0x90); /* WP | DPOFUA */
	assert_int_equal(run(fx, &cmd, ms10, d, sizeof(d)), SCSI_STATUS_GOOD);
	assert_int_equal(d[3], 0x90);

	memset(back, 0xee, sizeof(back));
	cdb10(c, OP_WRITE_10, 0, 8, 4);
	assert_check(fx, c, back, sizeof(back), SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED);
	assert_check(fx, ws16, back, BS, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED);
	assert_check(fx, unmap, um, sizeof(um), SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED);
	read10(fx, 8, back, 4);
	assert_memory_equal(back, data, sizeof(data));
}

static void test_mode_sense_caching(void **state)
{
	struct fx *fx = *state;
	uint8_t ms6[6] = { OP_MODE_SENSE_6, 0x08, 0x08, 0, 255, 0 }; /* DBD, caching */
	uint8_t ms10[10] = { OP_MODE_SENSE_10, 0x10, 0x3f, 0, 0, 0, 0, 0, 255, 0 };
	uint8_t d[255];
	const uint8_t *pg;
	struct scsi_cmd cmd;

	assert_int_equal(run(fx, &cmd, ms6, d, sizeof(d)), SCSI_STATUS_GOOD);
	assert_int_equal(cmd.data_in_len, d[0] + 1);
	assert_int_equal(d[2] & 0x10, 0x10); /* DPOFUA */
	assert_int_equal(d[3], 0);           /* no block descriptor */
	assert_int_equal(d[4] & 0x3f, 0x08);
	assert_int_equal(d[5], 0x12);
	assert_int_equal(d[6] & 0x04, 0x04); /* WCE */

	fx->lu.write_cache = 0;
	assert_int_equal(run(fx, &cmd, ms6, d, sizeof(d)), SCSI_STATUS_GOOD);
	assert_int_equal(d[6] & 0x04, 0);

	/* MODE SENSE (10), all pages, LLBAA: long block descriptor. */
	fx->lu.write_cache = 1;
	assert_int_equal(run(fx, &cmd, ms10, d, sizeof(d)), SCSI_STATUS_GOOD);
	assert_int_equal(cmd.data_in_len, get_be16(d) + 2);
	assert_int_equal(d[3] & 0x10, 0x10);
	assert_int_equal(d[4] & 0x01, 0x01); /* LONGLBA */
	assert_int_equal(get_be16(d + 6), 16);
	assert_int_equal(get_be64(d + 8), DEV_BLOCKS);
	assert_int_equal(get_be32(d + 20), 512);
	pg = find_page(d, cmd.data_in_len, 8, 16, 0x08);
	assert_non_null(pg);
	assert_int_equal(pg[2] & 0x04, 0x04);
	pg = find_page(d, cmd.data_in_len, 8, 16, 0x0a);
	assert_non_null(pg);
	assert_int_equal(pg[1], 0x0a);
	assert_int_equal(pg[2] & 0x04, 0); /* D_SENSE = 0 */

	/* MODE SENSE (6) with a short block descriptor. */
	ms6[1] = 0;
	assert_int_equal(run(fx, &cmd, ms6, d, sizeof(d)), SCSI_STATUS_GOOD);
	assert_int_equal(d[3], 8);
	assert_int_equal(get_be32(d + 4), DEV_BLOCKS);
	assert_int_equal(get_be24(d + 9), 512);
	assert_int_equal(d[12] & 0x3f, 0x08);

	/* Changeable values: nothing is. */
	ms6[1] = 0x08;
	ms6[2] = 0x40 | 0x08;
	assert_int_equal(run(fx, &cmd, ms6, d, sizeof(d)), SCSI_STATUS_GOOD);
	assert_int_equal(d[6], 0);

	/* Saved values, an unknown page, truncation. */
	ms6[2] = 0xc0 | 0x08;
	assert_check(fx, ms6, d, sizeof(d), SENSE_ILLEGAL_REQUEST,
		     ASC_SAVING_PARAMS_UNSUPPORTED);
	ms6[2] = 0x1c;
	assert_check(fx, ms6, d, sizeof(d), SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	/* Subpage FFh of one page: that page and its subpages (it has none); another
	 * subpage of it does not exist. */
	ms6[2] = 0x08;
	ms6[3] = 0xff;
	assert_int_equal(run(fx, &cmd, ms6, d, sizeof(d)), SCSI_STATUS_GOOD);
	assert_int_equal(d[0], 3 + 20);
	assert_int_equal(d[4] & 0x3f, 0x08);
	ms6[3] = 0x01;
	assert_check(fx, ms6, d, sizeof(d), SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	ms6[3] = 0;
	ms6[2] = 0x3f;
	ms6[4] = 4;
	assert_int_equal(run(fx, &cmd, ms6, d, sizeof(d)), SCSI_STATUS_GOOD);
	assert_int_equal(cmd.data_in_len, 4);
	assert_int_equal(d[0], 4 - 1 + 20 + 12); /* full length still reported */
}

static void test_mode_select(void **state)
{
	struct fx *fx = *state;
	uint8_t ms10[10] = { OP_MODE_SENSE_10, 0x00, 0x08, 0, 0, 0, 0, 0, 255, 0 };
	uint8_t sel10[10] = { OP_MODE_SELECT_10, 0x10 };
	uint8_t sel6[6] = { OP_MODE_SELECT_6, 0x10 };
	uint8_t d[255], p6[4 + 20];
	struct scsi_cmd cmd;
	size_t len;

	/* What MODE SENSE returns may be sent back unchanged. */
	assert_int_equal(run(fx, &cmd, ms10, d, sizeof(d)), SCSI_STATUS_GOOD);
	len = cmd.data_in_len;
	d[0] = d[1] = 0; /* MODE DATA LENGTH is reserved in MODE SELECT */
	put_be16(sel10 + 7, (uint16_t)len);
	assert_good(fx, sel10, d, len);

	/* MEDIUM TYPE is byte 2 of the (10) header: only 00h. */
	d[2] = 0x05;
	assert_check(fx, sel10, d, len, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAM);
	d[2] = 0;

	/* Changing WCE is refused. */
	d[8 + 8 + 2] &= (uint8_t)~0x04;
	assert_check(fx, sel10, d, len, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAM);

	/* MODE SELECT (6), no block descriptor, caching page as is. */
	memset(p6, 0, sizeof(p6));
	p6[4] = 0x08;
	p6[5] = 0x12;
	p6[6] = 0x04;
	sel6[4] = sizeof(p6);
	assert_good(fx, sel6, p6, sizeof(p6));
	/* PF = 0, SP = 1. */
	sel6[1] = 0x00;
	assert_check(fx, sel6, p6, sizeof(p6), SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	sel6[1] = 0x11;
	assert_check(fx, sel6, p6, sizeof(p6), SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	/* A page running past the parameter list. */
	sel6[1] = 0x10;
	sel6[4] = sizeof(p6) - 4;
	assert_check(fx, sel6, p6, sizeof(p6), SENSE_ILLEGAL_REQUEST,
		     ASC_PARAM_LIST_LENGTH_ERROR);
	/* Less data than the parameter list length. */
	sel6[4] = sizeof(p6);
	assert_check(fx, sel6, p6, 10, SENSE_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH_ERROR);
	/* An unsupported page. */
	p6[4] = 0x1c;
	p6[5] = 0x0a;
	sel6[4] = 4 + 12;
	assert_check(fx, sel6, p6, 4 + 12, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAM);
	/* An empty list is fine. */
	sel6[4] = 0;
	assert_good(fx, sel6, NULL, 0);
}

/* ---- REPORT SUPPORTED OPERATION CODES ------------------------------------------------ */

static void rsoc_cdb(uint8_t *c, uint8_t opts, uint8_t op, uint16_t sa, uint32_t alloc)
{
	memset(c, 0, 12);
	c[0] = OP_MAINTENANCE_IN;
	c[1] = MI_REPORT_SUPPORTED_OPCODES;
	c[2] = opts;
	c[3] = op;
	put_be16(c + 4, sa);
	put_be32(c + 6, alloc);
}

static void test_report_supported_opcodes(void **state)
{
	struct fx *fx = *state;
	uint8_t c[12], d[2048];
	struct scsi_cmd cmd;

	/* One command, READ (16). */
	rsoc_cdb(c, 1, OP_READ_16, 0, sizeof(d));
	assert_int_equal(run(fx, &cmd, c, d, sizeof(d)), SCSI_STATUS_GOOD);
	assert_int_equal(d[1] & 0x07, 3);    /* supported */
	assert_int_equal(get_be16(d + 2), 16);
	assert_int_equal(cmd.data_in_len, 4 + 16);
	assert_int_equal(d[4], OP_READ_16);
	assert_int_equal(d[5], 0x1a);
	assert_memory_equal(d + 6, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);

	/* With RCTD: a timeouts descriptor follows. */
	rsoc_cdb(c, 0x81, OP_WRITE_10, 0, sizeof(d));
	assert_int_equal(run(fx, &cmd, c, d, sizeof(d)), SCSI_STATUS_GOOD);
	assert_int_equal(d[1] & 0x80, 0x80);
	assert_int_equal(cmd.data_in_len, 4 + 10 + 12);
	assert_int_equal(get_be16(d + 14), 10);

	/* Opcode + service action: READ CAPACITY (16). */
	rsoc_cdb(c, 2, OP_SERVICE_ACTION_IN_16, SAI_READ_CAPACITY_16, sizeof(d));
	assert_int_equal(run(fx, &cmd, c, d, sizeof(d)), SCSI_STATUS_GOOD);
	assert_int_equal(d[1] & 0x07, 3);
	assert_int_equal(d[5] & 0x1f, SAI_READ_CAPACITY_16);

	/* Not supported. */
	rsoc_cdb(c, 1, 0xc0, 0, sizeof(d));
	assert_int_equal(run(fx, &cmd, c, d, sizeof(d)), SCSI_STATUS_GOOD);
	assert_int_equal(d[1] & 0x07, 1);
	assert_int_equal(cmd.data_in_len, 4);
	rsoc_cdb(c, 2, OP_SERVICE_ACTION_IN_16, 0x11, sizeof(d));
	assert_int_equal(run(fx, &cmd, c, d, sizeof(d)), SCSI_STATUS_GOOD);
	assert_int_equal(d[1] & 0x07, 1);

	/* Option/opcode mismatches and an invalid option. */
	rsoc_cdb(c, 1, OP_SERVICE_ACTION_IN_16, 0, sizeof(d));
	assert_check(fx, c, d, sizeof(d), SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	rsoc_cdb(c, 2, OP_READ_10, 0, sizeof(d));
	assert_check(fx, c, d, sizeof(d), SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	rsoc_cdb(c, 5, OP_READ_10, 0, sizeof(d));
	assert_check(fx, c, d, sizeof(d), SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);

	/* All commands: one 8-byte descriptor per table entry, in table order. */
	rsoc_cdb(c, 0, 0, 0, sizeof(d));
	assert_int_equal(run(fx, &cmd, c, d, sizeof(d)), SCSI_STATUS_GOOD);
	assert_int_equal(get_be32(d), scsi_ops_count * 8);
	assert_int_equal(cmd.data_in_len, 4 + scsi_ops_count * 8);
	for (size_t i = 0; i < scsi_ops_count; i++) {
		const uint8_t *e = d + 4 + 8 * i;

		assert_int_equal(e[0], scsi_ops[i].opcode);
		assert_int_equal(e[5] & 0x01, scsi_ops[i].has_sa);
		assert_int_equal(get_be16(e + 6), scsi_ops[i].cdb_len);
	}
	/* ...with timeouts: 20 bytes each. */
	rsoc_cdb(c, 0x80, 0, 0, sizeof(d));
	assert_int_equal(run(fx, &cmd, c, d, sizeof(d)), SCSI_STATUS_GOOD);
	assert_int_equal(get_be32(d), scsi_ops_count * 20);
	assert_int_equal(d[4 + 5] & 0x02, 0x02);
}


/* Which commands may overlap on one LU (scsi_cmd_shares_lu, the handler's threads). */
static void test_shares_lu(void **state)
{
	struct scsi_lu lu = { .write_cache = 1 };
	const uint8_t read6[6] = { 0x08 }, read10[10] = { 0x28 }, read12[12] = { 0xa8 },
		      read16[16] = { 0x88 }, write6[6] = { 0x0a }, write10[10] = { 0x2a },
		      write10_fua[10] = { 0x2a, 0x08 }, write12[12] = { 0xaa },
		      write16[16] = { 0x8a }, write16_fua[16] = { 0x8a, 0x08 },
		      sync10[10] = { 0x35 }, unmap[10] = { 0x42 }, ws16[16] = { 0x93 },
		      caw[16] = { 0x89 }, wv10[10] = { 0x2e }, modesel[6] = { 0x15 },
		      tur[6] = { 0x00 };

	(void)state;
	assert_true(scsi_cmd_shares_lu(&lu, read6) && scsi_cmd_shares_lu(&lu, read10) &&
		    scsi_cmd_shares_lu(&lu, read12) && scsi_cmd_shares_lu(&lu, read16));
	assert_true(scsi_cmd_shares_lu(&lu, write6) && scsi_cmd_shares_lu(&lu, write10) &&
		    scsi_cmd_shares_lu(&lu, write12) && scsi_cmd_shares_lu(&lu, write16));
	/* Durable writes, flushes, discards, atomic and mode changes run alone. */
	assert_false(scsi_cmd_shares_lu(&lu, write10_fua));
	assert_false(scsi_cmd_shares_lu(&lu, write16_fua));
	assert_false(scsi_cmd_shares_lu(&lu, sync10));
	assert_false(scsi_cmd_shares_lu(&lu, unmap));
	assert_false(scsi_cmd_shares_lu(&lu, ws16));
	assert_false(scsi_cmd_shares_lu(&lu, caw));
	assert_false(scsi_cmd_shares_lu(&lu, wv10));
	assert_false(scsi_cmd_shares_lu(&lu, modesel));
	assert_false(scsi_cmd_shares_lu(&lu, tur));
	/* Write-through (WCE = 0): every write is durable, so it runs alone. */
	lu.write_cache = 0;
	assert_false(scsi_cmd_shares_lu(&lu, write6));
	assert_false(scsi_cmd_shares_lu(&lu, write10));
	assert_true(scsi_cmd_shares_lu(&lu, read10));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_inquiry_standard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inquiry_truncation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inquiry_bad_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vpd_supported_and_serial, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vpd_device_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vpd_block_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vpd_bdc_and_lbp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tur_and_request_sense, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_opcode_and_sa, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_capacity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_read_10_16, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_read_6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_block_and_multi_iov, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_length_and_field_errors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_limit, setup_limit, teardown),
		cmocka_unit_test_setup_teardown(test_space_allocation_failed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_prefetch_start_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_same, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_same_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmap_lba_count_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compare_and_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_and_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mode_sense_caching, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_protect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mode_select, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_supported_opcodes, setup, teardown),
		cmocka_unit_test(test_shares_lu),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
