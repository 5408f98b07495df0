/*
 * serve.c — one initiator connection of the portal (see serve.h).
 */
#include "serve.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "anontarget.h"
#include "catalog.h"
#include "conntab.h"
#include "discovery.h"
#include "fsspace.h"
#include "log.h"
#include "login.h"
#include "monotime.h"
#include "pdu.h"
#include "pdufilter.h"
#include "pio.h"
#include "provsweep.h"
#include "provtarget.h"
#include "ratelog.h"
#include "relay.h"
#include "relaywatch.h"
#include "session.h"
#include "tls.h"

#define LOGIN_TIMEOUT_S 15       /* seconds to receive each login/discovery PDU */
#define LIO_CONNECT_TIMEOUT_S 5  /* seconds */

static uint32_t random32(void)
{
	uint32_t v = 0;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v))
		v = (uint32_t)time(NULL) * 2654435761u;
	return v;
}

static uint16_t next_tsih(struct serve_cfg *cfg)
{
	unsigned v;

	do
		v = atomic_fetch_add(&cfg->tsih, 1) + 1;
	while ((v & 0xffff) == 0);
	return (uint16_t)v;
}

void serve_cfg_init(struct serve_cfg *cfg)
{
	atomic_store(&cfg->tsih, random32());
}

static void set_timeouts(int fd, int seconds)
{
	struct timeval tv = { .tv_sec = seconds };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int connect_lio(const struct serve_cfg *cfg)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	if (options_sockaddr(cfg->opts->lio, &ss, &len) < 0)
		return -EINVAL;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	set_timeouts(fd, LIO_CONNECT_TIMEOUT_S); /* connect honours SO_SNDTIMEO */
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		int e = errno == EINPROGRESS ? ETIMEDOUT : errno;

		close(fd);
		return -e;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/*
 * A peer that vanished (host gone, traffic dropped) is noticed within about
 * --nopin-interval + --nopin-timeout seconds even while nothing is sent: keepalive
 * probes after nopin_interval idle seconds, and TCP_USER_TIMEOUT for data or probes
 * unacknowledged for nopin_timeout seconds (then the relay ends and LIO's session
 * with it). An initiator whose host still answers TCP is LIO's NOP-In's job.
 */
static void set_keepalive(const struct portal_options *opts, int fd)
{
	int one = 1, idle = (int)opts->nopin_interval, intvl = 1, cnt = (int)opts->nopin_timeout;
	unsigned user_ms = opts->nopin_timeout * 1000u;

	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_ms, sizeof(user_ms));
}

static void reject(struct pio *io, const struct pdu *p, uint16_t st)
{
	login_send_reject(io, p->bhs, st, random32());
}

/* "ip:port" ("[v6]:port") of the initiator into out. */
static void peer_port_str(const struct conn *c, char *out, size_t len)
{
	snprintf(out, len, strchr(c->peer, ':') ? "[%s]:%u" : "%s:%u", c->peer, c->port);
}

/*
 * Connect to LIO, send the leading Login Request (login: wire bytes, the buffered p
 * or its rewrite) and relay until the session ends, through a pdufilter (SendTargets
 * inside the session names its own target at our public address only; later Login
 * Requests cannot change its identity), listing the connection in the connection
 * table meanwhile (shown_initiator: the name the client sent; lio_initiator: the one
 * LIO knows, or NULL when the same). A relaywatch.h watch follows the relay: the
 * table's byte counts, LIO's CPU for the connection, the CPU hints for the disks of
 * own (session.h: session_disk) or, for a provisioned target (kind
 * CONNTAB_PROVISIONED, own NULL), of its LUNs' backstores, and the relay thread's
 * placement. Answers the initiator with a target error when LIO cannot be reached.
 * Returns when done.
 */
