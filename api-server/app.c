/*
 * app.c — the service core (see app.h): its setup, the connection to scsipub-cfgd,
 * the catalog, provisioned sessions, and the threads that watch them (watcher,
 * janitor) and restore them at start. Fetching, deleting and the credentials of
 * private images are app_image.c's.
 */
#include "app_priv.h"
#include "aptpl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "catalog.h"
#include "imageiqn.h"
#include "cfgd_client.h"
#include "log.h"
#include "prov.h"
#include "reason.h"
#include "monotime.h"

int app_random(void *buf, size_t n)
{
	unsigned char *p = buf;

	while (n) {
		ssize_t r = getrandom(p, n, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

void app_sha256_hex(const char *s, size_t len, char out[DB_SHA_HEX + 1])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	size_t i;

	EVP_Digest(s, len, md, &mdlen, EVP_sha256(), NULL);
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[DB_SHA_HEX] = '\0';
}

int app_name_valid(const char *s)
{
	return imageiqn_name_valid(s);
}

uint64_t app_uptime(const struct app *a)
{
	return (uint64_t)(monotime_s() - a->started_s);
}

/* budget.h's `used`: the account's ready images' bytes, from the database. */
static int ready_bytes(void *arg, int64_t account_id, uint64_t *used, char *err,
		       size_t errlen)
{
	struct app *a = arg;

	return db_image_used(a->db, account_id, used, err, errlen);
}

int app_init(struct app *a, const struct api_options *o, struct db *db, char *err,
	     size_t errlen)
{
	a->o = *o;
	a->db = db;
	a->cfgd_fd = -1;
	pthread_mutex_init(&a->cfgd_mu, NULL);
	pthread_mutex_init(&a->watch_mu, NULL);
	pthread_mutex_init(&a->stop_mu, NULL);
	pthread_cond_init(&a->stop_cv, NULL);
	budget_init(&a->budget, ready_bytes, a);
	a->started = time(NULL);
	a->started_s = monotime_s();
	if (o->catalog[0])
		snprintf(a->catalog_dir, sizeof(a->catalog_dir), "%s", o->catalog);
	else if (snprintf(a->catalog_dir, sizeof(a->catalog_dir), "%s/" STATE_CATALOG, o->state) >=
		 (int)sizeof(a->catalog_dir)) {
		return reason_fail(err, errlen, -ENAMETOOLONG, "state path too long");
	}
	if (o->public_addr[0]) {
		snprintf(a->public_addr, sizeof(a->public_addr), "%s", o->public_addr);
	} else {
		char host[256] = "localhost";

		gethostname(host, sizeof(host) - 1);
		snprintf(a->public_addr, sizeof(a->public_addr), "%.250s:3260", host);
	}
	if (o->admin_key_file[0]) {
		FILE *f = fopen(o->admin_key_file, "r");
		size_t n;

		if (!f) {
			return reason_fail(err, errlen, -errno, "admin key file %s: %s",
					   o->admin_key_file, strerror(errno));
		}
		n = fread(a->admin_key, 1, sizeof(a->admin_key) - 1, f);
		fclose(f);
		a->admin_key[n] = '\0';
		a->admin_key[strcspn(a->admin_key, "\r\n \t")] = '\0';
		if (strlen(a->admin_key) < 16) {
			return reason_fail(err, errlen, -EINVAL,
					   "admin key in %s: fewer than 16 characters",
					   o->admin_key_file);
		}
	}
	return 0;
}

void app_fini(struct app *a)
{
	if (a->threads) {
		pthread_mutex_lock(&a->stop_mu);
		a->stop = true;
		pthread_cond_broadcast(&a->stop_cv);
		pthread_mutex_unlock(&a->stop_mu);
		pthread_join(a->watcher, NULL);
		pthread_join(a->janitor, NULL);
		a->threads = false;
	}
	free(a->w);
	a->w = NULL;
	a->nw = 0;
	budget_fini(&a->budget);
	if (a->cfgd_fd >= 0)
		close(a->cfgd_fd);
	a->cfgd_fd = -1;
	db_close(a->db);
	a->db = NULL;
}

/* ---- scsipub-cfgd -------------------------------------------------------- */

bool app_cfgd_gone(int rc)
{
	return rc == -ECONNRESET || rc == -EPIPE || rc == -ENOTCONN || rc == -EBADF;
}

int app_cfgd_fd(struct app *a, bool fresh, char *err, size_t errlen)
{
	if (fresh && a->cfgd_fd >= 0) {
		close(a->cfgd_fd);
		a->cfgd_fd = -1;
	}
	if (a->cfgd_fd < 0)
		a->cfgd_fd = cfgd_connect(a->o.cfgd_socket, err, errlen);
	return a->cfgd_fd;
}

/* ---- image files ------------------------------------------------------------ */

int app_images_dir(const struct app *a, char *buf)
{
	int n = snprintf(buf, PATH_MAX, "%s/" STATE_IMAGES, a->o.state);

	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

int app_image_path(const struct app *a, int64_t account_id, const char *name, char *buf,
		   size_t len)
{
	char dir[PATH_MAX];
	int r = app_images_dir(a, dir);

	if (r == 0)
		r = imageiqn_path(dir, account_id, name, buf, len);
	return r == -EINVAL ? -ENAMETOOLONG : r;
}

/* ---- catalog ---------------------------------------------------------------- */

int app_catalog(struct app *a, struct app_catalog_item **out)
{
	struct catalog c = { 0 };
	size_t i, n = 0;
	int rc = catalog_scan(a->catalog_dir, &c);

	*out = NULL;
	if (rc < 0)
		return rc;
	*out = calloc(c.n + 1, sizeof(**out));
	if (!*out) {
		catalog_free(&c);
		return -ENOMEM;
	}
	for (i = 0; i < c.n; i++) {
		struct app_catalog_item *it = &(*out)[n];
		const char *iqn = c.v[i].iqn, *nm;

		if (!strcmp(iqn, CATALOG_BLANK_IQN))
			nm = "blank";
		else if (!strncmp(iqn, CATALOG_IMAGE_PREFIX, strlen(CATALOG_IMAGE_PREFIX)))
			nm = iqn + strlen(CATALOG_IMAGE_PREFIX);
		else
			continue;
		if (!app_name_valid(nm))
			continue;
		snprintf(it->name, sizeof(it->name), "%s", nm);
		snprintf(it->iqn, sizeof(it->iqn), "%s", iqn);
		snprintf(it->path, sizeof(it->path), "%s", c.v[i].path);
		it->size_bytes = c.v[i].size_bytes;
		n++;
	}
	catalog_free(&c);
	return (int)n;
}

/* ---- sessions --------------------------------------------------------------- */

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

static void watch_add(struct app *a, const char *id, bool had, int zero_ticks)
{
	struct app_watch *w;
	size_t i;

	pthread_mutex_lock(&a->watch_mu);
	for (i = 0; i < a->nw; i++)
		if (!strcmp(a->w[i].id, id))
			break;
	if (i == a->nw) {
		w = realloc(a->w, (a->nw + 1) * sizeof(*w));
		if (!w) {
			pthread_mutex_unlock(&a->watch_mu);
			return;
		}
		a->w = w;
		a->nw++;
		memset(&a->w[i], 0, sizeof(a->w[i]));
	}
	{
		/* the login counter's baseline survives a reset of the other fields */
		uint64_t logins = a->w[i].logins;
		bool known = a->w[i].logins_known;

		memset(&a->w[i], 0, sizeof(a->w[i]));
		a->w[i].logins = logins;
		a->w[i].logins_known = known;
	}
	snprintf(a->w[i].id, sizeof(a->w[i].id), "%s", id);
	a->w[i].had_conn = had;
	a->w[i].zero_ticks = zero_ticks;
	a->w[i].connections = -1;
	pthread_mutex_unlock(&a->watch_mu);
}

/* A target this process just made: its login counter starts from 0. */
static void watch_logins_from_zero(struct app *a, const char *id)
{
	size_t i;

	pthread_mutex_lock(&a->watch_mu);
	for (i = 0; i < a->nw; i++)
		if (!strcmp(a->w[i].id, id)) {
			a->w[i].logins = 0;
			a->w[i].logins_known = true;
		}
	pthread_mutex_unlock(&a->watch_mu);
}

static void watch_del(struct app *a, const char *id)
{
	size_t i;

	pthread_mutex_lock(&a->watch_mu);
	for (i = 0; i < a->nw; i++)
		if (!strcmp(a->w[i].id, id)) {
			a->w[i] = a->w[--a->nw];
			break;
		}
	pthread_mutex_unlock(&a->watch_mu);
}

int app_session_connections(struct app *a, const char *id)
{
	int c = -1;
	size_t i;

	pthread_mutex_lock(&a->watch_mu);
	for (i = 0; i < a->nw; i++)
		if (!strcmp(a->w[i].id, id))
			c = a->w[i].connections;
	pthread_mutex_unlock(&a->watch_mu);
	return c;
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
	watch_add(a, s.id, false, 0);
	watch_logins_from_zero(a, s.id);
	rc = prov_create_locked(a, &s, r.pl, err, sizeof(err));
	resolved_free(&r);
	if (rc < 0) {
		plog("session %s: configfs: %s", s.id, err);
		watch_del(a, s.id);
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
	watch_del(a, id);
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

/* ---- restore, watcher, janitor --------------------------------------------- */

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
		watch_add(a, s->id, s->state == DB_SESSION_LIVE,
			  s->state == DB_SESSION_LIVE ? -APP_RESTORE_GRACE_S : 0);
		ok++;
	}
	db_sessions_free(v, (size_t)n);
	plog("restored %d of %d session(s)", ok, n);
	return ok;
}

static void evict(struct app *a, const struct db_session *s, const char *why)
{
	char err[512];

	plog("session %s: %s", s->id, why);
	if (app_session_destroy(a, s->id, -1, err, sizeof(err)) < 0 &&
	    db_session_exists(a->db, s->id) == 1)
		plog("session %s: %s", s->id, err);
}

void app_watch_tick(struct app *a, time_t now)
{
	static unsigned tick;
	struct db_session *v = NULL;
	char err[512];
	int n, i;

	n = db_session_list(a->db, -1, &v, err, sizeof(err));
	if (n < 0) {
		plog("watcher: %s", err);
		return;
	}
	tick++;
	for (i = 0; i < n; i++) {
		struct db_session *s = &v[i];
		struct app_watch w = { .connections = -1 };
		bool relogin = false;
		uint64_t logins = 0, written = 0;
		int64_t lg = -1;
		int conns = -1, lr, rc;
		char why[256];
		size_t k;

		/* The daemon unreachable: conns stays -1, nothing is judged this tick. */
		CFGD_DO(a, rc, why, sizeof(why),
			cfgd_prov_status(fd, s->id, &conns, &lg, &written, why, sizeof(why)));
		if (rc < 0)
			conns = -1;
		lr = rc == 0 && lg >= 0 ? 0 : -1;
		logins = lg > 0 ? (uint64_t)lg : 0;
		pthread_mutex_lock(&a->watch_mu);
		for (k = 0; k < a->nw && strcmp(a->w[k].id, s->id); k++)
			;
		if (k < a->nw) {
			struct app_watch *e = &a->w[k];

			e->connections = conns;
			/*
			 * A login since the last tick counts as a connection even when it
			 * was over before dynamic_sessions could show it.
			 */
			if (lr == 0) {
				if (e->logins_known && logins > e->logins) {
					e->had_conn = true;
					relogin = true;
				}
				e->logins = logins;
				e->logins_known = true;
			}
			if (conns > 0) {
				e->had_conn = true;
				e->zero_ticks = 0;
			} else if (conns == 0 && e->had_conn) {
				e->zero_ticks++;
			}
			w = *e;
		}
		pthread_mutex_unlock(&a->watch_mu);
		if (k == a->nw) {
			/* a row made by another process (or before a failed restore) */
			watch_add(a, s->id, false, 0);
			continue;
		}
		if (conns < 0)
			continue; /* target missing or being made: nothing to judge */
		if ((conns > 0 || relogin) && s->state == DB_SESSION_SUSPENDED) {
			plog("session %s: reconnected, live again", s->id);
			db_session_set_state(a->db, s->id, DB_SESSION_LIVE);
			s->state = DB_SESSION_LIVE;
		}
		if (conns > 0) {
			/* live: nothing more to judge this tick */
		} else if (conns == 0 && w.had_conn && w.zero_ticks >= 2) {
			/* no connection for a whole tick after having had one */
			if (!s->persistent) {
				evict(a, s, "last connection closed: destroyed");
				continue;
			}
			if (s->state == DB_SESSION_LIVE) {
				plog("session %s: disconnected, suspended (ttl %d s)", s->id,
				     s->ttl_s);
				db_session_set_state(a->db, s->id, DB_SESSION_SUSPENDED);
				s->state = DB_SESSION_SUSPENDED;
				s->suspended_at = now;
			}
			watch_add(a, s->id, false, 0);
		} else if (conns == 0 && !w.had_conn) {
			if (s->state == DB_SESSION_SUSPENDED && now - s->suspended_at >= s->ttl_s) {
				evict(a, s, "suspended longer than its ttl: evicted");
				continue;
			}
			if (s->state == DB_SESSION_LIVE && now - s->created_at >= s->ttl_s) {
				evict(a, s, "never connected within its ttl: evicted");
				continue;
			}
		}
		if (tick % 10 == 0) /* this tick's prov_status answer (conns >= 0 here) */
			db_session_set_written(a->db, s->id, written);
	}
	/* forget sessions whose rows are gone */
	pthread_mutex_lock(&a->watch_mu);
	for (size_t k = 0; k < a->nw;) {
		bool found = false;

		for (i = 0; i < n && !found; i++)
			found = !strcmp(v[i].id, a->w[k].id);
		if (found)
			k++;
		else
			a->w[k] = a->w[--a->nw];
	}
	pthread_mutex_unlock(&a->watch_mu);
	db_sessions_free(v, (size_t)n);
}

/* The ids the daemon reports (cfgd_prov_list). */
struct idlist {
	char (*v)[PROV_ID_MAX + 1];
	size_t n, cap;
	bool oom;
};

static void id_add(void *arg, const char *id)
{
	struct idlist *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		char (*v)[PROV_ID_MAX + 1] = realloc(l->v, cap * sizeof(*v));

		if (!v) {
			l->oom = true;
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	snprintf(l->v[l->n++], sizeof(l->v[0]), "%s", id);
}

int app_janitor_pass(struct app *a, unsigned *removed)
{
	struct idlist ids = { 0 };
	char err[512] = "";
	unsigned n = 0;
	int rc;

	/* Every provisioned session the daemon finds (configfs and state directory) that
	 * no database row knows is removed; an id whose row cannot be read is kept. */
	CFGD_DO(a, rc, err, sizeof(err), cfgd_prov_list(fd, id_add, &ids, err, sizeof(err)));
	if (rc >= 0 && ids.oom) {
		rc = -ENOMEM;
		snprintf(err, sizeof(err), "out of memory");
	}
	for (size_t i = 0; rc >= 0 && i < ids.n; i++) {
		char why[512];
		int r;

		if (db_session_exists(a->db, ids.v[i]) != 0)
			continue;
		CFGD_DO(a, r, why, sizeof(why), cfgd_prov_destroy(fd, ids.v[i], why, sizeof(why)));
		if (r < 0)
			plog("janitor: session %s: %s", ids.v[i], why);
		else
			n++;
	}
	free(ids.v);
	if (rc > 0)
		rc = 0; /* cfgd_prov_list's count */
	if (rc < 0)
		plog("janitor: %s", err);
	if (n)
		plog("janitor: removed %u unknown session(s)", n);
	if (removed)
		*removed = n;
	return rc;
}

/* Sleep up to s seconds; true when asked to stop. */
static bool nap(struct app *a, unsigned s)
{
	struct timespec t;
	bool stop;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += s;
	pthread_mutex_lock(&a->stop_mu);
	while (!a->stop && pthread_cond_timedwait(&a->stop_cv, &a->stop_mu, &t) != ETIMEDOUT)
		;
	stop = a->stop;
	pthread_mutex_unlock(&a->stop_mu);
	return stop;
}

static void *watcher_main(void *arg)
{
	struct app *a = arg;

	while (!nap(a, 1))
		app_watch_tick(a, time(NULL));
	return NULL;
}

static void *janitor_main(void *arg)
{
	struct app *a = arg;

	while (!nap(a, a->o.janitor_interval))
		app_janitor_pass(a, NULL);
	return NULL;
}

int app_start_threads(struct app *a)
{
	int rc = pthread_create(&a->watcher, NULL, watcher_main, a);

	if (rc)
		return -rc;
	rc = pthread_create(&a->janitor, NULL, janitor_main, a);
	if (rc) {
		pthread_mutex_lock(&a->stop_mu);
		a->stop = true;
		pthread_cond_broadcast(&a->stop_cv);
		pthread_mutex_unlock(&a->stop_mu);
		pthread_join(a->watcher, NULL);
		return -rc;
	}
	a->threads = true;
	return 0;
}
