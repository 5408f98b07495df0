/*
 * db.h — scsipub-api's PostgreSQL store (libpq): accounts, API keys (SHA-256 only),
 * private images, provisioned sessions and their LUNs (docs/provisioned.md).
 *
 * One connection guarded by a mutex: every function is thread-safe and runs its
 * statements (and transactions) under that mutex; a broken connection is reset once
 * and the statement retried when it failed outside a transaction. Functions return
 * 0 (or a count) or a negative errno, with a one-line reason in err when err is not
 * NULL: -ENOENT no such row, -EEXIST duplicate, -EBUSY in use, -EDQUOT over budget,
 * -EIO a database error.
 */
#ifndef SCSIPUB_DB_H
#define SCSIPUB_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;

/* One schema migration: file name (NNN_what.sql) and its SQL text. */
struct db_migration {
	const char *name;
	const char *sql;
};

/* The migrations in api-server/schema/, embedded in name order at build time. */
extern const struct db_migration db_schema[];
extern const size_t db_schema_count;

#define DB_NAME_MAX 63          /* image and account names: ^[a-z0-9][a-z0-9.-]{0,62}$ */
#define DB_ID_MAX 32            /* session ids */
#define DB_SHA_HEX 64

struct db_account {
	int64_t id;
	char name[DB_NAME_MAX + 1];
	uint64_t image_budget_bytes;
};

enum db_image_state { DB_IMAGE_FETCHING, DB_IMAGE_READY, DB_IMAGE_FAILED };

struct db_image {
	int64_t account_id;
	char name[DB_NAME_MAX + 1];
	char *url;                      /* malloc'd */
	char sha256[DB_SHA_HEX + 1];    /* "" when not known yet */
	uint64_t size_bytes;
	enum db_image_state state;
	uint64_t bytes_done, bytes_total;
	char *error;                    /* malloc'd, NULL when none */
	int64_t created_at;             /* UNIX seconds */
};

enum db_lun_kind { DB_LUN_PRIVATE, DB_LUN_CATALOG };

struct db_lun {
	unsigned lun;
	char image_name[DB_NAME_MAX + 1];
	enum db_lun_kind kind;
};

enum db_session_state { DB_SESSION_LIVE, DB_SESSION_SUSPENDED };

struct db_session {
	char id[DB_ID_MAX + 1];
	int64_t account_id;
	char account_name[DB_NAME_MAX + 1];
	char chap_user[64];
	char chap_secret[64];
	bool persistent;
	int32_t ttl_s;
	enum db_session_state state;
	int64_t suspended_at;           /* UNIX seconds, 0 when live */
	int64_t created_at;             /* UNIX seconds */
	uint64_t bytes_written_hint;
	struct db_lun *luns;            /* malloc'd, n_luns entries in LUN order */
	unsigned n_luns;
};

/*
 * Connect to url (a libpq conninfo or URL), retrying every 250 ms for up to retry_s
 * seconds while the server is not reachable. NULL with a reason in err on failure.
 */
struct db *db_open(const char *url, int retry_s, char *err, size_t errlen);
/* Close the connection and free d (NULL is ignored). */
void db_close(struct db *d);

/*
 * Apply migrations m[0..n) not yet recorded in table schema_version (created if
 * missing), in order, each in its own transaction together with its schema_version
 * row; a pg_advisory_xact_lock serialises concurrent migrators. *version (may be
 * NULL) gets the number of migrations recorded afterwards. A failing migration is
 * rolled back and named in err.
 */
int db_migrate(struct db *d, const struct db_migration *m, size_t n, int *version,
	       char *err, size_t errlen);

/* The server's version as text ("15.18"), "" when unknown. Never NULL. */
const char *db_server_version(struct db *d);

/*
 * Create account name with an image budget and one API key given by its SHA-256
 * (64 hex, stored lowercase). *id (may be NULL) gets the new id. -EEXIST when the
 * name is taken.
 */
int db_account_create(struct db *d, const char *name, uint64_t image_budget_bytes,
		      const char *key_sha256_hex, int64_t *id, char *err, size_t errlen);

/* The account owning the key with this SHA-256 (64 hex) into *out; -ENOENT if none. */
int db_account_by_key(struct db *d, const char *key_sha256_hex, struct db_account *out,
		      char *err, size_t errlen);

#define DB_CHAP_SECRET_MAX 64

/*
 * The account's iSCSI CHAP secret (migration 003) into secret (DB_CHAP_SECRET_MAX + 1
 * bytes), in one statement: with rotate it becomes fresh; otherwise fresh is stored
 * only when the account has none yet, and the stored one is returned. fresh: 12..64
 * characters of [A-Za-z0-9] (the column's CHECK). -ENOENT when the account is gone.
 */
int db_account_chap(struct db *d, int64_t account_id, const char *fresh, bool rotate,
		    char *secret, char *err, size_t errlen);

