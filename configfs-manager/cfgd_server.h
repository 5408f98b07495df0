/*
 * cfgd_server.h — the request handling of scsipub-cfgd (the configfs manager daemon):
 * the single, privileged owner of the LIO objects we make: anonymous sessions (anon.h),
 * provisioned sessions (prov.h; asked for by the API) and the sweeps after
 * provisioned-target logins. Requests (cfgd_proto.h) arrive on a Unix
 * SOCK_SEQPACKET socket from unprivileged clients (the portal; scsipub-ctl); each is
 * untrusted input: parsed and validated, then checked against the daemon's own state
 * (its catalog, the sessions the asking connection owns). Inside, this module is
 * its life and connection loop (cfgd_server.c), one request (cfgd_requests.h) and
 * the pools, teardowns and their worker thread (cfgd_worker.h), over the state they
 * share (cfgd_state.h).
 *
 * Peer credentials: at accept the peer's uid comes from SO_PEERCRED; root and the uids
 * given in cfg.allow_uids or cfg.portal_uids may talk to the daemon, others are closed
 * at once (logged). A uid in cfg.portal_uids (and not in allow_uids) may make only the
 * portal's requests: hello, anon_create, anon_destroy and acl_sweep; anything else
 * (provisioned sessions, listings, counts) is refused with EPERM, so a compromised
 * portal cannot end or list other people's sessions.
 *
 * Lifetime: an anonymous session belongs to the connection that made it; when that
 * connection ends (its client closed it or died), the session is destroyed, so a
 * crashed portal leaves nothing behind.
 *
 * Shared read-only exports (ro.<name>): the server keeps their session counts
 * (anon.h: struct anon_exports), so the first session makes the export's LIO objects
 * and the last one's end removes them.
 *
 * Bounds: cfg.max_clients connections, cfg.max_sessions anonymous sessions in all, of
 * every kind (EMFILE beyond; a session counts until its teardown is done),
 * CFGD_MSG_MAX bytes per message, the pools' MAX sizes (poolspec.h) in pre-made
 * sessions.
 *
 * Threads (cfgd_server_serve): the serve loop answers every connection (poll, one
 * request per ready connection per round, two message buffers in all; the portal holds
 * a connection per anonymous session, so a thread per connection would cost ~100 KiB
 * of memory per session for nothing). A worker thread does what no login waits for:
 * it tears down released sessions in order once no login is arriving (loginfirst.h:
 * at most 10 s later, at once at the session limit; the anon_destroy response is sent
 * when the teardown is done; that connection is not read meanwhile), refills the pools to
 * their size of the moment (poolsize.h: a burst of logins grows a pool set with a MAX),
 * and removes the oldest pre-made sessions a pool that shrank back no longer keeps.
 * A login to a pooled target takes its oldest pre-made session, with no configfs change;
 * otherwise the serve loop makes it, waiting at most for the worker's current step.
 * Without cfgd_server_serve (cfgd_server_handle alone) everything happens in the
 * caller, and no pool is filled.
 *
 * Locking: one mutex guards the tables (sessions, clients, the teardown queue, the
 * pools), held briefly; another serialises every configfs change (struct cfs and the
 * exports table are not thread-safe) and is taken before the first, never after.
 */
#ifndef SCSIPUB_CFGD_SERVER_H
#define SCSIPUB_CFGD_SERVER_H

#include <stddef.h>
#include <sys/types.h>

#include "cfgd_config.h"

struct cfgd_server;
struct cfgd_client;

/* A server (copies cfg's strings). NULL + errno on failure. */
struct cfgd_server *cfgd_server_new(const struct cfgd_server_cfg *cfg);
/* Destroy every remaining session, then free. No client thread may be running. */
void cfgd_server_free(struct cfgd_server *s);

/*
 * Serve listen_fd (a bound, listening SOCK_SEQPACKET Unix socket) until stop_fd
 * becomes readable, in the calling thread: accept, check peer credentials, then
 * answer each connection's requests in turn. A connection that ends, or does not take
 * its response (its socket buffer full), is closed and the sessions it owns destroyed.
 * Before returning, closes every connection (destroying their sessions).
 * 0 when stopped, or -errno (-ENOMEM).
 */
int cfgd_server_serve(struct cfgd_server *s, int listen_fd, int stop_fd);

/* One client connection (tests drive these without a socket). */
struct cfgd_client *cfgd_server_client_new(struct cfgd_server *s, pid_t pid, uid_t uid);
/* The connection ended: destroy the sessions it owns (queued for the worker while
 * cfgd_server_serve runs), free it. */
void cfgd_server_client_end(struct cfgd_server *s, struct cfgd_client *c);

/*
 * Handle one request message (msg, len bytes) of client c; the response message goes
 * to out (outlen bytes, at least CFGD_MSG_MAX). Returns the response length (> 0).
 * Never fails: a bad request gets an {"ok": false} response.
 */
size_t cfgd_server_handle(struct cfgd_server *s, struct cfgd_client *c, const char *msg,
			  size_t len, char *out, size_t outlen);

/* Number of anonymous sessions, live or still being torn down (pre-made ones waiting
 * in a pool are not counted). */
size_t cfgd_server_sessions(struct cfgd_server *s);

/* Whether uid may talk to the daemon (root, cfg.allow_uids or cfg.portal_uids). */
int cfgd_server_uid_allowed(const struct cfgd_server *s, uid_t uid);

/* Whether uid may make the portal's requests only (in cfg.portal_uids, not root, not
 * in cfg.allow_uids). */
int cfgd_server_uid_portal_only(const struct cfgd_server *s, uid_t uid);

#endif
