/*
 * test_ring.c — unit tests for tcmu-handler/ring.c over a TCMU mailbox, command ring
 * and data area built by hand in memory (ring_init_mem): completion of CMD entries
 * (status, sense, data-in residual), PAD/TMR/unknown entries, wraparound, malformed
 * entries and inconsistent rings, mailbox checks, and out-of-order completion (a
 * finished command takes the slot at cmd_tail under its own cmd_id), also from two
 * threads at once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>

#include "ring.h"
#include "sense.h"

#define MB_SIZE   sizeof(struct tcmu_mailbox)
#define CMDR_OFF  MB_SIZE
#define CMDR_SIZE 1024u
#define DATA_OFF  (CMDR_OFF + CMDR_SIZE)
#define DATA_SIZE 8192u
#define MAP_SIZE  (DATA_OFF + DATA_SIZE)

struct fixture {
	uint64_t buf[MAP_SIZE / 8];   /* 8-byte aligned mapping */
	struct ring ring;
	/* What the command callback saw and should do. */
	int calls;
	uint8_t cdb[16];
	int iov_cnt;
	size_t iov_len[4];
	uint8_t first_byte[4];
	int ret_status;               /* value returned by the callback */
	int data_in;                  /* set cmd->data_in to this */
	uint32_t data_in_len;         /* set cmd->data_in_len to this */
	int fill;                     /* fill data-in buffers with 0xab */
};

