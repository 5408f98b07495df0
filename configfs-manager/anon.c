/*
 * anon.c — anonymous sessions: naming, provisioning through libcfs and teardown
 * (see anon.h).
 */
#include "anon.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfs.h"
#include "cowstore.h"
#include "log.h"
#include "prov.h"
#include "reason.h"

/* SHA-256 fetched from OpenSSL's providers once (an implicit fetch, as EVP_sha256()
 * makes, looks it up again at every digest); NULL when the fetch failed. */
static EVP_MD *sha256;

static void fetch_sha256(void)
{
	sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* prefix + 16 hex digits of SHA-256(parts[0] "\n" parts[1] ...) into out. 0 or -EIO. */
static int hash_name(const char *prefix, const char *const *parts, size_t n, char *out)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	size_t plen = strlen(prefix);
	int ok;

	pthread_once(&once, fetch_sha256);
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -EIO;
	ok = EVP_DigestInit_ex(ctx, sha256 ? sha256 : EVP_sha256(), NULL);
	for (size_t i = 0; ok && i < n; i++)
		ok = (!i || EVP_DigestUpdate(ctx, "\n", 1)) &&
		     EVP_DigestUpdate(ctx, parts[i], strlen(parts[i]));
	ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	if (!ok || mdlen < 8)
		return -EIO;
	memcpy(out, prefix, plen);
	for (int i = 0; i < 8; i++)
		snprintf(out + plen + 2 * i, 3, "%02x", md[i]);
	return 0;
}

int anon_backstore_name(const char *initiator, const char *target,
			char out[ANON_BACKSTORE_LEN + 1])
{
	const char *parts[] = { initiator, target };

	return hash_name(ANON_BACKSTORE_PREFIX, parts, 2, out);
}

/* The backstore of a private session's LUN i (LUN 0: anon_backstore_name). */
static int lun_backstore_name(const char *initiator, const char *target, unsigned i,
			      char out[ANON_BACKSTORE_LEN + 1])
{
	char num[16];
	const char *parts[] = { initiator, target, num };

	snprintf(num, sizeof(num), "%u", i);
	return hash_name(ANON_BACKSTORE_PREFIX, parts, i ? 3 : 2, out);
}

/* The one backstore of shared export target. */
static int shared_backstore_name(const char *target, char out[ANON_SHARED_LEN + 1])
{
	const char *parts[] = { "ro", target };

	return hash_name(ANON_SHARED_PREFIX, parts, 2, out);
}

