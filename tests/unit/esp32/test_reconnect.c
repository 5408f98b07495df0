/*
 * test_reconnect.c — the bridge core's connection state machine (esp32/core/bridge.c)
 * over a fake transport and a fake clock: backoff doubling and its cap, NOT READY /
 * LOGICAL UNIT IS IN PROCESS OF BECOMING READY (02/04/01) while down, no login
 * before the retry is due, a write cut off by the link is never acknowledged and
 * lands after the reconnect, idle service noticing a dead link; the read-ahead
 * window dropped by overlapping writes and reconnects; the TinyUSB-shaped adapter's
 * async job slot (esp32/core/msc_tusb.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "fake_transport.h"
#include "msc_tusb.h"

extern int bplat_log_level;

struct env {
	struct fake f;
	struct bridge b;
	uint8_t ra[8 * FAKE_BS];
	uint8_t buf[8 * FAKE_BS];
};

static struct env *env_new(uint32_t ra_blocks)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	bplat_log_level = 0;
	fake_setup(&e->f, &e->b, e->ra, sizeof(e->ra), ra_blocks);
	return e;
}

static void assert_becoming_ready(const struct bsense *s)
{
	assert_int_equal(s->key, BS_NOT_READY);
	assert_int_equal(s->asc, 0x04);
	assert_int_equal(s->ascq, 0x01);
}

/* Logins failing: 500, 1000, 2000, 4000, 4000 ms between attempts; commands in
 * between get 02/04/01 without a login attempt. */
static void test_backoff_doubles_and_caps(void **state)
{
	struct env *e = env_new(0);
	static const uint32_t gaps[] = { 500, 1000, 2000, 4000, 4000 };
	struct bsense s;

	(void)state;
	e->f.connect_fail = 5;
	assert_int_equal(bridge_poll(&e->b, 0), BRIDGE_DOWN);
	assert_int_equal(e->f.connect_calls, 1);
	for (size_t i = 0; i < sizeof(gaps) / sizeof(gaps[0]); i++) {
		int calls = e->f.connect_calls;

		assert_int_equal(bridge_retry_in_ms(&e->b), gaps[i]);
		e->f.now += gaps[i] - 1;
		assert_int_equal(bridge_read(&e->b, 0, 1, e->buf, &s), -1);
		assert_becoming_ready(&s);
		assert_int_equal(bridge_ready(&e->b, &s), -1);
		assert_becoming_ready(&s);
		assert_int_equal(e->f.connect_calls, calls); /* not due yet */
		e->f.now += 1;
		bridge_poll(&e->b, 0);
		assert_int_equal(e->f.connect_calls, calls + 1);
	}
	assert_int_equal(e->b.state, BRIDGE_UP);
	assert_int_equal(e->b.stats.connect_failures, 5);
	assert_int_equal(e->b.stats.connects, 1);
	assert_int_equal(bridge_read(&e->b, 0, 1, e->buf, &s), 0);
	assert_memory_equal(e->buf, e->f.disk, FAKE_BS);
	free(e);
}

/* The link drops under a WRITE: the host is told 02/04/01 (not success); the
 * retried WRITE after the reconnect lands. The first retry is immediate and the
 * backoff starts again from the minimum. */
static void test_write_cut_is_not_acknowledged(void **state)
{
	struct env *e = env_new(0);
	struct bsense s;

	(void)state;
	assert_int_equal(bridge_poll(&e->b, 0), BRIDGE_UP);
	memset(e->buf, 0xee, 2 * FAKE_BS);
	e->f.cut_after = 0;
	assert_int_equal(bridge_write(&e->b, 10, 2, e->buf, &s), -1);
	assert_becoming_ready(&s);
	assert_int_equal(e->b.state, BRIDGE_DOWN);
	assert_int_equal(e->b.stats.link_losses, 1);
	assert_int_not_equal(e->f.disk[10 * FAKE_BS], 0xee);
	/* the host's retry: reconnects at once, writes */
	assert_int_equal(bridge_retry_in_ms(&e->b), 0);
	assert_int_equal(bridge_write(&e->b, 10, 2, e->buf, &s), 0);
	assert_int_equal(e->f.connects, 2);
	assert_memory_equal(e->f.disk + 10 * FAKE_BS, e->buf, 2 * FAKE_BS);
	/* the portal goes away for good: the login after the next loss fails, the one
	 * after the backoff works */
	e->f.cut_after = 0;
	e->f.connect_fail = 1;
	assert_int_equal(bridge_flush(&e->b, &s), -1);
	assert_becoming_ready(&s);
	assert_int_equal(bridge_flush(&e->b, &s), -1); /* immediate retry fails */
	assert_becoming_ready(&s);
	assert_int_equal(bridge_retry_in_ms(&e->b), 500);
	e->f.now += 500;
	assert_int_equal(bridge_flush(&e->b, &s), 0);
	assert_int_equal(e->f.flushes, 1);
	free(e);
}

