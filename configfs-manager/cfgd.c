/*
 * cfgd.c — scsipub-cfgd, the configfs manager daemon: the single privileged owner of
 * the LIO objects made for anonymous sessions (cfgd_server.h, anon.h), reached by the
 * unprivileged portal and by scsipub-ctl over a Unix socket (cfgd_proto.h).
 *
 * At start it sweeps what an earlier run left behind (every "sp*" backstore, the
 * LUNs and ACLs using them, and unless --keep-overlays the overlay files), then
 * listens on --socket (mode 0660, group --socket-group) until SIGTERM/SIGINT, when it
 * ends its connections and destroys the remaining sessions.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "anon.h"
#include "anontarget.h"
#include "cfgd_proto.h"
#include "cfgd_server.h"
#include "cfs.h"
#include "log.h"
#include "optable.h"
#include "poolspec.h"
#include "prov.h"
#include "nofile.h"
#include "settings.h"
#include "stopsignal.h"
#include "unixsock.h"

struct cfgd_options {
	char socket[108];
	char socket_group[64];
	char allow_users[256];
	char portal_users[256];
	char state[PATH_MAX];
	char images[PATH_MAX];
	char private_images[PATH_MAX];
	char multi_images[2 * CATALOG_IQN_MAX + 2];
	char pool[1024];
	char configfs[PATH_MAX];
	char lio[64];
	uint64_t anon_write_limit;
	uint32_t nopin_interval, nopin_timeout;
	uint32_t max_clients, max_sessions;
	char config[PATH_MAX];
	bool keep_overlays;
	bool verbose;
	bool help;
};

#define F(f) OPTABLE_FIELD(struct cfgd_options, f)
static const struct optable_opt table[] = {
	{ "socket", NULL, OPTABLE_PATH, F(socket), CFGD_SOCKET_DEFAULT, "PATH", 0, 0,
	  "Unix socket clients (portal, scsipub-ctl) connect to", false },
	{ "socket-group", NULL, OPTABLE_STR, F(socket_group), "", "GROUP",  0, 0,
	  "group owning the socket (mode 0660); empty = root's group", false },
	{ "allow-users", NULL, OPTABLE_STR, F(allow_users), "", "USER,...", 0, 0,
	  "users (names or uids) besides root whose connections are served (SO_PEERCRED)",
	  false },
	{ "portal-users", NULL, OPTABLE_STR, F(portal_users), "", "USER,...", 0, 0,
	  "users served the portal's requests only (anonymous sessions, ACL sweeps): not "
	  "provisioned sessions or listings", false },
	{ "state", NULL, OPTABLE_PATH, F(state), "/var/lib/scsipub", "DIR", 0, 0,
	  "state directory; anonymous overlays live in DIR/overlays", false },
	{ "images", NULL, OPTABLE_PATH, F(images), "/var/lib/scsipub/images", "DIR", 0, 0,
	  "anonymous catalog: *.img and *.iso files, recursively", false },
	{ "multi-images", NULL, OPTABLE_STR, F(multi_images), "", "NAME,NAME", 0, 0,
	  "the two catalog images (blank or image names) behind the multi target's LUN 0 and "
	  "LUN 1; empty = the first two images of the catalog (give the portal the same, "
	  "e.g. in [common])", false },
	{ "pool", NULL, OPTABLE_STR, F(pool), "", "TARGET=COUNT[:MAX],...", 0, 0,
	  "keep COUNT sessions of each TARGET (blank, image.<name>, multi) made in advance, "
	  "so a login to it changes no configfs object; with MAX, as many as the largest "
	  "burst of logins in 10 s had (up to MAX) until no such burst came for 10 min; "
	  "each costs a user backstore (4 descriptors, its TCMU ring) while it waits; "
	  "empty = none", false },
	{ "private-images", NULL, OPTABLE_STR, F(private_images), "", "DIR", 0, 0,
	  "the API's private images (provisioned LUNs may use files under it or --images) "
	  "(default: STATE/images)", false },
	{ "configfs", NULL, OPTABLE_PATH, F(configfs), "/sys/kernel/config/target", "DIR", 0, 0,
	  "LIO configfs root", false },
	{ "lio", NULL, OPTABLE_ADDR, F(lio), "127.0.0.1:3262", "ADDR:PORT", 0, 0,
	  "LIO's loopback network portal of the anonymous targets", false },
	{ "anon-write-limit", "write-limit", OPTABLE_U64, F(anon_write_limit), "67108864", "BYTES",
	  0, UINT64_MAX,
	  "overlay each anonymous session may allocate, in whole filesystem blocks (64 MiB "
	  "tier cap); 0 = unlimited", false },
	{ "nopin-interval", NULL, OPTABLE_U32, F(nopin_interval), "5", "SECONDS", 3, 60,
	  "LIO sends a NOP-In after this long without traffic (anonymous sessions' ACLs)", false },
	{ "nopin-timeout", NULL, OPTABLE_U32, F(nopin_timeout), "5", "SECONDS", 3, 60,
	  "LIO drops a connection whose NOP-In is unanswered this long", false },
	{ "max-clients", NULL, OPTABLE_U32, F(max_clients), "8192", "COUNT", 1, 65536,
	  "client connections at once (the portal holds one per anonymous session)", false },
	{ "max-sessions", NULL, OPTABLE_U32, F(max_sessions), "4096", "COUNT", 1, 65536,
	  "anonymous sessions at once", false },
	{ "keep-overlays", NULL, OPTABLE_FLAG, F(keep_overlays), "off", "flag", 0, 0,
	  "keep overlay + bitmap files at session teardown and startup (crash tests)", false },
	{ "verbose", NULL, OPTABLE_FLAG, F(verbose), "off", "flag", 0, 0, "log more", false },
	{ "config", NULL, OPTABLE_PATH, F(config), SETTINGS_DEFAULT_PATH, "FILE", 0, 0,
	  "settings file: its [common] and [cfgd] sections are read as options before the "
	  "command line (which wins); a missing default file is fine", false },
};
#define NOPTS (sizeof(table) / sizeof(table[0]))

static enum settings_kind opt_kind(const char *name, const void *arg)
{
	(void)arg;
	return (enum settings_kind)optable_kind(table, NOPTS, name);
}

static void log_option(const char *line, void *arg)
{
	(void)arg;
	plog("option %s", line);
}

/* A comma list of user names or uids (option opt) into uids[*n]. 0 or -EINVAL
 * (logged). */
