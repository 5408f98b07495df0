/*
 * db_image.c — private images in the PostgreSQL store (see db.h): a fetch's life
 * (begin, progress, ready within the account's budget, failed), lookups, the bytes an
 * account's images hold, and deletion.
 */
#include "db_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "reason.h"

int db_image_begin(struct db *d, int64_t account_id, const char *name, const char *url,
		   const char *sha256, char *err, size_t errlen)
{
	char acct[24];
	const char *p[4] = { acct, name, url, sha256 };
	PGresult *r;
	int rc;

	db_i64s(acct, sizeof(acct), account_id);
	/* A failed row of that name is replaced; a fetching or ready one stays (no row). */
	r = db_query(d,
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

	db_i64s(acct, sizeof(acct), account_id);
	db_u64s(done, sizeof(done), bytes_done);
	db_u64s(total, sizeof(total), bytes_total);
	return db_command(d,
			  "UPDATE images SET bytes_done = $3::bigint, bytes_total = $4::bigint"
			  " WHERE account_id = $1::bigint AND name = $2 AND state = 'fetching'",
			  4, p);
}

int db_image_ready(struct db *d, int64_t account_id, const char *name, const char *sha256,
		   uint64_t size_bytes, uint64_t *used, char *err, size_t errlen)
{
	char acct[24], size[24];
	const char *p[4] = { acct, name, sha256, size };
	PGresult *r;
	uint64_t budget, others;
	int rc = 0;

	db_i64s(acct, sizeof(acct), account_id);
	db_u64s(size, sizeof(size), size_bytes);
	pthread_mutex_lock(&d->mu);
	if ((rc = db_exec_simple(d, false, "BEGIN", err, errlen)))
		goto out;
	r = db_run(d, true,
		   "SELECT a.image_budget_bytes, (SELECT coalesce(sum(size_bytes), 0) FROM images"
		   "  WHERE account_id = a.id AND state = 'ready' AND name <> $2)"
		   " FROM accounts a WHERE a.id = $1::bigint FOR UPDATE",
		   2, p);
	if (!db_ok(r) || PQntuples(r) != 1) {
		rc = reason_fail(err, errlen, db_ok(r) ? -ENOENT : -EIO, "account %s: %s", acct,
			  db_ok(r) ? "gone" : db_pqmsg(d->conn, r));
		goto end_tx;
	}
	budget = (uint64_t)db_col_i64(r, 0, 0);
	others = (uint64_t)db_col_i64(r, 0, 1);
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
	r = db_run(d, true,
		   "UPDATE images SET state = 'ready', sha256 = lower($3), size_bytes = $4::bigint,"
		   " bytes_done = greatest(bytes_done, bytes_total), error = NULL"
		   " WHERE account_id = $1::bigint AND name = $2 AND state = 'fetching'",
		   4, p);
	if (!db_ok(r) || strcmp(PQcmdTuples(r), "1")) {
		rc = reason_fail(err, errlen, db_ok(r) ? -ENOENT : -EIO, "image %s: %s", name,
			  db_ok(r) ? "no longer fetching" : db_pqmsg(d->conn, r));
		goto end_tx;
	}
end_tx:
	rc = db_tx_end(d, rc, r, err, errlen);
out:
	pthread_mutex_unlock(&d->mu);
	return rc;
}

int db_image_fail(struct db *d, int64_t account_id, const char *name, const char *error)
{
	char acct[24];
	const char *p[3] = { acct, name, error };

	db_i64s(acct, sizeof(acct), account_id);
	return db_command(d,
			  "UPDATE images SET state = 'failed', error = $3"
			  " WHERE account_id = $1::bigint AND name = $2 AND state = 'fetching'",
			  3, p);
}

int db_image_delete(struct db *d, int64_t account_id, const char *name, bool if_unused,
		    char *err, size_t errlen)
{
	char acct[24];
	const char *p[2] = { acct, name };
	PGresult *r;
	int64_t used = 0;
	bool fetching;
	int rc;

	db_i64s(acct, sizeof(acct), account_id);
	pthread_mutex_lock(&d->mu);
	if ((rc = db_exec_simple(d, false, "BEGIN", err, errlen)))
		goto out;
	/* Lock the row first: a session insert holding it FOR SHARE commits before we go
	 * on, and the next statement's snapshot then sees its LUNs. */
	r = db_run(d, true, "SELECT state = 'fetching' FROM images"
		   " WHERE account_id = $1::bigint AND name = $2 FOR UPDATE", 2, p);
	if (!db_ok(r) || PQntuples(r) != 1) {
		rc = reason_fail(err, errlen, db_ok(r) ? -ENOENT : -EIO, "%s%s",
				 db_ok(r) ? "no image " : "",
				 db_ok(r) ? name : db_pqmsg(d->conn, r));
		goto end_tx;
	}
	fetching = !strcmp(PQgetvalue(r, 0, 0), "t");
	if (if_unused && fetching) {
		/* its fetch still writes the image's files and will update the row */
		rc = reason_fail(err, errlen, -EBUSY,
				 "image %s is still being fetched (GET shows its progress); "
				 "delete it when the fetch has ended", name);
		goto end_tx;
	}
	if (!if_unused && !fetching) {
		rc = reason_fail(err, errlen, -ENOENT, "image %s is no longer being fetched",
				 name);
		goto end_tx;
	}
	PQclear(r);
	if (if_unused) {
		r = db_run(d, true,
			   "SELECT count(*) FROM luns l JOIN sessions s ON s.id = l.session_id"
			   " WHERE s.account_id = $1::bigint AND l.image_name = $2"
			   " AND l.kind = 'private'", 2, p);
		if (!db_ok(r)) {
			rc = reason_fail(err, errlen, -EIO, "%s", db_pqmsg(d->conn, r));
			goto end_tx;
		}
		used = db_col_i64(r, 0, 0);
		if (used) {
			rc = reason_fail(err, errlen, -EBUSY,
				  "image %s is in use by %" PRId64 " LUN(s) of live or suspended"
				  " sessions", name, used);
			goto end_tx;
		}
		PQclear(r);
	}
	r = db_run(d, true, "DELETE FROM images WHERE account_id = $1::bigint AND name = $2", 2, p);
	if (!db_ok(r)) {
		rc = reason_fail(err, errlen, -EIO, "%s", db_pqmsg(d->conn, r));
		goto end_tx;
	}
end_tx:
	rc = db_tx_end(d, rc, r, err, errlen);
out:
	pthread_mutex_unlock(&d->mu);
	return rc;
}

#define IMAGE_COLS                                                                      \
	"account_id, name, url, coalesce(sha256, ''), size_bytes, state, bytes_done,"     \
	" bytes_total, error, extract(epoch FROM created_at)::bigint"

static void image_row(const PGresult *r, int i, struct db_image *im)
{
	const char *st = PQgetvalue(r, i, 5);

	memset(im, 0, sizeof(*im));
	im->account_id = db_col_i64(r, i, 0);
	db_col_str(r, i, 1, im->name, sizeof(im->name));
	im->url = db_col_dup(r, i, 2);
	db_col_str(r, i, 3, im->sha256, sizeof(im->sha256));
	im->size_bytes = (uint64_t)db_col_i64(r, i, 4);
	im->state = !strcmp(st, "ready") ? DB_IMAGE_READY :
		    !strcmp(st, "failed") ? DB_IMAGE_FAILED : DB_IMAGE_FETCHING;
	im->bytes_done = (uint64_t)db_col_i64(r, i, 6);
	im->bytes_total = (uint64_t)db_col_i64(r, i, 7);
	im->error = db_col_dup(r, i, 8);
	im->created_at = db_col_i64(r, i, 9);
}

int db_image_get(struct db *d, int64_t account_id, const char *name, struct db_image *out,
		 char *err, size_t errlen)
{
	char acct[24];
	const char *p[2] = { acct, name };
	PGresult *r;
	int rc;

	db_i64s(acct, sizeof(acct), account_id);
	r = db_query(d, "SELECT " IMAGE_COLS " FROM images WHERE account_id = $1::bigint AND name = $2",
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

	db_i64s(acct, sizeof(acct), account_id);
	n = db_query_rows(d,
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

	db_i64s(acct, sizeof(acct), account_id);
	r = db_query(d,
		     "SELECT coalesce(sum(size_bytes), 0) FROM images"
		     " WHERE account_id = $1::bigint AND state = 'ready'",
		     1, p, err, errlen, &rc);
	if (!r)
		return rc;
	*bytes = (uint64_t)db_col_i64(r, 0, 0);
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

const char *db_image_state_name(enum db_image_state st)
{
	return st == DB_IMAGE_READY ? "ready" : st == DB_IMAGE_FAILED ? "failed" : "fetching";
}
