/*
 * db.c — the PostgreSQL store (see db.h): the connection, the statement helpers every
 * table's code uses (db_priv.h), the schema migrations and the accounts. Images are
 * db_image.c's, sessions and their PR state db_session.c's. Every statement uses
 * PQexecParams with text parameters; times are read as UNIX seconds
 * (extract(epoch ...)::bigint).
 */
#include "db_priv.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "monotime.h"
#include "reason.h"

const char *db_pqmsg(PGconn *c, const PGresult *r)
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

PGresult *db_run(struct db *d, bool in_tx, const char *sql, int n,
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

bool db_ok(const PGresult *r)
{
	ExecStatusType s = PQresultStatus(r);

	return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

int db_errno(const PGresult *r)
{
	const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	return s && !strcmp(s, "23505") ? -EEXIST : -EIO;
}

int db_exec_simple(struct db *d, bool in_tx, const char *sql, char *err, size_t errlen)
{
	PGresult *r = db_run(d, in_tx, sql, 0, NULL);
	int rc = 0;

	if (!db_ok(r))
		rc = reason_fail(err, errlen, -EIO, "%s: %s", sql, db_pqmsg(d->conn, r));
	PQclear(r);
	return rc;
}

static void rollback(struct db *d)
{
	PQclear(PQexec(d->conn, "ROLLBACK"));
}

int db_tx_end(struct db *d, int rc, PGresult *last, char *err, size_t errlen)
{
	PQclear(last);
	if (rc == 0)
		return db_exec_simple(d, true, "COMMIT", err, errlen);
	rollback(d);
	return rc;
}

int64_t db_col_i64(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

void db_col_str(const PGresult *r, int row, int col, char *buf, size_t len)
{
	snprintf(buf, len, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

char *db_col_dup(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : strdup(PQgetvalue(r, row, col));
}

void db_lower_hex(const char *in, char out[DB_SHA_HEX + 1])
{
	size_t i;

	for (i = 0; i < DB_SHA_HEX && in[i]; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	out[i] = '\0';
}

PGresult *db_query(struct db *d, const char *sql, int n, const char *const *p, char *err,
		   size_t errlen, int *rc)
{
	PGresult *r;

	pthread_mutex_lock(&d->mu);
	r = db_run(d, false, sql, n, p);
	pthread_mutex_unlock(&d->mu);
	if (db_ok(r)) {
		*rc = 0;
		return r;
	}
	*rc = db_errno(r);
	reason_fail(err, errlen, *rc, "%s", db_pqmsg(d->conn, r));
	PQclear(r);
	return NULL;
}

int db_command(struct db *d, const char *sql, int n, const char *const *p)
{
	int rc;

	PQclear(db_query(d, sql, n, p, NULL, 0, &rc));
	return rc;
}

int db_query_rows(struct db *d, const char *sql, int np, const char *const *p,
		  size_t size, void (*row)(const PGresult *, int, void *), void **out,
		  char *err, size_t errlen)
{
	PGresult *r;
	char *v;
	int rc, i, n;

	*out = NULL;
	r = db_query(d, sql, np, p, err, errlen, &rc);
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

void db_i64s(char *buf, size_t len, int64_t v)
{
	snprintf(buf, len, "%" PRId64, v);
}

void db_u64s(char *buf, size_t len, uint64_t v)
{
	snprintf(buf, len, "%" PRIu64, v > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : v);
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
			     db_pqmsg(d->conn, NULL));
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
	if (db_ok(r) && PQntuples(r) == 1) {
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
	if ((rc = db_exec_simple(d, false, "BEGIN", err, errlen)))
		return rc;
	r = db_run(d, true, "SELECT pg_advisory_xact_lock(73757369)", 0, NULL);
	if (!db_ok(r)) {
		rc = reason_fail(err, errlen, -EIO, "migration lock: %s", db_pqmsg(d->conn, r));
		goto end_tx;
	}
	PQclear(r);
	r = db_run(d, true, "SELECT 1 FROM schema_version WHERE version = $1::integer", 1, p);
	if (!db_ok(r)) {
		rc = reason_fail(err, errlen, -EIO, "schema_version: %s", db_pqmsg(d->conn, r));
		goto end_tx;
	}
	if (PQntuples(r) == 1) {
		rc = 1;  /* applied before: the transaction only read */
		goto end_tx;
	}
	PQclear(r);
	r = PQexec(d->conn, m->sql); /* several statements: simple query protocol */
	if (!db_ok(r)) {
		rc = reason_fail(err, errlen, -EIO, "migration %s: %s", m->name,
				 db_pqmsg(d->conn, r));
		goto end_tx;
	}
	PQclear(r);
	r = db_run(d, true, "INSERT INTO schema_version (version, name) VALUES ($1::integer, $2)",
		   2, p);
	if (!db_ok(r)) {
		rc = reason_fail(err, errlen, -EIO, "migration %s: %s", m->name,
				 db_pqmsg(d->conn, r));
		goto end_tx;
	}
end_tx:
	return db_tx_end(d, rc, r, err, errlen);
}

int db_migrate(struct db *d, const struct db_migration *m, size_t n, int *version,
	       char *err, size_t errlen)
{
	size_t i;
	int rc = 0, have = 0;

	pthread_mutex_lock(&d->mu);
	rc = db_exec_simple(d, false,
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

int db_account_create(struct db *d, const char *name, uint64_t image_budget_bytes,
		      const char *key_sha256_hex, int64_t *id, char *err, size_t errlen)
{
	char budget[24], key[DB_SHA_HEX + 1];
	const char *p[3] = { name, budget, key };
	PGresult *r;
	int rc;

	if (strlen(key_sha256_hex) != DB_SHA_HEX || image_budget_bytes > INT64_MAX)
		return reason_fail(err, errlen, -EINVAL, "bad key hash or budget");
	db_lower_hex(key_sha256_hex, key);
	snprintf(budget, sizeof(budget), "%" PRIu64, image_budget_bytes);
	r = db_query(d,
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
		*id = db_col_i64(r, 0, 0);
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

	db_lower_hex(key_sha256_hex, key);
	r = db_query(d,
		     "SELECT a.id, a.name, a.image_budget_bytes FROM api_keys k"
		     " JOIN accounts a ON a.id = k.account_id WHERE k.key_sha256 = $1",
		     1, p, err, errlen, &rc);
	if (!r)
		return rc;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return reason_fail(err, errlen, -ENOENT, "unknown API key");
	}
	out->id = db_col_i64(r, 0, 0);
	db_col_str(r, 0, 1, out->name, sizeof(out->name));
	out->image_budget_bytes = (uint64_t)db_col_i64(r, 0, 2);
	PQclear(r);
	return 0;
}

int db_account_chap(struct db *d, int64_t account_id, const char *fresh, bool rotate,
		    char *secret, char *err, size_t errlen)
{
	char id[24];
	const char *p[2] = { id, fresh };
	PGresult *r;
	int rc;

	db_i64s(id, sizeof(id), account_id);
	r = db_query(d, rotate ? "UPDATE accounts SET chap_secret = $2 WHERE id = $1::bigint"
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
	db_col_str(r, 0, 0, secret, DB_CHAP_SECRET_MAX + 1);
	PQclear(r);
	return 0;
}
