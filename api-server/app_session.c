/*
 * app_session.c — provisioned sessions (see app.h): their LUN images resolved
 * (private first, then the catalog), made and destroyed through scsipub-cfgd (and
 * put on or taken off the watch list, app_watchlist.c), and their restore at start
 * with their Persistent Reservation state.
 */
#include "app_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aptpl.h"
#include "cfgd_client.h"
#include "log.h"
#include "prov.h"
#include "reason.h"

struct resolved {
	struct prov_lun *pl;
	char (*paths)[PATH_MAX];
	struct db_lun *dl;
};

static void resolved_free(struct resolved *r)
{
	free(r->pl);
	free(r->paths);
	free(r->dl);
}

/*
 * Resolve LUN images for account_id: kinds given (restore) or chosen (private first,
 * then catalog). 0, or -ENOENT/-EAGAIN with a reason.
 */
static int resolve(struct app *a, int64_t account_id, const char *const *names,
		   const enum db_lun_kind *kinds, unsigned n, struct resolved *r, char *err,
		   size_t errlen)
{
	struct app_catalog_item *cat = NULL;
	int ncat = -1;
	unsigned i;
	int rc = 0;

	r->pl = calloc(n, sizeof(*r->pl));
	r->paths = calloc(n, sizeof(*r->paths));
	r->dl = calloc(n, sizeof(*r->dl));
	if (!r->pl || !r->paths || !r->dl) {
		return reason_fail(err, errlen, -ENOMEM, "out of memory");
	}
	for (i = 0; i < n && rc == 0; i++) {
		struct db_image im;
		bool found = false;

		r->dl[i].lun = i;
		snprintf(r->dl[i].image_name, sizeof(r->dl[i].image_name), "%s", names[i]);
		if (!kinds || kinds[i] == DB_LUN_PRIVATE) {
			rc = db_image_get(a->db, account_id, names[i], &im, NULL, 0);
			if (rc == 0) {
				bool ready = im.state == DB_IMAGE_READY;

				if (ready) {
					found = true;
					r->dl[i].kind = DB_LUN_PRIVATE;
					r->pl[i].size_bytes = im.size_bytes;
					app_image_path(a, account_id, names[i], r->paths[i],
						       sizeof(r->paths[i]));
					r->pl[i].base_path = r->paths[i];
				}
				db_image_clear(&im);
				if (!ready) {
					rc = reason_fail(err, errlen, -EAGAIN,
							 "image %s is not ready", names[i]);
					break;
				}
			} else if (rc != -ENOENT) {
				reason_fail(err, errlen, rc, "database error looking up %s",
					    names[i]);
				break;
			}
			rc = 0;
		}
		if (!found && (!kinds || kinds[i] == DB_LUN_CATALOG)) {
			int k;

			if (ncat < 0 && (ncat = app_catalog(a, &cat)) < 0) {
				rc = reason_fail(err, errlen, ncat, "catalog %s: %s",
						 a->catalog_dir, strerror(-ncat));
				break;
			}
			for (k = 0; k < ncat && !found; k++) {
				if (strcmp(cat[k].name, names[i]))
					continue;
				found = true;
				r->dl[i].kind = DB_LUN_CATALOG;
				r->pl[i].size_bytes = cat[k].size_bytes;
				snprintf(r->paths[i], sizeof(r->paths[i]), "%s", cat[k].path);
				r->pl[i].base_path = cat[k].path[0] ? r->paths[i] : NULL;
			}
		}
		if (!found) {
			rc = reason_fail(err, errlen, -ENOENT,
					 "no image named %s (neither a ready private image nor"
					 " in the catalog)", names[i]);
		}
	}
	free(cat);
	return rc;
}

static int prov_create_locked(struct app *a, const struct db_session *s,
			      const struct prov_lun *pl, char *err, size_t errlen)
{
	struct prov_session ps = { .id = s->id, .chap_user = s->chap_user,
				   .chap_secret = s->chap_secret, .luns = pl, .n_luns = s->n_luns,
				   .write_limit_bytes = a->o.lun_write_limit };
	int rc;

	CFGD_DO(a, rc, err, errlen, cfgd_prov_create(fd, &ps, err, errlen));
	return rc;
}

