/*
 * session-ramp.c — many live iSCSI sessions at once, each doing real I/O, for
 * test-ramp.sh (issue 10, acceptance 4 and goal 3).
 *
 *   session-ramp HOST:PORT TARGET COUNT CONCURRENCY MODE [NAME_PREFIX]
 *
 * MODE is "rw" (a private disk per session, e.g. blank) or "ro:FILE" (a shared
 * read-only export, e.g. ro.<name>).
 *
 * Ramp: CONCURRENCY threads log in COUNT Normal sessions (RFC 7143 §6.3) with libiscsi,
 * InitiatorName NAME_PREFIX.<n>; thread t takes sessions t, t + CONCURRENCY, ...
 * Each session, once in Full Feature Phase, sends READ CAPACITY(10) (SBC-3 §5.16; a
 * UNIT ATTENTION is retried, SPC-4 §5.14), then
 *  - rw: WRITE(10) of 4 KiB at byte 4096 whose every 8 bytes are (session number,
 *    offset), then READ(10) of it back, compared;
 *  - ro: READ(10) of the first 4 KiB; the first session to get it writes it to FILE
 *    (for the caller to compare with the image) and every other session must read the
 *    same bytes.
 * A session that passed stays logged in: one thread services every held session
 * (iscsi_service answers LIO's NOP-In pings, RFC 7143 §11.19) until the ramp is over
 * and a line arrives on standard input.
 *
 * Hold: prints "ramp: ..." (counts, seconds, login latency p50/p99/max) and
 * "holding K", then waits for a line on stdin (the caller measures the target's memory
 * meanwhile) while sessions keep being serviced.
 *
 * Verify: every held session reads its 4 KiB again and compares (rw: its own pattern
 * at the same LBA as every other session's: per-connection isolation at full scale;
 * ro: the shared bytes); then logs out (RFC 7143 §11.14). Prints
 * "verify: held=K ok=.. lost=.. mismatched=..".
 *
 * Exit status 0 when all COUNT sessions logged in, passed both checks and none was
 * lost; 1 otherwise; 2 on a usage or local error. The first few failures are
 * described on stderr.
 */
#include <errno.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "latency.h"

#define IO_BYTES 4096
#define RW_OFFSET 4096    /* bytes into the LU where rw sessions write */
#define MAX_REPORTS 10    /* failures described on stderr */
#define WORKER_STACK (256 * 1024)
#define RAMP_CMD_TIMEOUT_S 120 /* seconds a login or command may take before it counts as failed */

struct sess {
	struct iscsi_context *c;
	uint32_t block;      /* logical block size in bytes */
	int held, lost;
};

struct run {
	const char *portal, *target, *prefix, *ref_file;
	int count, conc, ro;
	struct sess *s;
	double *ms;          /* login latency per session, < 0 = failed */
	pthread_mutex_t mu;
	uint8_t ref[IO_BYTES];
	int have_ref, reports, stop;
	int v_held, v_ok, v_lost, v_failed, v_bad;  /* verify counts */
};

struct worker {
	struct run *r;
	int t;
};

static void report(struct run *r, int n, const char *what, struct iscsi_context *c)
{
	pthread_mutex_lock(&r->mu);
	if (r->reports++ < MAX_REPORTS)
		fprintf(stderr, "session %d: %s%s%s\n", n, what, c ? ": " : "",
			c ? iscsi_get_error(c) : "");
	pthread_mutex_unlock(&r->mu);
}

static void fill(uint8_t *buf, int n)
{
	for (size_t i = 0; i < IO_BYTES; i += 8) {
		uint32_t a = (uint32_t)n, b = (uint32_t)i;

		memcpy(buf + i, &a, 4);
		memcpy(buf + i + 4, &b, 4);
	}
}

/* A task that ended in UNIT ATTENTION is sent again (at most 3 times). */
static int is_ua(const struct scsi_task *t)
{
	return t && t->status == SCSI_STATUS_CHECK_CONDITION &&
	       t->sense.key == SCSI_SENSE_UNIT_ATTENTION;
}

