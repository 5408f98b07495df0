/*
 * app.h — scsipub-api's service core (docs/provisioned.md), used by the HTTP layer
 * (http.h) and main.c: private image fetches, provisioned sessions (rows in db.h +
 * their LIO objects, which scsipub-cfgd makes on request: cfgd_client.h), the watcher (1 s tick: connections -> live,
 * suspended, destroyed, evicted), the janitor and restore at startup.
 *
 * Threads: one connection to scsipub-cfgd shared under cfgd_mu; the database is
 * thread-safe by itself
 * (db.h). Functions return 0 or a negative errno with a one-line reason in err.
 */
#ifndef SCSIPUB_APP_H
#define SCSIPUB_APP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "apiopt.h"
#include "budget.h"
#include "db.h"

#define APP_VERSION "0.3.0"
#define APP_CHAP_SECRET_LEN 16
#define APP_SESSION_ID_LEN 16      /* hex digits */
#define APP_TTL_MAX 2592000        /* seconds (30 days) */
#define APP_RESTORE_GRACE_S 120    /* seconds a restored live session may stay unconnected */

/* What the watcher remembers about one session between ticks. */
struct app_watch {
	char id[DB_ID_MAX + 1];
	bool had_conn;      /* seen with a connection since created / resumed / restored */
	int zero_ticks;     /* consecutive ticks without a connection (negative = grace) */
	int connections;    /* at the last tick (-1 unknown) */
	uint64_t logins;    /* LIO's login counter of the target at the last tick */
	bool logins_known;  /* logins holds a baseline (0 for a target we just made) */
};

struct app {
	struct api_options o;
	char catalog_dir[PATH_MAX];
	char public_addr[APIOPT_ADDR_MAX];
	char admin_key[129];           /* "" = /admin disabled */
	struct db *db;
	int cfgd_fd;                   /* connection to scsipub-cfgd, -1 = not (yet) open */
	pthread_mutex_t cfgd_mu;       /* serialises every request on cfgd_fd */
	time_t started;                /* wall clock at start */
	int64_t started_s;             /* monotime_s() at start (uptime) */

	pthread_mutex_t watch_mu;      /* guards w, nw */
	struct app_watch *w;
	size_t nw;

	pthread_mutex_t stop_mu;       /* guards stop; stop_cv wakes the threads */
	pthread_cond_t stop_cv;
	bool stop;
	pthread_t watcher, janitor;
	bool threads;

	struct budget budget;          /* held by fetches in progress (budget.h) */
};

/*
 * Fill a (zeroed by the caller) from options o with an open db: derives the catalog
 * dir, the public address and reads the admin key file. Takes ownership of db
 * (app_fini closes it). scsipub-cfgd (o->cfgd_socket) is connected on first use and
 * again after it restarted. 0 or -errno.
 */
int app_init(struct app *a, const struct api_options *o, struct db *db,
	     char *err, size_t errlen);
/* Stop the threads (if started) and free everything; sessions are left in place. */
void app_fini(struct app *a);

/* Seconds since app_init (monotonic). */
uint64_t app_uptime(const struct app *a);

/*
 * Mark image rows left fetching by an earlier process failed, then re-create the
 * configfs objects of every live or suspended session (prov_session_create is
 * idempotent); restored live sessions get APP_RESTORE_GRACE_S to reconnect. Returns
 * the number of sessions restored; failures are logged and skipped.
 */
int app_restore(struct app *a);
/* Start the watcher (1 s tick) and janitor (o.janitor_interval) threads. */
int app_start_threads(struct app *a);
/* One watcher tick at wall-clock time now (tests call it directly). */
void app_watch_tick(struct app *a, time_t now);
/* One janitor pass; *removed (may be NULL) gets the count. 0 or -errno. */
int app_janitor_pass(struct app *a, unsigned *removed);

/* Result of app_image_create. */
struct app_image_result {
	int status;                  /* HTTP status: 201, 202 (still fetching), 4xx, 5xx */
	char error[512];             /* reason when status >= 400 */
	char sha256[DB_SHA_HEX + 1];
	uint64_t size_bytes;
};

