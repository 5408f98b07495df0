/*
 * test_wce.c — honest write caching (issue 10): the WCE bit of the caching mode page
 * (SBC-3 §6.4.5) and what the handler does for it, seen through the one system call
 * that makes overlay data and bitmap durable: fdatasync.
 *
 * The test binary is linked with -Wl,--wrap=fdatasync (tests/unit/Makefile), so every
 * fdatasync of the handler's library (cow.c, bitmap.c) comes here first: the wrapper
 * records which file it was (overlay or bitmap, by device and inode), what the bitmap
 * file held on disk at that moment for the sector under test, and can fail on
 * request. Checked:
 *  - MODE SENSE (6)/(10): WCE = lu->write_cache in current and default values, never
 *    changeable;
 *  - WCE = 1: a plain WRITE calls no fdatasync and leaves the bitmap file's bit
 *    clear (the bit is in the tmpfs mirror); SYNCHRONIZE CACHE (10)/(16) syncs
 *    the overlay, then the bitmap; WRITE with FUA syncs the overlay while the bitmap
 *    file does not hold the new bit yet, then writes and syncs the bit (data durable
 *    before the bit that points at it); WRITE SAME stays cached, and so does an
 *    UNMAP that frees no whole filesystem block (one that does flushes first);
 *  - WCE = 0 (write-through): WRITE (6)/(10)/(16), WRITE SAME, UNMAP and COMPARE AND
 *    WRITE each sync overlay then bitmap before GOOD;
 *  - a failing fdatasync turns SYNCHRONIZE CACHE and a write-through WRITE into
 *    CHECK CONDITION, MEDIUM ERROR (never GOOD).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_tmpdir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scsi_priv.h"
#include "cdb_build.h"

#define DEV_BYTES (8ull * 1024 * 1024)
#define BS 512u
#define LBA 4096u /* sector under test: bit 4096 = bitmap byte 512, bit 0 */

/* ---- the fdatasync seam ---------------------------------------------------------- */

int __real_fdatasync(int fd);

#define MAX_EVENTS 64
struct sync_event {
	char which;         /* 'o' overlay, 'b' bitmap, '?' other */
	int bit_on_disk;    /* the bitmap file's bit for LBA at that moment (0/1) */
};

static struct {
	const char *overlay, *bitmap; /* paths of the store under test */
	struct sync_event ev[MAX_EVENTS];
	int n;
	int fail_errno;              /* non-zero: the next calls fail with it */
} seam;

