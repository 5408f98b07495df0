/*
 * anon.c — anonymous sessions: naming, provisioning through libcfs and teardown
 * (see anon.h).
 */
#include "anon.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
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

int anon_backstore_name(const char *initiator, const char *target,
			char out[ANON_BACKSTORE_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	if (!ctx)
		return -EIO;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
	     EVP_DigestUpdate(ctx, initiator, strlen(initiator)) &&
	     EVP_DigestUpdate(ctx, "\n", 1) &&
	     EVP_DigestUpdate(ctx, target, strlen(target)) &&
	     EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	if (!ok || mdlen < 8)
		return -EIO;
	memcpy(out, ANON_BACKSTORE_PREFIX, 2);
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 + 2 * i, 3, "%02x", md[i]);
	return 0;
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

static void remove_files(const struct anon_cfg *cfg, const struct anon_session *s)
{
	if (!cfg->keep_overlays) {
		unlink_quiet(s->overlay);
		unlink_quiet(s->bitmap);
	}
}

/* Remove what exists of s from configfs (and its files). */
static void teardown(struct cfs *c, const struct anon_cfg *cfg, const struct anon_session *s,
		     bool have_lun)
{
	if (cfs_acl_remove(c, s->target, s->initiator) < 0)
		plog("session %s: removing ACL %s: %s", s->backstore, s->initiator, cfs_error(c));
	if (have_lun && cfs_lun_remove(c, s->target, s->lun) < 0)
		plog("session %s: removing lun_%llu: %s", s->backstore,
		     (unsigned long long)s->lun, cfs_error(c));
	if (cfs_backstore_remove(c, s->backstore) < 0)
		plog("session %s: removing backstore: %s", s->backstore, cfs_error(c));
	remove_files(cfg, s);
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

static int provision(struct cfs *c, const struct anon_cfg *cfg, struct anon_session *s,
		     const struct catalog_entry *t, char *err, size_t errlen)
{
	struct cowstore b = { .name = s->backstore, .overlay = s->overlay, .bitmap = s->bitmap,
			      .base = t->path, .size_bytes = t->size_bytes,
			      .limit_bytes = cfg->write_limit, .serial = s->backstore };
	char dir[PATH_MAX];
	int r;

	r = overlay_dir(cfg->state_dir, dir, sizeof(dir));
	if (r < 0)
		return reason_fail(err, errlen, r, "overlay directory under %s: %s",
				   cfg->state_dir, strerror(-r));
	if ((size_t)snprintf(s->overlay, sizeof(s->overlay), "%s/%s.ovl", dir, s->backstore) >=
		    sizeof(s->overlay) ||
	    (size_t)snprintf(s->bitmap, sizeof(s->bitmap), "%s/%s.bitmap", dir, s->backstore) >=
		    sizeof(s->bitmap))
		return reason_fail(err, errlen, -ENAMETOOLONG, "overlay path too long");
	/* Files under a fresh name can only be kept ones: never hand them out. */
	if (access(s->overlay, F_OK) == 0 || access(s->bitmap, F_OK) == 0)
		return reason_fail(err, errlen, -EEXIST, "overlay %s exists", s->overlay);

	r = cfs_target_ensure(c, s->target, cfg->lio_portal);
	if (r < 0)
		return reason_fail(err, errlen, r, "target %s: %s", s->target, cfs_error(c));
	r = cowstore_create(c, &b, err, errlen);
	if (r < 0)
		goto files;
	r = cfs_lun_add(c, s->target, s->backstore, &s->lun);
	if (r < 0) {
		reason_fail(err, errlen, r, "LUN for %s: %s", s->backstore, cfs_error(c));
		cfs_backstore_remove(c, s->backstore);
		goto files;
	}
	r = cfs_acl_map(c, s->target, s->initiator, 0, s->lun);
	if (r == 0 && cfg->nopin_interval)
		r = cfs_acl_set_nopin(c, s->target, s->initiator, cfg->nopin_interval,
				      cfg->nopin_timeout);
	if (r < 0) {
		reason_fail(err, errlen, r, "ACL %s: %s", s->initiator, cfs_error(c));
		teardown(c, cfg, s, true);
		return r;
	}
	return 0;
files:
	remove_files(cfg, s);
	return r;
}

int anon_create(struct cfs *c, const struct anon_cfg *cfg, const struct catalog_entry *t,
		struct anon_session *s, char *err, size_t errlen)
{
	int r = -EEXIST, lock;

	memset(s, 0, sizeof(*s));
	snprintf(s->target, sizeof(s->target), "%s", t->iqn);
	s->size_bytes = t->size_bytes;
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
		r = provision(c, cfg, s, t, err, errlen);
	}
	prov_unlock(lock);
	return r;
}

void anon_destroy(struct cfs *c, const struct anon_cfg *cfg, const struct anon_session *s)
{
	int lock = cfg_lock(cfg->state_dir);

	teardown(c, cfg, s, true);
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

/* Names collected by a cfs_list_* callback. */
struct names {
	char (*v)[CATALOG_IQN_MAX + 1];
	size_t n, cap;
	int err;
};

static int names_add(const char *name, void *arg)
{
	struct names *l = arg;

	if (strlen(name) > CATALOG_IQN_MAX)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		char (*v)[CATALOG_IQN_MAX + 1] = realloc(l->v, cap * sizeof(*v));

		if (!v) {
			l->err = -ENOMEM;
			return 0;
		}
		l->v = v;
		l->cap = cap;
	}
	snprintf(l->v[l->n++], sizeof(l->v[0]), "%s", name);
	return 0;
}

static int anon_target_cb(const char *name, void *arg)
{
	size_t n = strlen(CATALOG_IQN_PREFIX);

	/* blank and image.<name>: ours and anonymous (s.<id> are provisioned) */
	if (!strncmp(name, CATALOG_IQN_PREFIX, n) &&
	    (!strcmp(name + n, "blank") || !strncmp(name + n, "image.", 6)))
		return names_add(name, arg);
	return 0;
}

int anon_sweep_acls(struct cfs *c, unsigned *removed)
{
	struct names t = { 0 };
	int first = 0, r;

	*removed = 0;
	r = cfs_list_targets(c, anon_target_cb, &t);
	if (r < 0 || t.err < 0) {
		free(t.v);
		return r < 0 ? r : t.err;
	}
	for (size_t i = 0; i < t.n; i++) {
		struct names a = { 0 };

		r = cfs_list_acls(c, t.v[i], names_add, &a);
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
		free(a.v);
	}
	free(t.v);
	return first;
}
