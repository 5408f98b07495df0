/*
 * main.c — scsipub-portal: the whole public iSCSI front door (the folder is named for
 * its TLS listener, but plain iSCSI on 3260, TLS on 3261, PDU framing, the login
 * parse, discovery and the relay all live here). It runs unprivileged (--user, or the
 * unit's User=): every LIO object comes from scsipub-cfgd over its socket.
 *
 * This file is its startup and its accept loop. The loop admits each initiator
 * connection into the connection list (connlist.h) and gives it a thread of its own
 * (serve.h), which reads the connection's leading Login Request and either answers
 * the whole discovery session itself
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
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "connlist.h"
#include "conntab.h"
#include "iplimit.h"
#include "log.h"
#include "monotime.h"
#include "nofile.h"
#include "options.h"
#include "privdrop.h"
#include "provplace.h"
#include "provsweep.h"
#include "ratelog.h"
#include "relaywatch.h"
#include "serve.h"
#include "session.h"
#include "settings.h"
#include "stopsignal.h"
#include "tls.h"

#define MAX_CONNECTIONS 1024
#define SHUTDOWN_WAIT_S 15       /* seconds to wait for connection threads at exit */

static struct portal_options opts;
static struct iplimit *limits;       /* per-address admission (accept loop) */
static struct ratelog *refuse_log;   /* refused and timed-out connections */
static struct provplace *placer;     /* s.<id> targets' CPU hints; NULL: none sent */
static struct relaywatch_cfg watch_cfg; /* every relay's watch (relaywatch.h) */
static char images_dir[PATH_MAX];
/* What each connection's thread is given (serve.h): the session manager, the
 * connection list and table, the TLS certificate, ... (set up by main). */
static struct serve_cfg serving;
static int stop_fd = -1;                /* readable on SIGTERM/SIGINT (stopsignal.h) */

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

/* connlist_reap's report of a connection whose login deadline passed. */
static void login_expired(const char *peer, int64_t now_ms, void *arg)
{
	(void)arg;
	refuse_log_one(peer, REFUSE_LOGIN_TIMEOUT, now_ms);
}

static void *conn_thread(void *arg)
{
	struct conn *c = arg;

	c->t.thread = monotime_ns();
	serve_conn(&serving, c);
	iplimit_release(limits, c->peer);  /* before leaving the list: main frees limits */
	connlist_remove(c);
	close(c->fd);  /* only now: a listed connection's fd may be shut down */
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
	if (connlist_add(serving.conns, c) < 0) {  /* MAX_CONNECTIONS */
		refuse_log_one(c->peer, REFUSE_PORTAL_FULL, now);
		iplimit_release(limits, c->peer);
		close(fd);
		free(c);
		return;
	}

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	if (pthread_create(&th, &attr, conn_thread, c) != 0) {
		plog("connection from %s: cannot start a thread", c->peer);
		connlist_remove(c);
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

	if (options_sockaddr(addr, &ss, &len) < 0)
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
 * The TLS listener: its certificate holder (serving.tls) and socket. Returns the
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
	serving.tls = tls_server_new(opts.tls_cert, key, opts.tls_reload_interval, monotime_s(),
				     err, sizeof(err));
	if (!serving.tls) {
		plog("TLS listener on %s cannot start: %s", opts.tls_listen, err);
		return -2;
	}
	fd = open_listener(opts.tls_listen);
	if (fd < 0) {
		plog("cannot listen on %s (TLS): %s", opts.tls_listen, strerror(-fd));
		tls_server_free(serving.tls);
		serving.tls = NULL;
		return -2;
	}
	tls_server_fingerprint(serving.tls, fpr, sizeof(fpr));
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

	serving.unknown_log = ratelog_new(RATELOG_WINDOW_S);
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
	serving.sweeper = provsweep_new_remote(opts.cfgd_socket);
	if (opts.tcmu_place_socket[0])
		placer = provplace_new(relaywatch_tell_prov, &watch_cfg);
	if (!serving.sweeper || (opts.tcmu_place_socket[0] && !placer)) {
		plog("out of memory");
		return 1;
	}
	r = conntab_default_path(opts.state, tab_path, sizeof(tab_path));
	if (r < 0) {
		plog("connection table under %s: %s (not published)", opts.state, strerror(-r));
		serving.tab = conntab_new(NULL);
	} else {
		serving.tab = conntab_new(tab_path);
	}
	if (serving.tab)
		conntab_publish(serving.tab); /* an empty list: no connections yet */
	memset(&sc, 0, sizeof(sc));
	sc.cfgd_socket = opts.cfgd_socket;
	serving.mgr = session_mgr_new(&sc);
	serving.conns = connlist_new(MAX_CONNECTIONS);
	if (!serving.mgr || !serving.unknown_log || !serving.tab || !limits || !refuse_log ||
	    !serving.conns) {
		plog("out of memory");
		return 1;
	}
	watch_cfg = (struct relaywatch_cfg){ .tcmu_place_socket = opts.tcmu_place_socket,
					     .configfs = opts.configfs, .placer = placer,
					     .tab = serving.tab,
					     .relay_any_cpu = opts.relay_any_cpu };
	serving.opts = &opts;
	serving.images_dir = images_dir;
	serving.watch = &watch_cfg;
	serve_cfg_init(&serving);

	lfd = open_listener(opts.listen);
	if (lfd < 0) {
		plog("cannot listen on %s: %s", opts.listen, strerror(-lfd));
		session_mgr_free(serving.mgr);
		return 1;
	}
	tls_lfd = open_tls_listener();
	if (tls_lfd == -2) {
		close(lfd);
		session_mgr_free(serving.mgr);
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
		int64_t due = conntab_due_ms(serving.tab, monotime_ms());
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
		conntab_tick(serving.tab, now_ms);
		connlist_reap(serving.conns, now_ms, login_expired, NULL);
		refuse_summary(now_ms);
		if (serving.tls) /* a changed certificate is picked up without a connection too */
			tls_server_maybe_reload(serving.tls, now_ms / 1000);
	}
	plog("stopping: closing connections");
	close(lfd);
	if (tls_lfd >= 0)
		close(tls_lfd);
	r = (int)connlist_shutdown(serving.conns, SHUTDOWN_WAIT_S);
	if (r)
		plog("%d connections did not end within %d s", r, SHUTDOWN_WAIT_S);
	plog("tearing down %zu sessions", session_count(serving.mgr));
	session_mgr_free(serving.mgr);
	ratelog_free(serving.unknown_log);
	ratelog_free(refuse_log);
	iplimit_free(limits);
	provsweep_free(serving.sweeper);
	provplace_free(placer);
	tls_server_free(serving.tls); /* after the connections: none uses it any more */
	conntab_clear(serving.tab);
	conntab_free(serving.tab);
	if (!r)  /* else a connection's thread may still use it */
		connlist_free(serving.conns);
	plog("stopped");
	return 0;
}