static uint8_t *map(struct fixture *f)
{
	return (uint8_t *)f->buf;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void init_mailbox(struct fixture *f)
{
	uint16_t version = TCMU_MAILBOX_VERSION;

	memset(f->buf, 0, sizeof(f->buf));
	memcpy(map(f) + offsetof(struct tcmu_mailbox, version), &version, 2);
	put_u32(map(f) + offsetof(struct tcmu_mailbox, cmdr_off), CMDR_OFF);
	put_u32(map(f) + offsetof(struct tcmu_mailbox, cmdr_size), CMDR_SIZE);
}

static void set_head(struct fixture *f, uint32_t v)
{
	put_u32(map(f) + offsetof(struct tcmu_mailbox, cmd_head), v);
}

/* Leave cmd_tail at v, as an earlier reader did: the ring is opened again there. */
static void set_tail(struct fixture *f, uint32_t v)
{
	char err[256] = "";

	put_u32(map(f) + offsetof(struct tcmu_mailbox, cmd_tail), v);
	ring_close(&f->ring);
	assert_int_equal(ring_init_mem(&f->ring, f->buf, MAP_SIZE, err, sizeof(err)), 0);
}

static uint32_t get_tail(struct fixture *f)
{
	return get_u32(map(f) + offsetof(struct tcmu_mailbox, cmd_tail));
}

static struct tcmu_cmd_entry *entry_at(struct fixture *f, uint32_t ring_off)
{
	return (struct tcmu_cmd_entry *)(void *)(map(f) + CMDR_OFF + ring_off);
}

static void set_len_op(struct tcmu_cmd_entry_hdr *h, uint32_t len, uint32_t op)
{
	uint32_t v = len | (op & TCMU_OP_MASK);

	memcpy(&h->len_op, &v, sizeof(v));
}

/* Bytes a CMD entry with n iovecs and a 16-byte CDB takes (8-byte aligned). */
static uint32_t cmd_entry_len(unsigned n)
{
	size_t len = offsetof(struct tcmu_cmd_entry, req.iov) + n * sizeof(struct iovec) + 16;

	if (len < sizeof(struct tcmu_cmd_entry))
		len = sizeof(struct tcmu_cmd_entry);
	return (uint32_t)((len + 7) & ~(size_t)7);
}

/*
 * Write a CMD entry at ring offset ring_off: CDB (16 bytes) right after the iovec
 * array, iovecs given as (offset in the mapping, length) pairs. Returns its length.
 */
static uint32_t put_cmd(struct fixture *f, uint32_t ring_off, uint16_t cmd_id,
			const uint8_t *cdb, unsigned n, const uint64_t *iov_off,
			const uint64_t *iov_len)
{
	struct tcmu_cmd_entry *e = entry_at(f, ring_off);
	uint32_t len = cmd_entry_len(n);
	size_t iov_at = offsetof(struct tcmu_cmd_entry, req.iov);
	uint64_t cdb_off = CMDR_OFF + ring_off + iov_at + n * sizeof(struct iovec);
	uint32_t cnt = n;
	unsigned i;

	memset(e, 0, len);
	set_len_op(&e->hdr, len, TCMU_OP_CMD);
	memcpy(&e->hdr.cmd_id, &cmd_id, 2);
	memcpy((uint8_t *)e + offsetof(struct tcmu_cmd_entry, req.iov_cnt), &cnt, 4);
	memcpy((uint8_t *)e + offsetof(struct tcmu_cmd_entry, req.cdb_off), &cdb_off, 8);
	for (i = 0; i < n; i++) {
		struct iovec v = { .iov_base = (void *)(uintptr_t)iov_off[i],
				   .iov_len = (size_t)iov_len[i] };

		memcpy((uint8_t *)e + iov_at + i * sizeof(v), &v, sizeof(v));
	}
	memcpy(map(f) + cdb_off, cdb, 16);
	return len;
}

static int cmd_fn(void *arg, struct scsi_cmd *cmd)
{
	struct fixture *f = arg;
	int i;

	f->calls++;
	memcpy(f->cdb, cmd->cdb, sizeof(f->cdb));
	f->iov_cnt = cmd->iov_cnt;
	for (i = 0; i < cmd->iov_cnt && i < 4; i++) {
		f->iov_len[i] = cmd->iov[i].iov_len;
		f->first_byte[i] = cmd->iov[i].iov_len ? *(uint8_t *)cmd->iov[i].iov_base : 0;
		if (f->fill)
			memset(cmd->iov[i].iov_base, 0xab, cmd->iov[i].iov_len);
	}
	cmd->data_in = f->data_in;
	cmd->data_in_len = f->data_in_len;
	if (f->ret_status == SCSI_STATUS_CHECK_CONDITION)
		sense_set(cmd->sense, sizeof(cmd->sense), SENSE_ILLEGAL_REQUEST,
			  ASC_INVALID_FIELD_IN_CDB);
	return f->ret_status;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256] = "";

	if (!f)
		return -1;
	init_mailbox(f);
	if (ring_init_mem(&f->ring, f->buf, MAP_SIZE, err, sizeof(err)) != 0) {
		fprintf(stderr, "ring_init_mem: %s\n", err);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ring_close(&f->ring);
	free(f);
	return 0;
}

static const uint8_t WRITE10[16] = { 0x2a, 0, 0, 0, 0, 8, 0, 0, 2, 0 };
static const uint8_t READ10[16] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0 };

static void test_empty_ring(void **state)
{
	struct fixture *f = *state;
	char err[256] = "";

	assert_int_equal(ring_process(&f->ring, cmd_fn, f, err, sizeof(err)), 0);
	assert_int_equal(f->calls, 0);
	assert_int_equal(ring_fd(&f->ring), -1);
	assert_int_equal(ring_ack(&f->ring), 0);
	assert_int_equal(ring_kick(&f->ring), 0);
}

