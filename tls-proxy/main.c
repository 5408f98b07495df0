/*
 * main.c — scsipub-portal: the whole public iSCSI front door (the folder is named for
 * its TLS listener, but plain iSCSI on 3260, TLS on 3261, PDU framing, the login
 * parse, discovery and the relay all live here). It runs unprivileged (--user, or the
 * unit's User=): every LIO object comes from scsipub-cfgd over its socket.
 *
 * Accepts initiators (a thread per connection), reads each connection's leading
 * Login Request and either answers the whole discovery session itself
 * (discovery.c: LIO would advertise its loopback portal) or has scsipub-cfgd make the
 * initiator's copy-on-write LUN (session.c) and relays the connection, starting with
 * the buffered Login Request, to LIO's loopback portal (relay.c); once LIO sends in
 * Full Feature Phase, the connection's thread moves to the CPU of LIO's threads for
 * that connection, and scsipub-tcmu is told that CPU for the session's disks
 * (relaywatch.h). A Normal login to a provisioned target (iqn...:s.<id>,
 * made by the api-server) is relayed without provisioning when LIO has that target,
 * else answered 0x0203 (provtarget.h); its disks get a CPU hint while all of its
 * connections are on one CPU (provplace.h). A second listener (--tls-listen, port 3261)
 * terminates TLS 1.2/1.3 (tls.h) in the connection thread and then serves the
 * decrypted stream through exactly the same path; its SendTargets advertise
 * --tls-public, and its certificate is reloaded when the files change (the handshake
 * is part of the login, under --login-timeout). Live relayed connections are published as
 * <state>/portal/connections.json (conntab.h). A crashed portal leaves nothing behind:
 * scsipub-cfgd removes the sessions of a socket connection that closed.
 * SIGTERM/SIGINT stop accepting, close every connection, release every session and
 * exit 0.
 *
 * Hardening (issue 4): each source address may hold --max-conn-per-ip connections and
 * open new ones at --login-rate per second with a --login-burst, and each network
 * (IPv4 /24, IPv6 /48) --max-conn-per-net4/6 at --net-login-rate (iplimit.h); others
 * are closed at once, logged at most once per address and reason per 5 minutes and
 * REFUSE_LINES_MAX lines per minute, with a summary line a minute. A connection
 * whose login is not done within --login-timeout seconds of its accept (discovery:
 * until Full Feature Phase; a normal session: its first Login PDU, the rest of its
 * login is bounded by LIO's own login timer) is shut down by the accept loop. Client
 * sockets get TCP keepalive and TCP_USER_TIMEOUT from --nopin-interval/--nopin-timeout
 * (scsipub-cfgd's options of the same names set the NOP-In of the sessions' ACLs).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "anontarget.h"
#include "catalog.h"
#include "cfs.h"
#include "settings.h"
#include "fsspace.h"
#include "conntab.h"
#include "discovery.h"
#include "iplimit.h"
#include "log.h"
#include "login.h"
#include "options.h"
#include "privdrop.h"
#include "pdu.h"
#include "pdufilter.h"
#include "pio.h"
#include "provplace.h"
#include "provsweep.h"
#include "provtarget.h"
#include "ratelog.h"
#include "relay.h"
#include "relaywatch.h"
#include "nofile.h"
#include "session.h"
#include "stopsignal.h"
#include "tls.h"
#include "monotime.h"

#define LOGIN_TIMEOUT_S 15       /* seconds to receive each login/discovery PDU */
#define LIO_CONNECT_TIMEOUT_S 5  /* seconds */
#define MAX_CONNECTIONS 1024
#define SHUTDOWN_WAIT_S 15       /* seconds to wait for connection threads at exit */

struct conn {
	struct conn *next;
	int fd;          /* initiator socket */
	int lio_fd;      /* LIO socket while relaying, else -1 */
	char peer[INET6_ADDRSTRLEN];
	uint16_t port;   /* initiator's TCP port */
	int64_t login_deadline_ms; /* CLOCK_MONOTONIC ms; 0 once the login is done */
	int64_t login_paused_ms;   /* != 0: since then waiting on our own provisioning */
	bool tls;        /* accepted on the TLS listener */
	/* For the --verbose line logged once LIO's final Login Response has gone
	 * through (relaywatch.h). */
	struct login_times t;
};