/*
 * POST /api/images: register (account, name) as fetching, fetch url in a worker
 * thread into <state>/images/<account>/<name>.img (progress stored in the row) and
 * wait up to o.fetch_wait seconds. 201 ready; 202 still fetching; 409 name taken;
 * 413 over --max-image-bytes or the account's budget (nothing registered); 422 sha256
 * mismatch or a URL leading to a non-public address outside --fetch-allow-net
 * (nothing registered), or an unusable source (row kept as failed); 500 local
 * failures. name, url and sha256 must be validated by the caller.
 * Budget: a fetch holds its bytes in a->budget (budget.h) from the start (512, then the
 * Content-Length, the bytes downloaded and decompressed as they grow) and keeps them
 * until its image is registered or it failed; a reservation that would take the
 * account's ready images plus its fetches' reservations over its budget fails the
 * fetch with 413, so concurrent fetches of one account cannot together exceed it.
 * (One API process per database is assumed for this; db_image_ready still checks the
 * final sizes against the budget in the database.)
 */
void app_image_create(struct app *a, const struct db_account *acct, const char *name,
		      const char *url, const char *sha256, struct app_image_result *res);
/*
 * DELETE /api/images/<name>: -EBUSY while a provisioned session has it as a LUN or
 * an iSCSI connection is logged in to its IQN (imageiqn.h; counted by scsipub-cfgd:
 * the delete never ends connections, the client logs them out first), -ENOENT when
 * absent, else the row and the file are removed. A login racing the delete keeps the
 * image it opened; the next one finds no image (0x0203).
 */
int app_image_delete(struct app *a, const struct db_account *acct, const char *name,
		     char *err, size_t errlen);
/*
 * The account's iSCSI credentials (issue 11): one-way CHAP that logins to its private
 * images (imageiqn.h) must pass. user (ACCTCHAP_USER_MAX + 1 bytes) is the account's
 * name; secret (ACCTCHAP_SECRET_MAX + 1 bytes) APP_ACCOUNT_SECRET_LEN random
 * characters of [A-Za-z0-9], made on first use and kept in the database
 * (db_account_chap); rotate makes a new one. Either way they are (re)written to
 * <state>/images/<id>/iscsi-chap for scsipub-cfgd (acctchap.h), so the file follows
 * the database. Sessions already logged in are not ended by a rotation. 0, or -errno
 * with a reason in err.
 */
#define APP_ACCOUNT_SECRET_LEN 24
int app_account_chap(struct app *a, const struct db_account *acct, bool rotate, char *user,
		     char *secret, char *err, size_t errlen);
/* Path of a private image's file into buf. 0 or -ENAMETOOLONG. */
int app_image_path(const struct app *a, int64_t account_id, const char *name, char *buf,
		   size_t len);

/* One catalog entry usable as a LUN: "blank" or image.<name> of the catalog. */
struct app_catalog_item {
	char name[DB_NAME_MAX + 1];
	char iqn[256];
	char path[PATH_MAX];         /* "" for blank */
	uint64_t size_bytes;
};
/* The catalog (blank first) into *out (free()); returns the count or -errno. */
int app_catalog(struct app *a, struct app_catalog_item **out);

/* A new session as answered by POST /api/sessions. */
struct app_session_result {
	int status;                  /* 201 or 4xx/5xx */
	char error[512];
	char id[DB_ID_MAX + 1];
	char iqn[256];
	char chap_user[64];
	char chap_secret[APP_CHAP_SECRET_LEN + 1];
	unsigned lun_count;
};

/*
 * POST /api/sessions: resolve every name (the account's ready private image first,
 * else the catalog), insert the rows, create the configfs objects. 201, 422 unknown
 * or unready image, 500 on a configfs failure (rows removed again).
 */
void app_session_create(struct app *a, const struct db_account *acct,
			const char *const *images, unsigned n, bool persistent, int32_t ttl_s,
			struct app_session_result *res);
/*
 * Remove session id's configfs objects and overlays, then its row. account_id >= 0
 * restricts to that account's sessions (-ENOENT otherwise).
 */
int app_session_destroy(struct app *a, const char *id, int64_t account_id, char *err,
			size_t errlen);
/* Bytes of overlay data session id holds (allocated size of its lun*.ovl files). */
uint64_t app_session_written(struct app *a, const char *id);
/* Connections at the last watcher tick (-1 unknown). */
int app_session_connections(struct app *a, const char *id);

/* Fill buf with n random bytes (getrandom). 0 or -errno. */
int app_random(void *buf, size_t n);
/* SHA-256 of s as 64 lowercase hex + NUL into out. */
void app_sha256_hex(const char *s, size_t len, char out[DB_SHA_HEX + 1]);
/* 1 when s matches ^[a-z0-9][a-z0-9.-]{0,62}$ (image and account names), else 0. */
int app_name_valid(const char *s);

#endif
