/*
 * db.c — the PostgreSQL store (see db.h). Every statement uses PQexecParams with text
 * parameters; times are read as UNIX seconds (extract(epoch ...)::bigint).
 */
#include "db.h"
#include "prdb.h"
#include "reason.h"
#include "monotime.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

struct db {
	PGconn *conn;
	pthread_mutex_t mu;
	char version[32];
};

/* The server's message without its trailing newline, into a static-per-call buffer. */
static const char *pqmsg(PGconn *c, const PGresult *r)
{
	static __thread char buf[256];
	const char *m = r ? PQresultErrorMessage(r) : "";
	size_t n;

	if (!m || !*m)
		m = PQerrorMessage(c);
	snprintf(buf, sizeof(buf), "%s", m ? m : "unknown error");
	n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return buf;
}

/*
 * Run one statement; when the connection turned out broken and we are not inside a
 * transaction (in_tx false), reset it once and retry. Caller holds d->mu.
 */
static PGresult *run(struct db *d, bool in_tx, const char *sql, int n,
		     const char *const *params)
{
	PGresult *r = PQexecParams(d->conn, sql, n, NULL, params, NULL, NULL, 0);

	if (PQstatus(d->conn) == CONNECTION_BAD && !in_tx) {
		PQclear(r);
		PQreset(d->conn);
		r = PQexecParams(d->conn, sql, n, NULL, params, NULL, NULL, 0);
	}
	return r;
}

