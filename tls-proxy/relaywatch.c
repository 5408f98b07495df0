/*
 * relaywatch.c — see relaywatch.h: the relay's progress callback and what it sets
 * off (the login-time line, CPU hints, the relay thread's placement).
 */
#include "relaywatch.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "monotime.h"
#include "placehint.h"
#include "placement.h"
#include "prov.h"

static double ms_between(int64_t from_ns, int64_t to_ns)
{
	return from_ns && to_ns ? (double)(to_ns - from_ns) / 1e6 : -1;
}

/*
 * --verbose: where the time of a relayed login went, from accept to the moment LIO's
 * final Login Response went to the initiator (-1: a step this login did not take,
 * e.g. no provisioning for a provisioned target).
 */
static void log_login_time(const struct relay_watch *w)
{
	const struct login_times *t = w->times;
	int64_t now = monotime_ns();

	plog_debug("login from %s (%s) to %s: in Full Feature Phase %.1f ms after the accept "
		   "(its thread running %.1f, first PDU read %.1f, session ready %.1f, "
		   "connected to LIO %.1f, login sent to LIO %.1f, LIO's login answered %.1f ms "
		   "later)", w->peer,
		   w->req->initiator, w->req->target, ms_between(t->accept, now),
		   ms_between(t->accept, t->thread), ms_between(t->accept, t->first_pdu),
		   ms_between(t->accept, t->session),
		   ms_between(t->accept, t->lio_connect),
		   ms_between(t->accept, t->lio_sent), ms_between(t->lio_sent, now));
}

/* Tell scsipub-tcmu cpu (or PLACEHINT_NONE) for disk, on behalf of `who` (for the
 * debug line when it cannot be told); never waits. True when sent. */
static bool hint_disk(const struct relaywatch_cfg *cfg, const char *who, const char *disk,
		      int cpu)
{
	int r = placehint_send(cfg->tcmu_place_socket, disk, cpu);

	if (r < 0)
		plog_debug("%s: scsipub-tcmu not told CPU %d for %s: %s", who, cpu, disk,
			   strerror(-r));
	return r == 0;
}

/* The session's own disks are served best on LIO's CPU too (placehint.h). */
static void tell_handler(const struct relay_watch *w, int cpu)
{
	char who[512];

	snprintf(who, sizeof(who), "connection from %s (%s) to %s", w->peer,
		 w->req->initiator, w->req->target);
	for (unsigned i = 0; i < session_disk_count(w->own); i++)
		hint_disk(w->cfg, who, session_disk(w->own, i), cpu);
}

/* Logged once per change of the target's hint, so at most twice per connection. */
void relaywatch_tell_prov(void *arg, const char *target, int cpu,
			  const char (*disks)[PROVTARGET_DISK_LEN], unsigned n_disks,
			  unsigned conns)
{
	const struct relaywatch_cfg *cfg = arg;
	unsigned told = 0;

	for (unsigned i = 0; i < n_disks; i++)
		told += hint_disk(cfg, target, disks[i], cpu);
	if (cpu == PLACEHINT_NONE)
		plog("%s: its %u connections run on several CPUs: CPU hint withdrawn for "
		     "%u of its %u disks", target, conns, told, n_disks);
	else
		plog("%s: LIO's threads for its %u connection%s run on CPU %d: scsipub-tcmu "
		     "told for %u of its %u disks", target, conns, conns == 1 ? "" : "s", cpu,
		     told, n_disks);
}

/*
 * A connection to a provisioned target has learnt LIO's CPU: its target's disks as
 * configfs has them now go into placer's table with it (heap: up to PROV_LUNS_MAX
 * names).
 */
static void enter_prov(struct relay_watch *w, int cpu)
{
	char (*disks)[PROVTARGET_DISK_LEN] = malloc(PROV_LUNS_MAX * sizeof(*disks));
	int n = disks ? provtarget_disks(w->cfg->configfs, w->req->target, disks,
					  PROV_LUNS_MAX) : -ENOMEM;

	if (n >= 0)
		n = provplace_enter(w->cfg->placer, w->req->target, w, cpu,
				    (const char (*)[PROVTARGET_DISK_LEN])disks, (unsigned)n);
	free(disks);
	if (n < 0)
		plog_debug("connection from %s (%s) to %s: no CPU hint for its disks: %s",
			   w->peer, w->req->initiator, w->req->target, strerror(-n));
	else
		w->entered = true;
}

