/*
 * test_relay.c — unit tests for tls-proxy/relay.c over socket pairs: every byte
 * arrives once and in order, both ways at once, with and without the PDU filter, with
 * large data segments (the zero-copy splice path, relay.h) and small ones (the copy
 * path) interleaved; end of stream is passed on as a half-close.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pdu.h"
#include "pdufilter.h"
#include "pio.h"
#include "relay.h"

/* One relay between two socket pairs: the test holds the outer ends. */
struct rig {
	int ini, lio;          /* the test's ends: "initiator" and "LIO" */
	int r_ini, r_lio;      /* the relay's ends */
	bool send_only;        /* the initiator end is a send_only stream (below) */
	struct pdufilter *filter;
	struct relay_stats st;
	struct relay_stats live;  /* the last progress callback's running totals */
	int rc;
	pthread_t th;
};

/*
 * A stream like a kernel-TLS socket (tls.h, ktls_tx): not a plain pio_fd, its own
 * read/write callouts, and a descriptor splice(2) may write to but not read from.
 */
static ssize_t so_read(struct pio *io, void *buf, size_t len)
{
	ssize_t n = read(io->fd, buf, len);

	return n >= 0 ? n : errno == EAGAIN ? -EAGAIN : -errno;
}

static ssize_t so_write(struct pio *io, const void *buf, size_t len)
{
	ssize_t n = write(io->fd, buf, len);

	return n >= 0 ? n : errno == EAGAIN ? -EAGAIN : -errno;
}

static int so_shutdown_write(struct pio *io)
{
	return shutdown(io->fd, SHUT_WR) < 0 ? -errno : 0;
}

static int so_splice_fd(struct pio *io, short dir)
{
	return (dir & POLLOUT) ? io->fd : -1;
}

static void on_progress(void *arg, const struct relay_stats *st)
{
	((struct rig *)arg)->live = *st;
}

static void *relay_thread(void *arg)
{
	struct rig *g = arg;
	struct pio_fd a, b;
	struct pio so = { .read = so_read, .write = so_write,
			  .shutdown_write = so_shutdown_write, .splice_fd = so_splice_fd,
			  .fd = g->r_ini };

	pio_fd_init(&a, g->r_ini);
	pio_fd_init(&b, g->r_lio);
	assert_int_equal(pio_fd_set_nonblock(&a, 1), 0); /* also so's descriptor */
	assert_int_equal(pio_fd_set_nonblock(&b, 1), 0);
	g->rc = relay_run_filtered(g->send_only ? &so : &a.io, &b.io, g->filter, &g->st,
				   on_progress, g);
	return NULL;
}

static void rig_start_with(struct rig *g, bool filtered, bool send_only)
{
	int s1[2], s2[2];
	struct pdufilter_cfg c = { .target = "iqn.2025-01.pub.scsipub:blank",
				   .public_addr = "203.0.113.9:3260", .peer = "192.0.2.1" };

	memset(g, 0, sizeof(*g));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s1), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s2), 0);
	g->ini = s1[0];
	g->r_ini = s1[1];
	g->lio = s2[0];
	g->r_lio = s2[1];
	g->filter = filtered ? pdufilter_new(&c) : NULL;
	g->send_only = send_only;
	assert_true(!filtered || g->filter);
	assert_int_equal(pthread_create(&g->th, NULL, relay_thread, g), 0);
}

static void rig_start(struct rig *g, bool filtered)
{
	rig_start_with(g, filtered, false);
}

static void rig_end(struct rig *g)
{
	assert_int_equal(pthread_join(g->th, NULL), 0);
	close(g->ini);
	close(g->lio);
	close(g->r_ini);
	close(g->r_lio);
	pdufilter_free(g->filter);
}

/* A writer thread: len bytes of buf into fd, then a half-close. */
struct feed {
	int fd;
	const uint8_t *buf;
	size_t len;
	pthread_t th;
};

