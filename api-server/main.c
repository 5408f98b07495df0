/*
 * main.c — scsipub-api: the HTTP API of the provisioned tier (issue 3,
 * docs/provisioned.md).
 *
 *   scsipub-api [OPTIONS]      connect to PostgreSQL (retrying for 10 s), migrate the
 *                              schema, restore live and suspended sessions into
 *                              configfs, serve HTTP (and HTTPS with --https-listen:
 *                              the portal's certificate, reloaded when its files
 *                              change), write <state>/api/ready and log
 *                              "scsipub-api: ready"; SIGTERM/SIGINT stop it (sessions
 *                              stay in place for the next start)
 *   scsipub-api account-create NAME [--image-budget BYTES] [OPTIONS]
 *                              create an account and print its new API key (32 hex;
 *                              only its SHA-256 is stored)
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apiopt.h"
#include "app.h"
#include "log.h"
#include "privdrop.h"
#include "settings.h"
#include "db.h"
#include "fetch.h"
#include "fetchunpack.h"
#include "http.h"
#include "https_cert.h"
#include "statelayout.h"
#include "monotime.h"

#define DB_RETRY_S 10

/* The settings file's keys are the option table's names (settings.h). */
static enum settings_kind opt_kind(const char *name, const void *arg)
{
	(void)arg;
	return (enum settings_kind)apiopt_kind(name);
}

static void log_option(const char *line, void *arg)
{
	(void)arg;
	plog("option %s", line);
}

static const char *db_url(const struct api_options *o)
{
	const char *env = getenv("DATABASE_URL");

	if (o->database[0])
		return o->database;
	return env && env[0] ? env : NULL;
}

static struct db *connect_and_migrate(const struct api_options *o)
{
	const char *url = db_url(o);
	char err[512];
	struct db *d;
	int v = 0;

	if (!url) {
		plog("no database: give --database URL or set DATABASE_URL");
		return NULL;
	}
	d = db_open(url, DB_RETRY_S, err, sizeof(err));
	if (!d) {
		plog("%s", err);
		return NULL;
	}
	if (db_migrate(d, db_schema, db_schema_count, &v, err, sizeof(err)) < 0) {
		plog("schema migration failed: %s", err);
		db_close(d);
		return NULL;
	}
	plog("database: PostgreSQL %s, schema version %d", db_server_version(d), v);
	return d;
}

static int account_create(int argc, char **argv)
{
	struct api_options o;
	char err[512], key[33], sha[DB_SHA_HEX + 1];
	unsigned char rnd[16];
	char **rest = calloc((size_t)argc + 1, sizeof(*rest));
	uint64_t budget = 0;
	bool have_budget = false;
	const char *name;
	struct db *d;
	int i, nrest = 1, rc;

	if (!rest)
		return 1;
	if (argc < 3 || argv[2][0] == '-') {
		fprintf(stderr, "usage: scsipub-api account-create NAME [--image-budget BYTES]"
			" [--database URL]\n");
		free(rest);
		return 2;
	}
	name = argv[2];
	rest[0] = argv[0];
	for (i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--image-budget") && i + 1 < argc) {
			char *end;

			errno = 0;
			budget = strtoull(argv[++i], &end, 10);
			if (errno || *end || argv[i][0] < '0' || argv[i][0] > '9' ||
			    budget > INT64_MAX) {
				plog("--image-budget: not a number of bytes");
				free(rest);
				return 2;
			}
			have_budget = true;
		} else {
			rest[nrest++] = argv[i];
		}
	}
	rc = apiopt_parse(nrest, rest, 1, &o, err, sizeof(err));
	free(rest);
	if (rc < 0) {
		plog("%s", err);
		return 2;
	}
	if (o.help)
		return 0;
	if (!app_name_valid(name)) {
		plog("account name must match ^[a-z0-9][a-z0-9.-]{0,62}$");
		return 2;
	}
	if (!have_budget)
		budget = o.default_image_budget;
	d = connect_and_migrate(&o);
	if (!d)
		return 1;
	if (app_random(rnd, sizeof(rnd)) < 0) {
		db_close(d);
		return 1;
	}
	for (i = 0; i < 16; i++)
		snprintf(key + 2 * i, 3, "%02x", rnd[i]);
	app_sha256_hex(key, strlen(key), sha);
	rc = db_account_create(d, name, budget, sha, NULL, err, sizeof(err));
	db_close(d);
	if (rc < 0) {
		plog("%s", err);
		return 1;
	}
	plog("account %s created (image budget %" PRIu64 " bytes); its API key:", name,
	     budget);
	printf("%s\n", key);
	return 0;
}

/*
 * The HTTPS listener of o (NULL *srv when --https-listen is empty): its certificate
 * holder in *hc. 0, or -1 with the reason logged.
 */
static int start_https(struct app *a, const struct api_options *o, struct https_cert **hc,
		       struct http_server **srv)
{
	char err[PATH_MAX + 1024], fpr[HTTPS_FINGERPRINT_LEN] = "";

	*hc = NULL;
	*srv = NULL;
	if (!o->https_listen[0]) {
		plog("HTTPS off (--https-listen is empty)");
		return 0;
	}
	*hc = https_cert_new(o->tls_cert, o->tls_key, o->tls_reload_interval, monotime_s(), err,
			     sizeof(err));
	if (!*hc) {
		plog("HTTPS on %s cannot start: %s", o->https_listen, err);
		return -1;
	}
	*srv = http_start_https(a, o->https_listen, *hc, err, sizeof(err));
	if (!*srv) {
		plog("%s", err);
		https_cert_free(*hc);
		*hc = NULL;
		return -1;
	}
	https_cert_fingerprint(*hc, fpr, sizeof(fpr));
	plog("HTTPS listening on %s (port %u), certificate %s (sha256 %s; its files are "
	     "looked at every %u s)", o->https_listen, http_port(*srv), o->tls_cert, fpr,
	     o->tls_reload_interval);
	return 0;
}