/* Rounds after one that spliced that still belong to its stream (see place_relay). */
#define RELAY_STREAM_ROUNDS 4

/*
 * The relay thread's CPU after a round (pinpolicy.h): on LIO's while the rounds are
 * calm, i.e. splice no large data segment (relay.h: RELAY_SPLICE_MIN). The few rounds
 * right after one that spliced count for nothing: a large I/O also has rounds that
 * move a PDU header, its command or its response only (relay.h reads the header after
 * a large segment alone), and those are part of the stream.
 */
static void place_relay(struct relay_watch *w, const struct relay_stats *st)
{
	enum pinpolicy_wake k;
	int r;

	if (st->spliced > w->spliced)
		w->since_splice = 0;
	else if (w->since_splice <= RELAY_STREAM_ROUNDS)
		w->since_splice++;
	k = w->since_splice == 0 ? PINPOLICY_BUSY :
		w->since_splice <= RELAY_STREAM_ROUNDS ? PINPOLICY_IDLE : PINPOLICY_CALM;
	w->spliced = st->spliced;
	r = pinpolicy_apply(&w->policy, pinpolicy_wake(&w->policy, w->lio_cpu, k), &w->free_cpus);
	if (r < 0)
		plog_debug("connection from %s (%s) to %s: relay thread placement: %s",
			   w->peer, w->req->initiator, w->req->target, strerror(-r));
}

void relaywatch_bytes(void *arg, const struct relay_stats *st)
{
	struct relay_watch *w = arg;

	conntab_bytes(w->cfg->tab, w->id, st->to_lio, st->to_client);
	if (!w->ffp_logged && pdufilter_in_ffp(w->filter)) {
		w->ffp_logged = true;
		w->ffp_to_client = st->to_client;
		if (plog_verbose)
			log_login_time(w);
	} else if (w->ffp_logged && !w->learnt && st->to_client > w->ffp_to_client) {
		/* LIO's transmit thread has sent a PDU: its CPU (placement.h). */
		int cpu = placement_socket_cpu(w->lio_fd);

		w->learnt = true;
		if (cpu >= 0) {
			w->lio_cpu = cpu;
			plog_debug("connection from %s (%s) to %s: LIO's threads for it run on "
				   "CPU %d", w->peer, w->req->initiator, w->req->target, cpu);
			if (w->own && w->cfg->tcmu_place_socket[0])
				tell_handler(w, cpu);
			else if (w->prov && w->cfg->placer)
				enter_prov(w, cpu);
		} else {
			plog_debug("connection from %s (%s) to %s: LIO's CPU for it not known: "
				   "%s", w->peer, w->req->initiator, w->req->target,
				   strerror(-cpu));
		}
	}
	if (w->pin && w->lio_cpu >= 0)
		place_relay(w, st);
}

void relaywatch_init(struct relay_watch *w, const struct relaywatch_cfg *cfg,
		     const char *peer, const struct login_times *times,
		     const struct login_req *req, const struct pdufilter *filter,
		     const struct session *own, bool prov)
{
	*w = (struct relay_watch){ .cfg = cfg, .lio_fd = -1, .peer = peer, .times = times,
				   .req = req, .filter = filter, .own = own, .prov = prov,
				   .lio_cpu = -1, .since_splice = RELAY_STREAM_ROUNDS + 1 };
	pinpolicy_init(&w->policy);
	w->pin = !cfg->relay_any_cpu &&
		pthread_getaffinity_np(pthread_self(), sizeof(w->free_cpus), &w->free_cpus) == 0;
}

void relaywatch_end(struct relay_watch *w)
{
	if (w->entered)
		provplace_leave(w->cfg->placer, w->req->target, w);
	w->entered = false;
}