static void *feed_thread(void *arg)
{
	struct feed *f = arg;
	size_t off = 0;

	while (off < f->len) {
		size_t k = f->len - off < 3000 ? f->len - off : 3000 + off % 7000;
		ssize_t n = write(f->fd, f->buf + off, k);

		if (n <= 0)
			break;
		off += (size_t)n;
	}
	shutdown(f->fd, SHUT_WR);
	return NULL;
}

/* Read fd to end of stream into a new buffer; its length into *len. */
static uint8_t *drain(int fd, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	uint8_t *b = malloc(cap);

	assert_non_null(b);
	for (;;) {
		ssize_t k;

		if (n == cap) {
			cap *= 2;
			b = realloc(b, cap);
			assert_non_null(b);
		}
		k = read(fd, b + n, cap - n);
		assert_true(k >= 0);
		if (k == 0)
			break;
		n += (size_t)k;
	}
	*len = n;
	return b;
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

/* Both directions at once, len_up and len_down bytes, checked byte for byte. */
static void both_ways(struct rig *g, const uint8_t *up, size_t len_up, const uint8_t *down,
		      size_t len_down)
{
	struct feed fu = { .fd = g->ini, .buf = up, .len = len_up };
	struct feed fd = { .fd = g->lio, .buf = down, .len = len_down };
	uint8_t *got_up, *got_down;
	size_t n_up, n_down;

	assert_int_equal(pthread_create(&fu.th, NULL, feed_thread, &fu), 0);
	assert_int_equal(pthread_create(&fd.th, NULL, feed_thread, &fd), 0);
	got_down = drain(g->ini, &n_down);
	got_up = drain(g->lio, &n_up);
	assert_int_equal(pthread_join(fu.th, NULL), 0);
	assert_int_equal(pthread_join(fd.th, NULL), 0);
	assert_int_equal(n_up, len_up);
	assert_int_equal(n_down, len_down);
	assert_memory_equal(got_up, up, len_up);
	assert_memory_equal(got_down, down, len_down);
	free(got_up);
	free(got_down);
}

/* Unfiltered: every byte is opaque (the splice path throughout). */
static void test_unfiltered(void **state)
{
	size_t n = 3 * 1024 * 1024 + 17;
	uint8_t *up = malloc(n), *down = malloc(n / 2);
	struct rig g;

	(void)state;
	assert_non_null(up);
	assert_non_null(down);
	fill(up, n, 1);
	fill(down, n / 2, 2);
	rig_start(&g, false);
	both_ways(&g, up, n, down, n / 2);
	rig_end(&g);
	assert_int_equal(g.rc, 0);
	assert_int_equal(g.st.to_lio, n);
	assert_int_equal(g.st.to_client, n / 2);
	assert_int_equal(g.st.spliced, n + n / 2);
	/* The live totals (pinpolicy's busy rounds in main.c) count spliced bytes too. */
	assert_int_equal(g.live.to_lio, n);
	assert_int_equal(g.live.spliced, n + n / 2);
	free(up);
	free(down);
}

/* A PDU (no AHS, no digests) with a data segment of len bytes at out; its length. */
static size_t mkpdu(uint8_t *out, uint8_t op, uint32_t len, uint32_t seed)
{
	memset(out, 0, 48);
	out[0] = op;
	out[1] = 0x80;
	pdu_put24(out + 5, len);
	pdu_put32(out + 16, seed);
	fill(out + 48, len, seed);
	memset(out + 48 + len, 0, pdu_pad4(len) - len);
	return 48 + pdu_pad4(len);
}

/*
 * Filtered, in Full Feature Phase: SCSI Data-Out / Data-In PDUs with segments from 0
 * to 256 KiB (over and under RELAY_SPLICE_MIN, odd lengths with padding) pass
 * unchanged, interleaved with NOP-Out / NOP-In.
 */
static void test_filtered_pdus(void **state)
{
	static const uint32_t lens[] = { 262144, 4096, 0, 70001, 16383, 16384, 16385, 1,
					 131072, 8192, 262143, 3 };
	size_t cap = 4 * 1024 * 1024, nu = 0, nd = 0;
	uint8_t *up = malloc(cap), *down = malloc(cap), login[48 + 64];
	struct pf_buf out = { 0 };
	struct rig g;

	(void)state;
	assert_non_null(up);
	assert_non_null(down);
	rig_start(&g, true);
	/* The final Login Response (no digests) puts the filter in Full Feature Phase;
	 * it is the first thing LIO sends. */
	memset(login, 0, sizeof(login));
	login[0] = 0x23;
	login[1] = 0x87;
	nd += (memcpy(down, login, 48), 48);
	for (int round = 0; round < 3; round++)
		for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			nu += mkpdu(up + nu, 0x05, lens[i], (uint32_t)(i + 100 * round));
			nu += mkpdu(up + nu, 0x00, 0, 7);
			nd += mkpdu(down + nd, 0x25, lens[i], (uint32_t)(i + 1000 * round));
			nd += mkpdu(down + nd, 0x20, 0, 9);
		}
	both_ways(&g, up, nu, down, nd);
	rig_end(&g);
	assert_int_equal(g.rc, 0);
	assert_int_equal(g.st.to_lio, nu);
	assert_int_equal(g.st.to_client, nd);
	/* The large segments went by splice, the headers and small ones by copy. */
	assert_true(g.st.spliced > (nu + nd) / 2);
	assert_true(g.st.spliced < nu + nd);
	pf_buf_free(&out);
	free(up);
	free(down);
}