static struct portal_options opts;
static struct session_mgr *mgr;
static struct ratelog *unknown_log;
static struct conntab *conn_tab;
static struct iplimit *limits;       /* per-address admission (accept loop) */
static struct ratelog *refuse_log;   /* refused and timed-out connections */
static struct provsweep *sweeper;    /* dynamic ACLs of ended s.<id> relays */
static struct provplace *placer;     /* s.<id> targets' CPU hints; NULL: none sent */
static struct relaywatch_cfg watch_cfg; /* every relay's watch (relaywatch.h) */
static struct tls_server *tls_srv;   /* NULL: no TLS listener */
static char images_dir[PATH_MAX];

static pthread_mutex_t conns_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t conns_cv = PTHREAD_COND_INITIALIZER;
static struct conn *conns;
static unsigned nconns;
static bool stopping;
static atomic_uint tsih_counter;
static int stop_fd = -1;                /* readable on SIGTERM/SIGINT (stopsignal.h) */

static uint32_t random32(void)
{
	uint32_t v = 0;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v))
		v = (uint32_t)time(NULL) * 2654435761u;
	return v;
}

static uint16_t next_tsih(void)
{
	unsigned v;

	do
		v = atomic_fetch_add(&tsih_counter, 1) + 1;
	while ((v & 0xffff) == 0);
	return (uint16_t)v;
}

