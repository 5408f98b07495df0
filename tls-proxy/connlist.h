/*
 * connlist.h — the portal's accepted connections: the list the accept loop admits
 * each initiator connection into (bounded), the --login-timeout deadline of each, and
 * the shutdown that closes them all. A connection's thread (serve.h) reports its
 * login's progress here; the accept loop reaps the ones whose deadline passed.
 *
 * Thread-safe: one mutex guards the list and every connection's deadline and LIO
 * socket; the rest of struct conn belongs to the connection's thread (after
 * connlist_add, before that to the accept loop).
 */
#ifndef SCSIPUB_CONNLIST_H
#define SCSIPUB_CONNLIST_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "relaywatch.h"

/* One accepted initiator connection. */
struct conn {
	struct conn *next;         /* the list's */
	struct connlist *list;     /* set by connlist_add */
	int fd;                    /* initiator socket */
	int lio_fd;                /* LIO socket while relaying, else -1 (connlist_set_lio) */
	char peer[INET6_ADDRSTRLEN];
	uint16_t port;             /* initiator's TCP port */
	int64_t login_deadline_ms; /* CLOCK_MONOTONIC ms; 0 once the login is done */
	int64_t login_paused_ms;   /* != 0: since then waiting on our own provisioning */
	bool tls;                  /* accepted on the TLS listener */
	/* For the --verbose line logged once LIO's final Login Response has gone
	 * through (relaywatch.h). */
	struct login_times t;
};

struct connlist;

/* An empty list that admits at most max connections at once. NULL when out of
 * memory. */
struct connlist *connlist_new(unsigned max);

/* Free the list (not its connections: call after connlist_shutdown, once every
 * connection thread has removed its own). NULL is ignored. */
void connlist_free(struct connlist *cl);

/* Admit c (its fields set, login_deadline_ms included). 0, or -EMFILE when max
 * connections are in the list (c is not added; the caller closes and frees it). */
int connlist_add(struct connlist *cl, struct conn *c);

/* Take c out of its list (its thread, when done with it) and wake connlist_shutdown.
 * c is then the caller's to close and free. Close c->fd only after this: while c is
 * listed, connlist_reap and connlist_shutdown may shut its fd down, and a closed fd's
 * number may already belong to another socket. */
void connlist_remove(struct conn *c);

/* The login of c is done, or handed to LIO (whose own login timer bounds the rest):
 * its deadline no longer applies. Takes void * for discovery_cfg.logged_in. */
void connlist_login_done(void *c);

/*
 * --login-timeout bounds what the initiator makes us wait for, not the time we take to
 * provision its session (queued behind other logins when many arrive at once): between
 * connlist_login_pause and connlist_login_resume the deadline stops, and it moves on
 * by that time after.
 */
void connlist_login_pause(struct conn *c);
void connlist_login_resume(struct conn *c);

/* Shut down (SHUT_RDWR) every connection whose login deadline passed at now_ms (their
 * threads then end) and call expired(peer, now_ms, arg) for each, under the list's
 * mutex (expired must not call connlist). */
void connlist_reap(struct connlist *cl, int64_t now_ms,
		   void (*expired)(const char *peer, int64_t now_ms, void *arg), void *arg);

/* Record c's socket to LIO (lio_fd >= 0) so that connlist_shutdown shuts it down
 * too, or forget it (-1). false when the list is shutting down: nothing recorded, and
 * the caller closes lio_fd and ends the connection. */
bool connlist_set_lio(struct conn *c, int lio_fd);

/* Stop: shut down every connection's sockets (initiator and LIO) and wait up to
 * wait_s seconds for their threads to remove them. Returns how many are still in the
 * list. */
unsigned connlist_shutdown(struct connlist *cl, int wait_s);

#endif