/* READ CAPACITY(10): the logical block size, or 0. */
static uint32_t block_size(struct iscsi_context *c)
{
	for (int tries = 0; tries < 4; tries++) {
		struct scsi_task *t = iscsi_readcapacity10_sync(c, 0, 0, 0);
		uint32_t bs = 0;

		if (is_ua(t)) {
			scsi_free_scsi_task(t);
			continue;
		}
		if (t && t->status == SCSI_STATUS_GOOD) {
			struct scsi_readcapacity10 *rc = scsi_datain_unmarshall(t);

			if (rc && rc->block_size && IO_BYTES % rc->block_size == 0)
				bs = rc->block_size;
		}
		scsi_free_scsi_task(t);
		return bs;
	}
	return 0;
}

/* READ(10) of IO_BYTES at byte offset off into buf; 0 or -1. */
static int read4k(struct iscsi_context *c, uint32_t bs, uint32_t off, uint8_t *buf)
{
	for (int tries = 0; tries < 4; tries++) {
		struct scsi_task *t = iscsi_read10_sync(c, 0, off / bs, IO_BYTES, bs, 0, 0, 0, 0, 0);
		int rc = -1;

		if (is_ua(t)) {
			scsi_free_scsi_task(t);
			continue;
		}
		if (t && t->status == SCSI_STATUS_GOOD && t->datain.size == IO_BYTES) {
			memcpy(buf, t->datain.data, IO_BYTES);
			rc = 0;
		}
		scsi_free_scsi_task(t);
		return rc;
	}
	return -1;
}

/* WRITE(10) of IO_BYTES at byte offset off; 0 or -1. */
static int write4k(struct iscsi_context *c, uint32_t bs, uint32_t off, uint8_t *buf)
{
	for (int tries = 0; tries < 4; tries++) {
		struct scsi_task *t = iscsi_write10_sync(c, 0, off / bs, buf, IO_BYTES, bs, 0, 0, 0,
							 0, 0);
		int rc = t && t->status == SCSI_STATUS_GOOD ? 0 : -1;

		if (is_ua(t)) {
			scsi_free_scsi_task(t);
			continue;
		}
		scsi_free_scsi_task(t);
		return rc;
	}
	return -1;
}

/* The session's check: 0 when its 4 KiB are what they must be, -1 when a command
 * failed, -2 when it read other data. */
static int check_io(struct run *r, int n, struct sess *s, int write_first)
{
	uint8_t want[IO_BYTES], got[IO_BYTES];

	if (!r->ro) {
		fill(want, n);
		if (write_first && write4k(s->c, s->block, RW_OFFSET, want)) {
			report(r, n, "WRITE(10) failed", s->c);
			return -1;
		}
		if (read4k(s->c, s->block, RW_OFFSET, got)) {
			report(r, n, "READ(10) failed", s->c);
			return -1;
		}
		return memcmp(want, got, IO_BYTES) ? (report(r, n, "read back other data", NULL), -2) : 0;
	}
	if (read4k(s->c, s->block, 0, got)) {
		report(r, n, "READ(10) failed", s->c);
		return -1;
	}
	pthread_mutex_lock(&r->mu);
	if (!r->have_ref) {
		FILE *f = fopen(r->ref_file, "wb");

		memcpy(r->ref, got, IO_BYTES);
		r->have_ref = 1;
		if (!f || fwrite(got, 1, IO_BYTES, f) != IO_BYTES || fclose(f)) {
			fprintf(stderr, "session-ramp: cannot write %s\n", r->ref_file);
			r->have_ref = 2;
		}
	}
	memcpy(want, r->ref, IO_BYTES);
	pthread_mutex_unlock(&r->mu);
	return memcmp(want, got, IO_BYTES) ? (report(r, n, "read other shared data", NULL), -2) : 0;
}

