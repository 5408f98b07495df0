/*
 * db_priv.h — what the PostgreSQL store's files (db.c, db_image.c, db_session.c) share
 * beyond db.h: the connection and the helpers every statement goes through (db.c).
 * Statements run with PQexecParams and text parameters; a db_* function of db.h holds
 * d->mu for each statement, or across a transaction it began.
 */
#ifndef SCSIPUB_DB_PRIV_H
#define SCSIPUB_DB_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "db.h"

/* One connection to the server, shared by the API's threads under mu. */
struct db {
	PGconn *conn;
	pthread_mutex_t mu;
	char version[32];    /* "15.18" (SHOW server_version up to its first space) */
};

/*
 * The server's message for result r (or for connection c when r has none), without
 * its trailing newline, in a buffer of this thread's that the next call reuses.
 */
const char *db_pqmsg(PGconn *c, const PGresult *r);

/*
 * Run one statement with n text parameters; when the connection turned out broken and
 * we are not inside a transaction (in_tx false), reset it once and retry. Caller holds
 * d->mu and clears the result (PQclear), failed or not.
 */
PGresult *db_run(struct db *d, bool in_tx, const char *sql, int n, const char *const *params);

/* True when r is a success (a command or rows). */
bool db_ok(const PGresult *r);

/* The errno for failed result r: -EEXIST for a unique violation (SQLSTATE 23505),
 * else -EIO. */
int db_errno(const PGresult *r);

/* A statement without parameters or rows (BEGIN, COMMIT): 0 or -EIO with the reason.
 * Caller holds d->mu. */
int db_exec_simple(struct db *d, bool in_tx, const char *sql, char *err, size_t errlen);

/*
 * End the transaction a db_* call began (BEGIN; the caller holds d->mu): clear last
 * (the result of its last statement, failed or not; NULL when none is held), then
 * COMMIT when rc is 0, else ROLLBACK. Returns rc, or COMMIT's -EIO with the reason
 * in err.
 */
int db_tx_end(struct db *d, int rc, PGresult *last, char *err, size_t errlen);

/*
 * One statement under d->mu (taken here), its result checked: the result (the caller
 * clears it) with *rc 0, or NULL with *rc -EEXIST (unique violation) or -EIO and the
 * reason in err.
 */
PGresult *db_query(struct db *d, const char *sql, int n, const char *const *p, char *err,
		   size_t errlen, int *rc);

/* A statement whose result is not needed (an UPDATE): db_query without a reason.
 * 0, -EEXIST or -EIO. */
int db_command(struct db *d, const char *sql, int n, const char *const *p);

/*
 * Run sql (db_query) and decode every row into a calloc'd array of (rows + 1) elements
 * of size bytes each, row(r, i, element) filling one. *out gets the array (NULL on
 * error; the caller frees it). Returns the row count or a negative errno with a reason
 * in err.
 */
int db_query_rows(struct db *d, const char *sql, int np, const char *const *p, size_t size,
		  void (*row)(const PGresult *, int, void *), void **out, char *err,
		  size_t errlen);

/* Column col of row: as an integer (0 when NULL); as a string into buf (truncated; ""
 * when NULL); or a malloc'd copy (NULL when NULL, the caller frees it). */
int64_t db_col_i64(const PGresult *r, int row, int col);
void db_col_str(const PGresult *r, int row, int col, char *buf, size_t len);
char *db_col_dup(const PGresult *r, int row, int col);

/* A SHA-256 in hex (at most DB_SHA_HEX characters of in), lowercased into out. */
void db_lower_hex(const char *in, char out[DB_SHA_HEX + 1]);

/* A statement parameter's text: v in decimal; db_u64s caps it at INT64_MAX (bigint). */
void db_i64s(char *buf, size_t len, int64_t v);
void db_u64s(char *buf, size_t len, uint64_t v);

#endif