/* Idle: bridge_poll lets the transport service the link (NOP-In answers) and
 * notices when it died. */
static void test_idle_service_notices_loss(void **state)
{
	struct env *e = env_new(0);

	(void)state;
	assert_int_equal(bridge_poll(&e->b, 0), BRIDGE_UP);
	assert_int_equal(bridge_poll(&e->b, 10), BRIDGE_UP);
	assert_int_equal(e->f.services, 1);
	e->f.up = false; /* the target dropped us */
	assert_int_equal(bridge_poll(&e->b, 10), BRIDGE_DOWN);
	assert_int_equal(e->b.stats.link_losses, 1);
	assert_int_equal(bridge_poll(&e->b, 10), BRIDGE_UP);
	assert_int_equal(e->f.connects, 2);
	free(e);
}

/* Capacity stays known while down, so the host keeps the same disk geometry. */
static void test_capacity_while_down(void **state)
{
	struct env *e = env_new(0);
	struct bsense s;
	uint64_t nb;
	uint32_t bs;

	(void)state;
	e->f.connect_fail = 100;
	assert_int_equal(bridge_capacity(&e->b, &nb, &bs, &s), -1); /* never logged in */
	assert_becoming_ready(&s);
	e->f.connect_fail = 0;
	e->f.now += 10000;
	assert_int_equal(bridge_capacity(&e->b, &nb, &bs, &s), 0);
	e->f.up = false;
	e->f.connect_fail = 100;
	bridge_poll(&e->b, 0); /* notices */
	assert_int_equal(e->b.state, BRIDGE_DOWN);
	assert_int_equal(bridge_capacity(&e->b, &nb, &bs, &s), 0);
	assert_int_equal(nb, FAKE_NB);
	assert_int_equal(bs, FAKE_BS);
	free(e);
}

/* Read-ahead: a 1-block read fetches 8; later reads inside are served locally; a
 * write overlapping the window drops it (the next read sees the new data); a
 * reconnect drops it too (the target may have changed meanwhile). */
static void test_readahead_invalidation(void **state)
{
	struct env *e = env_new(8);
	struct bsense s;
	uint8_t nw[FAKE_BS];

	(void)state;
	assert_int_equal(bridge_read(&e->b, 4, 1, e->buf, &s), 0);
	assert_int_equal(e->f.reads, 1);
	assert_int_equal(bridge_read(&e->b, 5, 3, e->buf, &s), 0);
	assert_memory_equal(e->buf, e->f.disk + 5 * FAKE_BS, 3 * FAKE_BS);
	assert_int_equal(e->f.reads, 1);
	assert_int_equal(e->b.stats.ra_hits_blocks, 3);
	/* write outside the window [4, 12): window kept */
	memset(nw, 0x11, sizeof(nw));
	assert_int_equal(bridge_write(&e->b, 12, 1, nw, &s), 0);
	assert_int_equal(bridge_read(&e->b, 11, 1, e->buf, &s), 0);
	assert_int_equal(e->f.reads, 1);
	/* write inside: dropped, the read sees the write */
	assert_int_equal(bridge_write(&e->b, 7, 1, nw, &s), 0);
	assert_int_equal(bridge_read(&e->b, 7, 1, e->buf, &s), 0);
	assert_int_equal(e->f.reads, 2);
	assert_memory_equal(e->buf, nw, FAKE_BS);
	/* someone else changes block 8 on the target while we are cut off */
	e->f.up = false;
	bridge_poll(&e->b, 0);
	e->f.disk[8 * FAKE_BS] ^= 0xff;
	assert_int_equal(bridge_read(&e->b, 8, 1, e->buf, &s), 0);
	assert_int_equal(e->buf[0], e->f.disk[8 * FAKE_BS]);
	assert_int_equal(e->f.reads, 3);
	/* the window stops at the end of the LUN */
	assert_int_equal(bridge_read(&e->b, FAKE_NB - 1, 1, e->buf, &s), 0);
	assert_int_equal(e->b.ra_n, 1);
	free(e);
}

/* A widened read that fails (the error may lie past the blocks asked for) is read
 * again for just those blocks: the host gets their data, and no window is kept. */