int anon_initiator_name(char out[ANON_NAME_LEN + 1])
{
	unsigned char r[16];
	size_t off = sizeof(ANON_PREFIX) - 1;

	for (size_t got = 0; got < sizeof(r);) {
		ssize_t n = getrandom(r + got, sizeof(r) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		got += (size_t)n;
	}
	memcpy(out, ANON_PREFIX, off);
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(out + off + 2 * i, 3, "%02x", r[i]);
	return 0;
}

static void unlink_quiet(const char *path)
{
	if (unlink(path) < 0 && errno != ENOENT)
		plog("cannot delete %s: %s", path, strerror(errno));
}

/* <state>/overlays, created if missing, into buf. */
static int overlay_dir(const char *state, char *buf, size_t len)
{
	if ((size_t)snprintf(buf, len, "%s/%s", state, ANON_OVERLAY_SUBDIR) >= len)
		return -ENAMETOOLONG;
	if (mkdir(state, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Overlay and bitmap paths of backstore name (PATH_MAX bytes each). 0 or -errno. */
static int store_files(const struct anon_cfg *cfg, const char *name, char *ovl, char *bmp)
{
	char dir[PATH_MAX];
	int r = overlay_dir(cfg->state_dir, dir, sizeof(dir));

	if (r < 0)
		return r;
	if ((size_t)snprintf(ovl, PATH_MAX, "%s/%s.ovl", dir, name) >= PATH_MAX ||
	    (size_t)snprintf(bmp, PATH_MAX, "%s/%s.bitmap", dir, name) >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/* Delete backstore name's overlay and bitmap (kept with keep_overlays unless force). */
static void remove_files(const struct anon_cfg *cfg, const char *name, bool force)
{
	char ovl[PATH_MAX], bmp[PATH_MAX];

	if ((cfg->keep_overlays && !force) || store_files(cfg, name, ovl, bmp) < 0)
		return;
	unlink_quiet(ovl);
	unlink_quiet(bmp);
}

/*
 * Backstore name over image e (NULL base = blank) with its files, and a TPG LUN of
 * target linked to it into *lun; limit is the write limit in bytes (0 = none).
 * Refuses (-EEXIST) files that exist unless they may be replaced (fresh: shared
 * exports, whose files never hold data; their LU is write-protected, ro=1). On failure
 * nothing of it is left.
 */
static int store_and_lun(struct cfs *c, const struct anon_cfg *cfg, const char *target,
			 const char *name, const struct catalog_entry *e, uint64_t limit,
			 bool fresh, uint64_t *lun, char *err, size_t errlen)
{
	char ovl[PATH_MAX], bmp[PATH_MAX];
	/* A session's name is random and its files absent (checked below): new by
	 * construction. A shared export's name is the target's: looked for. */
	struct cowstore b = { .name = name, .overlay = ovl, .bitmap = bmp, .base = e->path,
			      .size_bytes = e->size_bytes, .limit_bytes = limit, .serial = name,
			      .read_only = fresh, .new_name = !fresh };
	int r;

	r = store_files(cfg, name, ovl, bmp);
	if (r < 0)
		return reason_fail(err, errlen, r, "overlay files of %s under %s: %s", name,
				   cfg->state_dir, strerror(-r));
	if (fresh) {
		unlink_quiet(ovl);
		unlink_quiet(bmp);
	} else if (access(ovl, F_OK) == 0 || access(bmp, F_OK) == 0) {
		/* Files under a fresh name can only be kept ones: never hand them out. */
		return reason_fail(err, errlen, -EEXIST, "overlay %s exists", ovl);
	}
	r = cowstore_create(c, &b, err, errlen);
	if (r == 0) {
		/* Explicit ACLs map each session's own LUN numbers: any free one will do. */
		r = cfs_lun_add_any(c, target, name, lun);
		if (r < 0) {
			reason_fail(err, errlen, r, "LUN for %s: %s", name, cfs_error(c));
			cfs_backstore_remove(c, name);
		}
	}
	if (r < 0)
		remove_files(cfg, name, fresh);
	return r;
}

/* Remove TPG LUN lun of target and backstore name, then its files. acl_gone: the only
 * ACL mapping the LUN was removed (no look at the other ACLs, cfs_lun_remove_unmapped). */
static void remove_lun_store(struct cfs *c, const struct anon_cfg *cfg, const char *target,
			     const char *name, uint64_t lun, bool force, bool acl_gone)
{
	if ((acl_gone ? cfs_lun_remove_unmapped(c, target, lun)
		      : cfs_lun_remove(c, target, lun)) < 0)
		plog("%s: removing lun_%llu of %s: %s", name, (unsigned long long)lun, target,
		     cfs_error(c));
	if (cfs_backstore_remove(c, name) < 0)
		plog("%s: removing backstore: %s", name, cfs_error(c));
	remove_files(cfg, name, force);
}

/* ---- shared read-only exports ---------------------------------------------- */

struct anon_export {
	struct anon_export *next;
	char target[CATALOG_IQN_MAX + 1];
	char backstore[ANON_SHARED_LEN + 1];
	uint64_t lun;              /* its TPG LUN */
	unsigned sessions;
};

struct anon_exports {
	struct anon_export *list;
};

struct anon_exports *anon_exports_new(void)
{
	return calloc(1, sizeof(struct anon_exports));
}

void anon_exports_free(struct anon_exports *ex)
{
	if (!ex)
		return;
	while (ex->list) {
		struct anon_export *e = ex->list;

		ex->list = e->next;
		free(e);
	}
	free(ex);
}

static struct anon_export **export_find(struct anon_exports *ex, const char *target)
{
	struct anon_export **pp;

	for (pp = &ex->list; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->target, target))
			break;
	return pp;
}

unsigned anon_exports_sessions(const struct anon_exports *ex, const char *target)
{
	for (const struct anon_export *e = ex ? ex->list : NULL; e; e = e->next)
		if (!strcmp(e->target, target))
			return e->sessions;
	return 0;
}

/* The export of t with one more session: its LIO objects are made if ex has none. */
static struct anon_export *export_acquire(struct cfs *c, const struct anon_cfg *cfg,
					  struct anon_exports *ex, const struct anontarget *t,
					  char *err, size_t errlen)
{
	struct anon_export **pp = export_find(ex, t->iqn), *e = *pp;
	int r;

	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e) {
			reason_fail(err, errlen, -ENOMEM, "out of memory");
			return NULL;
		}
		snprintf(e->target, sizeof(e->target), "%s", t->iqn);
		r = shared_backstore_name(t->iqn, e->backstore);
		if (r < 0)
			reason_fail(err, errlen, r, "cannot name the shared backstore");
		else
			/* A write-protected LU (WP bit, DATA PROTECT for writes) with a write
			 * limit of 1 byte besides: the handler refuses every write too (anon.h). */
			r = store_and_lun(c, cfg, t->iqn, e->backstore, &t->lun[0], 1, true,
					  &e->lun, err, errlen);
		if (r < 0) {
			free(e);
			return NULL;
		}
		*pp = e;
		plog("shared export %s: backstore %s over %s, lun_%llu", t->iqn, e->backstore,
		     t->lun[0].path, (unsigned long long)e->lun);
	}
	e->sessions++;
	return e;
}

/* One session fewer on export target; the last one removes its LIO objects. */
static void export_release(struct cfs *c, const struct anon_cfg *cfg, struct anon_exports *ex,
			   const char *target)
{
	struct anon_export **pp = export_find(ex, target), *e = *pp;

	if (!e || --e->sessions)
		return;
	*pp = e->next;
	remove_lun_store(c, cfg, target, e->backstore, e->lun, true, false);
	plog("shared export %s: last session gone, backstore %s removed", target, e->backstore);
	free(e);
}

/* ---- sessions -------------------------------------------------------------- */

/* An account image's target without ACLs (no session) is removed: an image can be
 * deleted or its account closed at any time, and nobody can log in to it without one. */
static void remove_if_idle(struct cfs *c, const char *target)
{
	unsigned n = 0;

	if (cfs_list_acls(c, target, cfs_names_count, &n) < 0 || n)
		return;
	if (cfs_target_remove(c, target) < 0)
		plog("%s: removing the idle target: %s", target, cfs_error(c));
}

/* Remove what exists of s from configfs (and its files). */
static void teardown(struct cfs *c, const struct anon_cfg *cfg, struct anon_exports *ex,
		     const struct anon_session *s)
{
	bool acl_gone = cfs_acl_remove(c, s->target, s->initiator) == 0;

	if (!acl_gone)
		plog("session %s: removing ACL %s: %s", s->backstore, s->initiator, cfs_error(c));
	if (s->kind == ANONTARGET_SHARED_RO) {
		if (s->n_luns)
			export_release(c, cfg, ex, s->target);
		return;
	}
	for (unsigned i = 0; i < s->n_luns; i++)
		remove_lun_store(c, cfg, s->target, s->luns[i].backstore, s->luns[i].lun, false,
				 acl_gone);
	if (s->kind == ANONTARGET_ACCOUNT)
		remove_if_idle(c, s->target);
}

/* flock(<state>/configfs.lock) (prov.h). -1 after logging: the lock is coordination,
 * not a reason to refuse an initiator. */
static int cfg_lock(const char *state_dir)
{
	int fd;

	if (mkdir(state_dir, 0755) < 0 && errno != EEXIST)
		plog("cannot create %s: %s", state_dir, strerror(errno));
	fd = prov_lock(state_dir);
	if (fd < 0) {
		plog("locking %s/%s: %s", state_dir, PROV_LOCK_FILE, strerror(-fd));
		return -1;
	}
	return fd;
}

/* The LUNs of s: private backstores and TPG LUNs, or the shared export's. */
static int make_luns(struct cfs *c, const struct anon_cfg *cfg, struct anon_exports *ex,
		     struct anon_session *s, const struct anontarget *t, char *err,
		     size_t errlen)
{
	int r;

	if (s->kind == ANONTARGET_SHARED_RO) {
		struct anon_export *e = export_acquire(c, cfg, ex, t, err, errlen);

		if (!e)
			return -EIO;
		snprintf(s->luns[0].backstore, sizeof(s->luns[0].backstore), "%s", e->backstore);
		s->luns[0].lun = e->lun;
		s->luns[0].size_bytes = t->lun[0].size_bytes;
		s->n_luns = 1;
		return 0;
	}
	for (unsigned i = 0; i < t->n_luns; i++) {
		struct anon_lun *l = &s->luns[i];

		r = lun_backstore_name(s->initiator, t->iqn, i, l->backstore);
		if (r < 0)
			return reason_fail(err, errlen, r, "cannot name LUN %u's backstore", i);
		r = store_and_lun(c, cfg, t->iqn, l->backstore, &t->lun[i], cfg->write_limit,
				  false, &l->lun, err, errlen);
		if (r < 0)
			return r;
		l->size_bytes = t->lun[i].size_bytes;
		s->n_luns = i + 1;
	}
	return 0;
}

/* The ACL of s mapping its LUNs (read-only for a shared export), with keepalive; an
 * account's image: with the account's CHAP, written before the portal relays a login. */
static int make_acl(struct cfs *c, const struct anon_cfg *cfg, const struct anon_session *s,
		    const struct anontarget *t)
{
	int r = 0;

	for (unsigned i = 0; r == 0 && i < s->n_luns; i++)
		r = cfs_acl_map(c, s->target, s->initiator, i, s->luns[i].lun);
	if (r == 0 && s->kind == ANONTARGET_ACCOUNT)
		r = cfs_acl_set_chap(c, s->target, s->initiator, t->chap_user, t->chap_secret);
	/* Born read-only (prod_mode_write_protect=1); set and read back all the same. */
	if (r == 0 && s->kind == ANONTARGET_SHARED_RO)
		r = cfs_acl_set_write_protect(c, s->target, s->initiator, 0, 1);
	if (r == 0 && cfg->nopin_interval)
		r = cfs_acl_set_nopin(c, s->target, s->initiator, cfg->nopin_interval,
				      cfg->nopin_timeout);
	return r;
}

static int provision(struct cfs *c, const struct anon_cfg *cfg, struct anon_exports *ex,
		     struct anon_session *s, const struct anontarget *t, char *err,
		     size_t errlen)
{
	int r;

	if (s->kind == ANONTARGET_SHARED_RO)
		r = cfs_target_ensure_ro(c, s->target, cfg->lio_portal);
	else if (s->kind == ANONTARGET_ACCOUNT)
		r = cfs_target_ensure_auth(c, s->target, cfg->lio_portal);
	else
		r = cfs_target_ensure(c, s->target, cfg->lio_portal);
	if (r < 0)
		return reason_fail(err, errlen, r, "target %s: %s", s->target, cfs_error(c));
	r = make_luns(c, cfg, ex, s, t, err, errlen);
	if (r == 0) {
		r = make_acl(c, cfg, s, t);
		if (r < 0)
			reason_fail(err, errlen, r, "ACL %s: %s", s->initiator, cfs_error(c));
	}
	if (r < 0) {
		teardown(c, cfg, ex, s);
		s->n_luns = 0;
	}
	return r;
}

int anon_create(struct cfs *c, const struct anon_cfg *cfg, struct anon_exports *ex,
		const struct anontarget *t, struct anon_session *s, char *err, size_t errlen)
{
	int r = -EEXIST, lock;

	memset(s, 0, sizeof(*s));
	if (!t->n_luns || t->n_luns > ANONTARGET_LUNS_MAX || t->kind == ANONTARGET_NONE ||
	    (t->kind == ANONTARGET_SHARED_RO && !ex))
		return reason_fail(err, errlen, -EINVAL, "target %s: nothing to export", t->iqn);
	if (t->kind == ANONTARGET_ACCOUNT && !acctchap_valid(t->chap_user, t->chap_secret))
		return reason_fail(err, errlen, -EINVAL, "target %s: no CHAP credentials", t->iqn);
	snprintf(s->target, sizeof(s->target), "%s", t->iqn);
	s->kind = t->kind;
	lock = cfg_lock(cfg->state_dir);
	/* A fresh name; another one only if its files exist (kept overlays). */
	for (int tries = 0; tries < 3 && r == -EEXIST; tries++) {
		r = anon_initiator_name(s->initiator);
		if (r == 0)
			r = anon_backstore_name(s->initiator, t->iqn, s->backstore);
		if (r < 0) {
			reason_fail(err, errlen, r, "cannot make a session name: %s", strerror(-r));
			break;
		}
		r = provision(c, cfg, ex, s, t, err, errlen);
	}
	prov_unlock(lock);
	return r;
}

void anon_destroy(struct cfs *c, const struct anon_cfg *cfg, struct anon_exports *ex,
		  const struct anon_session *s)
{
	int lock = cfg_lock(cfg->state_dir);

	teardown(c, cfg, ex, s);
	prov_unlock(lock);
}

int anon_clean_overlays(const char *state_dir)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int n = 0, r;

	r = overlay_dir(state_dir, dir, sizeof(dir));
	if (r < 0)
		return r;
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= sizeof(path))
			continue;
		if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && unlink(path) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static int anon_target_cb(const char *name, void *arg)
{
	/* blank, image.<name>, multi, ro.<name> (s.<id> are provisioned) */
	if (anontarget_kind(name) != ANONTARGET_NONE)
		return cfs_names_collect(name, arg);
	return 0;
}

int anon_sweep_acls(struct cfs *c, unsigned *removed)
{
	struct cfs_names t = { 0 };
	int first = 0, r;

	*removed = 0;
	r = cfs_list_targets(c, anon_target_cb, &t);
	if (r < 0 || t.err < 0) {
		cfs_names_free(&t);
		return r < 0 ? r : t.err;
	}
	for (size_t i = 0; i < t.n; i++) {
		struct cfs_names a = { 0 };

		r = cfs_list_acls(c, t.v[i], cfs_names_collect, &a);
		for (size_t j = 0; r == 0 && j < a.n; j++) {
			if (strncmp(a.v[j], ANON_PREFIX, sizeof(ANON_PREFIX) - 1))
				continue;
			r = cfs_acl_remove(c, t.v[i], a.v[j]);
			if (r == 0)
				(*removed)++;
			else if (!first)
				first = r;
			r = 0;
		}
		if (r < 0 && r != -ENOENT && !first)
			first = r;
		cfs_names_free(&a);
	}
	cfs_names_free(&t);
	return first;
}