static bool ok(const PGresult *r)
{
	ExecStatusType s = PQresultStatus(r);

	return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

/* SQLSTATE of a failed result ("" when none). */
static const char *sqlstate(const PGresult *r)
{
	const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	return s ? s : "";
}

static int exec_simple(struct db *d, bool in_tx, const char *sql, char *err, size_t errlen)
{
	PGresult *r = run(d, in_tx, sql, 0, NULL);
	int rc = 0;

	if (!ok(r))
		rc = reason_fail(err, errlen, -EIO, "%s: %s", sql, pqmsg(d->conn, r));
	PQclear(r);
	return rc;
}

static void rollback(struct db *d)
{
	PQclear(PQexec(d->conn, "ROLLBACK"));
}

/*
 * End the transaction a db_* call began (BEGIN; the caller holds d->mu): clear last
 * (the result of its last statement, failed or not; NULL when none is held), then
 * COMMIT when rc is 0, else ROLLBACK. Returns rc, or COMMIT's -EIO with the reason
 * in err.
 */
static int tx_end(struct db *d, int rc, PGresult *last, char *err, size_t errlen)
{
	PQclear(last);
	if (rc == 0)
		return exec_simple(d, true, "COMMIT", err, errlen);
	rollback(d);
	return rc;
}

static int64_t col_i64(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static void col_str(const PGresult *r, int row, int col, char *buf, size_t len)
{
	snprintf(buf, len, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

static char *col_dup(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : strdup(PQgetvalue(r, row, col));
}

static void lower_hex(const char *in, char out[DB_SHA_HEX + 1])
{
	size_t i;

	for (i = 0; i < DB_SHA_HEX && in[i]; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	out[i] = '\0';
}

struct db *db_open(const char *url, int retry_s, char *err, size_t errlen)
{
	struct db *d = calloc(1, sizeof(*d));
	int64_t t0;
	PGresult *r;

	if (!d) {
		reason_fail(err, errlen, 0, "out of memory");
		return NULL;
	}
	t0 = monotime_s();
	for (;;) {
		d->conn = PQconnectdb(url ? url : "");
		if (PQstatus(d->conn) == CONNECTION_OK)
			break;
		if (monotime_s() - t0 >= retry_s) {
			reason_fail(err, errlen, 0, "cannot connect to the database: %s",
			     pqmsg(d->conn, NULL));
			PQfinish(d->conn);
			free(d);
			return NULL;
		}
		PQfinish(d->conn);
		usleep(250000);
	}
	pthread_mutex_init(&d->mu, NULL);
	PQclear(PQexec(d->conn, "SET client_min_messages = warning"));
	r = PQexec(d->conn, "SHOW server_version");
	if (ok(r) && PQntuples(r) == 1) {
		/* "15.18 (Debian 15.18-0+deb12u1)" -> "15.18" */
		snprintf(d->version, sizeof(d->version), "%s", PQgetvalue(r, 0, 0));
		d->version[strcspn(d->version, " ")] = '\0';
	}
	PQclear(r);
	return d;
}

void db_close(struct db *d)
{
	if (!d)
		return;
	PQfinish(d->conn);
	pthread_mutex_destroy(&d->mu);
	free(d);
}

const char *db_server_version(struct db *d)
{
	return d ? d->version : "";
}

/*
 * Apply migration m, number v (from 1), in a transaction of its own unless
 * schema_version has it already; a lock makes two daemons starting together take
 * turns. 1 when it was there already, 0 when applied now, or -EIO with a reason in
 * err (rolled back). Caller holds d->mu.
 */
static int migrate_one(struct db *d, const struct db_migration *m, size_t v, char *err,
		       size_t errlen)
{
	char num[24];
	const char *p[2] = { num, m->name };
	PGresult *r;
	int rc;

	snprintf(num, sizeof(num), "%zu", v);
	if ((rc = exec_simple(d, false, "BEGIN", err, errlen)))
		return rc;
	r = run(d, true, "SELECT pg_advisory_xact_lock(73757369)", 0, NULL);
	if (!ok(r)) {
		rc = reason_fail(err, errlen, -EIO, "migration lock: %s", pqmsg(d->conn, r));
		goto end_tx;
	}
	PQclear(r);
	r = run(d, true, "SELECT 1 FROM schema_version WHERE version = $1::integer", 1, p);
	if (!ok(r)) {
		rc = reason_fail(err, errlen, -EIO, "schema_version: %s", pqmsg(d->conn, r));
		goto end_tx;
	}
	if (PQntuples(r) == 1) {
		rc = 1;  /* applied before: the transaction only read */
		goto end_tx;
	}
	PQclear(r);
	r = PQexec(d->conn, m->sql); /* several statements: simple query protocol */
	if (!ok(r)) {
		rc = reason_fail(err, errlen, -EIO, "migration %s: %s", m->name,
				 pqmsg(d->conn, r));
		goto end_tx;
	}
	PQclear(r);
	r = run(d, true, "INSERT INTO schema_version (version, name) VALUES ($1::integer, $2)",
		2, p);
	if (!ok(r)) {
		rc = reason_fail(err, errlen, -EIO, "migration %s: %s", m->name,
				 pqmsg(d->conn, r));
		goto end_tx;
	}
end_tx:
	return tx_end(d, rc, r, err, errlen);
}

int db_migrate(struct db *d, const struct db_migration *m, size_t n, int *version,
	       char *err, size_t errlen)
{
	size_t i;
	int rc = 0, have = 0;

	pthread_mutex_lock(&d->mu);
	rc = exec_simple(d, false,
			 "CREATE TABLE IF NOT EXISTS schema_version ("
			 " version integer PRIMARY KEY, name text NOT NULL,"
			 " applied_at timestamptz NOT NULL DEFAULT now())",
			 err, errlen);
	for (i = 0; rc == 0 && i < n; i++) {
		rc = migrate_one(d, &m[i], i + 1, err, errlen);
		if (rc >= 0) {
			have = (int)(i + 1);
			rc = 0;
		}
	}
	pthread_mutex_unlock(&d->mu);
	if (version)
		*version = have;
	return rc;
}

/* One statement under the mutex, result checked; NULL (and err) on failure. */
static PGresult *query(struct db *d, const char *sql, int n, const char *const *p, char *err,
		       size_t errlen, int *rc)
{
	PGresult *r;

	pthread_mutex_lock(&d->mu);
	r = run(d, false, sql, n, p);
	pthread_mutex_unlock(&d->mu);
	if (ok(r)) {
		*rc = 0;
		return r;
	}
	*rc = !strcmp(sqlstate(r), "23505") ? -EEXIST : -EIO;
	reason_fail(err, errlen, *rc, "%s", pqmsg(d->conn, r));
	PQclear(r);
	return NULL;
}

int db_account_create(struct db *d, const char *name, uint64_t image_budget_bytes,
		      const char *key_sha256_hex, int64_t *id, char *err, size_t errlen)
{
	char budget[24], key[DB_SHA_HEX + 1];
	const char *p[3] = { name, budget, key };
	PGresult *r;
	int rc;

	if (strlen(key_sha256_hex) != DB_SHA_HEX || image_budget_bytes > INT64_MAX)
		return reason_fail(err, errlen, -EINVAL, "bad key hash or budget");
	lower_hex(key_sha256_hex, key);
	snprintf(budget, sizeof(budget), "%" PRIu64, image_budget_bytes);
	r = query(d,
		  "WITH a AS (INSERT INTO accounts (name, image_budget_bytes)"
		  " VALUES ($1, $2::bigint) RETURNING id),"
		  " k AS (INSERT INTO api_keys (key_sha256, account_id) SELECT $3, id FROM a)"
		  " SELECT id FROM a",
		  3, p, err, errlen, &rc);
	if (!r) {
		if (rc == -EEXIST)
			reason_fail(err, errlen, rc, "account %s exists", name);
		return rc;
	}
	if (id)
		*id = col_i64(r, 0, 0);
	PQclear(r);
	return 0;
}

int db_account_by_key(struct db *d, const char *key_sha256_hex, struct db_account *out,
		      char *err, size_t errlen)
{
	char key[DB_SHA_HEX + 1];
	const char *p[1] = { key };
	PGresult *r;
	int rc;

	lower_hex(key_sha256_hex, key);
	r = query(d,
		  "SELECT a.id, a.name, a.image_budget_bytes FROM api_keys k"
		  " JOIN accounts a ON a.id = k.account_id WHERE k.key_sha256 = $1",
		  1, p, err, errlen, &rc);
	if (!r)
		return rc;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return reason_fail(err, errlen, -ENOENT, "unknown API key");
	}
	out->id = col_i64(r, 0, 0);
	col_str(r, 0, 1, out->name, sizeof(out->name));
	out->image_budget_bytes = (uint64_t)col_i64(r, 0, 2);
	PQclear(r);
	return 0;
}

static void i64s(char *buf, size_t len, int64_t v)
{
	snprintf(buf, len, "%" PRId64, v);
}

int db_account_chap(struct db *d, int64_t account_id, const char *fresh, bool rotate,
		    char *secret, char *err, size_t errlen)
{
	char id[24];
	const char *p[2] = { id, fresh };
	PGresult *r;
	int rc;

	i64s(id, sizeof(id), account_id);
	r = query(d, rotate ? "UPDATE accounts SET chap_secret = $2 WHERE id = $1::bigint"
			      " RETURNING chap_secret"
			    : "UPDATE accounts SET chap_secret = COALESCE(chap_secret, $2)"
			      " WHERE id = $1::bigint RETURNING chap_secret",
		  2, p, err, errlen, &rc);
	if (!r)
		return rc;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return reason_fail(err, errlen, -ENOENT, "no account %s", id);
	}
	col_str(r, 0, 0, secret, DB_CHAP_SECRET_MAX + 1);
	PQclear(r);
	return 0;
}

static void u64s(char *buf, size_t len, uint64_t v)
{
	snprintf(buf, len, "%" PRIu64, v > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : v);
}

int db_image_begin(struct db *d, int64_t account_id, const char *name, const char *url,
		   const char *sha256, char *err, size_t errlen)
{
	char acct[24];
	const char *p[4] = { acct, name, url, sha256 };
	PGresult *r;
	int rc;

	i64s(acct, sizeof(acct), account_id);
	/* A failed row of that name is replaced; a fetching or ready one stays (no row). */
	r = query(d,
		  "INSERT INTO images (account_id, name, url, sha256, state)"
		  " VALUES ($1::bigint, $2, $3, lower($4), 'fetching')"
		  " ON CONFLICT (account_id, name) DO UPDATE SET url = EXCLUDED.url,"
		  "  sha256 = EXCLUDED.sha256, state = 'fetching', size_bytes = 0,"
		  "  bytes_done = 0, bytes_total = 0, error = NULL, created_at = now()"
		  " WHERE images.state = 'failed' RETURNING name",
		  4, p, err, errlen, &rc);
	if (!r)
		return rc;
	rc = PQntuples(r) == 1 ? 0 : reason_fail(err, errlen, -EEXIST, "image %s exists", name);
	PQclear(r);
	return rc;
}

int db_image_progress(struct db *d, int64_t account_id, const char *name,
		      uint64_t bytes_done, uint64_t bytes_total)
{
	char acct[24], done[24], total[24];
	const char *p[4] = { acct, name, done, total };
	PGresult *r;
	int rc;

	i64s(acct, sizeof(acct), account_id);
	u64s(done, sizeof(done), bytes_done);
	u64s(total, sizeof(total), bytes_total);
	r = query(d,
		  "UPDATE images SET bytes_done = $3::bigint, bytes_total = $4::bigint"
		  " WHERE account_id = $1::bigint AND name = $2 AND state = 'fetching'",
		  4, p, NULL, 0, &rc);
	PQclear(r);
	return rc;
}

int db_image_ready(struct db *d, int64_t account_id, const char *name, const char *sha256,
		   uint64_t size_bytes, uint64_t *used, char *err, size_t errlen)
{
	char acct[24], size[24];
	const char *p[4] = { acct, name, sha256, size };
	PGresult *r;
	uint64_t budget, others;
	int rc = 0;

	i64s(acct, sizeof(acct), account_id);
	u64s(size, sizeof(size), size_bytes);
	pthread_mutex_lock(&d->mu);
	if ((rc = exec_simple(d, false, "BEGIN", err, errlen)))
		goto out;
	r = run(d, true,
		"SELECT a.image_budget_bytes, (SELECT coalesce(sum(size_bytes), 0) FROM images"
		"  WHERE account_id = a.id AND state = 'ready' AND name <> $2)"
		" FROM accounts a WHERE a.id = $1::bigint FOR UPDATE",
		2, p);
	if (!ok(r) || PQntuples(r) != 1) {
		rc = reason_fail(err, errlen, ok(r) ? -ENOENT : -EIO, "account %s: %s", acct,
			  ok(r) ? "gone" : pqmsg(d->conn, r));
		goto end_tx;
	}
	budget = (uint64_t)col_i64(r, 0, 0);
	others = (uint64_t)col_i64(r, 0, 1);
	if (used)
		*used = others;
	if (others > budget || size_bytes > budget - others) {
		rc = reason_fail(err, errlen, -EDQUOT,
			  "image budget exceeded: the image is %" PRIu64 " bytes, the account's"
			  " other images use %" PRIu64 " of its %" PRIu64 " bytes",
			  size_bytes, others, budget);
		goto end_tx;
	}
	PQclear(r);
	r = run(d, true,
		"UPDATE images SET state = 'ready', sha256 = lower($3), size_bytes = $4::bigint,"
		" bytes_done = greatest(bytes_done, bytes_total), error = NULL"
		" WHERE account_id = $1::bigint AND name = $2 AND state = 'fetching'",
		4, p);
	if (!ok(r) || strcmp(PQcmdTuples(r), "1")) {
		rc = reason_fail(err, errlen, ok(r) ? -ENOENT : -EIO, "image %s: %s", name,
			  ok(r) ? "no longer fetching" : pqmsg(d->conn, r));
		goto end_tx;
	}
end_tx:
	rc = tx_end(d, rc, r, err, errlen);
out:
	pthread_mutex_unlock(&d->mu);
	return rc;
}

int db_image_fail(struct db *d, int64_t account_id, const char *name, const char *error)
{
	char acct[24];
	const char *p[3] = { acct, name, error };
	PGresult *r;
	int rc;

	i64s(acct, sizeof(acct), account_id);
	r = query(d,
		  "UPDATE images SET state = 'failed', error = $3"
		  " WHERE account_id = $1::bigint AND name = $2",
		  3, p, NULL, 0, &rc);
	PQclear(r);
	return rc;
}

int db_image_delete(struct db *d, int64_t account_id, const char *name, bool if_unused,
		    char *err, size_t errlen)
{
	char acct[24];
	const char *p[2] = { acct, name };
	PGresult *r;
	int64_t used = 0;
	int rc;

	i64s(acct, sizeof(acct), account_id);
	pthread_mutex_lock(&d->mu);
	if ((rc = exec_simple(d, false, "BEGIN", err, errlen)))
		goto out;
	/* Lock the row first: a session insert holding it FOR SHARE commits before we go
	 * on, and the next statement's snapshot then sees its LUNs. */
	r = run(d, true, "SELECT 1 FROM images WHERE account_id = $1::bigint AND name = $2"
		" FOR UPDATE", 2, p);
	if (!ok(r) || PQntuples(r) != 1) {
		rc = reason_fail(err, errlen, ok(r) ? -ENOENT : -EIO, "%s%s", ok(r) ? "no image " : "",
			  ok(r) ? name : pqmsg(d->conn, r));
		goto end_tx;
	}
	PQclear(r);
	if (if_unused) {
		r = run(d, true,
			"SELECT count(*) FROM luns l JOIN sessions s ON s.id = l.session_id"
			" WHERE s.account_id = $1::bigint AND l.image_name = $2"
			" AND l.kind = 'private'", 2, p);
		if (!ok(r)) {
			rc = reason_fail(err, errlen, -EIO, "%s", pqmsg(d->conn, r));
			goto end_tx;
		}
		used = col_i64(r, 0, 0);
		if (used) {
			rc = reason_fail(err, errlen, -EBUSY,
				  "image %s is in use by %" PRId64 " LUN(s) of live or suspended"
				  " sessions", name, used);
			goto end_tx;
		}
		PQclear(r);
	}
	r = run(d, true, "DELETE FROM images WHERE account_id = $1::bigint AND name = $2", 2, p);
	if (!ok(r)) {
		rc = reason_fail(err, errlen, -EIO, "%s", pqmsg(d->conn, r));
		goto end_tx;
	}
end_tx:
	rc = tx_end(d, rc, r, err, errlen);
out:
	pthread_mutex_unlock(&d->mu);
	return rc;
}

#define IMAGE_COLS                                                                      \
	"account_id, name, url, coalesce(sha256, ''), size_bytes, state, bytes_done,"     \
	" bytes_total, error, extract(epoch FROM created_at)::bigint"

/*
 * Run sql and decode every row into a calloc'd array of (rows + 1) elements of size
 * bytes each, row(r, i, element) filling one. *out gets the array (NULL on error).
 * Returns the row count or a negative errno with a reason in err.
 */
static int query_rows(struct db *d, const char *sql, int np, const char *const *p,
		      size_t size, void (*row)(const PGresult *, int, void *), void **out,
		      char *err, size_t errlen)
{
	PGresult *r;
	char *v;
	int rc, i, n;

	*out = NULL;
	r = query(d, sql, np, p, err, errlen, &rc);
	if (!r)
		return rc;
	n = PQntuples(r);
	v = calloc((size_t)n + 1, size);
	if (!v) {
		PQclear(r);
		return reason_fail(err, errlen, -ENOMEM, "out of memory");
	}
	for (i = 0; i < n; i++)
		row(r, i, v + (size_t)i * size);
	PQclear(r);
	*out = v;
	return n;
}

static void image_row(const PGresult *r, int i, struct db_image *im)
{
	const char *st = PQgetvalue(r, i, 5);

	memset(im, 0, sizeof(*im));
	im->account_id = col_i64(r, i, 0);
	col_str(r, i, 1, im->name, sizeof(im->name));
	im->url = col_dup(r, i, 2);
	col_str(r, i, 3, im->sha256, sizeof(im->sha256));
	im->size_bytes = (uint64_t)col_i64(r, i, 4);
	im->state = !strcmp(st, "ready") ? DB_IMAGE_READY :
		    !strcmp(st, "failed") ? DB_IMAGE_FAILED : DB_IMAGE_FETCHING;
	im->bytes_done = (uint64_t)col_i64(r, i, 6);
	im->bytes_total = (uint64_t)col_i64(r, i, 7);
	im->error = col_dup(r, i, 8);
	im->created_at = col_i64(r, i, 9);
}

int db_image_get(struct db *d, int64_t account_id, const char *name, struct db_image *out,
		 char *err, size_t errlen)
{
	char acct[24];
	const char *p[2] = { acct, name };
	PGresult *r;
	int rc;

	i64s(acct, sizeof(acct), account_id);
	r = query(d, "SELECT " IMAGE_COLS " FROM images WHERE account_id = $1::bigint AND name = $2",
		  2, p, err, errlen, &rc);
	if (!r)
		return rc;
	if (PQntuples(r) != 1)
		rc = reason_fail(err, errlen, -ENOENT, "no image %s", name);
	else
		image_row(r, 0, out);
	PQclear(r);
	return rc;
}

static void image_row_cb(const PGresult *r, int i, void *elem)
{
	image_row(r, i, elem);
}

int db_image_list(struct db *d, int64_t account_id, struct db_image **out, char *err,
		  size_t errlen)
{
	char acct[24];
	const char *p[1] = { acct };
	void *v;
	int n;

	i64s(acct, sizeof(acct), account_id);
	n = query_rows(d,
		       "SELECT " IMAGE_COLS " FROM images WHERE $1::bigint < 0 OR account_id = $1::bigint"
		       " ORDER BY account_id, name",
		       1, p, sizeof(**out), image_row_cb, &v, err, errlen);
	*out = v;
	return n;
}

int db_image_used(struct db *d, int64_t account_id, uint64_t *bytes, char *err, size_t errlen)
{
	char acct[24];
	const char *p[1] = { acct };
	PGresult *r;
	int rc;

	i64s(acct, sizeof(acct), account_id);
	r = query(d,
		  "SELECT coalesce(sum(size_bytes), 0) FROM images"
		  " WHERE account_id = $1::bigint AND state = 'ready'",
		  1, p, err, errlen, &rc);
	if (!r)
		return rc;
	*bytes = (uint64_t)col_i64(r, 0, 0);
	PQclear(r);
	return 0;
}

void db_image_clear(struct db_image *im)
{
	if (!im)
		return;
	free(im->url);
	free(im->error);
	im->url = im->error = NULL;
}

void db_images_free(struct db_image *v, size_t n)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < n; i++)
		db_image_clear(&v[i]);
	free(v);
}

int db_session_insert(struct db *d, const struct db_session *s, char *err, size_t errlen)
{
	char acct[24], ttl[16], lun[16];
	const char *p[7] = { s->id, acct, s->chap_user, s->chap_secret,
			     s->persistent ? "t" : "f", ttl, NULL };
	PGresult *r;
	unsigned i;
	int rc;

	i64s(acct, sizeof(acct), s->account_id);
	snprintf(ttl, sizeof(ttl), "%" PRId32, s->ttl_s);
	pthread_mutex_lock(&d->mu);
	if ((rc = exec_simple(d, false, "BEGIN", err, errlen)))
		goto out;
	r = run(d, true,
		"INSERT INTO sessions (id, account_id, chap_user, chap_secret, persistent, ttl_s,"
		" state) VALUES ($1, $2::bigint, $3, $4, $5::boolean, $6::integer, 'live')",
		6, p);
	if (!ok(r)) {
		rc = !strcmp(sqlstate(r), "23505") ? -EEXIST : -EIO;
		reason_fail(err, errlen, rc, "session %s: %s", s->id, pqmsg(d->conn, r));
		goto end_tx;
	}
	/* Each result is cleared when the next statement runs, the last by tx_end. */
	for (i = 0; i < s->n_luns; i++) {
		const struct db_lun *l = &s->luns[i];
		const char *q[4] = { s->id, lun, l->image_name, acct };

		snprintf(lun, sizeof(lun), "%u", l->lun);
		if (l->kind == DB_LUN_PRIVATE) {
			PQclear(r);
			r = run(d, true,
				"SELECT 1 FROM images WHERE account_id = $1::bigint AND name = $2"
				" AND state = 'ready' FOR SHARE",
				2, (const char *const[]){ acct, l->image_name });
			if (!ok(r) || PQntuples(r) != 1) {
				rc = reason_fail(err, errlen, ok(r) ? -ENOENT : -EIO, "%s%s",
					  ok(r) ? "no ready image " : "",
					  ok(r) ? l->image_name : pqmsg(d->conn, r));
				goto end_tx;
			}
		}
		PQclear(r);
		r = run(d, true,
			"INSERT INTO luns (session_id, lun, image_name, kind)"
			" VALUES ($1, $2::integer, $3, $4)",
			4, (const char *const[]){ q[0], q[1], q[2], db_lun_kind_name(l->kind) });
		if (!ok(r)) {
			rc = reason_fail(err, errlen, -EIO, "LUN %u: %s", l->lun, pqmsg(d->conn, r));
			goto end_tx;
		}
	}
end_tx:
	rc = tx_end(d, rc, r, err, errlen);
out:
	pthread_mutex_unlock(&d->mu);
	return rc;
}

#define SESSION_COLS                                                                   \
	"s.id, s.account_id, a.name, s.chap_user, s.chap_secret, s.persistent, s.ttl_s,"  \
	" s.state, coalesce(extract(epoch FROM s.suspended_at)::bigint, 0),"              \
	" extract(epoch FROM s.created_at)::bigint, s.bytes_written_hint"

static void session_row(const PGresult *r, int i, struct db_session *s)
{
	memset(s, 0, sizeof(*s));
	col_str(r, i, 0, s->id, sizeof(s->id));
	s->account_id = col_i64(r, i, 1);
	col_str(r, i, 2, s->account_name, sizeof(s->account_name));
	col_str(r, i, 3, s->chap_user, sizeof(s->chap_user));
	col_str(r, i, 4, s->chap_secret, sizeof(s->chap_secret));
	s->persistent = !strcmp(PQgetvalue(r, i, 5), "t");
	s->ttl_s = (int32_t)col_i64(r, i, 6);
	s->state = !strcmp(PQgetvalue(r, i, 7), "suspended") ? DB_SESSION_SUSPENDED :
							       DB_SESSION_LIVE;
	s->suspended_at = col_i64(r, i, 8);
	s->created_at = col_i64(r, i, 9);
	s->bytes_written_hint = (uint64_t)col_i64(r, i, 10);
}

/* Fill the LUNs of sessions v[0..n) from one query over the same filter. */
static int attach_luns(struct db *d, const char *sql, int np, const char *const *p,
		       struct db_session *v, int n, char *err, size_t errlen)
{
	PGresult *r;
	int rc, i, j = 0, m;

	r = query(d, sql, np, p, err, errlen, &rc);
	if (!r)
		return rc;
	m = PQntuples(r);
	for (i = 0; i < n; i++) {
		int k = j;

		while (k < m && !strcmp(PQgetvalue(r, k, 0), v[i].id))
			k++;
		if (k > j) {
			v[i].luns = calloc((size_t)(k - j), sizeof(*v[i].luns));
			if (!v[i].luns) {
				PQclear(r);
				return reason_fail(err, errlen, -ENOMEM, "out of memory");
			}
			for (; j < k; j++) {
				struct db_lun *l = &v[i].luns[v[i].n_luns++];

				l->lun = (unsigned)col_i64(r, j, 1);
				col_str(r, j, 2, l->image_name, sizeof(l->image_name));
				l->kind = !strcmp(PQgetvalue(r, j, 3), "catalog") ? DB_LUN_CATALOG :
										  DB_LUN_PRIVATE;
			}
		}
	}
	PQclear(r);
	return 0;
}

static void session_row_cb(const PGresult *r, int i, void *elem)
{
	session_row(r, i, elem);
}

int db_session_list(struct db *d, int64_t account_id, struct db_session **out, char *err,
		    size_t errlen)
{
	char acct[24];
	const char *p[1] = { acct };
	void *v;
	int rc, n;

	i64s(acct, sizeof(acct), account_id);
	/* Sorted by id in both queries so the LUN rows line up with their sessions. */
	n = query_rows(d,
		       "SELECT " SESSION_COLS " FROM sessions s JOIN accounts a ON a.id = s.account_id"
		       " WHERE $1::bigint < 0 OR s.account_id = $1::bigint ORDER BY s.id",
		       1, p, sizeof(**out), session_row_cb, &v, err, errlen);
	*out = v;
	if (n < 0)
		return n;
	rc = attach_luns(d,
			 "SELECT l.session_id, l.lun, l.image_name, l.kind FROM luns l"
			 " JOIN sessions s ON s.id = l.session_id"
			 " WHERE $1::bigint < 0 OR s.account_id = $1::bigint"
			 " ORDER BY l.session_id, l.lun",
			 1, p, *out, n, err, errlen);
	if (rc < 0) {
		db_sessions_free(*out, (size_t)n);
		*out = NULL;
		return rc;
	}
	return n;
}

int db_session_get(struct db *d, const char *id, int64_t account_id, struct db_session *out,
		   char *err, size_t errlen)
{
	char acct[24];
	const char *p[2] = { id, acct };
	PGresult *r;
	int rc;

	i64s(acct, sizeof(acct), account_id);
	r = query(d,
		  "SELECT " SESSION_COLS " FROM sessions s JOIN accounts a ON a.id = s.account_id"
		  " WHERE s.id = $1 AND ($2::bigint < 0 OR s.account_id = $2::bigint)",
		  2, p, err, errlen, &rc);
	if (!r)
		return rc;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return reason_fail(err, errlen, -ENOENT, "no session %s", id);
	}
	session_row(r, 0, out);
	PQclear(r);
	rc = attach_luns(d,
			 "SELECT session_id, lun, image_name, kind FROM luns WHERE session_id = $1"
			 " ORDER BY lun",
			 1, p, out, 1, err, errlen);
	if (rc < 0)
		db_session_clear(out);
	return rc;
}