static void relay_to_lio(struct serve_cfg *cfg, struct conn *c, struct pio *cio,
			 const struct pdu *p, const uint8_t *login, size_t login_len,
			 const struct login_req *req, const char *lio_initiator,
			 const struct session *own, enum conntab_kind kind)
{
	struct pio_fd lio;
	struct relay_stats st = { 0 };
	char peer[INET6_ADDRSTRLEN + 16];
	struct pdufilter_cfg fc = {
		.target = req->target, .peer = c->peer,
		.public_addr = c->tls ? cfg->opts->tls_public : cfg->opts->public_addr,
	};
	struct pdufilter *filter;
	struct relay_watch w;
	int r, lfd;

	filter = pdufilter_new(&fc);
	if (!filter) {
		reject(cio, p, LOGIN_OUT_OF_RESOURCES);
		return;
	}
	relaywatch_init(&w, cfg->watch, c->peer, &c->t, req, filter, own,
			kind == CONNTAB_PROVISIONED);
	lfd = connect_lio(cfg);
	c->t.lio_connect = monotime_ns();
	if (lfd < 0) {
		plog("login from %s (%s) to %s: cannot connect to LIO at %s: %s", c->peer,
		     req->initiator, req->target, cfg->opts->lio, strerror(-lfd));
		reject(cio, p, LOGIN_TARGET_ERROR);
		pdufilter_free(filter);
		return;
	}
	if (!connlist_set_lio(c, lfd)) {  /* the portal is stopping */
		close(lfd);
		pdufilter_free(filter);
		return;
	}

	w.lio_fd = lfd;
	pio_fd_init(&lio, lfd);
	r = pio_write_full(&lio.io, login, login_len);
	c->t.lio_sent = monotime_ns();
	/* Listed (a file rewrite) while LIO works on the login, not before sending it. */
	peer_port_str(c, peer, sizeof(peer));
	w.id = conntab_add(cfg->tab, peer, req->initiator, lio_initiator, req->target, kind,
			 time(NULL));
	if (r == 0) {
		set_timeouts(c->fd, 0);
		set_timeouts(lfd, 0);
		if ((r = pio_set_nonblock(cio, 1)) == 0 && (r = pio_fd_set_nonblock(&lio, 1)) == 0)
			r = relay_run_filtered(cio, &lio.io, filter, &st, relaywatch_bytes, &w);
	} else {
		plog("login from %s (%s) to %s: forwarding the login to LIO: %s", c->peer,
		     req->initiator, req->target, strerror(-r));
	}
	conntab_remove(cfg->tab, w.id);
	relaywatch_end(&w);
	plog_debug("connection from %s (%s) to %s ended (%s): %llu bytes to LIO, %llu to "
		   "the initiator", c->peer, req->initiator, req->target,
		   r < 0 ? strerror(-r) : "closed", (unsigned long long)st.to_lio,
		   (unsigned long long)st.to_client);
	connlist_set_lio(c, -1);
	close(lfd);
	pdufilter_free(filter);
}

static void reject_unknown(struct serve_cfg *cfg, struct conn *c, struct pio *cio,
			   const struct pdu *p, const struct login_req *req)
{
	if (ratelog_allow(cfg->unknown_log, c->peer, req->target, monotime_s()))
		plog("login from %s (%s) to unknown target %s (logged once per %d s)",
		     c->peer, req->initiator, req->target, RATELOG_WINDOW_S);
	reject(cio, p, LOGIN_TARGET_NOT_FOUND);
}

/*
 * Relay a login to a provisioned target; when it was the last relay of its
 * (target, InitiatorName), free the dynamic ACL LIO made for the name (provsweep.h),
 * so failed logins with ever new names leave no kernel state behind (issue 8 §4).
 */
