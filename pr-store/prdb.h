/*
 * prdb.h — Persistent Reservation state in PostgreSQL (issue 4,
 * docs/persistent-reservations.md): table pr_state (pr-store/schema/002_pr_state.sql, applied with the API's migrations),
 * one row per (session, LUN) holding LIO's APTPL text and the PRgeneration.
 *
 * Every function takes a connected PGconn (libpq) owned by the caller and is not
 * thread-safe for one connection. Errors: a negative errno with a one-line reason in
 * err (NUL-terminated, truncated to errlen; err may be NULL).
 */
#ifndef SCSIPUB_PRDB_H
#define SCSIPUB_PRDB_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

struct aptpl_state;

/*
 * Upsert the state of LUN lun of session session_id: aptpl (the kernel's text, not
 * parsed here) and generation. 0; -ENOENT when the session row does not exist (it was
 * deleted: nothing to keep); -EIO for any other database error.
 */
int prdb_save(PGconn *db, const char *session_id, unsigned lun, uint32_t generation,
	      const char *aptpl, char *err, size_t errlen);

/*
 * Load the state of session session_id's LUNs 0..n_luns-1 into st[0..n_luns) (each
 * emptied first; LUNs without a row stay empty). The text is parsed with aptpl_parse
 * and generation set; free each with aptpl_state_free. Returns the number of LUNs
 * that had a row, -EIO for a database error, -EINVAL when a stored text does not
 * parse (all st are emptied again).
 */
int prdb_load(PGconn *db, const char *session_id, unsigned n_luns, struct aptpl_state *st,
	      char *err, size_t errlen);

/* Delete session_id's rows (also done by ON DELETE CASCADE). Count deleted, or -EIO. */
int prdb_delete(PGconn *db, const char *session_id, char *err, size_t errlen);

#endif