static int parse_users(const char *opt, const char *list, uid_t uids[CFGD_ALLOW_UIDS_MAX],
		       unsigned *n)
{
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", list);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		struct passwd *pw = getpwnam(t);
		char *end;
		unsigned long v;

		if (*n == CFGD_ALLOW_UIDS_MAX) {
			plog("--%s: at most %d users", opt, CFGD_ALLOW_UIDS_MAX);
			return -EINVAL;
		}
		if (pw) {
			uids[(*n)++] = pw->pw_uid;
			continue;
		}
		errno = 0;
		v = strtoul(t, &end, 10);
		if (errno || *end || end == t || v > 0xfffffffeul) {
			plog("--%s: no user %s", opt, t);
			return -EINVAL;
		}
		uids[(*n)++] = (uid_t)v;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct cfgd_options o;
	struct cfgd_server_cfg sc;
	struct poolspec pool[POOLSPEC_TARGETS_MAX];
	unsigned n_pool = 0;
	struct cfgd_server *srv;
	struct cfs *cfs;
	unsigned removed = 0;
	char err[512];
	int lfd, r, lock, stop_fd;

	memset(&o, 0, sizeof(o));
	plog_program = "scsipub-cfgd";
	if (settings_apply(SETTINGS_CFGD, NULL, opt_kind, NULL, &argc, &argv, 1, err,
			   sizeof(err)) < 0 ||
	    optable_parse(table, NOPTS, argc, argv, 1, &o, &o.help, err, sizeof(err)) < 0) {
		fprintf(stderr, "scsipub-cfgd: %s\n", err);
		return 2;
	}
	if (o.help) {
		printf("usage: scsipub-cfgd [OPTION...]\n"
		       "The configfs manager: owns the LIO objects of anonymous sessions and "
		       "serves the portal and scsipub-ctl on a Unix socket.\n\n");
		optable_usage(table, NOPTS, stdout);
		return 0;
	}
	if (anontarget_multi_check(o.multi_images, err, sizeof(err)) < 0) {
		fprintf(stderr, "scsipub-cfgd: --%s\n", err);
		return 2;
	}
	if (poolspec_parse(o.pool, pool, &n_pool, err, sizeof(err)) < 0) {
		fprintf(stderr, "scsipub-cfgd: --%s\n", err);
		return 2;
	}
	plog_verbose = o.verbose;
	setvbuf(stderr, NULL, _IOLBF, 0);
	optable_each(table, NOPTS, &o, log_option, NULL);
	memset(&sc, 0, sizeof(sc));
	if (parse_users("allow-users", o.allow_users, sc.allow_uids, &sc.n_allow_uids) < 0 ||
	    parse_users("portal-users", o.portal_users, sc.portal_uids, &sc.n_portal_uids) < 0)
		return 2;
	plog("descriptor limit %ld (one per client connection)", nofile_raise());
	stop_fd = stopsignal_install();
	if (stop_fd < 0) {
		plog("pipe: %s", strerror(-stop_fd));
		return 1;
	}

	cfs = cfs_open(o.configfs);
	if (!cfs) {
		plog("cannot open configfs at %s: %s", o.configfs, strerror(errno));
		return 1;
	}
	if (mkdir(o.state, 0755) < 0 && errno != EEXIST)
		plog("cannot create %s: %s", o.state, strerror(errno));
	lock = prov_lock(o.state);
	r = cfs_sweep(cfs, ANON_BACKSTORE_PREFIX, &removed);
	if (r < 0)
		plog("sweep of leftover sessions: %s (removed %u objects)", cfs_error(cfs), removed);
	else
		plog("sweep: removed %u leftover session objects", removed);
	/* ACLs of anonymous sessions without their backstore: a crash, or a targetcli
	 * saveconfig that rtslib-fb-targetctl restored at boot (docs/targetcli.md). */
	r = anon_sweep_acls(cfs, &removed);
	prov_unlock(lock);
	if (r < 0)
		plog("sweep of leftover anonymous ACLs: %s (removed %u)", cfs_error(cfs), removed);
	else if (removed)
		plog("sweep: removed %u leftover anonymous ACLs (a crash or a restored targetcli "
		     "saveconfig)", removed);
	if (!o.keep_overlays) {
		r = anon_clean_overlays(o.state);
		if (r < 0)
			plog("cleaning %s/%s: %s", o.state, ANON_OVERLAY_SUBDIR, strerror(-r));
		else
			plog("deleted %d stale overlay files", r);
	}

	sc.cfs = cfs;
	sc.images_dir = o.images;
	sc.multi_images = o.multi_images;
	if (!o.private_images[0])
		snprintf(o.private_images, sizeof(o.private_images), "%.4000s/" STATE_IMAGES, o.state);
	sc.private_dir = o.private_images;
	sc.anon.state_dir = o.state;
	sc.anon.lio_portal = o.lio;
	sc.anon.write_limit = o.anon_write_limit;
	sc.anon.keep_overlays = o.keep_overlays;
	sc.anon.nopin_interval = o.nopin_interval;
	sc.anon.nopin_timeout = o.nopin_timeout;
	sc.max_clients = o.max_clients;
	sc.max_sessions = o.max_sessions;
	sc.pool = pool;
	sc.n_pool = n_pool;
	srv = cfgd_server_new(&sc);
	if (!srv) {
		plog("out of memory");
		return 1;
	}
	lfd = unixsock_listen(o.socket, SOCK_SEQPACKET | SOCK_CLOEXEC, o.socket_group, err,
			      sizeof(err));
	if (lfd < 0) {
		plog("cannot listen on %s: %s", o.socket, err);
		cfgd_server_free(srv);
		cfs_close(cfs);
		return 1;
	}
	plog("ready: listening on %s (protocol %d)", o.socket, CFGD_PROTO_VERSION);
	r = cfgd_server_serve(srv, lfd, stop_fd);
	if (r < 0)
		plog("serving: %s", strerror(-r));
	close(lfd);
	unlink(o.socket);
	plog("stopping: destroying %zu sessions", cfgd_server_sessions(srv));
	cfgd_server_free(srv);
	cfs_close(cfs);
	plog("stopped");
	return r < 0 ? 1 : 0;
}