static void relay_provisioned(struct serve_cfg *cfg, struct conn *c, struct pio *cio,
			      const struct pdu *p, const struct login_req *req)
{
	char err[512] = "";
	int r = provsweep_enter(cfg->sweeper, req->target, req->initiator);

	relay_to_lio(cfg, c, cio, p, p->raw, p->raw_len, req, NULL, NULL, CONNTAB_PROVISIONED);
	if (r == 0 && provsweep_leave(cfg->sweeper, req->target, req->initiator, err,
				      sizeof(err)) < 0)
		plog("after the login from %s (%s) to %s: freeing its dynamic ACL: %s", c->peer,
		     req->initiator, req->target, err);
}

/*
 * Room for one more anonymous disk (issue 8 §4): false when <state>/overlays' filesystem
 * has less than --disk-reserve available (fsspace.h). Logged at most once per
 * RATELOG_WINDOW_S with the count refused meanwhile; a filesystem that cannot tell
 * (statvfs fails, no size) does not refuse.
 */
static bool disk_room(struct serve_cfg *cfg, const struct conn *c,
		      const struct login_req *req)
{
	static atomic_ulong refused;
	uint64_t reserve = cfg->opts->disk_reserve, avail = 0;
	char dir[PATH_MAX];
	int r;

	if (!reserve)
		return true;
	r = snprintf(dir, sizeof(dir), "%s/%s", cfg->opts->state, ANON_OVERLAY_SUBDIR);
	r = r < 0 || (size_t)r >= sizeof(dir) ? -ENOENT
					       : fsspace_has_reserve(dir, reserve, &avail);
	if (r == -ENOENT) {
		snprintf(dir, sizeof(dir), "%s", cfg->opts->state);
		r = fsspace_has_reserve(dir, reserve, &avail);
	}
	if (r != 0)
		return true;
	atomic_fetch_add(&refused, 1);
	if (ratelog_allow(cfg->unknown_log, "-", "(disk reserve)", monotime_s()))
		plog("login from %s (%s) to %s: refused, out of resources (0x0302): %s has %llu "
		     "bytes available, below --disk-reserve %llu; %lu refused (logged once per "
		     "%d s)", c->peer, req->initiator, req->target, dir,
		     (unsigned long long)avail, (unsigned long long)reserve,
		     atomic_exchange(&refused, 0), RATELOG_WINDOW_S);
	return false;
}

