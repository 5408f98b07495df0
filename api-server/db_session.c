/*
 * db_session.c — provisioned sessions in the PostgreSQL store (see db.h): a session
 * with its LUNs, lookups, its state and written bytes, deletion, and its Persistent
 * Reservation state (pr-store's prdb.h).
 */
#include "db_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prdb.h"
#include "reason.h"

int db_session_insert(struct db *d, const struct db_session *s, char *err, size_t errlen)
{
	char acct[24], ttl[16], lun[16];
	const char *p[7] = { s->id, acct, s->chap_user, s->chap_secret,
			     s->persistent ? "t" : "f", ttl, NULL };
	PGresult *r;
	unsigned i;
	int rc;

	db_i64s(acct, sizeof(acct), s->account_id);
	snprintf(ttl, sizeof(ttl), "%" PRId32, s->ttl_s);
	pthread_mutex_lock(&d->mu);
	if ((rc = db_exec_simple(d, false, "BEGIN", err, errlen)))
		goto out;
	r = db_run(d, true,
		   "INSERT INTO sessions (id, account_id, chap_user, chap_secret, persistent,"
		   " ttl_s, state)"
		   " VALUES ($1, $2::bigint, $3, $4, $5::boolean, $6::integer, 'live')",
		   6, p);
	if (!db_ok(r)) {
		rc = db_errno(r);
		reason_fail(err, errlen, rc, "session %s: %s", s->id, db_pqmsg(d->conn, r));
		goto end_tx;
	}
	/* Each result is cleared when the next statement runs, the last by tx_end. */
	for (i = 0; i < s->n_luns; i++) {
		const struct db_lun *l = &s->luns[i];
		const char *q[4] = { s->id, lun, l->image_name, acct };

		snprintf(lun, sizeof(lun), "%u", l->lun);
		if (l->kind == DB_LUN_PRIVATE) {
			PQclear(r);
			r = db_run(d, true,
				   "SELECT 1 FROM images"
				   " WHERE account_id = $1::bigint AND name = $2"
				   " AND state = 'ready' FOR SHARE",
				   2, (const char *const[]){ acct, l->image_name });
			if (!db_ok(r) || PQntuples(r) != 1) {
				rc = reason_fail(err, errlen, db_ok(r) ? -ENOENT : -EIO, "%s%s",
					  db_ok(r) ? "no ready image " : "",
					  db_ok(r) ? l->image_name : db_pqmsg(d->conn, r));
				goto end_tx;
			}
		}
		PQclear(r);
		r = db_run(d, true,
			   "INSERT INTO luns (session_id, lun, image_name, kind)"
			   " VALUES ($1, $2::integer, $3, $4)",
			   4, (const char *const[]){ q[0], q[1], q[2], db_lun_kind_name(l->kind) });
		if (!db_ok(r)) {
			rc = reason_fail(err, errlen, -EIO, "LUN %u: %s", l->lun, db_pqmsg(d->conn, r));
			goto end_tx;
		}
	}
end_tx:
	rc = db_tx_end(d, rc, r, err, errlen);
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
	db_col_str(r, i, 0, s->id, sizeof(s->id));
	s->account_id = db_col_i64(r, i, 1);
	db_col_str(r, i, 2, s->account_name, sizeof(s->account_name));
	db_col_str(r, i, 3, s->chap_user, sizeof(s->chap_user));
	db_col_str(r, i, 4, s->chap_secret, sizeof(s->chap_secret));
	s->persistent = !strcmp(PQgetvalue(r, i, 5), "t");
	s->ttl_s = (int32_t)db_col_i64(r, i, 6);
	s->state = !strcmp(PQgetvalue(r, i, 7), "suspended") ? DB_SESSION_SUSPENDED :
							       DB_SESSION_LIVE;
	s->suspended_at = db_col_i64(r, i, 8);
	s->created_at = db_col_i64(r, i, 9);
	s->bytes_written_hint = (uint64_t)db_col_i64(r, i, 10);
}

/* Fill the LUNs of sessions v[0..n) from one query over the same filter. */
static int attach_luns(struct db *d, const char *sql, int np, const char *const *p,
		       struct db_session *v, int n, char *err, size_t errlen)
{
	PGresult *r;
	int rc, i, j = 0, m;

	r = db_query(d, sql, np, p, err, errlen, &rc);
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

				l->lun = (unsigned)db_col_i64(r, j, 1);
				db_col_str(r, j, 2, l->image_name, sizeof(l->image_name));
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

	db_i64s(acct, sizeof(acct), account_id);
	/* Sorted by id in both queries so the LUN rows line up with their sessions. */
	n = db_query_rows(d,
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

	db_i64s(acct, sizeof(acct), account_id);
	r = db_query(d,
		     "SELECT " SESSION_COLS " FROM sessions s"
		     " JOIN accounts a ON a.id = s.account_id"
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

	return db_command(d,
			  "UPDATE sessions SET state = $2, suspended_at ="
			  " CASE WHEN $2 = 'suspended' THEN now() ELSE NULL END WHERE id = $1",
			  2, p);
}

int db_session_set_written(struct db *d, const char *id, uint64_t bytes)
{
	char b[24];
	const char *p[2] = { id, b };

	db_u64s(b, sizeof(b), bytes);
	return db_command(d, "UPDATE sessions SET bytes_written_hint = $2::bigint WHERE id = $1",
			  2, p);
}

int db_session_delete(struct db *d, const char *id, char *err, size_t errlen)
{
	const char *p[1] = { id };
	PGresult *r;
	int rc;

	r = db_query(d, "DELETE FROM sessions WHERE id = $1", 1, p, err, errlen, &rc);
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

	r = db_query(d, "SELECT 1 FROM sessions WHERE id = $1", 1, p, NULL, 0, &rc);
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