static void test_cmd_good_with_iovecs(void **state)
{
	struct fixture *f = *state;
	uint64_t off[2] = { DATA_OFF, DATA_OFF + 4096 };
	uint64_t len[2] = { 512, 512 };
	struct tcmu_cmd_entry *e;
	char err[256] = "";
	uint32_t elen;

	map(f)[DATA_OFF] = 0x11;
	map(f)[DATA_OFF + 4096] = 0x22;
	elen = put_cmd(f, 0, 7, WRITE10, 2, off, len);
	set_head(f, elen);
	f->ret_status = SCSI_STATUS_GOOD;

	assert_int_equal(ring_process(&f->ring, cmd_fn, f, err, sizeof(err)), 1);
	assert_int_equal(f->calls, 1);
	assert_memory_equal(f->cdb, WRITE10, 10);
	assert_int_equal(f->iov_cnt, 2);
	assert_int_equal(f->iov_len[0], 512);
	assert_int_equal(f->iov_len[1], 512);
	assert_int_equal(f->first_byte[0], 0x11);
	assert_int_equal(f->first_byte[1], 0x22);
	e = entry_at(f, 0);
	assert_int_equal(e->rsp.scsi_status, SCSI_STATUS_GOOD);
	assert_int_equal(e->hdr.uflags, 0);
	assert_int_equal(e->hdr.cmd_id, 7); /* the entry keeps its id */
	assert_int_equal(get_tail(f), elen);

	/* A second pass finds nothing new. */
	assert_int_equal(ring_process(&f->ring, cmd_fn, f, err, sizeof(err)), 0);
	assert_int_equal(f->calls, 1);
}

static void test_two_cmds_in_order(void **state)
{
	struct fixture *f = *state;
	uint64_t off = DATA_OFF, len = 512;
	char err[256] = "";
	uint32_t a, b;

	a = put_cmd(f, 0, 1, WRITE10, 1, &off, &len);
	b = put_cmd(f, a, 2, READ10, 1, &off, &len);
	set_head(f, a + b);
	assert_int_equal(ring_process(&f->ring, cmd_fn, f, err, sizeof(err)), 2);
	assert_int_equal(f->calls, 2);
	assert_int_equal(f->cdb[0], 0x28); /* the last one seen is the second */
	assert_int_equal(get_tail(f), a + b);
}