static void serve_normal(struct serve_cfg *cfg, struct conn *c, struct pio *cio,
			 const struct pdu *p, const struct login_req *req)
{
	struct anontarget t;
	struct catalog cat;
	struct session *s = NULL;
	char err[512] = "";
	uint8_t *login = NULL;
	size_t login_len = 0;
	int r;

	connlist_login_done(c); /* the rest of the login is LIO's (its own login timer) */
	if (provtarget_name(req->target)) {
		/* Made by the api-server; LIO checks CHAP. Nothing to provision here. */
		r = provtarget_exists(cfg->opts->configfs, req->target);
		if (r < 0)
			plog("login from %s (%s) to %s: checking configfs: %s", c->peer,
			     req->initiator, req->target, strerror(-r));
		if (r <= 0) {
			reject_unknown(cfg, c, cio, p, req);
			return;
		}
		relay_provisioned(cfg, c, cio, p, req);
		return;
	}
	if (anontarget_kind(req->target) == ANONTARGET_ACCOUNT) {
		/* An account's private image (imageiqn.h): scsipub-cfgd resolves it (file,
		 * CHAP) and LIO checks CHAP; the portal never sees the credentials. */
		memset(&t, 0, sizeof(t));
		t.kind = ANONTARGET_ACCOUNT;
		snprintf(t.iqn, sizeof(t.iqn), "%s", req->target);
	} else {
		r = catalog_scan_for(cfg->images_dir, req->target, &cat);
		if (r < 0) {
			plog("login from %s (%s): catalog scan failed: %s", c->peer,
			     req->initiator, strerror(-r));
			reject(cio, p, LOGIN_TARGET_ERROR);
			return;
		}
		r = anontarget_resolve(&cat, cfg->opts->multi_images, req->target, &t);
		catalog_free(&cat);
		if (r < 0) {
			reject_unknown(cfg, c, cio, p, req);
			return;
		}
	}
	/* A shared read-only export writes nothing: it is served below the reserve too. */
	if (t.kind != ANONTARGET_SHARED_RO && !disk_room(cfg, c, req)) {
		reject(cio, p, LOGIN_OUT_OF_RESOURCES);
		return;
	}
	/*
	 * Anonymous targets: one connection per session (MaxConnections=1 in their TPG),
	 * so a login that names an existing session (TSIH != 0: adding or reinstating a
	 * connection, RFC 7143 §5.3, §6.3.1) has nothing to join: every connection
	 * gets a new private session.
	 */
	if (req->tsih) {
		if (ratelog_allow(cfg->unknown_log, c->peer, "(TSIH)", monotime_s()))
			plog("login from %s (%s) to %s: refused: TSIH %u names an existing "
			     "session; anonymous targets allow one connection per session "
			     "(logged once per %d s)", c->peer, req->initiator, req->target,
			     req->tsih, RATELOG_WINDOW_S);
		reject(cio, p, LOGIN_TOO_MANY_CONNECTIONS);
		return;
	}
	connlist_login_pause(c);
	r = session_acquire(cfg->mgr, req->initiator, t.iqn, c->peer, &s, err, sizeof(err));
	connlist_login_resume(c);
	c->t.session = monotime_ns();
	if (r == -EMFILE) {
		/* The configured session limit (scsipub-cfgd --max-sessions): the target has
		 * insufficient session resources, RFC 7143 §11.13.5 status 0x0302. Anyone can
		 * hit it, so it is logged at most once per window and peer. */
		if (ratelog_allow(cfg->unknown_log, c->peer, "(session limit)", monotime_s()))
			plog("login from %s (%s) to %s: refused, out of resources (0x0302): %s "
			     "(logged once per %d s)", c->peer, req->initiator, req->target, err,
			     RATELOG_WINDOW_S);
		reject(cio, p, LOGIN_OUT_OF_RESOURCES);
		return;
	}
	if (r == -ENOENT) {   /* no such private image (now): as any unknown name */
		reject_unknown(cfg, c, cio, p, req);
		return;
	}
	if (r == -EACCES) {   /* the image's account has no iSCSI credentials */
		if (ratelog_allow(cfg->unknown_log, c->peer, "(no credentials)", monotime_s()))
			plog("login from %s (%s) to %s: refused, authorization failure (0x0202): "
			     "%s (logged once per %d s)", c->peer, req->initiator, req->target,
			     err, RATELOG_WINDOW_S);
		reject(cio, p, LOGIN_AUTHZ_FAILURE);
		return;
	}
	if (r < 0) {
		plog("login from %s (%s) to %s: provisioning failed: %s", c->peer,
		     req->initiator, req->target, err);
		reject(cio, p, LOGIN_TARGET_ERROR);
		return;
	}
	/* LIO sees the session's own name, never the one the client sent (session.h). */
	r = login_rewrite_initiator(p, session_lio_initiator(s), &login, &login_len);
	if (r < 0) {
		plog("login from %s (%s) to %s: rewriting the login: %s", c->peer,
		     req->initiator, req->target, strerror(-r));
		reject(cio, p, LOGIN_TARGET_ERROR);
	} else {
		relay_to_lio(cfg, c, cio, p, login, login_len, req, session_lio_initiator(s), s,
			     CONNTAB_ANONYMOUS);
	}
	free(login);
	session_release(cfg->mgr, s, c->peer);
}

/*
 * TLS connections: the handshake, part of the login and so bounded by
 * --login-timeout. 0 with *t ready, or -errno (logged at most once per 5 minutes
 * per peer: anyone can fail it).
 */