static int bit_on_disk(void)
{
	uint8_t b = 0;
	int fd = open(seam.bitmap, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (pread(fd, &b, 1, LBA / 8) != 1)
		b = 0;
	close(fd);
	return (b >> (LBA % 8)) & 1;
}

/* 1 when fd is the file at path (same device and inode). */
static int is_file(int fd, const char *path)
{
	struct stat a, b;

	return path && fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

int __wrap_fdatasync(int fd)
{
	char which = '?';

	if (is_file(fd, seam.overlay))
		which = 'o';
	else if (is_file(fd, seam.bitmap))
		which = 'b';
	if (seam.n < MAX_EVENTS && which != '?') {
		seam.ev[seam.n].which = which;
		seam.ev[seam.n].bit_on_disk = bit_on_disk();
		seam.n++;
	}
	if (seam.fail_errno) {
		errno = seam.fail_errno;
		return -1;
	}
	return __real_fdatasync(fd);
}

/* The recorded sequence as a string ("ob", "o", ""), then cleared. */
static const char *take_events(char *buf, size_t len)
{
	int i;

	for (i = 0; i < seam.n && (size_t)i + 1 < len; i++)
		buf[i] = seam.ev[i].which;
	buf[i] = '\0';
	seam.n = 0;
	return buf;
}

/* ---- fixture --------------------------------------------------------------------- */

struct fx {
	char dir[64];
	struct cow_config cfg;
	struct cow *cow;
	struct scsi_lu lu;
	char err[256];
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	strcpy(fx->dir, "/tmp/test_wce." "XX" "XX" "XX"); /* mkdtemp template */
	assert_non_null(mkdtemp(fx->dir));
	fx->cfg.size_bytes = DEV_BYTES;
	snprintf(fx->cfg.overlay, sizeof(fx->cfg.overlay), "%s/overlay", fx->dir);
	snprintf(fx->cfg.bitmap, sizeof(fx->cfg.bitmap), "%s/bitmap", fx->dir);
	fx->cow = cow_open(&fx->cfg, fx->dir, fx->err, sizeof(fx->err));
	if (!fx->cow)
		print_error("cow_open: %s\n", fx->err);
	assert_non_null(fx->cow);
	memset(&seam, 0, sizeof(seam));
	seam.overlay = fx->cfg.overlay;
	seam.bitmap = fx->cfg.bitmap;
	fx->lu.cow = fx->cow;
	strcpy(fx->lu.serial, "sp-wce");
	fx->lu.max_xfer_blocks = 2048;
	fx->lu.write_cache = 1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	memset(&seam, 0, sizeof(seam));
	cow_close(fx->cow);
	unlink(fx->cfg.overlay);
	unlink(fx->cfg.bitmap);
	assert_int_equal(test_rmdir_flat(fx->dir), 0); /* and the bitmap mirror */
	free(fx);
	return 0;
}

/* ---- helpers --------------------------------------------------------------------- */

static int run(struct fx *fx, struct scsi_cmd *cmd, const uint8_t *cdb, void *buf,
	       size_t len)
{
	struct iovec iov = { buf, len };

	memset(cmd, 0, sizeof(*cmd));
	cmd->cdb = cdb;
	cmd->iov = buf ? &iov : NULL;
	cmd->iov_cnt = buf ? 1 : 0;
	return scsi_execute(&fx->lu, cmd);
}

static void good(struct fx *fx, const uint8_t *cdb, void *buf, size_t len)
{
	struct scsi_cmd cmd;
	int st = run(fx, &cmd, cdb, buf, len);

	if (st != SCSI_STATUS_GOOD)
		print_error("status %d sense key %x asc %02x/%02x\n", st, cmd.sense[2],
			    cmd.sense[12], cmd.sense[13]);
	assert_int_equal(st, SCSI_STATUS_GOOD);
}

static void medium_error(struct fx *fx, const uint8_t *cdb, void *buf, size_t len)
{
	struct scsi_cmd cmd;

	assert_int_equal(run(fx, &cmd, cdb, buf, len), SCSI_STATUS_CHECK_CONDITION);
	assert_int_equal(cmd.sense[2] & 0x0f, SENSE_MEDIUM_ERROR);
}

#define FUA 0x08

/* ---- MODE SENSE: the WCE bit ------------------------------------------------------ */

/* WCE of the caching page from MODE SENSE (6) with DBD, page control pc. */
static int wce6(struct fx *fx, int pc)
{
	uint8_t cdb[6] = { OP_MODE_SENSE_6, 0x08, (uint8_t)(pc << 6 | 0x08), 0, 255, 0 };
	uint8_t d[255];
	struct scsi_cmd cmd;

	memset(d, 0xee, sizeof(d));
	assert_int_equal(run(fx, &cmd, cdb, d, sizeof(d)), SCSI_STATUS_GOOD);
	assert_int_equal(d[3], 0);          /* no block descriptor */
	assert_int_equal(d[4] & 0x3f, 0x08); /* caching page */
	assert_int_equal(d[5], 0x12);
	assert_int_equal(d[2] & 0x10, 0x10); /* DPOFUA: FUA is honoured */
	return (d[6] >> 2) & 1;
}

/* WCE of the caching page from MODE SENSE (10) with DBD, all pages. */
static int wce10(struct fx *fx)
{
	uint8_t cdb[10] = { OP_MODE_SENSE_10, 0x08, 0x3f, 0, 0, 0, 0, 0, 255, 0 };
	uint8_t d[255];
	struct scsi_cmd cmd;

	assert_int_equal(run(fx, &cmd, cdb, d, sizeof(d)), SCSI_STATUS_GOOD);
	assert_int_equal(d[8] & 0x3f, 0x08); /* first page: caching */
	return (d[10] >> 2) & 1;
}

static void test_mode_page_wce(void **state)
{
	struct fx *fx = *state;

	fx->lu.write_cache = 1;
	assert_int_equal(wce6(fx, 0), 1);   /* current */
	assert_int_equal(wce6(fx, 2), 1);   /* default */
	assert_int_equal(wce6(fx, 1), 0);   /* changeable: no */
	assert_int_equal(wce10(fx), 1);
	fx->lu.write_cache = 0;
	assert_int_equal(wce6(fx, 0), 0);
	assert_int_equal(wce6(fx, 2), 0);
	assert_int_equal(wce6(fx, 1), 0);
	assert_int_equal(wce10(fx), 0);
	/* Reading the mode page never syncs anything. */
	assert_int_equal(seam.n, 0);
}

/* ---- WCE = 1: cached writes, SYNCHRONIZE CACHE, FUA ------------------------------- */

static void test_wce1_write_cached_until_sync_cache(void **state)
{
	struct fx *fx = *state;
	uint8_t cdb[16], data[8 * BS];
	char ev[MAX_EVENTS + 1];

	memset(data, 0x5a, sizeof(data));
	cdb10(cdb, OP_WRITE_10, 0, LBA, 8);
	good(fx, cdb, data, sizeof(data));
	assert_string_equal(take_events(ev, sizeof(ev)), "");
	/*
	 * The bit is only in the tmpfs mirror (kill -9 safety, bitmap.h): the durable
	 * bitmap file gets it at the flush, after the data it points at.
	 */
	assert_int_equal(bit_on_disk(), 0);

	cdb10(cdb, OP_SYNC_CACHE_10, 0, 0, 0);
	good(fx, cdb, NULL, 0);
	assert_string_equal(take_events(ev, sizeof(ev)), "ob");
	assert_int_equal(bit_on_disk(), 1);

	/* Nothing new in the bitmap: SYNCHRONIZE CACHE (16) syncs the overlay only. */
	cdb16(cdb, OP_SYNC_CACHE_16, 0, 0, 0);
	good(fx, cdb, NULL, 0);
	assert_string_equal(take_events(ev, sizeof(ev)), "o");

	/* A rewrite changes no bit; the flush still covers its data. */
	memset(data, 0xa5, sizeof(data));
	cdb10(cdb, OP_WRITE_10, 0, LBA, 8);
	good(fx, cdb, data, sizeof(data));
	assert_string_equal(take_events(ev, sizeof(ev)), "");
	cdb16(cdb, OP_SYNC_CACHE_16, 0, LBA, 8);
	good(fx, cdb, NULL, 0);
	assert_string_equal(take_events(ev, sizeof(ev)), "o");
}

/* FUA: overlay data durable while the bitmap file has no bit for it, then the bit. */
static void fua_order(struct fx *fx, const uint8_t *cdb)
{
	uint8_t data[8 * BS];
	char ev[MAX_EVENTS + 1];

	memset(data, 0x11, sizeof(data));
	seam.n = 0;
	good(fx, cdb, data, sizeof(data));
	assert_int_equal(seam.n, 2);
	assert_int_equal(seam.ev[0].which, 'o');
	assert_int_equal(seam.ev[0].bit_on_disk, 0); /* data first */
	assert_int_equal(seam.ev[1].which, 'b');
	assert_int_equal(seam.ev[1].bit_on_disk, 1); /* then the bit, synced */
	take_events(ev, sizeof(ev));
}

static void test_wce1_fua_write10_orders_data_before_bit(void **state)
{
	struct fx *fx = *state;
	uint8_t cdb[10];

	cdb10(cdb, OP_WRITE_10, FUA, LBA, 8);
	fua_order(fx, cdb);
}

static void test_wce1_fua_write16_orders_data_before_bit(void **state)
{
	struct fx *fx = *state;
	uint8_t cdb[16];

	cdb16(cdb, OP_WRITE_16, FUA, LBA, 8);
	fua_order(fx, cdb);
}

static void test_wce1_write_same_unmap_cached(void **state)
{
	struct fx *fx = *state;
	uint8_t cdb[10], block[BS], param[24];
	char ev[MAX_EVENTS + 1];

	memset(block, 0x77, sizeof(block));
	cdb10(cdb, OP_WRITE_SAME_10, 0, LBA, 16);
	good(fx, cdb, block, sizeof(block));
	assert_string_equal(take_events(ev, sizeof(ev)), "");

	assert_int_equal(bit_on_disk(), 0);

	/*
	 * UNMAP of whole filesystem blocks: the cleared bits are made durable (with
	 * the data of earlier writes) before the blocks are punched out, so no bit on
	 * disk ever points at a hole (cow_discard).
	 */
	unmap_param1(param, LBA, 16);
	cdb10(cdb, OP_UNMAP, 0, 0, sizeof(param));
	good(fx, cdb, param, sizeof(param));
	assert_string_equal(take_events(ev, sizeof(ev)), "ob");
	assert_int_equal(bit_on_disk(), 0);

	/* UNMAP of part of a block punches nothing: it stays cached. */
	cdb10(cdb, OP_WRITE_SAME_10, 0, LBA, 16);
	good(fx, cdb, block, sizeof(block));
	unmap_param1(param, LBA, 1);
	cdb10(cdb, OP_UNMAP, 0, 0, sizeof(param));
	good(fx, cdb, param, sizeof(param));
	assert_string_equal(take_events(ev, sizeof(ev)), "");
}

/* ---- WCE = 0: write-through ------------------------------------------------------- */

static void test_wce0_every_write_durable(void **state)
{
	struct fx *fx = *state;
	uint8_t cdb[16], data[8 * BS];
	char ev[MAX_EVENTS + 1];

	fx->lu.write_cache = 0;
	memset(data, 0x42, sizeof(data));

	/* WRITE (10) without FUA: data synced before the bit exists, then the bit. */
	cdb10(cdb, OP_WRITE_10, 0, LBA, 8);
	fua_order(fx, cdb);

	/* WRITE (6): no FUA field at all, still write-through. */
	memset(cdb, 0, 6);
	cdb[0] = OP_WRITE_6;
	cdb[3] = 64;
	cdb[4] = 1;
	good(fx, cdb, data, BS);
	assert_string_equal(take_events(ev, sizeof(ev)), "ob");

	/* WRITE (16) rewriting a written sector: the data is synced (no bit changes). */
	cdb16(cdb, OP_WRITE_16, 0, LBA, 8);
	good(fx, cdb, data, sizeof(data));
	assert_string_equal(take_events(ev, sizeof(ev)), "o");
}

static void test_wce0_write_same_unmap_caw_durable(void **state)
{
	struct fx *fx = *state;
	uint8_t cdb[16], block[BS], param[24], caw[2 * BS];
	char ev[MAX_EVENTS + 1];

	fx->lu.write_cache = 0;
	memset(block, 0x77, sizeof(block));
	cdb10(cdb, OP_WRITE_SAME_10, 0, LBA, 16);
	good(fx, cdb, block, sizeof(block));
	assert_string_equal(take_events(ev, sizeof(ev)), "ob");

	/* COMPARE AND WRITE of one block: medium holds 0x77, write 0x99. */
	memset(caw, 0x77, BS);
	memset(caw + BS, 0x99, BS);
	memset(cdb, 0, 16);
	cdb[0] = OP_COMPARE_AND_WRITE;
	put_be64(cdb + 2, LBA);
	cdb[13] = 1;
	good(fx, cdb, caw, sizeof(caw));
	assert_string_equal(take_events(ev, sizeof(ev)), "o");

	/* The flush before the punch (cow_discard), then write-through's own. */
	unmap_param1(param, LBA, 16);
	cdb10(cdb, OP_UNMAP, 0, 0, sizeof(param));
	good(fx, cdb, param, sizeof(param));
	assert_string_equal(take_events(ev, sizeof(ev)), "obo");
	assert_int_equal(bit_on_disk(), 0);
}

/* ---- a failing flush is never GOOD ------------------------------------------------ */

static void test_sync_failure_is_medium_error(void **state)
{
	struct fx *fx = *state;
	uint8_t cdb[10], data[BS];

	memset(data, 0x33, sizeof(data));
	cdb10(cdb, OP_WRITE_10, 0, LBA, 1);
	good(fx, cdb, data, sizeof(data));
	seam.fail_errno = EIO;
	cdb10(cdb, OP_SYNC_CACHE_10, 0, 0, 0);
	medium_error(fx, cdb, NULL, 0);
	/* Write-through with a failing sync: the write is not acknowledged. */
	fx->lu.write_cache = 0;
	cdb10(cdb, OP_WRITE_10, 0, LBA + 8, 1);
	medium_error(fx, cdb, data, sizeof(data));
	seam.fail_errno = 0;
	/* Once the disk works again the flush syncs overlay and bitmap. */
	seam.n = 0;
	cdb10(cdb, OP_SYNC_CACHE_10, 0, 0, 0);
	good(fx, cdb, NULL, 0);
	assert_true(seam.n >= 2);
	assert_int_equal(seam.ev[seam.n - 1].which, 'b');
	assert_int_equal(bit_on_disk(), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mode_page_wce, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wce1_write_cached_until_sync_cache, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_wce1_fua_write10_orders_data_before_bit,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_wce1_fua_write16_orders_data_before_bit,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_wce1_write_same_unmap_cached, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_wce0_every_write_durable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wce0_write_same_unmap_caw_durable, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sync_failure_is_medium_error, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
