/*
 * capture.h — copy LIO's Persistent Reservation state of provisioned LUNs into
 * PostgreSQL (issue 4, docs/persistent-reservations.md).
 *
 * Source: <db_root>/pr/aptpl_<backstore>, which LIO rewrites inside every state-changing
 * PERSISTENT RESERVE OUT because prov.c sets attrib/force_pr_aptpl=1 (the unit serial
 * is the backstore name pv<id>l<N>), plus pr/res_pr_generation from configfs. A capture
 * reads generation, file, generation again (retrying while they move) so the pair is
 * consistent, and saves it with prdb_save when it differs from what this capturer saved
 * last. Only backstores that exist in configfs and are named pv<id>l<N> are captured.
 */
#ifndef SCSIPUB_CAPTURE_H
#define SCSIPUB_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

struct cfs;
struct prcap;

/*
 * A capturer reading APTPL files in pr_dir (<db_root>/pr) and configfs through c,
 * writing through db. All three stay owned by the caller and must outlive it.
 * NULL when out of memory.
 */
struct prcap *prcap_new(struct cfs *c, const char *pr_dir, PGconn *db);
/* Free p (NULL is ignored). */
void prcap_free(struct prcap *p);

/*
 * Capture backstore `name` (a file name "aptpl_<name>" is accepted too). Returns 1 when
 * a new state was saved, 0 when unchanged or not ours (not pv<id>l<N>, backstore or
 * file missing, session row gone), or a negative errno with a reason in err: -EINVAL
 * for a file that does not parse (nothing saved), -EFBIG for one over 4 MiB (APTPL_REGS_MAX
 * registrations of under 1 KiB each; nothing saved), -EIO for the database (retried by the
 * next call: the cache only moves after a successful save).
 */
int prcap_capture(struct prcap *p, const char *name, char *err, size_t errlen);

/*
 * Capture every aptpl_pv* file in pr_dir. *saved (may be NULL) gets the number of
 * states saved. Returns 0 or the first error (continuing past it).
 */
int prcap_scan(struct prcap *p, unsigned *saved, char *err, size_t errlen);

#endif