/*
 * Filtered, a stream of large PDUs both ways (1 MiB I/O: 256 KiB Data-Out / Data-In
 * one after the other): after the first one, each read at a PDU boundary takes the
 * header only, and a segment's tail goes by splice however short, so every later data
 * segment goes by splice; what was copied is at most one read buffer and the headers
 * per direction.
 */
static void test_large_pdus_spliced(void **state)
{
	enum { N = 16, LEN = 262144 };
	size_t cap = N * (48 + LEN) + 48, nu = 0, nd = 0;
	uint8_t *up = malloc(cap), *down = malloc(cap);
	struct rig g;

	(void)state;
	assert_non_null(up);
	assert_non_null(down);
	rig_start(&g, true);
	memset(down, 0, 48);  /* the final Login Response: Full Feature Phase, no digests */
	down[0] = 0x23;
	down[1] = 0x87;
	nd = 48;
	for (int i = 0; i < N; i++) {
		nu += mkpdu(up + nu, 0x05, LEN, (uint32_t)i);
		nd += mkpdu(down + nd, 0x25, LEN, (uint32_t)(i + 500));
	}
	both_ways(&g, up, nu, down, nd);
	rig_end(&g);
	assert_int_equal(g.rc, 0);
	assert_int_equal(g.st.to_lio, nu);
	assert_int_equal(g.st.to_client, nd);
	assert_true(nu + nd - g.st.spliced <= 2 * (RELAY_BUF_SIZE + (N + 1) * 48));
	free(up);
	free(down);
}

/*
 * An initiator end that can only be spliced into (kernel TLS sends, user-space TLS
 * receives): LIO → initiator goes by splice, initiator → LIO by copy; every byte
 * arrives once and in order both ways.
 */
static void test_send_only_splice(void **state)
{
	size_t n = 2 * 1024 * 1024 + 5;
	uint8_t *up = malloc(n), *down = malloc(n);
	struct rig g;

	(void)state;
	assert_non_null(up);
	assert_non_null(down);
	fill(up, n, 3);
	fill(down, n, 4);
	rig_start_with(&g, false, true);
	both_ways(&g, up, n, down, n);
	rig_end(&g);
	assert_int_equal(g.rc, 0);
	assert_int_equal(g.st.to_lio, n);
	assert_int_equal(g.st.to_client, n);
	assert_int_equal(g.st.spliced, n); /* exactly the LIO → initiator bytes */
	free(up);
	free(down);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unfiltered),
		cmocka_unit_test(test_filtered_pdus),
		cmocka_unit_test(test_large_pdus_spliced),
		cmocka_unit_test(test_send_only_splice),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