void app_session_create(struct app *a, const struct db_account *acct,
			const char *const *images, unsigned n, bool persistent, int32_t ttl_s,
			struct app_session_result *res)
{
	static const char alnum[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char rnd[APP_SESSION_ID_LEN / 2 + APP_CHAP_SECRET_LEN];
	struct db_session s = { 0 };
	struct resolved r = { 0 };
	char err[512] = "";
	unsigned i;
	int rc;

	memset(res, 0, sizeof(*res));
	if (n == 0 || n > PROV_LUNS_MAX) {
		res->status = 400;
		snprintf(res->error, sizeof(res->error), "images: 1 to %d names", PROV_LUNS_MAX);
		return;
	}
	rc = resolve(a, acct->id, images, NULL, n, &r, err, sizeof(err));
	if (rc < 0) {
		res->status = rc == -ENOENT || rc == -EAGAIN ? 422 : 500;
		snprintf(res->error, sizeof(res->error), "%.500s", err);
		resolved_free(&r);
		return;
	}
	if (app_random(rnd, sizeof(rnd)) < 0) {
		res->status = 500;
		snprintf(res->error, sizeof(res->error), "no randomness");
		resolved_free(&r);
		return;
	}
	for (i = 0; i < APP_SESSION_ID_LEN / 2; i++)
		snprintf(s.id + 2 * i, 3, "%02x", rnd[i]);
	for (i = 0; i < APP_CHAP_SECRET_LEN; i++)
		s.chap_secret[i] = alnum[rnd[APP_SESSION_ID_LEN / 2 + i] % (sizeof(alnum) - 1)];
	snprintf(s.chap_user, sizeof(s.chap_user), "u%s", s.id);
	s.account_id = acct->id;
	s.persistent = persistent;
	s.ttl_s = ttl_s;
	s.luns = r.dl;
	s.n_luns = n;
	rc = db_session_insert(a->db, &s, err, sizeof(err));
	if (rc < 0) {
		res->status = rc == -ENOENT ? 422 : 500;
		snprintf(res->error, sizeof(res->error), "%.500s", err);
		resolved_free(&r);
		return;
	}
	app_watch_add(a, s.id, false, 0);
	app_watch_logins_from_zero(a, s.id);
	rc = prov_create_locked(a, &s, r.pl, err, sizeof(err));
	resolved_free(&r);
	if (rc < 0) {
		plog("session %s: configfs: %s", s.id, err);
		app_watch_del(a, s.id);
		db_session_delete(a->db, s.id, NULL, 0);
		res->status = 500;
		snprintf(res->error, sizeof(res->error), "creating the target failed: %.400s", err);
		return;
	}
	res->status = 201;
	snprintf(res->id, sizeof(res->id), "%s", s.id);
	prov_target_iqn(s.id, res->iqn, sizeof(res->iqn));
	snprintf(res->chap_user, sizeof(res->chap_user), "%s", s.chap_user);
	snprintf(res->chap_secret, sizeof(res->chap_secret), "%.16s", s.chap_secret);
	res->lun_count = n;
	plog("session %s of account %s: %u LUN(s), %s, ttl %d s", s.id, acct->name, n,
	     persistent ? "persistent" : "non-persistent", ttl_s);
}

int app_session_destroy(struct app *a, const char *id, int64_t account_id, char *err,
			size_t errlen)
{
	struct db_session s;
	int rc;

	if (!prov_id_valid(id)) {
		return reason_fail(err, errlen, -ENOENT, "no session %s", id);
	}
	rc = db_session_get(a->db, id, account_id, &s, err, errlen);
	if (rc < 0)
		return rc;
	db_session_clear(&s);
	CFGD_DO(a, rc, err, errlen, cfgd_prov_destroy(fd, id, err, errlen));
	if (rc < 0) {
		plog("session %s: destroy: %s", id, err);
		return rc;
	}
	app_watch_del(a, id);
	rc = db_session_delete(a->db, id, err, errlen);
	return rc == -ENOENT ? 0 : rc;
}

uint64_t app_session_written(struct app *a, const char *id)
{
	char err[256];
	uint64_t written = 0;
	int64_t logins;
	int conns, rc;

	if (!prov_id_valid(id))
		return 0;
	CFGD_DO(a, rc, err, sizeof(err),
		cfgd_prov_status(fd, id, &conns, &logins, &written, err, sizeof(err)));
	return rc < 0 ? 0 : written;
}

/* ---- restore ---------------------------------------------------------------- */

int app_restore(struct app *a)
{
	struct db_image *im = NULL;
	struct db_session *v = NULL;
	char err[512];
	int n, i, ok = 0;

	n = db_image_list(a->db, -1, &im, err, sizeof(err));
	for (i = 0; i < n; i++)
		if (im[i].state == DB_IMAGE_FETCHING)
			db_image_fail(a->db, im[i].account_id, im[i].name,
				      "interrupted by a restart of scsipub-api");
	if (n >= 0)
		db_images_free(im, (size_t)n);
	n = db_session_list(a->db, -1, &v, err, sizeof(err));
	if (n < 0) {
		plog("restore: %s", err);
		return n;
	}
	for (i = 0; i < n; i++) {
		struct db_session *s = &v[i];
		const char **names = calloc(s->n_luns + 1, sizeof(*names));
		enum db_lun_kind *kinds = calloc(s->n_luns + 1, sizeof(*kinds));
		struct resolved r = { 0 };
		struct aptpl_state *prs = NULL;
		unsigned k;
		int rc = -ENOMEM;

		if (names && kinds) {
			for (k = 0; k < s->n_luns; k++) {
				names[k] = s->luns[k].image_name;
				kinds[k] = s->luns[k].kind;
			}
			rc = s->n_luns ? resolve(a, s->account_id, names, kinds, s->n_luns, &r,
						 err, sizeof(err)) : -EINVAL;
			/* PR state must come back with the target (SPC-4 §5.12.1): a session
			 * whose state cannot be read is not restored (retried next start). */
			if (rc == 0 && !(prs = calloc(s->n_luns, sizeof(*prs))))
				rc = -ENOMEM;
			if (rc == 0 && (rc = db_pr_load(a->db, s->id, s->n_luns, prs, err,
							sizeof(err))) > 0)
				plog("session %s: restoring Persistent Reservation state of %d "
				     "LUN(s)", s->id, rc);
			if (rc >= 0) {
				for (k = 0; k < s->n_luns; k++)
					r.pl[k].pr = &prs[k];
				rc = prov_create_locked(a, s, r.pl, err, sizeof(err));
			}
		}
		for (k = 0; prs && k < s->n_luns; k++)
			aptpl_state_free(&prs[k]);
		free(prs);
		free(names);
		free(kinds);
		resolved_free(&r);
		if (rc < 0) {
			plog("restore of session %s failed: %s", s->id,
			     rc == -ENOMEM ? "out of memory" : err);
			continue;
		}
		/* a restored live session had a connection: give its initiator time */
		app_watch_add(a, s->id, s->state == DB_SESSION_LIVE,
			  s->state == DB_SESSION_LIVE ? -APP_RESTORE_GRACE_S : 0);
		ok++;
	}
	db_sessions_free(v, (size_t)n);
	plog("restored %d of %d session(s)", ok, n);
	return ok;
}