static void test_check_condition_copies_sense(void **state)
{
	struct fixture *f = *state;
	uint8_t want[SENSE_BUF_LEN];
	struct tcmu_cmd_entry *e;
	char err[256] = "";
	uint32_t elen;

	elen = put_cmd(f, 0, 3, READ10, 0, NULL, NULL);
	set_head(f, elen);
	f->ret_status = SCSI_STATUS_CHECK_CONDITION;
	assert_int_equal(ring_process(&f->ring, cmd_fn, f, err, sizeof(err)), 1);
	e = entry_at(f, 0);
	assert_int_equal(e->rsp.scsi_status, SCSI_STATUS_CHECK_CONDITION);
	memset(want, 0, sizeof(want));
	sense_set(want, sizeof(want), SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	assert_memory_equal(e->rsp.sense_buffer, want, SENSE_BUF_LEN);
	assert_int_equal((uint8_t)e->rsp.sense_buffer[2], SENSE_ILLEGAL_REQUEST);
	assert_int_equal((uint8_t)e->rsp.sense_buffer[12], 0x24);
}

static void test_callback_out_of_range_status(void **state)
{
	struct fixture *f = *state;
	struct tcmu_cmd_entry *e;
	char err[256] = "";
	uint32_t elen;

	elen = put_cmd(f, 0, 3, READ10, 0, NULL, NULL);
	set_head(f, elen);
	f->ret_status = -EIO;
	assert_int_equal(ring_process(&f->ring, cmd_fn, f, err, sizeof(err)), 1);
	e = entry_at(f, 0);
	assert_int_equal(e->rsp.scsi_status, SCSI_STATUS_CHECK_CONDITION);
	assert_int_equal((uint8_t)e->rsp.sense_buffer[2], SENSE_HARDWARE_ERROR);
	assert_int_equal((uint8_t)e->rsp.sense_buffer[12], 0x44);
}

static void test_data_in_residual(void **state)
{
	struct fixture *f = *state;
	uint64_t off = DATA_OFF, len = 512;
	struct tcmu_cmd_entry *e;
	char err[256] = "";
	uint32_t elen;

	elen = put_cmd(f, 0, 9, READ10, 1, &off, &len);
	set_head(f, elen);
	f->ret_status = SCSI_STATUS_GOOD;
	f->data_in = 1;
	f->data_in_len = 36;
	assert_int_equal(ring_process(&f->ring, cmd_fn, f, err, sizeof(err)), 1);
	e = entry_at(f, 0);
	assert_int_equal(e->rsp.scsi_status, SCSI_STATUS_GOOD);
	assert_true(e->hdr.uflags & TCMU_UFLAG_READ_LEN);
	assert_int_equal(e->rsp.read_len, 36);
}

static void test_data_in_full_and_empty(void **state)
{
	struct fixture *f = *state;
	uint64_t off = DATA_OFF, len = 512;
	struct tcmu_cmd_entry *e;
	char err[256] = "";
	uint32_t a, b;
	size_t i;

	/* Full buffer: no residual flag. */
	a = put_cmd(f, 0, 1, READ10, 1, &off, &len);
	set_head(f, a);
	f->data_in = 1;
	f->data_in_len = 512;
	assert_int_equal(ring_process(&f->ring, cmd_fn, f, err, sizeof(err)), 1);
	e = entry_at(f, 0);
	assert_int_equal(e->hdr.uflags & TCMU_UFLAG_READ_LEN, 0);
	assert_int_equal(e->rsp.read_len, 0);

	/* Nothing produced: flagged, and the buffer is zeroed (no stale data). */
	f->fill = 1;
	f->data_in_len = 0;
	b = put_cmd(f, a, 2, READ10, 1, &off, &len);
	set_head(f, a + b);
	assert_int_equal(ring_process(&f->ring, cmd_fn, f, err, sizeof(err)), 1);
	e = entry_at(f, a);
	assert_true(e->hdr.uflags & TCMU_UFLAG_READ_LEN);
	assert_int_equal(e->rsp.read_len, 0);
	for (i = 0; i < 512; i++)
		assert_int_equal(map(f)[DATA_OFF + i], 0);

	/* Not data-in (a write): no residual even if data_in_len is short. */
	f->fill = 0;
	f->data_in = 0;
	f->data_in_len = 0;
	a = put_cmd(f, a + b, 3, WRITE10, 1, &off, &len);
	set_head(f, get_tail(f) + a);
	assert_int_equal(ring_process(&f->ring, cmd_fn, f, err, sizeof(err)), 1);
	e = entry_at(f, get_tail(f) - a);
	assert_int_equal(e->hdr.uflags & TCMU_UFLAG_READ_LEN, 0);
}

static void test_pad_and_wraparound(void **state)
{
	struct fixture *f = *state;
	uint64_t off = DATA_OFF, len = 512;
	struct tcmu_cmd_entry *e;
	char err[256] = "";
	uint32_t start = CMDR_SIZE - 64, elen;

	/* The kernel pads to the end of the ring, then continues at offset 0. */
	set_tail(f, start);
	memset(entry_at(f, start), 0, 64);
	set_len_op(&entry_at(f, start)->hdr, 64, TCMU_OP_PAD);
	elen = put_cmd(f, 0, 5, WRITE10, 1, &off, &len);
	set_head(f, elen);
	assert_int_equal(ring_process(&f->ring, cmd_fn, f, err, sizeof(err)), 2);
	assert_int_equal(f->calls, 1);
	assert_int_equal(entry_at(f, start)->hdr.uflags, 0);
	e = entry_at(f, 0);
	assert_int_equal(e->rsp.scsi_status, SCSI_STATUS_GOOD);
	assert_int_equal(get_tail(f), elen);
}

static void test_cmd_ending_at_ring_end_wraps_tail(void **state)
{
	struct fixture *f = *state;
	char err[256] = "";
	uint32_t elen = cmd_entry_len(0), start = CMDR_SIZE - elen;

	set_tail(f, start);
	put_cmd(f, start, 4, READ10, 0, NULL, NULL);
	set_head(f, 0);
	assert_int_equal(ring_process(&f->ring, cmd_fn, f, err, sizeof(err)), 1);
	assert_int_equal(f->calls, 1);
	assert_int_equal(get_tail(f), 0);
}

static void test_unknown_op_and_tmr(void **state)
{
	struct fixture *f = *state;
	char err[256] = "";

	memset(entry_at(f, 0), 0, 64);
	set_len_op(&entry_at(f, 0)->hdr, 32, TCMU_OP_TMR);
	set_len_op(&entry_at(f, 32)->hdr, 32, 5); /* not a ring opcode we know */
	set_head(f, 64);
	assert_int_equal(ring_process(&f->ring, cmd_fn, f, err, sizeof(err)), 2);
	assert_int_equal(f->calls, 0);
	assert_int_equal(entry_at(f, 0)->hdr.uflags, 0);  /* TMR: notification only */
	assert_int_equal(entry_at(f, 32)->hdr.uflags, TCMU_UFLAG_UNKNOWN_OP);
	assert_int_equal(get_tail(f), 64);
}

static void test_cmd_too_short_for_response(void **state)
{
	struct fixture *f = *state;
	char err[256] = "";

	memset(entry_at(f, 0), 0, 64);
	set_len_op(&entry_at(f, 0)->hdr, 64, TCMU_OP_CMD);
	set_head(f, 64);
	assert_int_equal(ring_process(&f->ring, cmd_fn, f, err, sizeof(err)), 1);
	assert_int_equal(f->calls, 0);
	assert_int_equal(entry_at(f, 0)->hdr.uflags, TCMU_UFLAG_UNKNOWN_OP);
}

static void assert_hw_error(struct tcmu_cmd_entry *e)
{
	assert_int_equal(e->rsp.scsi_status, SCSI_STATUS_CHECK_CONDITION);
	assert_int_equal((uint8_t)e->rsp.sense_buffer[0], 0x70);
	assert_int_equal((uint8_t)e->rsp.sense_buffer[2], SENSE_HARDWARE_ERROR);
	assert_int_equal((uint8_t)e->rsp.sense_buffer[12], 0x44);
	assert_int_equal((uint8_t)e->rsp.sense_buffer[13], 0x00);
}

static void test_malformed_iov_outside_map(void **state)
{
	struct fixture *f = *state;
	uint64_t off = MAP_SIZE - 100, len = 512; /* runs past the mapping */
	char err[256] = "";
	uint32_t elen;

	elen = put_cmd(f, 0, 1, READ10, 1, &off, &len);
	set_head(f, elen);
	assert_int_equal(ring_process(&f->ring, cmd_fn, f, err, sizeof(err)), 1);
	assert_int_equal(f->calls, 0);
	assert_hw_error(entry_at(f, 0));
	assert_int_equal(get_tail(f), elen);
}

static void test_malformed_iov_in_ring_or_huge(void **state)
{
	struct fixture *f = *state;
	uint64_t off = CMDR_OFF, len = 8; /* inside the command ring, not the data area */
	uint64_t off2 = DATA_OFF, len2 = UINT64_MAX;
	char err[256] = "";
	uint32_t a, b;

	a = put_cmd(f, 0, 1, READ10, 1, &off, &len);
	b = put_cmd(f, a, 2, READ10, 1, &off2, &len2);
	set_head(f, a + b);
	assert_int_equal(ring_process(&f->ring, cmd_fn, f, err, sizeof(err)), 2);
	assert_int_equal(f->calls, 0);
	assert_hw_error(entry_at(f, 0));
	assert_hw_error(entry_at(f, a));
}

static void test_malformed_cdb_and_iov_count(void **state)
{
	struct fixture *f = *state;
	struct tcmu_cmd_entry *e;
	uint64_t bad = MAP_SIZE + 8;
	uint32_t cnt = 1000;
	char err[256] = "";
	uint32_t a, b;

	/* CDB offset outside the mapping. */
	a = put_cmd(f, 0, 1, READ10, 0, NULL, NULL);
	e = entry_at(f, 0);
	memcpy((uint8_t *)e + offsetof(struct tcmu_cmd_entry, req.cdb_off), &bad, 8);
	/* More iovecs than the entry can hold. */
	b = put_cmd(f, a, 2, READ10, 0, NULL, NULL);
	e = entry_at(f, a);
	memcpy((uint8_t *)e + offsetof(struct tcmu_cmd_entry, req.iov_cnt), &cnt, 4);
	set_head(f, a + b);
	assert_int_equal(ring_process(&f->ring, cmd_fn, f, err, sizeof(err)), 2);
	assert_int_equal(f->calls, 0);
	assert_hw_error(entry_at(f, 0));
	assert_hw_error(entry_at(f, a));
}

static void test_zero_length_entry_is_eproto(void **state)
{
	struct fixture *f = *state;
	char err[256] = "";
	uint32_t elen;

	/* One good command, then a zero-length entry: the first stays completed. */
	elen = put_cmd(f, 0, 1, READ10, 0, NULL, NULL);
	memset(entry_at(f, elen), 0, 16);
	set_head(f, elen + 64);
	assert_int_equal(ring_process(&f->ring, cmd_fn, f, err, sizeof(err)), -EPROTO);
	assert_int_equal(f->calls, 1);
	assert_int_equal(get_tail(f), elen);
	assert_non_null(strstr(err, "length 0"));
}

static void test_entry_past_head_is_eproto(void **state)
{
	struct fixture *f = *state;
	char err[256] = "";

	memset(entry_at(f, 0), 0, 64);
	set_len_op(&entry_at(f, 0)->hdr, 64, TCMU_OP_PAD);
	set_head(f, 32); /* the entry claims more than the kernel published */
	assert_int_equal(ring_process(&f->ring, cmd_fn, f, err, sizeof(err)), -EPROTO);
	assert_int_equal(get_tail(f), 0);
}

static void test_head_out_of_range_is_eproto(void **state)
{
	struct fixture *f = *state;
	char err[256] = "";

	set_head(f, CMDR_SIZE + 8);
	assert_int_equal(ring_process(&f->ring, cmd_fn, f, err, sizeof(err)), -EPROTO);
	set_head(f, 4); /* unaligned */
	assert_int_equal(ring_process(&f->ring, cmd_fn, f, err, sizeof(err)), -EPROTO);
	assert_int_equal(f->calls, 0);
}

static void test_bad_mailbox(void **state)
{
	struct fixture *f = *state;
	struct ring r;
	uint16_t v = 1;
	char err[256] = "";

	init_mailbox(f);
	memcpy(map(f) + offsetof(struct tcmu_mailbox, version), &v, 2);
	assert_int_equal(ring_init_mem(&r, f->buf, MAP_SIZE, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "version"));

	init_mailbox(f);
	put_u32(map(f) + offsetof(struct tcmu_mailbox, cmdr_size), 0);
	assert_int_equal(ring_init_mem(&r, f->buf, MAP_SIZE, err, sizeof(err)), -EINVAL);

	init_mailbox(f);
	put_u32(map(f) + offsetof(struct tcmu_mailbox, cmdr_size), 1020); /* not ×8 */
	assert_int_equal(ring_init_mem(&r, f->buf, MAP_SIZE, err, sizeof(err)), -EINVAL);

	init_mailbox(f);
	put_u32(map(f) + offsetof(struct tcmu_mailbox, cmdr_off), 8); /* inside mailbox */
	assert_int_equal(ring_init_mem(&r, f->buf, MAP_SIZE, err, sizeof(err)), -EINVAL);

	init_mailbox(f);
	put_u32(map(f) + offsetof(struct tcmu_mailbox, cmdr_size), MAP_SIZE); /* past end */
	assert_int_equal(ring_init_mem(&r, f->buf, MAP_SIZE, err, sizeof(err)), -EINVAL);

	init_mailbox(f);
	assert_int_equal(ring_init_mem(&r, f->buf, MB_SIZE - 8, err, sizeof(err)), -EINVAL);
	assert_int_equal(ring_init_mem(&r, map(f) + 4, MAP_SIZE - 8, err, sizeof(err)),
			 -EINVAL); /* unaligned */
	assert_int_equal(ring_init_mem(&r, f->buf, MAP_SIZE, err, sizeof(err)), 0);
	assert_int_equal(r.cmdr_off, CMDR_OFF);
	assert_int_equal(r.cmdr_size, CMDR_SIZE);
	ring_close(&r);
	ring_close(&r); /* idempotent */
}

static void test_ring_open_missing_device(void **state)
{
	struct ring r;
	char err[256] = "";

	(void)state;
	assert_int_equal(ring_open(&r, 4242, "/nonexistent-sysfs", "/nonexistent-dev", err,
				   sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "map0/size"));
}


/* ---- out-of-order completion (slot stealing) ------------------------------------- */

static uint16_t slot_id(struct fixture *f, uint32_t ring_off)
{
	uint16_t id;

	memcpy(&id, &entry_at(f, ring_off)->hdr.cmd_id, sizeof(id));
	return id;
}

static void test_out_of_order_completion_steals_slots(void **state)
{
	struct fixture *f = *state;
	struct ring_req *q[3];
	struct scsi_cmd cmd;
	char err[256] = "";
	uint32_t elen = cmd_entry_len(0);
	int i;

	for (i = 0; i < 3; i++)
		put_cmd(f, (uint32_t)i * elen, (uint16_t)(11 + i), READ10, 0, NULL, NULL);
	set_head(f, 3 * elen);
	for (i = 0; i < 3; i++) {
		assert_int_equal(ring_next(&f->ring, &q[i], err, sizeof(err)), 1);
		assert_non_null(q[i]);
		assert_int_equal(q[i]->cmd_id, 11 + i);
		assert_int_equal(q[i]->cdb[0], READ10[0]);
	}
	{
		struct ring_req *none;

		assert_int_equal(ring_next(&f->ring, &none, err, sizeof(err)), 0);
	}
	assert_int_equal(get_tail(f), 0); /* nothing completed yet */

	/* The last one finishes first: its response takes the first slot. */
	memset(&cmd, 0, sizeof(cmd));
	sense_set(cmd.sense, sizeof(cmd.sense), SENSE_ILLEGAL_REQUEST,
		  ASC_INVALID_FIELD_IN_CDB);
	ring_complete(&f->ring, q[2], SCSI_STATUS_CHECK_CONDITION, &cmd);
	assert_int_equal(slot_id(f, 0), 13);
	assert_int_equal(entry_at(f, 0)->rsp.scsi_status, SCSI_STATUS_CHECK_CONDITION);
	assert_int_equal(entry_at(f, 0)->rsp.sense_buffer[2] & 0x0f, SENSE_ILLEGAL_REQUEST);
	assert_int_equal(get_tail(f), elen);

	ring_complete(&f->ring, q[0], SCSI_STATUS_GOOD, NULL);
	assert_int_equal(slot_id(f, elen), 11);
	assert_int_equal(entry_at(f, elen)->rsp.scsi_status, SCSI_STATUS_GOOD);
	ring_complete(&f->ring, q[1], SCSI_STATUS_BUSY, NULL);
	assert_int_equal(slot_id(f, 2 * elen), 12);
	assert_int_equal(entry_at(f, 2 * elen)->rsp.scsi_status, SCSI_STATUS_BUSY);
	assert_int_equal(get_tail(f), 3 * elen);
}

static void test_out_of_order_skips_pad_and_unknown(void **state)
{
	struct fixture *f = *state;
	struct ring_req *a, *b, *none;
	char err[256] = "";
	uint32_t elen = cmd_entry_len(0), start = CMDR_SIZE - elen - 64;

	/* CMD a at the end, a PAD up to the end, an unknown entry, then CMD b. */
	set_tail(f, start);
	put_cmd(f, start, 21, READ10, 0, NULL, NULL);
	memset(entry_at(f, start + elen), 0, 64);
	set_len_op(&entry_at(f, start + elen)->hdr, 64, TCMU_OP_PAD);
	memset(entry_at(f, 0), 0, 32);
	set_len_op(&entry_at(f, 0)->hdr, 32, 6);
	put_cmd(f, 32, 22, WRITE10, 0, NULL, NULL);
	set_head(f, 32 + elen);

	assert_int_equal(ring_next(&f->ring, &a, err, sizeof(err)), 1);
	assert_int_equal(ring_next(&f->ring, &none, err, sizeof(err)), 1); /* PAD */
	assert_null(none);
	assert_int_equal(ring_next(&f->ring, &none, err, sizeof(err)), 1); /* unknown */
	assert_null(none);
	assert_int_equal(ring_next(&f->ring, &b, err, sizeof(err)), 1);
	assert_int_equal(get_tail(f), start); /* a still owes its response */

	/* b completes first into a's slot; cmd_tail then passes the PAD and the unknown
	 * entry (already flagged), and stops at b's own slot, still owed. */
	ring_complete(&f->ring, b, SCSI_STATUS_GOOD, NULL);
	assert_int_equal(slot_id(f, start), 22);
	assert_int_equal(get_tail(f), 32);
	assert_int_equal(entry_at(f, 0)->hdr.uflags, TCMU_UFLAG_UNKNOWN_OP);
	ring_complete(&f->ring, a, SCSI_STATUS_GOOD, NULL);
	assert_int_equal(slot_id(f, 32), 21);
	assert_int_equal(get_tail(f), 32 + elen);
}

#define MT_CMDS 8

struct completer {
	struct fixture *f;
	struct ring_req *q[MT_CMDS];
	int n;
};

static void *complete_all(void *arg)
{
	struct completer *c = arg;
	int i;

	for (i = 0; i < c->n; i++)
		ring_complete(&c->f->ring, c->q[i], SCSI_STATUS_GOOD, NULL);
	return NULL;
}

static void test_completions_from_many_threads(void **state)
{
	struct fixture *f = *state;
	struct completer c[2] = { { .f = f }, { .f = f } };
	pthread_t t[2];
	char err[256] = "";
	uint32_t elen = cmd_entry_len(0);
	int seen[MT_CMDS] = { 0 };
	struct ring_req *q;
	int i;

	for (i = 0; i < MT_CMDS; i++)
		put_cmd(f, (uint32_t)i * elen, (uint16_t)(100 + i), READ10, 0, NULL, NULL);
	set_head(f, MT_CMDS * elen);
	/* Odd ids to one thread, even ids to the other, completing at the same time. */
	for (i = 0; i < MT_CMDS; i++) {
		assert_int_equal(ring_next(&f->ring, &q, err, sizeof(err)), 1);
		c[i % 2].q[c[i % 2].n++] = q;
	}
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, complete_all, &c[i]), 0);
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(get_tail(f), MT_CMDS * elen);
	/* Every command was answered exactly once, whatever slot it took. */
	for (i = 0; i < MT_CMDS; i++) {
		uint16_t id = slot_id(f, (uint32_t)i * elen);

		assert_true(id >= 100 && id < 100 + MT_CMDS);
		seen[id - 100]++;
	}
	for (i = 0; i < MT_CMDS; i++)
		assert_int_equal(seen[i], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmd_good_with_iovecs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_cmds_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_condition_copies_sense, setup, teardown),
		cmocka_unit_test_setup_teardown(test_callback_out_of_range_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_in_residual, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_in_full_and_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pad_and_wraparound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmd_ending_at_ring_end_wraps_tail, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unknown_op_and_tmr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmd_too_short_for_response, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_iov_outside_map, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_iov_in_ring_or_huge, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_malformed_cdb_and_iov_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_length_entry_is_eproto, setup, teardown),
		cmocka_unit_test_setup_teardown(test_entry_past_head_is_eproto, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_out_of_range_is_eproto, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_mailbox, setup, teardown),
		cmocka_unit_test(test_ring_open_missing_device),
		cmocka_unit_test_setup_teardown(test_out_of_order_completion_steals_slots,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_order_skips_pad_and_unknown, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_completions_from_many_threads, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
