/*
 * serve.h — one initiator connection of the portal, in its own thread: the TLS
 * handshake on the TLS listener (tls.h), the leading Login Request (RFC 7143 §11.12),
 * then a discovery session answered here (discovery.h), or a session relayed to LIO's
 * loopback portal (relay.h): for an anonymous target once scsipub-cfgd has made its
 * copy-on-write LUN (session.h), for a provisioned target (provtarget.h) as it is. A
 * login that cannot be served gets a Login Response with the status that says why
 * (RFC 7143 §11.13.5), and the refusals anyone can cause are logged at most once per
 * RATELOG_WINDOW_S per peer.
 */
#ifndef SCSIPUB_SERVE_H
#define SCSIPUB_SERVE_H

#include <stdatomic.h>

#include "connlist.h"
#include "options.h"

struct conntab;
struct provsweep;
struct ratelog;
struct relaywatch_cfg;
struct session_mgr;
struct tls_server;

/* What serving a connection needs of the portal; every pointer outlives the
 * connections (none is owned here). */
struct serve_cfg {
	const struct portal_options *opts;
	const char *images_dir;              /* the catalog (opts->images resolved) */
	struct session_mgr *mgr;             /* anonymous sessions (session.h) */
	struct ratelog *unknown_log;         /* refused logins, once per window per peer */
	struct conntab *tab;                 /* the live relayed connections */
	struct provsweep *sweeper;           /* provisioned targets' dynamic ACLs */
	const struct relaywatch_cfg *watch;  /* every relay's watch (relaywatch.h) */
	struct tls_server *tls;              /* the TLS listener's certificate; NULL: none */
	struct connlist *conns;              /* c's list: login deadline, LIO socket */
	atomic_uint tsih;                    /* discovery sessions' TSIHs (serve_cfg_init) */
};

/* Start cfg's TSIH counter at a random value, so that a restarted portal does not
 * hand out the TSIHs of the one before. Call once, before the first serve_conn. */
void serve_cfg_init(struct serve_cfg *cfg);

/*
 * Serve connection c (accepted, in cfg->conns) until it ends: set its socket's
 * timeouts, TCP_NODELAY and keepalive (--nopin-interval, --nopin-timeout), run the
 * TLS handshake when c->tls, read and answer the login, relay when it goes to LIO.
 * Returns when the connection is done; c->fd stays open (the caller's to close).
 */
void serve_conn(struct serve_cfg *cfg, struct conn *c);

#endif