int db_session_set_state(struct db *d, const char *id, enum db_session_state st)
{
	const char *p[2] = { id, db_session_state_name(st) };
	PGresult *r;
	int rc;

	r = query(d,
		  "UPDATE sessions SET state = $2, suspended_at ="
		  " CASE WHEN $2 = 'suspended' THEN now() ELSE NULL END WHERE id = $1",
		  2, p, NULL, 0, &rc);
	PQclear(r);
	return rc;
}

int db_session_set_written(struct db *d, const char *id, uint64_t bytes)
{
	char b[24];
	const char *p[2] = { id, b };
	PGresult *r;
	int rc;

	u64s(b, sizeof(b), bytes);
	r = query(d, "UPDATE sessions SET bytes_written_hint = $2::bigint WHERE id = $1", 2, p,
		  NULL, 0, &rc);
	PQclear(r);
	return rc;
}

int db_session_delete(struct db *d, const char *id, char *err, size_t errlen)
{
	const char *p[1] = { id };
	PGresult *r;
	int rc;

	r = query(d, "DELETE FROM sessions WHERE id = $1", 1, p, err, errlen, &rc);
	if (!r)
		return rc;
	rc = strcmp(PQcmdTuples(r), "1") ? reason_fail(err, errlen, -ENOENT, "no session %s", id) : 0;
	PQclear(r);
	return rc;
}