static void one_session(struct run *r, int n)
{
	struct sess *s = &r->s[n];
	char name[256];
	double t0;

	r->ms[n] = -1;
	snprintf(name, sizeof(name), "%s.%d", r->prefix, n);
	s->c = iscsi_create_context(name);
	if (!s->c) {
		report(r, n, "cannot create a libiscsi context", NULL);
		return;
	}
	iscsi_set_targetname(s->c, r->target);
	iscsi_set_session_type(s->c, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(s->c, ISCSI_HEADER_DIGEST_NONE);
	/* A session the target drops is lost, not silently logged in again (a fresh
	 * anonymous disk would then answer the verify), and no command waits forever. */
	iscsi_set_noautoreconnect(s->c, 1);
	iscsi_set_timeout(s->c, RAMP_CMD_TIMEOUT_S);
	t0 = lat_now_ms();
	if (iscsi_connect_sync(s->c, r->portal) || iscsi_login_sync(s->c)) {
		report(r, n, "login failed", s->c);
		goto drop;
	}
	r->ms[n] = lat_now_ms() - t0;
	s->block = block_size(s->c);
	if (!s->block) {
		report(r, n, "READ CAPACITY(10) failed", s->c);
		goto drop;
	}
	if (check_io(r, n, s, 1))
		goto drop;
	pthread_mutex_lock(&r->mu);
	s->held = 1;  /* from here on the service thread owns the context */
	pthread_mutex_unlock(&r->mu);
	return;
drop:
	iscsi_destroy_context(s->c);
	s->c = NULL;
}

static void *work(void *arg)
{
	struct worker *w = arg;

	for (int n = w->t; n < w->r->count; n += w->r->conc)
		one_session(w->r, n);
	return NULL;
}

/*
 * Re-check held session n (from the service thread, which owns every held context),
 * log it out and free it.
 */
static void verify_one(struct run *r, int n)
{
	struct sess *s = &r->s[n];
	int rc;

	r->v_held++;
	if (s->lost) {
		r->v_lost++;
	} else if ((rc = check_io(r, n, s, 0)) == 0) {
		r->v_ok++;
	} else if (rc == -2) {
		r->v_bad++;
	} else {
		r->v_failed++;
	}
	if (!s->lost)
		iscsi_logout_sync(s->c);
	iscsi_destroy_context(s->c);
	s->c = NULL;
	s->held = 0;
}

/*
 * Answer NOP-Ins and keep every held session's TCP connection serviced; once stop is
 * set, verify the held sessions one per round while still servicing the others (a
 * session left unserviced longer than the target's NOP-In timeout is dropped by it).
 */
static void *service(void *arg)
{
	struct run *r = arg;
	struct pollfd *pf = calloc((size_t)r->count, sizeof(*pf));
	int *idx = calloc((size_t)r->count, sizeof(*idx));
	int next = 0;

	if (!pf || !idx) {
		fprintf(stderr, "session-ramp: out of memory in the service thread\n");
		exit(2);
	}
	for (;;) {
		int k = 0, stop;

		pthread_mutex_lock(&r->mu);
		stop = r->stop;
		for (int n = 0; n < r->count; n++) {
			if (!r->s[n].held || r->s[n].lost)
				continue;
			pf[k].fd = iscsi_get_fd(r->s[n].c);
			pf[k].events = (short)iscsi_which_events(r->s[n].c);
			idx[k++] = n;
		}
		pthread_mutex_unlock(&r->mu);
		if (poll(pf, (nfds_t)k, stop ? 0 : 200) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < k; i++) {
			struct sess *s = &r->s[idx[i]];

			if (pf[i].revents && iscsi_service(s->c, pf[i].revents) < 0) {
				report(r, idx[i], "connection lost while held", s->c);
				s->lost = 1;
			}
		}
		if (!stop)
			continue;
		while (next < r->count && !r->s[next].held)
			next++;
		if (next == r->count)
			break;
		verify_one(r, next++);
	}
	free(pf);
	free(idx);
	return NULL;
}

int main(int argc, char **argv)
{
	struct run r = {0};
	struct worker *ws;
	pthread_t *th, svc;
	pthread_attr_t attr;
	double *ok, t0, secs;
	int up = 0, held = 0;
	char line[64];

	if (argc < 6 || argc > 7) {
		fprintf(stderr, "usage: session-ramp HOST:PORT TARGET COUNT CONCURRENCY rw|ro:FILE "
				"[NAME_PREFIX]\n");
		return 2;
	}
	r.portal = argv[1];
	r.target = argv[2];
	r.count = atoi(argv[3]);
	r.conc = atoi(argv[4]);
	if (strncmp(argv[5], "ro:", 3) == 0 && argv[5][3]) {
		r.ro = 1;
		r.ref_file = argv[5] + 3;
	} else if (strcmp(argv[5], "rw") != 0) {
		fprintf(stderr, "session-ramp: MODE is rw or ro:FILE\n");
		return 2;
	}
	r.prefix = argc == 7 ? argv[6] : "iqn.2025-01.test.scsipub:ramp";
	if (r.count < 1 || r.count > 20000 || r.conc < 1 || r.conc > 1024) {
		fprintf(stderr, "session-ramp: COUNT must be 1..20000, CONCURRENCY 1..1024\n");
		return 2;
	}
	if (r.conc > r.count)
		r.conc = r.count;
	r.s = calloc((size_t)r.count, sizeof(*r.s));
	r.ms = calloc((size_t)r.count, sizeof(*r.ms));
	ok = calloc((size_t)r.count, sizeof(*ok));
	ws = calloc((size_t)r.conc, sizeof(*ws));
	th = calloc((size_t)r.conc, sizeof(*th));
	if (!r.s || !r.ms || !ok || !ws || !th || pthread_mutex_init(&r.mu, NULL) ||
	    pthread_attr_init(&attr) || pthread_attr_setstacksize(&attr, WORKER_STACK)) {
		fprintf(stderr, "session-ramp: out of memory\n");
		return 2;
	}
	if (pthread_create(&svc, NULL, service, &r)) {
		fprintf(stderr, "session-ramp: pthread_create: %s\n", strerror(errno));
		return 2;
	}
	t0 = lat_now_ms();
	for (int i = 0; i < r.conc; i++) {
		ws[i].r = &r;
		ws[i].t = i;
		if (pthread_create(&th[i], &attr, work, &ws[i])) {
			fprintf(stderr, "session-ramp: pthread_create: %s\n", strerror(errno));
			return 2;
		}
	}
	for (int i = 0; i < r.conc; i++)
		pthread_join(th[i], NULL);
	secs = (lat_now_ms() - t0) / 1e3;
	for (int n = 0; n < r.count; n++)
		if (r.ms[n] >= 0)
			ok[up++] = r.ms[n];
	lat_sort(ok, up);
	pthread_mutex_lock(&r.mu);
	for (int n = 0; n < r.count; n++)
		held += r.s[n].held && !r.s[n].lost;
	pthread_mutex_unlock(&r.mu);
	printf("ramp: sessions=%d logged_in=%d passed_io=%d secs=%.1f login_p50_ms=%.1f "
	       "login_p99_ms=%.1f login_max_ms=%.1f\n", r.count, up, held, secs,
	       lat_pct(ok, up, 50), lat_pct(ok, up, 99), up ? ok[up - 1] : 0.0);
	printf("holding %d\n", held);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		line[0] = 0;

	pthread_mutex_lock(&r.mu);
	r.stop = 1;
	pthread_mutex_unlock(&r.mu);
	pthread_join(svc, NULL);
	printf("verify: held=%d ok=%d lost=%d mismatched=%d failed=%d\n", r.v_held, r.v_ok,
	       r.v_lost, r.v_bad, r.v_failed);
	free(r.s);
	free(r.ms);
	free(ok);
	free(ws);
	free(th);
	return r.v_ok == r.count && r.have_ref != 2 ? 0 : 1;
}