/*
 * Register image (account_id, name) in state fetching with url and the expected
 * sha256 (NULL = none). A failed image of that name is replaced; -EEXIST when one
 * is fetching or ready.
 */
int db_image_begin(struct db *d, int64_t account_id, const char *name, const char *url,
		   const char *sha256, char *err, size_t errlen);
/* Store the progress of a fetching image (no error when the row is gone). */
int db_image_progress(struct db *d, int64_t account_id, const char *name,
		      uint64_t bytes_done, uint64_t bytes_total);
/*
 * Mark a fetching image ready with its sha256 and size, if the account's ready images
 * plus this one fit its image budget (checked with the account row locked, so
 * concurrent fetches cannot both pass); else -EDQUOT (the row is left fetching; the
 * caller removes it). *used (may be NULL) gets the bytes the other ready images use.
 */
int db_image_ready(struct db *d, int64_t account_id, const char *name, const char *sha256,
		   uint64_t size_bytes, uint64_t *used, char *err, size_t errlen);
/* Mark a fetching image failed with a one-line reason (a row in another state, or
 * none, is left as it is). */
int db_image_fail(struct db *d, int64_t account_id, const char *name, const char *error);
/*
 * Delete image (account_id, name). With if_unused (a client's DELETE), refuse with
 * -EBUSY while it is being fetched (its fetch still writes its files) or while a live
 * or suspended session has it as a LUN (the check and delete are one statement,
 * ordered against session creation by the image row's lock). Without it (a fetch
 * removing its own image), only a row still being fetched is deleted. -ENOENT when
 * there is no such row.
 */
int db_image_delete(struct db *d, int64_t account_id, const char *name, bool if_unused,
		    char *err, size_t errlen);
/* Image (account_id, name) into *out (free with db_image_clear); -ENOENT if absent. */
int db_image_get(struct db *d, int64_t account_id, const char *name, struct db_image *out,
		 char *err, size_t errlen);
/*
 * The account's images (account_id < 0: every account's) sorted by name into *out
 * (free with db_images_free); returns the count.
 */
int db_image_list(struct db *d, int64_t account_id, struct db_image **out, char *err,
		  size_t errlen);
/* Sum of size_bytes of the account's ready images into *bytes. */
int db_image_used(struct db *d, int64_t account_id, uint64_t *bytes, char *err, size_t errlen);
/* Free what one db_image holds (not the struct). */
void db_image_clear(struct db_image *im);
/* Free an array from db_image_list. */
void db_images_free(struct db_image *v, size_t n);

/*
 * Insert session s (state live) and its LUNs in one transaction. Private LUNs must
 * name a ready image of s->account_id (locked FOR SHARE until commit, so a
 * concurrent delete waits): -ENOENT names the first missing one in err. -EEXIST when
 * the id is taken.
 */
int db_session_insert(struct db *d, const struct db_session *s, char *err, size_t errlen);
/*
 * Session id into *out (free with db_session_clear); account_id >= 0 restricts to
 * that account. -ENOENT when absent.
 */
int db_session_get(struct db *d, const char *id, int64_t account_id, struct db_session *out,
		   char *err, size_t errlen);
/*
 * Sessions (account_id < 0: all) ordered by creation into *out (free with
 * db_sessions_free), LUNs included; returns the count.
 */
int db_session_list(struct db *d, int64_t account_id, struct db_session **out, char *err,
		    size_t errlen);
/* Set a session live (suspended_at cleared) or suspended (suspended_at = now). */
int db_session_set_state(struct db *d, const char *id, enum db_session_state st);
/* Store the bytes-written hint of a session. */
int db_session_set_written(struct db *d, const char *id, uint64_t bytes);
/* Delete session id and its LUNs; -ENOENT when absent. */
int db_session_delete(struct db *d, const char *id, char *err, size_t errlen);
/* 1 when session id exists, 0 when not, -EIO on error (prov_janitor's known()). */
int db_session_exists(struct db *d, const char *id);

struct aptpl_state;
/*
 * Load session id's Persistent Reservation state (pr-store, prdb_load) for LUNs
 * 0..n_luns-1 into st[0..n_luns) under the connection's lock. Returns the number of
 * LUNs with stored state, or -EIO / -EINVAL with a reason in err.
 */
int db_pr_load(struct db *d, const char *id, unsigned n_luns, struct aptpl_state *st,
	       char *err, size_t errlen);
/* Free what one db_session holds (not the struct). */
void db_session_clear(struct db_session *s);
/* Free an array from db_session_list. */
void db_sessions_free(struct db_session *v, size_t n);

/* Text names of the enums ("fetching", "live", "private", ...). */
const char *db_image_state_name(enum db_image_state st);
const char *db_session_state_name(enum db_session_state st);
const char *db_lun_kind_name(enum db_lun_kind k);

#endif