int db_session_exists(struct db *d, const char *id)
{
	const char *p[1] = { id };
	PGresult *r;
	int rc;

	r = query(d, "SELECT 1 FROM sessions WHERE id = $1", 1, p, NULL, 0, &rc);
	if (!r)
		return -EIO;
	rc = PQntuples(r) == 1;
	PQclear(r);
	return rc;
}

void db_session_clear(struct db_session *s)
{
	if (!s)
		return;
	free(s->luns);
	s->luns = NULL;
	s->n_luns = 0;
}

void db_sessions_free(struct db_session *v, size_t n)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < n; i++)
		db_session_clear(&v[i]);
	free(v);
}

const char *db_image_state_name(enum db_image_state st)
{
	return st == DB_IMAGE_READY ? "ready" : st == DB_IMAGE_FAILED ? "failed" : "fetching";
}

const char *db_session_state_name(enum db_session_state st)
{
	return st == DB_SESSION_SUSPENDED ? "suspended" : "live";
}

const char *db_lun_kind_name(enum db_lun_kind k)
{
	return k == DB_LUN_CATALOG ? "catalog" : "private";
}

int db_pr_load(struct db *d, const char *id, unsigned n_luns, struct aptpl_state *st,
	       char *err, size_t errlen)
{
	int rc;

	pthread_mutex_lock(&d->mu);
	rc = prdb_load(d->conn, id, n_luns, st, err, errlen);
	pthread_mutex_unlock(&d->mu);
	return rc;
}