/* <state>/api/ready: written once sessions are restored (provision.sh waits for it). */
#define API_READY STATE_API_READY

/*
 * The directories the API writes: <state>/api and <state>/images (private images), made
 * 0750 and, with --user, given to that user. 0, or -1 after logging.
 */
static int own_dirs(const struct api_options *o)
{
	const char *sub[] = { STATE_API_DIR, STATE_IMAGES };
	uid_t uid = 0;
	gid_t gid = 0;
	char err[512], path[PATH_MAX];

	if (o->user[0] && privdrop_ids(o->user, &uid, &gid, err, sizeof(err)) < 0) {
		plog("--user %s: %s", o->user, err);
		return -1;
	}
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		snprintf(path, sizeof(path), "%.4000s/%s", o->state, sub[i]);
		if (mkdir(path, 0750) < 0 && errno != EEXIST) {
			plog("%s: %s", path, strerror(errno));
			return -1;
		}
		if (o->user[0] && chown(path, uid, gid) < 0) {
			plog("chown %s to %s: %s", path, o->user, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* With --user: leave root for good (privdrop.h), after the files only root may read
 * (the admin key) are read and before any network input is. 0, or -1 after logging. */
static int drop_root(const struct api_options *o)
{
	char err[512];

	if (!o->user[0])
		return 0;
	if (privdrop_to(o->user, err, sizeof(err)) < 0) {
		plog("--user %s: %s", o->user, err);
		return -1;
	}
	plog("running as %s (uid %u, gid %u, no capabilities)", o->user, (unsigned)getuid(),
	     (unsigned)getgid());
	return 0;
}

static int write_ready(const char *state)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	int fd;

	if (snprintf(path, sizeof(path), "%s/" API_READY, state) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	dprintf(fd, "%d\n", (int)getpid());
	close(fd);
	return rename(tmp, path) < 0 ? -errno : 0;
}

int main(int argc, char **argv)
{
	struct api_options o;
	struct app a;
	struct http_server *srv, *tls_srv;
	struct https_cert *hc;
	struct timespec tick = { .tv_sec = 1 };
	struct db *d;
	char err[512], ready[PATH_MAX + 16];
	sigset_t set;
	int sig = 0;

	plog_program = "scsipub-api";
	setvbuf(stderr, NULL, _IOLBF, 0);
	/* account-create NAME: the file's options go in after NAME */
	if (settings_apply(SETTINGS_API, NULL, opt_kind, NULL, &argc, &argv,
		       argc >= 3 && !strcmp(argv[1], "account-create") ? 3 : 1, err,
		       sizeof(err)) < 0) {
		plog("%s", err);
		return 2;
	}
	if (argc >= 2 && !strcmp(argv[1], "account-create"))
		return account_create(argc, argv);
	if (apiopt_parse(argc, argv, 1, &o, err, sizeof(err)) < 0) {
		plog("%s", err);
		return 2;
	}
	if (o.help)
		return 0;
	apiopt_each(&o, log_option, NULL);

	/* Signals are taken by sigwait below; every thread inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (mkdir(o.state, 0755) < 0 && errno != EEXIST) {
		plog("state directory %s: %s", o.state, strerror(errno));
		return 1;
	}
	if (own_dirs(&o) < 0)
		return 1;
	snprintf(ready, sizeof(ready), "%s/" API_READY, o.state);
	unlink(ready);
	{
		/* the decoder program beside this one (build tree), else the installed one */
		char self[PATH_MAX], helper[PATH_MAX + 32];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		char *slash;

		if (n > 0) {
			self[n] = '\0';
			slash = strrchr(self, '/');
			if (slash) {
				*slash = '\0';
				snprintf(helper, sizeof(helper), "%s/scsipub-unpack", self);
				if (access(helper, X_OK) == 0)
					fetch_set_unpacker(helper);
			}
		}
	}
	if (fetch_init() < 0) {
		plog("libcurl initialisation failed");
		return 1;
	}
	d = connect_and_migrate(&o);
	if (!d)
		return 1;
	memset(&a, 0, sizeof(a));
	if (app_init(&a, &o, d, err, sizeof(err)) < 0) {
		plog("%s", err);
		app_fini(&a);
		return 1;
	}
	if (drop_root(&o) < 0) {
		app_fini(&a);
		return 1;
	}
	app_restore(&a);
	srv = http_start(&a, o.listen, err, sizeof(err));
	if (!srv) {
		plog("%s", err);
		app_fini(&a);
		return 1;
	}
	if (start_https(&a, &o, &hc, &tls_srv) < 0) {
		http_stop(srv);
		app_fini(&a);
		return 1;
	}
	if (app_start_threads(&a) < 0) {
		plog("cannot start the watcher and janitor threads");
		http_stop(tls_srv);
		https_cert_free(hc);
		http_stop(srv);
		app_fini(&a);
		return 1;
	}
	if (write_ready(o.state) < 0)
		plog("writing %s: %s", ready, strerror(errno));
	plog("listening on %s (port %u), portal %s", o.listen, http_port(srv), a.public_addr);
	plog("ready");

	/* A changed certificate is picked up without a connection too (1 s tick). */
	while ((sig = sigtimedwait(&set, NULL, &tick)) != SIGTERM && sig != SIGINT)
		if (hc)
			https_cert_maybe_reload(hc, monotime_s());
	plog("signal %d: stopping (sessions are kept)", sig);
	unlink(ready);
	http_stop(tls_srv);
	https_cert_free(hc);
	http_stop(srv);
	app_fini(&a);
	return 0;
}
