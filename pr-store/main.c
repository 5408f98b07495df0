/*
 * main.c — scsipub-prstore: writes every Persistent Reservation change of the
 * provisioned LUNs through to PostgreSQL (issue 4, docs/persistent-reservations.md).
 *
 * Watches <db_root>/pr with inotify (IN_CLOSE_WRITE / IN_MOVED_TO: LIO rewrites
 * aptpl_<backstore> inside each state-changing PERSISTENT RESERVE OUT) and captures the
 * named file at once (capture.h); every --rescan-interval seconds, and at start, it
 * captures every file, which covers events lost to an overflow or to downtime. Writes
 * <state>/prstore.ready after the first full scan. A lost database connection is
 * re-established on the next event or scan; nothing is marked saved until it is.
 * SIGTERM/SIGINT exit 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "capture.h"
#include "cfs.h"
#include "log.h"
#include "settings.h"

#define DEFAULT_CONFIGFS "/sys/kernel/config/target"
#define DEFAULT_STATE "/var/lib/scsipub"
#define DEFAULT_RESCAN_S 5

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: scsipub-prstore [OPTIONS]\n"
		"Write LIO's Persistent Reservation state of provisioned LUNs to PostgreSQL.\n\n"
		"  --configfs DIR          LIO configfs root (default " DEFAULT_CONFIGFS ")\n"
		"  --database URL          libpq URL (default $DATABASE_URL)\n"
		"  --state DIR             state directory for prstore.ready (default "
		DEFAULT_STATE ")\n"
		"  --rescan-interval S     seconds between full scans (default %d, 1..3600)\n"
		"  --config FILE           settings file (default " SETTINGS_DEFAULT_PATH "): [common]\n"
		"                          and [prstore] keys are these options' names; the\n"
		"                          command line overrides it\n"
		"  -h, --help              this help\n", DEFAULT_RESCAN_S);
}

/* Make sure db is connected (reset once if not). */
static int db_connected(PGconn *db)
{
	if (PQstatus(db) == CONNECTION_OK)
		return 1;
	PQreset(db);
	if (PQstatus(db) == CONNECTION_OK) {
		plog("database connection re-established");
		return 1;
	}
	return 0;
}

static void capture_one(struct prcap *cap, PGconn *db, const char *name)
{
	char err[512] = "";
	int r;

	if (!db_connected(db)) {
		plog("database unreachable; %s captured by the next scan", name);
		return;
	}
	r = prcap_capture(cap, name, err, sizeof(err));
	if (r > 0)
		plog("saved PR state of %s", name);
	else if (r < 0)
		plog("capturing %s: %s", name, err);
}

static int scan(struct prcap *cap, PGconn *db)
{
	char err[512] = "";
	unsigned saved = 0;
	int r;

	if (!db_connected(db)) {
		plog("database unreachable: %s", PQerrorMessage(db));
		return -EIO;
	}
	r = prcap_scan(cap, &saved, err, sizeof(err));
	if (r < 0)
		plog("scan: %s", err);
	if (saved)
		plog("scan saved %u PR state(s)", saved);
	return r;
}

static int write_ready(const char *state)
{
	char path[PATH_MAX];
	int fd;

	if (snprintf(path, sizeof(path), "%s/prstore.ready", state) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "configfs", required_argument, NULL, 'c' },
		{ "database", required_argument, NULL, 'd' },
		{ "state", required_argument, NULL, 's' },
		{ "rescan-interval", required_argument, NULL, 'r' },
		{ "config", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *configfs = DEFAULT_CONFIGFS, *state = DEFAULT_STATE;
	const char *url = getenv("DATABASE_URL");
	char dbroot[PATH_MAX], pr_dir[PATH_MAX + 8], *end;
	struct sigaction sa;
	struct prcap *cap;
	struct cfs *cfs;
	PGconn *db;
	long rescan = DEFAULT_RESCAN_S;
	int o, ifd, wd = -1;
	time_t next;

	char err[512];

	plog_program = "scsipub-prstore";
	if (settings_apply(SETTINGS_PRSTORE, NULL, settings_kind_getopt, lo, &argc, &argv, 1, err,
		       sizeof(err)) < 0) {
		plog("%s", err);
		return 2;
	}
	while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (o) {
		case 'C': break; /* read by settings_apply */
		case 'c': configfs = optarg; break;
		case 'd': url = optarg; break;
		case 's': state = optarg; break;
		case 'r':
			errno = 0;
			rescan = strtol(optarg, &end, 10);
			if (errno || *end || rescan < 1 || rescan > 3600) {
				plog("--rescan-interval: want 1..3600 seconds, got '%s'", optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		plog("unexpected argument '%s'", argv[optind]);
		return 2;
	}
	if (!url || !*url) {
		plog("no database: give --database or DATABASE_URL");
		return 2;
	}
	setvbuf(stderr, NULL, _IOLBF, 0);
	/* From here on, every line carries its time (ISO 8601 UTC). */
	plog_timestamps = 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	cfs = cfs_open(configfs);
	if (!cfs) {
		plog("cannot open configfs at %s: %s", configfs, strerror(errno));
		return 1;
	}
	if (cfs_dbroot(cfs, dbroot, sizeof(dbroot)) < 0) {
		plog("reading %s/dbroot: %s", configfs, cfs_error(cfs));
		return 1;
	}
	snprintf(pr_dir, sizeof(pr_dir), "%s/pr", dbroot);
	if (mkdir(pr_dir, 0700) < 0 && errno != EEXIST) {
		plog("mkdir %s: %s (LIO answers PR OUT with NOT READY without it)", pr_dir,
		     strerror(errno));
		return 1;
	}
	db = PQconnectdb(url);
	if (PQstatus(db) != CONNECTION_OK) {
		plog("connecting to the database: %s", PQerrorMessage(db));
		PQfinish(db);
		return 1;
	}
	cap = prcap_new(cfs, pr_dir, db);
	ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (!cap || ifd < 0 ||
	    (wd = inotify_add_watch(ifd, pr_dir, IN_CLOSE_WRITE | IN_MOVED_TO)) < 0) {
		plog("watching %s: %s", pr_dir, cap ? strerror(errno) : "out of memory");
		return 1;
	}
	plog("watching %s (db_root %s), full scan every %ld s", pr_dir, dbroot, rescan);
	scan(cap, db);
	if (write_ready(state) < 0)
		plog("writing %s/prstore.ready: %s", state, strerror(errno));
	next = time(NULL) + rescan;
	while (!stop) {
		struct pollfd pf = { .fd = ifd, .events = POLLIN };
		char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
		time_t now = time(NULL);
		int n = poll(&pf, 1, now >= next ? 0 : (int)(next - now) * 1000);

		if (n < 0 && errno != EINTR) {
			plog("poll: %s", strerror(errno));
			break;
		}
		if (n > 0 && (pf.revents & POLLIN)) {
			ssize_t len = read(ifd, buf, sizeof(buf));
			char *q;

			for (q = buf; len > 0 && q < buf + len;) {
				const struct inotify_event *ev = (const struct inotify_event *)q;

				if (ev->mask & IN_Q_OVERFLOW)
					next = 0; /* events lost: full scan now */
				else if (ev->len)
					capture_one(cap, db, ev->name);
				q += sizeof(*ev) + ev->len;
			}
		}
		if (time(NULL) >= next) {
			scan(cap, db);
			next = time(NULL) + rescan;
		}
	}
	plog("stopping");
	inotify_rm_watch(ifd, wd);
	close(ifd);
	prcap_free(cap);
	PQfinish(db);
	cfs_close(cfs);
	return 0;
}
