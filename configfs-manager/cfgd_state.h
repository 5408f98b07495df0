/*
 * cfgd_state.h — scsipub-cfgd's state, shared by the three files of its server and
 * by nothing else: cfgd_server.c (its life, its clients and the connection loop),
 * cfgd_requests.c (one request at a time, cfgd_requests.h) and cfgd_worker.c (the
 * pools of pre-made sessions, the teardown queue and the thread that serves both,
 * cfgd_worker.h). Clients of the daemon see only cfgd_server.h.
 */
#ifndef SCSIPUB_CFGD_STATE_H
#define SCSIPUB_CFGD_STATE_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include "anon.h"
#include "catalog.h"
#include "cfgd_config.h"
#include "cfgd_proto.h"
#include "loginfirst.h"
#include "poolsize.h"
#include "poolspec.h"

/* An anonymous session: live (owner set), pre-made (in a pool: owner NULL, not counted
 * in n_sessions), or retiring (in the teardown queue, owner as it was; reply_to, when
 * set, waits for its anon_destroy response). */
struct sess {
	struct sess *next;
	struct cfgd_client *owner;
	struct cfgd_client *reply_to;
	const char *why;              /* a string literal: why it is torn down */
	double queued_at;             /* when it was queued for teardown (monotime_sec) */
	struct anon_session a;
	char client[CFGD_NAME_MAX + 1];
	char peer[CFGD_PEER_MAX + 1];
};

struct cfgd_client {
	struct cfgd_client *next;
	pid_t pid;
	uid_t uid;
	int fd;
	bool busy;      /* a deferred request's response is owed: not polled meanwhile */
	bool broken;    /* the worker could not send it a response: close it */
	struct cfgd_server *srv;
};

/* Sessions made in advance for one target (poolspec.h). */
struct pool {
	struct poolspec spec;
	struct sess *ready, **tail;   /* pre-made sessions, owner NULL, oldest first */
	unsigned n_ready;
	struct poolsize size;         /* how many to keep ready now (grows with bursts) */
	unsigned logged;              /* the size last logged as reached */
	double retry_at;              /* after a failed make: not before (monotime_sec); 0 = none */
	double refill_at;             /* after a take that left some ready: not before; 0 = none */
};

/* The daemon: its tables, under mu, and configfs, under cfs_mu (lock order: cfs_mu,
 * then mu; neither is held across a call that takes the other first). */
struct cfgd_server {
	pthread_mutex_t mu;      /* the tables below: sessions, clients, queue, pools */
	pthread_mutex_t cfs_mu;  /* configfs changes and the exports table; taken before mu */
	pthread_cond_t work_cv;  /* the worker's: teardown queued, pool short, stop */
	pthread_t worker;
	bool worker_on, stopping;
	int wake[2];             /* worker -> serve loop: a busy client is free again */
	struct sess *queue, **queue_tail;  /* sessions waiting for teardown, in order */
	struct loginfirst lf;    /* logins being handled: teardowns wait (loginfirst.h) */
	struct pool pools[POOLSPEC_TARGETS_MAX];
	unsigned n_pools;
	struct cfgd_server_cfg cfg;
	char images_dir[PATH_MAX];
	char multi_images[2 * CATALOG_IQN_MAX + 2];
	char private_dir[PATH_MAX];
	char state_dir[PATH_MAX];
	char lio_portal[128];
	struct sess *sessions;
	size_t n_sessions;
	struct anon_exports *exports;   /* shared read-only exports' session counts */
	struct cfgd_client *clients;
	unsigned n_clients;
};

#endif
