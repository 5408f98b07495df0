/*
 * prdb.c — pr_state rows in PostgreSQL through libpq (prdb.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aptpl.h"
#include "prdb.h"
#include "reason.h"

/* The first line of libpq's message for r (or the connection's). */
static const char *pgmsg(PGconn *db, const PGresult *r, char *buf, size_t len)
{
	const char *m = r ? PQresultErrorMessage(r) : PQerrorMessage(db);

	snprintf(buf, len, "%s", m && *m ? m : "unknown error");
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

int prdb_save(PGconn *db, const char *session_id, unsigned lun, uint32_t generation,
	      const char *aptpl, char *err, size_t errlen)
{
	char l[16], g[16], m[256];
	const char *p[4] = { session_id, l, g, aptpl };
	const char *state;
	PGresult *r;
	int rc = 0;

	snprintf(l, sizeof(l), "%u", lun);
	snprintf(g, sizeof(g), "%" PRIu32, generation);
	r = PQexecParams(db,
			 "INSERT INTO pr_state (session_id, lun, generation, aptpl) "
			 "VALUES ($1, $2, $3, $4) ON CONFLICT (session_id, lun) DO UPDATE "
			 "SET generation = EXCLUDED.generation, aptpl = EXCLUDED.aptpl, "
			 "updated_at = now()", 4, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		if (state && !strcmp(state, "23503")) /* foreign_key_violation */
			rc = reason_fail(err, errlen, -ENOENT, "session %s is gone", session_id);
		else
			rc = reason_fail(err, errlen, -EIO, "saving PR state of %s LUN %u: %s",
				    session_id, lun, pgmsg(db, r, m, sizeof(m)));
	}
	PQclear(r);
	return rc;
}

int prdb_load(PGconn *db, const char *session_id, unsigned n_luns, struct aptpl_state *st,
	      char *err, size_t errlen)
{
	const char *p[1] = { session_id };
	char m[256], why[256];
	PGresult *r;
	unsigned i;
	int rows, k, found = 0;

	for (i = 0; i < n_luns; i++)
		memset(&st[i], 0, sizeof(st[i]));
	r = PQexecParams(db, "SELECT lun, generation, aptpl FROM pr_state "
			 "WHERE session_id = $1 ORDER BY lun", 1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		reason_fail(err, errlen, -EIO, "loading PR state of %s: %s", session_id,
		       pgmsg(db, r, m, sizeof(m)));
		PQclear(r);
		return -EIO;
	}
	rows = PQntuples(r);
	for (k = 0; k < rows; k++) {
		unsigned long lun = strtoul(PQgetvalue(r, k, 0), NULL, 10);
		unsigned long long gen = strtoull(PQgetvalue(r, k, 1), NULL, 10);

		if (lun >= n_luns)
			continue; /* a LUN the session no longer has */
		if (aptpl_parse(PQgetvalue(r, k, 2), &st[lun], why, sizeof(why)) < 0) {
			reason_fail(err, errlen, -EINVAL, "stored PR state of %s LUN %lu: %s",
			       session_id, lun, why);
			for (i = 0; i < n_luns; i++)
				aptpl_state_free(&st[i]);
			PQclear(r);
			return -EINVAL;
		}
		st[lun].generation = (uint32_t)gen;
		found++;
	}
	PQclear(r);
	return found;
}

int prdb_delete(PGconn *db, const char *session_id, char *err, size_t errlen)
{
	const char *p[1] = { session_id };
	char m[256];
	PGresult *r;
	int rc;

	r = PQexecParams(db, "DELETE FROM pr_state WHERE session_id = $1", 1, NULL, p, NULL,
			 NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		rc = reason_fail(err, errlen, -EIO, "deleting PR state of %s: %s", session_id,
			    pgmsg(db, r, m, sizeof(m)));
	else
		rc = atoi(PQcmdTuples(r));
	PQclear(r);
	return rc;
}