static void test_readahead_error_outside_the_request(void **state)
{
	struct env *e = env_new(8);
	struct bsense s;

	(void)state;
	e->f.check_next = true;
	e->f.sense = (struct bsense){ .key = 0x03, .asc = 0x11, .ascq = 0x00 };
	assert_int_equal(bridge_read(&e->b, 4, 1, e->buf, &s), 0);
	assert_memory_equal(e->buf, e->f.disk + 4 * FAKE_BS, FAKE_BS);
	assert_int_equal(e->f.reads, 1);   /* the exact read; the widened one failed */
	assert_int_equal(e->b.ra_n, 0);
	free(e);
}

struct done_rec { int calls; enum msc_job job; int32_t bytes; struct bsense s; };

static void on_done(void *ctx, enum msc_job job, int32_t bytes, const struct bsense *s)
{
	struct done_rec *d = ctx;

	d->calls++;
	d->job = job;
	d->bytes = bytes;
	if (s)
		d->s = *s;
}

/* TinyUSB-shaped adapter: nothing blocks in the USB callbacks; jobs complete in
 * msc_work; down -> 02/04/01 at once; LBA past the end refused before queueing. */
static void test_msc_adapter_async(void **state)
{
	struct env *e = env_new(0);
	struct msc_adapter *a = calloc(1, sizeof(*a));
	struct done_rec d = { 0 };
	struct bsense s;
	uint32_t count;
	uint16_t bsz;
	static const uint8_t sc[16] = { 0x35 };
	static const uint8_t unknown[16] = { 0x04 };
	uint8_t small[64];

	(void)state;
	assert_non_null(a);
	e->b.cfg.no_inline_connect = true;
	msc_init(a, &e->b, on_done, &d);
	msc_capacity(a, &count, &bsz);
	assert_int_equal(count, 0);
	assert_false(msc_test_unit_ready(a, &s));
	assert_becoming_ready(&s);
	assert_int_equal(msc_read10(a, 0, 0, e->buf, FAKE_BS, &s), -1);
	assert_becoming_ready(&s);
	assert_int_equal(e->f.connect_calls, 0); /* callbacks never log in */
	bridge_poll(&e->b, 0);
	assert_true(msc_test_unit_ready(a, &s));
	msc_capacity(a, &count, &bsz);
	assert_int_equal(count, FAKE_NB);
	assert_int_equal(bsz, FAKE_BS);
	assert_int_equal(msc_read10(a, 2, FAKE_BS, e->buf, 2 * FAKE_BS, &s), MSC_RET_ASYNC);
	assert_int_equal(msc_read10(a, 0, 0, e->buf, FAKE_BS, &s), -1); /* slot busy */
	assert_int_equal(d.calls, 0);
	assert_true(msc_work(a));
	assert_false(msc_work(a));
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.bytes, 2 * FAKE_BS);
	assert_memory_equal(e->buf, e->f.disk + 3 * FAKE_BS, 2 * FAKE_BS);
	assert_int_equal(msc_write10(a, FAKE_NB - 1, 0, e->buf, 2 * FAKE_BS, &s), -1);
	assert_int_equal(s.asc, 0x21);
	/* a write that the link cuts completes with -1 and 02/04/01 */
	e->f.cut_after = 0;
	assert_int_equal(msc_write10(a, 1, 0, e->buf, FAKE_BS, &s), MSC_RET_ASYNC);
	assert_true(msc_work(a));
	assert_int_equal(d.bytes, -1);
	assert_becoming_ready(&d.s);
	bridge_poll(&e->b, 0);
	assert_int_equal(msc_scsi(a, sc, small, sizeof(small), &s), MSC_RET_ASYNC);
	assert_true(msc_work(a));
	assert_int_equal(d.job, MSC_JOB_FLUSH);
	assert_int_equal(d.bytes, 0);
	assert_int_equal(e->f.flushes, 1);
	assert_int_equal(msc_scsi(a, unknown, small, sizeof(small), &s), -1);
	assert_int_equal(s.key, BS_ILLEGAL_REQUEST);
	assert_int_equal(s.asc, 0x20);
	free(a);
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_doubles_and_caps),
		cmocka_unit_test(test_write_cut_is_not_acknowledged),
		cmocka_unit_test(test_idle_service_notices_loss),
		cmocka_unit_test(test_capacity_while_down),
		cmocka_unit_test(test_readahead_invalidation),
		cmocka_unit_test(test_readahead_error_outside_the_request),
		cmocka_unit_test(test_msc_adapter_async),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