static void set_timeouts(int fd, int seconds)
{
	struct timeval tv = { .tv_sec = seconds };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int sockaddr_of(const char *hostport, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[OPTIONS_ADDR_MAX];
	uint16_t port;

	if (options_split_hostport(hostport, host, sizeof(host), &port) < 0)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		((struct sockaddr_in *)ss)->sin_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons(port);
		*len = sizeof(struct sockaddr_in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
		*len = sizeof(struct sockaddr_in6);
		return 0;
	}
	return -EINVAL;
}

static int connect_lio(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	if (sockaddr_of(opts.lio, &ss, &len) < 0)
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
 * Refused connections (accept loop only). Anyone can make these at will, so each is
 * logged at most once per RATELOG_WINDOW_S per (address, reason) and at most
 * REFUSE_LINES_MAX lines per REFUSE_SUMMARY_S; a summary counts them all.
 */
#define REFUSE_SUMMARY_S 60
#define REFUSE_LINES_MAX 20
enum refusal { REFUSE_PER_ADDR, REFUSE_RATE, REFUSE_TABLE_FULL, REFUSE_PORTAL_FULL,
	       REFUSE_LOGIN_TIMEOUT, REFUSE_PER_NET, REFUSE_NET_RATE, REFUSE_N };
static const char *const refusal_str[REFUSE_N] = {
	"per-address connection limit", "per-address login rate", "address table full",
	"portal connection limit", "login timeout", "per-network connection limit",
	"per-network login rate",
};
static unsigned long refused[REFUSE_N];
static unsigned refuse_lines;

static void refuse_log_one(const char *peer, enum refusal why, int64_t now_ms)
{
	refused[why]++;
	if (refuse_lines >= REFUSE_LINES_MAX ||
	    !ratelog_allow(refuse_log, peer, refusal_str[why], now_ms / 1000))
		return;
	refuse_lines++;
	if (why == REFUSE_LOGIN_TIMEOUT)
		plog("connection from %s dropped: login not done within %u s (logged once "
		     "per %d s per address)", peer, opts.login_timeout, RATELOG_WINDOW_S);
	else
		plog("connection from %s refused: %s (logged once per %d s per address)", peer,
		     refusal_str[why], RATELOG_WINDOW_S);
}

/* Every REFUSE_SUMMARY_S: one line with the counts since the last one, if any. */
static void refuse_summary(int64_t now_ms)
{
	static int64_t since;
	unsigned long total = 0;
	char counts[512];
	size_t n = 0;

	if (!since)
		since = now_ms;
	if (now_ms - since < REFUSE_SUMMARY_S * 1000)
		return;
	counts[0] = '\0';
	for (int i = 0; i < REFUSE_N; i++) {
		total += refused[i];
		if (n < sizeof(counts)) {
			int w = snprintf(counts + n, sizeof(counts) - n, "%s%s %lu", i ? ", " : "",
					 refusal_str[i], refused[i]);

			n += w > 0 ? (size_t)w : 0;
		}
	}
	if (total)
		plog("last %d s: %lu connections refused or dropped (%s)", REFUSE_SUMMARY_S,
		     total, counts);
	memset(refused, 0, sizeof(refused));
	refuse_lines = 0;
	since = now_ms;
}

/* The login of c is done (or handed to LIO): its deadline no longer applies. */
static void login_done(void *arg)
{
	struct conn *c = arg;

	pthread_mutex_lock(&conns_mu);
	c->login_deadline_ms = 0;
	pthread_mutex_unlock(&conns_mu);
}

/*
 * --login-timeout bounds what the initiator makes us wait for, not the time we take to
 * provision its session (queued behind other logins when many arrive at once): the
 * deadline stops while c waits on scsipub-cfgd and moves on by that time after.
 */
static void login_pause(struct conn *c)
{
	pthread_mutex_lock(&conns_mu);
	c->login_paused_ms = monotime_ms();
	pthread_mutex_unlock(&conns_mu);
}

static void login_resume(struct conn *c)
{
	pthread_mutex_lock(&conns_mu);
	if (c->login_deadline_ms && c->login_paused_ms)
		c->login_deadline_ms += monotime_ms() - c->login_paused_ms;
	c->login_paused_ms = 0;
	pthread_mutex_unlock(&conns_mu);
}

/* Shut down connections whose login deadline passed; their threads then end. */
static void reap_logins(int64_t now_ms)
{
	pthread_mutex_lock(&conns_mu);
	for (struct conn *c = conns; c; c = c->next)
		if (c->login_deadline_ms && !c->login_paused_ms &&
		    now_ms >= c->login_deadline_ms) {
			c->login_deadline_ms = 0;
			shutdown(c->fd, SHUT_RDWR);
			refuse_log_one(c->peer, REFUSE_LOGIN_TIMEOUT, now_ms);
		}
	pthread_mutex_unlock(&conns_mu);
}

/*
 * A peer that vanished (host gone, traffic dropped) is noticed within about
 * --nopin-interval + --nopin-timeout seconds even while nothing is sent: keepalive
 * probes after nopin_interval idle seconds, and TCP_USER_TIMEOUT for data or probes
 * unacknowledged for nopin_timeout seconds (then the relay ends and LIO's session
 * with it). An initiator whose host still answers TCP is LIO's NOP-In's job.
 */
static void set_keepalive(int fd)
{
	int one = 1, idle = (int)opts.nopin_interval, intvl = 1, cnt = (int)opts.nopin_timeout;
	unsigned user_ms = opts.nopin_timeout * 1000u;

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
static void relay_to_lio(struct conn *c, struct pio *cio, const struct pdu *p,
			 const uint8_t *login, size_t login_len, const struct login_req *req,
			 const char *lio_initiator, const struct session *own,
			 enum conntab_kind kind)
{
	struct pio_fd lio;
	struct relay_stats st = { 0 };
	char peer[INET6_ADDRSTRLEN + 16];
	struct pdufilter_cfg fc = {
		.target = req->target, .peer = c->peer,
		.public_addr = c->tls ? opts.tls_public : opts.public_addr,
	};
	struct pdufilter *filter;
	struct relay_watch w;
	int r, lfd;

	filter = pdufilter_new(&fc);
	if (!filter) {
		reject(cio, p, LOGIN_OUT_OF_RESOURCES);
		return;
	}
	relaywatch_init(&w, &watch_cfg, c->peer, &c->t, req, filter, own,
			kind == CONNTAB_PROVISIONED);
	lfd = connect_lio();
	c->t.lio_connect = monotime_ns();
	if (lfd < 0) {
		plog("login from %s (%s) to %s: cannot connect to LIO at %s: %s", c->peer,
		     req->initiator, req->target, opts.lio, strerror(-lfd));
		reject(cio, p, LOGIN_TARGET_ERROR);
		pdufilter_free(filter);
		return;
	}
	pthread_mutex_lock(&conns_mu);
	if (stopping) {
		pthread_mutex_unlock(&conns_mu);
		close(lfd);
		pdufilter_free(filter);
		return;
	}
	c->lio_fd = lfd;
	pthread_mutex_unlock(&conns_mu);

	w.lio_fd = lfd;
	pio_fd_init(&lio, lfd);
	r = pio_write_full(&lio.io, login, login_len);
	c->t.lio_sent = monotime_ns();
	/* Listed (a file rewrite) while LIO works on the login, not before sending it. */
	peer_port_str(c, peer, sizeof(peer));
	w.id = conntab_add(conn_tab, peer, req->initiator, lio_initiator, req->target, kind,
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
	conntab_remove(conn_tab, w.id);
	relaywatch_end(&w);
	plog_debug("connection from %s (%s) to %s ended (%s): %llu bytes to LIO, %llu to "
		   "the initiator", c->peer, req->initiator, req->target,
		   r < 0 ? strerror(-r) : "closed", (unsigned long long)st.to_lio,
		   (unsigned long long)st.to_client);
	pthread_mutex_lock(&conns_mu);
	c->lio_fd = -1;
	pthread_mutex_unlock(&conns_mu);
	close(lfd);
	pdufilter_free(filter);
}

static void reject_unknown(struct conn *c, struct pio *cio, const struct pdu *p,
			   const struct login_req *req)
{
	if (ratelog_allow(unknown_log, c->peer, req->target, monotime_s()))
		plog("login from %s (%s) to unknown target %s (logged once per %d s)",
		     c->peer, req->initiator, req->target, RATELOG_WINDOW_S);
	reject(cio, p, LOGIN_TARGET_NOT_FOUND);
}

/*
 * Relay a login to a provisioned target; when it was the last relay of its
 * (target, InitiatorName), free the dynamic ACL LIO made for the name (provsweep.h),
 * so failed logins with ever new names leave no kernel state behind (issue 8 §4).
 */
static void relay_provisioned(struct conn *c, struct pio *cio, const struct pdu *p,
			      const struct login_req *req)
{
	char err[512] = "";
	int r = provsweep_enter(sweeper, req->target, req->initiator);

	relay_to_lio(c, cio, p, p->raw, p->raw_len, req, NULL, NULL, CONNTAB_PROVISIONED);
	if (r == 0 && provsweep_leave(sweeper, req->target, req->initiator, err,
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
static bool disk_room(const struct conn *c, const struct login_req *req)
{
	static atomic_ulong refused;
	char dir[PATH_MAX];
	uint64_t avail = 0;
	int r;

	if (!opts.disk_reserve)
		return true;
	r = snprintf(dir, sizeof(dir), "%s/%s", opts.state, ANON_OVERLAY_SUBDIR);
	r = r < 0 || (size_t)r >= sizeof(dir) ? -ENOENT
					       : fsspace_has_reserve(dir, opts.disk_reserve, &avail);
	if (r == -ENOENT) {
		snprintf(dir, sizeof(dir), "%s", opts.state);
		r = fsspace_has_reserve(dir, opts.disk_reserve, &avail);
	}
	if (r != 0)
		return true;
	atomic_fetch_add(&refused, 1);
	if (ratelog_allow(unknown_log, "-", "(disk reserve)", monotime_s()))
		plog("login from %s (%s) to %s: refused, out of resources (0x0302): %s has %llu "
		     "bytes available, below --disk-reserve %llu; %lu refused (logged once per "
		     "%d s)", c->peer, req->initiator, req->target, dir,
		     (unsigned long long)avail, (unsigned long long)opts.disk_reserve,
		     atomic_exchange(&refused, 0), RATELOG_WINDOW_S);
	return false;
}

static void serve_normal(struct conn *c, struct pio *cio, const struct pdu *p,
			 const struct login_req *req)
{
	struct anontarget t;
	struct catalog cat;
	struct session *s = NULL;
	char err[512] = "";
	uint8_t *login = NULL;
	size_t login_len = 0;
	int r;

	login_done(c); /* the rest of the login is LIO's (its own login timer) */
	if (provtarget_name(req->target)) {
		/* Made by the api-server; LIO checks CHAP. Nothing to provision here. */
		r = provtarget_exists(opts.configfs, req->target);
		if (r < 0)
			plog("login from %s (%s) to %s: checking configfs: %s", c->peer,
			     req->initiator, req->target, strerror(-r));
		if (r <= 0) {
			reject_unknown(c, cio, p, req);
			return;
		}
		relay_provisioned(c, cio, p, req);
		return;
	}
	if (anontarget_kind(req->target) == ANONTARGET_ACCOUNT) {
		/* An account's private image (imageiqn.h): scsipub-cfgd resolves it (file,
		 * CHAP) and LIO checks CHAP; the portal never sees the credentials. */
		memset(&t, 0, sizeof(t));
		t.kind = ANONTARGET_ACCOUNT;
		snprintf(t.iqn, sizeof(t.iqn), "%s", req->target);
	} else {
		r = catalog_scan_for(images_dir, req->target, &cat);
		if (r < 0) {
			plog("login from %s (%s): catalog scan failed: %s", c->peer,
			     req->initiator, strerror(-r));
			reject(cio, p, LOGIN_TARGET_ERROR);
			return;
		}
		r = anontarget_resolve(&cat, opts.multi_images, req->target, &t);
		catalog_free(&cat);
		if (r < 0) {
			reject_unknown(c, cio, p, req);
			return;
		}
	}
	/* A shared read-only export writes nothing: it is served below the reserve too. */
	if (t.kind != ANONTARGET_SHARED_RO && !disk_room(c, req)) {
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
		if (ratelog_allow(unknown_log, c->peer, "(TSIH)", monotime_s()))
			plog("login from %s (%s) to %s: refused: TSIH %u names an existing "
			     "session; anonymous targets allow one connection per session "
			     "(logged once per %d s)", c->peer, req->initiator, req->target,
			     req->tsih, RATELOG_WINDOW_S);
		reject(cio, p, LOGIN_TOO_MANY_CONNECTIONS);
		return;
	}
	login_pause(c);
	r = session_acquire(mgr, req->initiator, t.iqn, c->peer, &s, err, sizeof(err));
	login_resume(c);
	c->t.session = monotime_ns();
	if (r == -EMFILE) {
		/* The configured session limit (scsipub-cfgd --max-sessions): the target has
		 * insufficient session resources, RFC 7143 §11.13.5 status 0x0302. Anyone can
		 * hit it, so it is logged at most once per window and peer. */
		if (ratelog_allow(unknown_log, c->peer, "(session limit)", monotime_s()))
			plog("login from %s (%s) to %s: refused, out of resources (0x0302): %s "
			     "(logged once per %d s)", c->peer, req->initiator, req->target, err,
			     RATELOG_WINDOW_S);
		reject(cio, p, LOGIN_OUT_OF_RESOURCES);
		return;
	}
	if (r == -ENOENT) {   /* no such private image (now): as any unknown name */
		reject_unknown(c, cio, p, req);
		return;
	}
	if (r == -EACCES) {   /* the image's account has no iSCSI credentials */
		if (ratelog_allow(unknown_log, c->peer, "(no credentials)", monotime_s()))
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
		relay_to_lio(c, cio, p, login, login_len, req, session_lio_initiator(s), s,
			     CONNTAB_ANONYMOUS);
	}
	free(login);
	session_release(mgr, s, c->peer);
}

/*
 * TLS connections: the handshake, part of the login and so bounded by
 * --login-timeout. 0 with *t ready, or -errno (logged at most once per 5 minutes
 * per peer: anyone can fail it).
 */
static int tls_handshake(struct conn *c, struct pio_tls *t)
{
	SSL_CTX *ctx = tls_server_ctx(tls_srv, monotime_s());
	char err[768];
	int r;

	r = pio_tls_accept(t, ctx, c->fd, (int)opts.login_timeout * 1000, err, sizeof(err));
	SSL_CTX_free(ctx); /* the session holds its own reference */
	if (r < 0) {
		if (ratelog_allow(unknown_log, c->peer, "(TLS handshake)", monotime_s()))
			plog("TLS connection from %s: %s (logged once per %d s)", c->peer, err,
			     RATELOG_WINDOW_S);
		return r;
	}
	plog_debug("TLS connection from %s: %s, %s, %s", c->peer, SSL_get_version(t->ssl),
		   SSL_get_cipher_name(t->ssl),
		   t->ktls_tx ? "kernel TLS for sending" : "TLS in user space");
	return 0;
}

static void serve_stream(struct conn *c, struct pio *cio);

static void serve(struct conn *c)
{
	struct pio_fd fio;
	struct pio_tls tio;
	int one = 1;

	pio_fd_init(&fio, c->fd);
	set_timeouts(c->fd, LOGIN_TIMEOUT_S);
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	set_keepalive(c->fd);
	if (!c->tls) {
		serve_stream(c, &fio.io);
		return;
	}
	if (tls_handshake(c, &tio) < 0)
		return;
	serve_stream(c, &tio.io);
	pio_tls_end(&tio); /* close_notify unless the relay sent it already */
}

/* The first Login PDU, then discovery, a relayed session or a rejection: on io. */
static void serve_stream(struct conn *c, struct pio *cio)
{
	struct login_req req;
	struct pdu p;
	char why[256] = "";
	uint16_t st;
	int r;

	r = pdu_read(cio, opts.max_pdu, &p);
	c->t.first_pdu = monotime_ns();
	if (r == -EMSGSIZE) {
		plog("connection from %s: first PDU data segment of %u bytes is over %u",
		     c->peer, pdu_data_len(p.bhs), opts.max_pdu);
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
			.images_dir = images_dir, .multi_images = opts.multi_images,
			.public_addr = c->tls ? opts.tls_public : opts.public_addr,
			.max_recv_dsl = opts.max_pdu, .tsih = next_tsih(),
			.statsn = random32(), .peer = c->peer,
			.logged_in = login_done, .arg = c,
		};

		plog_debug("discovery login from %s (%s)", c->peer, req.initiator);
		discovery_run(cio, &p, &dc);
	} else {
		serve_normal(c, cio, &p, &req);
	}
	login_req_free(&req);
	pdu_free(&p);
}

static void *conn_thread(void *arg)
{
	struct conn *c = arg;

	c->t.thread = monotime_ns();
	serve(c);
	pthread_mutex_lock(&conns_mu);
	for (struct conn **pp = &conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	nconns--;
	close(c->fd);
	pthread_cond_broadcast(&conns_cv);
	pthread_mutex_unlock(&conns_mu);
	iplimit_release(limits, c->peer);
	free(c);
	return NULL;
}

static void peer_name(const struct sockaddr_storage *ss, char *out, size_t len,
		      uint16_t *port)
{
	const void *a = ss->ss_family == AF_INET6
		? (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr
		: (const void *)&((const struct sockaddr_in *)ss)->sin_addr;

	if (!inet_ntop(ss->ss_family, a, out, (socklen_t)len))
		snprintf(out, len, "?");
	*port = ntohs(ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
						 : ((const struct sockaddr_in *)ss)->sin_port);
}

static void accept_one(int lfd, bool tls)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	pthread_attr_t attr;
	pthread_t th;
	struct conn *c;
	enum iplimit_verdict v;
	int64_t now;
	int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);

	if (fd < 0) {
		if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
			plog("accept: %s", strerror(errno));
		if (errno == EMFILE || errno == ENFILE)
			usleep(100000);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->t.accept = monotime_ns();
	c->fd = fd;
	c->lio_fd = -1;
	c->tls = tls;
	peer_name(&ss, c->peer, sizeof(c->peer), &c->port);
	now = monotime_ms();
	v = iplimit_acquire(limits, c->peer, now);
	if (v != IPLIMIT_OK) {
		/* Closed at once, before any byte is read. */
		refuse_log_one(c->peer, v == IPLIMIT_TOO_MANY ? REFUSE_PER_ADDR :
			       v == IPLIMIT_RATE ? REFUSE_RATE :
			       v == IPLIMIT_NET_TOO_MANY ? REFUSE_PER_NET :
			       v == IPLIMIT_NET_RATE ? REFUSE_NET_RATE : REFUSE_TABLE_FULL, now);
		close(fd);
		free(c);
		return;
	}
	c->login_deadline_ms = now + (int64_t)opts.login_timeout * 1000;
	pthread_mutex_lock(&conns_mu);
	if (nconns >= MAX_CONNECTIONS) {
		pthread_mutex_unlock(&conns_mu);
		refuse_log_one(c->peer, REFUSE_PORTAL_FULL, now);
		iplimit_release(limits, c->peer);
		close(fd);
		free(c);
		return;
	}
	c->next = conns;
	conns = c;
	nconns++;
	pthread_mutex_unlock(&conns_mu);

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	if (pthread_create(&th, &attr, conn_thread, c) != 0) {
		plog("connection from %s: cannot start a thread", c->peer);
		pthread_mutex_lock(&conns_mu);
		for (struct conn **pp = &conns; *pp; pp = &(*pp)->next)
			if (*pp == c) {
				*pp = c->next;
				break;
			}
		nconns--;
		pthread_mutex_unlock(&conns_mu);
		iplimit_release(limits, c->peer);
		close(fd);
		free(c);
	}
	pthread_attr_destroy(&attr);
}

/*
 * Connections the kernel completes and queues for accept() on each listener. With
 * 128, a burst of 200 logins (a Pi rack powered on together) overflowed the queue and
 * the overflow waited out TCP's 1 s SYN retransmission before the portal saw it;
 * LIO's own listener queues 256. The kernel caps this at net.core.somaxconn (4096 by
 * default); half-open connections are bounded separately (tcp_max_syn_backlog, SYN
 * cookies), and each accepted one by the portal's per-address limits.
 */
#define PORTAL_LISTEN_BACKLOG 1024

static int open_listener(const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	if (sockaddr_of(addr, &ss, &len) < 0)
		return -EINVAL;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, PORTAL_LISTEN_BACKLOG) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/*
 * The TLS listener: its certificate holder (tls_srv) and socket. Returns the
 * listening fd, -1 when TLS is off (logged), or -2 when it is configured but cannot
 * start (logged; the portal exits).
 */
static int open_tls_listener(void)
{
	char err[PATH_MAX * 2 + 512], fpr[TLS_FINGERPRINT_LEN];
	const char *key = opts.tls_key[0] ? opts.tls_key : opts.tls_cert;
	int fd;

	if (!opts.tls_listen[0]) {
		plog("TLS listener off (--tls-listen is empty)");
		return -1;
	}
	if (!opts.tls_cert[0]) {
		plog("TLS listener on %s off: no certificate configured (--tls-cert)",
		     opts.tls_listen);
		return -1;
	}
	tls_srv = tls_server_new(opts.tls_cert, key, opts.tls_reload_interval, monotime_s(), err,
				 sizeof(err));
	if (!tls_srv) {
		plog("TLS listener on %s cannot start: %s", opts.tls_listen, err);
		return -2;
	}
	fd = open_listener(opts.tls_listen);
	if (fd < 0) {
		plog("cannot listen on %s (TLS): %s", opts.tls_listen, strerror(-fd));
		tls_server_free(tls_srv);
		tls_srv = NULL;
		return -2;
	}
	tls_server_fingerprint(tls_srv, fpr, sizeof(fpr));
	plog("TLS listening on %s (TLS 1.2-1.3, advertising %s; certificate %s, sha256 %s, "
	     "looked at every %u s)", opts.tls_listen, opts.tls_public, opts.tls_cert, fpr,
	     opts.tls_reload_interval);
	return fd;
}

static void log_option(const char *line, void *arg)
{
	(void)arg;
	plog("option %s", line);
}

static void shutdown_connections(void)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += SHUTDOWN_WAIT_S;
	pthread_mutex_lock(&conns_mu);
	stopping = true;
	for (struct conn *c = conns; c; c = c->next) {
		shutdown(c->fd, SHUT_RDWR);
		if (c->lio_fd >= 0)
			shutdown(c->lio_fd, SHUT_RDWR);
	}
	while (nconns && pthread_cond_timedwait(&conns_cv, &conns_mu, &until) == 0)
		;
	if (nconns)
		plog("%u connections did not end within %d s", nconns, SHUTDOWN_WAIT_S);
	pthread_mutex_unlock(&conns_mu);
}

/* The settings file's keys are the option table's names (settings.h). */
static enum settings_kind opt_kind(const char *name, const void *arg)
{
	(void)arg;
	return (enum settings_kind)options_kind(name);
}

int main(int argc, char **argv)
{
	char err[512];
	struct session_cfg sc;
	char tab_path[PATH_MAX];
	int lfd, tls_lfd, r;

	plog_program = "scsipub-portal";
	if (settings_apply(SETTINGS_PORTAL, NULL, opt_kind, NULL, &argc, &argv, 1, err, sizeof(err)) < 0 ||
	    options_parse(argc, argv, &opts, err, sizeof(err)) < 0) {
		plog("%s", err);
		return 2;
	}
	if (opts.help)
		return 0;
	plog_verbose = opts.verbose;
	setvbuf(stderr, NULL, _IOLBF, 0);
	if (!realpath(opts.images, images_dir)) {
		plog("images directory %s: %s (serving blank only until it appears)", opts.images,
		     strerror(errno));
		snprintf(images_dir, sizeof(images_dir), "%s", opts.images);
	}
	options_each(&opts, log_option, NULL);

	plog("descriptor limit %ld (three per relayed connection, five once it moved a large "
	     "data segment: the zero-copy pipes)", nofile_raise());
	stop_fd = stopsignal_install();
	if (stop_fd < 0) {
		plog("pipe: %s", strerror(-stop_fd));
		return 1;
	}

	unknown_log = ratelog_new(RATELOG_WINDOW_S);
	refuse_log = ratelog_new(RATELOG_WINDOW_S);
	{
		struct iplimit_cfg lc = {
			.max_conns = opts.max_conn_per_ip, .rate = opts.login_rate,
			.burst = opts.login_burst, .net4_max_conns = opts.max_conn_per_net4,
			.net6_max_conns = opts.max_conn_per_net6, .net_rate = opts.net_login_rate,
			.net_burst = opts.net_login_burst,
		};

		limits = iplimit_new(&lc);
	}
	sweeper = provsweep_new_remote(opts.cfgd_socket);
	if (opts.tcmu_place_socket[0])
		placer = provplace_new(relaywatch_tell_prov, &watch_cfg);
	if (!sweeper || (opts.tcmu_place_socket[0] && !placer)) {
		plog("out of memory");
		return 1;
	}
	r = conntab_default_path(opts.state, tab_path, sizeof(tab_path));
	if (r < 0) {
		plog("connection table under %s: %s (not published)", opts.state, strerror(-r));
		conn_tab = conntab_new(NULL);
	} else {
		conn_tab = conntab_new(tab_path);
	}
	if (conn_tab)
		conntab_publish(conn_tab); /* an empty list: no connections yet */
	memset(&sc, 0, sizeof(sc));
	sc.cfgd_socket = opts.cfgd_socket;
	mgr = session_mgr_new(&sc);
	if (!mgr || !unknown_log || !conn_tab || !limits || !refuse_log) {
		plog("out of memory");
		return 1;
	}
	watch_cfg = (struct relaywatch_cfg){ .tcmu_place_socket = opts.tcmu_place_socket,
					     .configfs = opts.configfs, .placer = placer,
					     .tab = conn_tab, .relay_any_cpu = opts.relay_any_cpu };
	atomic_store(&tsih_counter, random32());

	lfd = open_listener(opts.listen);
	if (lfd < 0) {
		plog("cannot listen on %s: %s", opts.listen, strerror(-lfd));
		session_mgr_free(mgr);
		return 1;
	}
	tls_lfd = open_tls_listener();
	if (tls_lfd == -2) {
		close(lfd);
		session_mgr_free(mgr);
		return 1;
	}
	if (opts.user[0]) {
		r = privdrop_to(opts.user, err, sizeof(err));
		if (r < 0) {
			plog("--user %s: %s", opts.user, err);
			return 1;
		}
		plog("running as %s (uid %u, gid %u, no capabilities)", opts.user,
		     (unsigned)getuid(), (unsigned)getgid());
	}
	plog("listening on %s (advertising %s, relaying to LIO at %s)", opts.listen,
	     opts.public_addr, opts.lio);

	for (;;) {
		struct pollfd p[3] = { { .fd = lfd, .events = POLLIN },
				       { .fd = stop_fd, .events = POLLIN },
				       { .fd = tls_lfd, .events = POLLIN } };

		/* Housekeeping at least once a tick, and when the table has a change due. */
		int64_t due = conntab_due_ms(conn_tab, monotime_ms());
		int n = poll(p, 3, due >= 0 && due < CONNTAB_TICK_MS ? (int)due : CONNTAB_TICK_MS);
		int64_t now_ms;

		if (n < 0 && errno != EINTR) {
			plog("poll: %s", strerror(errno));
			break;
		}
		if (n > 0) {  /* revents are set only then */
			if (p[1].revents)
				break;
			/* New connections first: the housekeeping below (a connection table
			 * rewrite, a certificate check) must not delay a login. */
			if (p[0].revents & POLLIN)
				accept_one(lfd, false);
			if (p[2].revents & POLLIN)
				accept_one(tls_lfd, true);
		}
		now_ms = monotime_ms(); /* one clock read for the housekeeping below */
		conntab_tick(conn_tab, now_ms);
		reap_logins(now_ms);
		refuse_summary(now_ms);
		if (tls_srv) /* a changed certificate is picked up without a connection too */
			tls_server_maybe_reload(tls_srv, now_ms / 1000);
	}
	plog("stopping: closing connections");
	close(lfd);
	if (tls_lfd >= 0)
		close(tls_lfd);
	shutdown_connections();
	plog("tearing down %zu sessions", session_count(mgr));
	session_mgr_free(mgr);
	ratelog_free(unknown_log);
	ratelog_free(refuse_log);
	iplimit_free(limits);
	provsweep_free(sweeper);
	provplace_free(placer);
	tls_server_free(tls_srv); /* after the connections: none uses it any more */
	conntab_clear(conn_tab);
	conntab_free(conn_tab);
	plog("stopped");
	return 0;
}
