/*
 * login-time.c — login latency of an iSCSI target, for bench-perf.sh (issue 10, goal 2).
 *
 *   login-time HOST:PORT TARGET COUNT CONCURRENCY [NAME_PREFIX]
 *
 * Runs COUNT Normal-session logins (RFC 7143 §6.3: TCP connect, Login Request/Response
 * until Full Feature Phase) with libiscsi, CONCURRENCY threads at a time; thread t
 * takes logins t, t + CONCURRENCY, ... Each login's latency is the time from before
 * connect() until the final Login Response with T=1 has arrived. A thread logs out
 * (RFC 7143 §11.14) only after every thread has finished its current login (a
 * barrier), so with COUNT == CONCURRENCY all sessions are in Full Feature Phase at
 * the same time, as when many initiators boot together. A login may take
 * LOGIN_TIMEOUT_S, a logout LOGOUT_TIMEOUT_S; a dropped connection is not reconnected
 * (a session the target ended while the thread waited is just closed). InitiatorName is
 * NAME_PREFIX.<n> (default iqn.2025-01.test.scsipub:login-time).
 *
 * Prints one line "login <n> <ms>" per successful login, then
 * "logins=N ok=K failed=F p50_ms=.. p99_ms=.. max_ms=.. median_ms=..". Exit status 0
 * when every login succeeded.
 */
#include <errno.h>
#include <iscsi/iscsi.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "latency.h"

#define LOGIN_TIMEOUT_S 120  /* seconds a login may take before it counts as failed */
#define LOGOUT_TIMEOUT_S 30  /* seconds a logout may take; then the connection is dropped */

struct run {
	const char *portal, *target, *prefix;
	int count, conc;
	double *ms;  /* per login, < 0 = failed */
	pthread_barrier_t bar;
	int rounds;  /* barrier rounds: ceil(count / conc) */
};

struct worker {
	struct run *r;
	int t;
};

/* One login; returns its latency in ms, or -1 (reason on stderr). *out keeps the
 * logged-in context for the caller to log out and destroy. */
static double one_login(struct run *r, int n, struct iscsi_context **out)
{
	char name[256];
	struct iscsi_context *c;
	double t0;

	*out = NULL;
	snprintf(name, sizeof(name), "%s.%d", r->prefix, n);
	c = iscsi_create_context(name);
	if (!c) {
		fprintf(stderr, "login %d: cannot create a libiscsi context\n", n);
		return -1;
	}
	iscsi_set_targetname(c, r->target);
	iscsi_set_session_type(c, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(c, ISCSI_HEADER_DIGEST_NONE);
	/* A session the target dropped (e.g. its NOP-In went unanswered while this
	 * thread waited at the barrier) ends here: no reconnect, no endless logout. */
	iscsi_set_noautoreconnect(c, 1);
	iscsi_set_timeout(c, LOGIN_TIMEOUT_S);
	t0 = lat_now_ms();
	if (iscsi_connect_sync(c, r->portal) || iscsi_login_sync(c)) {
		fprintf(stderr, "login %d: %s\n", n, iscsi_get_error(c));
		iscsi_destroy_context(c);
		return -1;
	}
	*out = c;
	return lat_now_ms() - t0;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->r;
	int k;

	for (k = 0; k < r->rounds; k++) {
		int n = w->t + k * r->conc;
		struct iscsi_context *c = NULL;

		if (n < r->count)
			r->ms[n] = one_login(r, n, &c);
		pthread_barrier_wait(&r->bar);
		if (c) {
			iscsi_set_timeout(c, LOGOUT_TIMEOUT_S);
			iscsi_logout_sync(c);
			iscsi_disconnect(c);
			iscsi_destroy_context(c);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct run r = {0};
	struct worker *ws;
	pthread_t *th;
	double *ok;
	int i, k = 0;

	if (argc < 5 || argc > 6) {
		fprintf(stderr, "usage: login-time HOST:PORT TARGET COUNT CONCURRENCY [NAME_PREFIX]\n");
		return 2;
	}
	r.portal = argv[1];
	r.target = argv[2];
	r.count = atoi(argv[3]);
	r.conc = atoi(argv[4]);
	r.prefix = argc == 6 ? argv[5] : "iqn.2025-01.test.scsipub:login-time";
	if (r.count < 1 || r.count > 100000 || r.conc < 1 || r.conc > 4096) {
		fprintf(stderr, "login-time: COUNT must be 1..100000, CONCURRENCY 1..4096\n");
		return 2;
	}
	if (r.conc > r.count)
		r.conc = r.count;
	r.rounds = (r.count + r.conc - 1) / r.conc;
	r.ms = calloc((size_t)r.count, sizeof(*r.ms));
	ok = calloc((size_t)r.count, sizeof(*ok));
	ws = calloc((size_t)r.conc, sizeof(*ws));
	th = calloc((size_t)r.conc, sizeof(*th));
	if (!r.ms || !ok || !ws || !th || pthread_barrier_init(&r.bar, NULL, (unsigned)r.conc)) {
		fprintf(stderr, "login-time: out of memory\n");
		return 2;
	}
	for (i = 0; i < r.conc; i++) {
		ws[i].r = &r;
		ws[i].t = i;
		if (pthread_create(&th[i], NULL, work, &ws[i])) {
			fprintf(stderr, "login-time: pthread_create: %s\n", strerror(errno));
			return 2;
		}
	}
	for (i = 0; i < r.conc; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < r.count; i++) {
		if (r.ms[i] >= 0) {
			printf("login %d %.3f\n", i, r.ms[i]);
			ok[k++] = r.ms[i];
		}
	}
	lat_sort(ok, k);
	printf("logins=%d ok=%d failed=%d p50_ms=%.3f p99_ms=%.3f max_ms=%.3f median_ms=%.3f\n",
	       r.count, k, r.count - k, lat_pct(ok, k, 50), lat_pct(ok, k, 99),
	       k ? ok[k - 1] : 0.0, lat_median(ok, k));
	free(r.ms);
	free(ok);
	free(ws);
	free(th);
	return k == r.count ? 0 : 1;
}