static int tls_handshake(struct serve_cfg *cfg, struct conn *c, struct pio_tls *t)
{
	SSL_CTX *ctx = tls_server_ctx(cfg->tls, monotime_s());
	char err[768];
	int r;

	r = pio_tls_accept(t, ctx, c->fd, (int)cfg->opts->login_timeout * 1000, err, sizeof(err));
	SSL_CTX_free(ctx); /* the session holds its own reference */
	if (r < 0) {
		if (ratelog_allow(cfg->unknown_log, c->peer, "(TLS handshake)", monotime_s()))
			plog("TLS connection from %s: %s (logged once per %d s)", c->peer, err,
			     RATELOG_WINDOW_S);
		return r;
	}
	plog_debug("TLS connection from %s: %s, %s, %s", c->peer, SSL_get_version(t->ssl),
		   SSL_get_cipher_name(t->ssl),
		   t->ktls_tx ? "kernel TLS for sending" : "TLS in user space");
	return 0;
}

/* The first Login PDU, then discovery, a relayed session or a rejection: on io. */
static void serve_stream(struct serve_cfg *cfg, struct conn *c, struct pio *cio)
{
	struct login_req req;
	struct pdu p;
	char why[256] = "";
	uint16_t st;
	int r;

	r = pdu_read(cio, cfg->opts->max_pdu, &p);
	c->t.first_pdu = monotime_ns();
	if (r == -EMSGSIZE) {
		plog("connection from %s: first PDU data segment of %u bytes is over %u",
		     c->peer, pdu_data_len(p.bhs), cfg->opts->max_pdu);
		if (pdu_opcode(p.bhs) == PDU_OP_LOGIN_REQ)
			reject(cio, &p, LOGIN_INITIATOR_ERROR);
		pdu_free(&p);
		return;
	}
	if (r < 0) {
		if (r == -EPIPE)
			plog_debug("connection from %s closed before a login", c->peer);
		else
			plog("connection from %s: reading the login: %s", c->peer, strerror(-r));
		return;
	}
	if (pdu_opcode(p.bhs) != PDU_OP_LOGIN_REQ) {
		plog("connection from %s: first PDU has opcode 0x%02x, not a Login Request; "
		     "closing", c->peer, pdu_opcode(p.bhs));
		pdu_free(&p);
		return;
	}
	st = login_parse(&p, &req, why, sizeof(why));
	if (st == LOGIN_OK)
		st = login_check_leading(&req, why, sizeof(why));
	if (st != LOGIN_OK) {
		plog("login from %s (%s): rejected: %s (0x%04x): %s", c->peer,
		     req.initiator && login_name_ok(req.initiator) ? req.initiator : "?",
		     login_status_str(st), st, why);
		reject(cio, &p, st);
	} else if (req.discovery) {
		struct discovery_cfg dc = {
			.images_dir = cfg->images_dir, .multi_images = cfg->opts->multi_images,
			.public_addr = c->tls ? cfg->opts->tls_public : cfg->opts->public_addr,
			.max_recv_dsl = cfg->opts->max_pdu, .tsih = next_tsih(cfg),
			.statsn = random32(), .peer = c->peer,
			.logged_in = connlist_login_done, .arg = c,
		};

		plog_debug("discovery login from %s (%s)", c->peer, req.initiator);
		discovery_run(cio, &p, &dc);
	} else {
		serve_normal(cfg, c, cio, &p, &req);
	}
	login_req_free(&req);
	pdu_free(&p);
}

void serve_conn(struct serve_cfg *cfg, struct conn *c)
{
	struct pio_fd fio;
	struct pio_tls tio;
	int one = 1;

	pio_fd_init(&fio, c->fd);
	set_timeouts(c->fd, LOGIN_TIMEOUT_S);
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	set_keepalive(cfg->opts, c->fd);
	if (!c->tls) {
		serve_stream(cfg, c, &fio.io);
		return;
	}
	if (tls_handshake(cfg, c, &tio) < 0)
		return;
	serve_stream(cfg, c, &tio.io);
	pio_tls_end(&tio); /* close_notify unless the relay sent it already */
}
