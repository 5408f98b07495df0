/*
 * relaywatch.h — what the portal does while a relayed connection's bytes pass, as
 * relay.h's progress callback on the connection's relay thread:
 *   - keeps the connection table's byte counts (conntab.h);
 *   - once LIO's session is in Full Feature Phase (pdufilter.h), logs at --verbose
 *     where the login's time went, from the accept to LIO's final Login Response;
 *   - from the first PDU LIO sends after that, learns the CPU of LIO's threads for
 *     the connection (placement.h) and tells scsipub-tcmu that CPU for the disks of
 *     the connection's own session (placehint.h), or, for a provisioned target,
 *     enters the connection in the placer's table (provplace.h), which tells it for
 *     the target's disks while its connections agree on one CPU;
 *   - keeps the relay thread on that CPU while its rounds are calm (pinpolicy.h).
 * Nothing here blocks on the network: the hints are datagrams that are dropped when
 * scsipub-tcmu is not there.
 */
#ifndef SCSIPUB_RELAYWATCH_H
#define SCSIPUB_RELAYWATCH_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

#include "conntab.h"
#include "login.h"
#include "pdufilter.h"
#include "pinpolicy.h"
#include "provplace.h"
#include "relay.h"
#include "session.h"

/* Where the time of a login went: CLOCK_MONOTONIC ns (monotime.h), 0 = not reached. */
struct login_times {
	int64_t accept;       /* the listener accepted the connection */
	int64_t thread;       /* its thread runs */
	int64_t first_pdu;    /* its first Login Request is read */
	int64_t session;      /* its session (COW LUN) is made, or found */
	int64_t lio_connect;  /* connected to LIO's loopback portal */
	int64_t lio_sent;     /* the Login Request sent on to LIO */
};

/* The portal's settings for every watch; must outlive them all. */
struct relaywatch_cfg {
	const char *tcmu_place_socket;  /* scsipub-tcmu's hint socket; "": none told */
	const char *configfs;           /* configfs root: a provisioned target's disks */
	struct provplace *placer;       /* provisioned targets' hints; NULL: none */
	struct conntab *tab;            /* the live connections (conntab.h) */
	bool relay_any_cpu;             /* --relay-any-cpu: never bind the relay thread */
};

/* One relayed connection's watch, on its relay thread's stack. */
struct relay_watch {
	const struct relaywatch_cfg *cfg;
	uint64_t id;                    /* its connection table entry (the caller's) */
	int lio_fd;                     /* the socket to LIO (the caller's) */
	const char *peer;               /* the initiator's address, for log lines */
	const struct login_times *times;
	const struct login_req *req;
	const struct pdufilter *filter;
	const struct session *own;      /* the anonymous session whose disks
					   scsipub-tcmu is told the CPU of, or NULL */
	bool prov;                      /* to a provisioned target (provplace.h) */
	bool entered;                   /* in the placer's table */
	bool ffp_logged;
	uint64_t ffp_to_client;         /* bytes to the initiator when FFP began */
	bool learnt;                    /* LIO's CPU asked for (placement.h) */
	int lio_cpu;                    /* LIO's CPU for the connection, or -1 */
	bool pin;                       /* bind the relay thread there (not
					   relay_any_cpu) and have free_cpus */
	struct pinpolicy policy;        /* when (pinpolicy.h) */
	cpu_set_t free_cpus;            /* the thread's affinity when not bound */
	uint64_t spliced;               /* st->spliced at the last round */
	unsigned since_splice;          /* rounds since one spliced (saturates) */
};

/*
 * Start w for the connection from peer to req's target, on the thread that will
 * relay it (its affinity now is the one it goes back to when not bound). own: the
 * anonymous session made for it, or NULL; prov: a provisioned target. Every pointer
 * must outlive w. The caller sets w->lio_fd and w->id before the relay starts.
 */
void relaywatch_init(struct relay_watch *w, const struct relaywatch_cfg *cfg,
		     const char *peer, const struct login_times *times,
		     const struct login_req *req, const struct pdufilter *filter,
		     const struct session *own, bool prov);

/* relay.h's progress callback (relay_progress_fn); arg is the struct relay_watch. */
void relaywatch_bytes(void *arg, const struct relay_stats *st);

/* The relay ended: w leaves the placer's table if it was in it. */
void relaywatch_end(struct relay_watch *w);

/*
 * provplace.h's tell (provplace_tell_fn; arg: the struct relaywatch_cfg): send cpu
 * (or PLACEHINT_NONE) for each of the target's disks to scsipub-tcmu and log the
 * change once.
 */
void relaywatch_tell_prov(void *arg, const char *target, int cpu,
			  const char (*disks)[PROVTARGET_DISK_LEN], unsigned n_disks,
			  unsigned conns);

#endif
