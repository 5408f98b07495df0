/*
 * session.c — session naming, provisioning through libcfs and teardown (see
 * session.h).
 */
#include "session.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfs.h"
#include "cow_config.h"
#include "log.h"
#include "prov.h"

struct session {
	struct session *next;
	char name[SESSION_NAME_LEN + 1];
	char initiator[SESSION_ANON_NAME_LEN + 1]; /* the LIO name (ACL) */
	char client[256];                          /* what the client sent, for logs */
	char target[CATALOG_IQN_MAX + 1];
	char overlay[PATH_MAX];
	char bitmap[PATH_MAX];
	uint64_t lun;
};

struct session_mgr {
	pthread_mutex_t mu;
	struct cfs *cfs;
	char state_dir[PATH_MAX];
	char lio_portal[128];
	uint64_t write_limit;
	bool keep_overlays;
	unsigned nopin_interval, nopin_timeout;
	struct session *list;
	size_t count;
};

int session_name(const char *initiator, const char *target, char out[SESSION_NAME_LEN + 1])
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
	memcpy(out, SESSION_NAME_PREFIX, 2);
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 + 2 * i, 3, "%02x", md[i]);
	return 0;
}

int session_anon_name(char out[SESSION_ANON_NAME_LEN + 1])
{
	unsigned char r[16];
	size_t off = sizeof(SESSION_ANON_PREFIX) - 1;

	for (size_t got = 0; got < sizeof(r);) {
		ssize_t n = getrandom(r + got, sizeof(r) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		got += (size_t)n;
	}
	memcpy(out, SESSION_ANON_PREFIX, off);
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(out + off + 2 * i, 3, "%02x", r[i]);
	return 0;
}

struct session_mgr *session_mgr_new(const struct session_cfg *cfg)
{
	struct session_mgr *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	pthread_mutex_init(&m->mu, NULL);
	m->cfs = cfg->cfs;
	snprintf(m->state_dir, sizeof(m->state_dir), "%s", cfg->state_dir);
	snprintf(m->lio_portal, sizeof(m->lio_portal), "%s", cfg->lio_portal);
	m->write_limit = cfg->write_limit;
	m->keep_overlays = cfg->keep_overlays;
	m->nopin_interval = cfg->nopin_interval;
	m->nopin_timeout = cfg->nopin_timeout;
	return m;
}

static void unlink_quiet(const char *path)
{
	if (unlink(path) < 0 && errno != ENOENT)
		plog("cannot delete %s: %s", path, strerror(errno));
}

/* Remove what exists of s from configfs (and its files). Caller holds m->mu. */
static void teardown(struct session_mgr *m, struct session *s, bool have_lun)
{
	int r;

	r = cfs_acl_remove(m->cfs, s->target, s->initiator);
	if (r < 0)
		plog("session %s: removing ACL %s: %s", s->name, s->initiator, cfs_error(m->cfs));
	if (have_lun) {
		r = cfs_lun_remove(m->cfs, s->target, s->lun);
		if (r < 0)
			plog("session %s: removing lun_%llu: %s", s->name,
			     (unsigned long long)s->lun, cfs_error(m->cfs));
	}
	r = cfs_backstore_remove(m->cfs, s->name);
	if (r < 0)
		plog("session %s: removing backstore: %s", s->name, cfs_error(m->cfs));
	if (!m->keep_overlays) {
		unlink_quiet(s->overlay);
		unlink_quiet(s->bitmap);
	}
}

/*
 * flock(<state>/configfs.lock) shared with the api-server (prov.h), so the two
 * daemons never change configfs at once. Caller holds m->mu (one flock per process
 * at a time). Returns the lock fd, or -1 after logging (then it goes on unlocked:
 * the lock is coordination, not a reason to refuse an initiator).
 */
static int cfg_lock(struct session_mgr *m)
{
	int fd;

	if (mkdir(m->state_dir, 0755) < 0 && errno != EEXIST)
		plog("cannot create %s: %s", m->state_dir, strerror(errno));
	fd = prov_lock(m->state_dir);
	if (fd < 0) {
		plog("locking %s/%s: %s", m->state_dir, PROV_LOCK_FILE, strerror(-fd));
		return -1;
	}
	return fd;
}

static int overlay_dir(const char *state, char *buf, size_t len)
{
	if ((size_t)snprintf(buf, len, "%s/%s", state, SESSION_OVERLAY_SUBDIR) >= len)
		return -ENAMETOOLONG;
	if (mkdir(state, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int provision(struct session_mgr *m, struct session *s,
		     const struct catalog_entry *t, char *err, size_t errlen)
{
	struct cow_config cc;
	char dir[PATH_MAX], devcfg[COW_CONFIG_MAX + 1];
	int r;

	r = overlay_dir(m->state_dir, dir, sizeof(dir));
	if (r < 0) {
		snprintf(err, errlen, "overlay directory under %s: %s", m->state_dir, strerror(-r));
		return r;
	}
	if ((size_t)snprintf(s->overlay, sizeof(s->overlay), "%s/%s.ovl", dir, s->name) >=
		    sizeof(s->overlay) ||
	    (size_t)snprintf(s->bitmap, sizeof(s->bitmap), "%s/%s.bitmap", dir, s->name) >=
		    sizeof(s->bitmap)) {
		snprintf(err, errlen, "overlay path too long");
		return -ENAMETOOLONG;
	}
	/* Files under a fresh name can only be kept ones: never hand them out. */
	if (access(s->overlay, F_OK) == 0 || access(s->bitmap, F_OK) == 0) {
		snprintf(err, errlen, "overlay %s exists", s->overlay);
		return -EEXIST;
	}
	memset(&cc, 0, sizeof(cc));
	cc.size_bytes = t->size_bytes;
	cc.limit_bytes = m->write_limit;
	if (strlen(s->overlay) >= sizeof(cc.overlay) || strlen(s->bitmap) >= sizeof(cc.bitmap) ||
	    strlen(t->path) >= sizeof(cc.base)) {
		snprintf(err, errlen, "overlay or image path too long");
		return -ENAMETOOLONG;
	}
	strcpy(cc.overlay, s->overlay);
	strcpy(cc.bitmap, s->bitmap);
	strcpy(cc.base, t->path);
	r = cow_config_format(&cc, devcfg, sizeof(devcfg));
	if (r < 0) {
		snprintf(err, errlen, "dev_config: %s", strerror(-r));
		return r;
	}

	r = cfs_target_ensure(m->cfs, s->target, m->lio_portal);
	if (r < 0) {
		snprintf(err, errlen, "target %s: %s", s->target, cfs_error(m->cfs));
		return r;
	}
	r = cfs_backstore_create(m->cfs, s->name, t->size_bytes, devcfg, s->name);
	if (r < 0) {
		snprintf(err, errlen, "backstore %s: %s", s->name, cfs_error(m->cfs));
		cfs_backstore_remove(m->cfs, s->name);
		goto files;
	}
	r = cfs_lun_add(m->cfs, s->target, s->name, &s->lun);
	if (r < 0) {
		snprintf(err, errlen, "LUN for %s: %s", s->name, cfs_error(m->cfs));
		cfs_backstore_remove(m->cfs, s->name);
		goto files;
	}
	r = cfs_acl_map(m->cfs, s->target, s->initiator, 0, s->lun);
	if (r == 0 && m->nopin_interval)
		r = cfs_acl_set_nopin(m->cfs, s->target, s->initiator, m->nopin_interval,
				      m->nopin_timeout);
	if (r < 0) {
		snprintf(err, errlen, "ACL %s: %s", s->initiator, cfs_error(m->cfs));
		teardown(m, s, true);
		return r;
	}
	return 0;
files:
	if (!m->keep_overlays) {
		unlink_quiet(s->overlay);
		unlink_quiet(s->bitmap);
	}
	return r;
}

int session_acquire(struct session_mgr *m, const char *client_initiator,
		    const struct catalog_entry *t, const char *peer, struct session **out,
		    char *err, size_t errlen)
{
	struct session *s;
	int r = -EEXIST, lock;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snprintf(s->client, sizeof(s->client), "%s", client_initiator);
	snprintf(s->target, sizeof(s->target), "%s", t->iqn);
	pthread_mutex_lock(&m->mu);
	lock = cfg_lock(m);
	/* A fresh name; another one only if its files exist (kept overlays). */
	for (int tries = 0; tries < 3 && r == -EEXIST; tries++) {
		r = session_anon_name(s->initiator);
		if (r == 0)
			r = session_name(s->initiator, t->iqn, s->name);
		if (r < 0) {
			snprintf(err, errlen, "cannot make a session name: %s", strerror(-r));
			break;
		}
		r = provision(m, s, t, err, errlen);
	}
	prov_unlock(lock);
	if (r < 0) {
		pthread_mutex_unlock(&m->mu);
		free(s);
		return r;
	}
	s->next = m->list;
	m->list = s;
	m->count++;
	plog("session create: initiator %s (as %s) peer %s target %s backstore %s lun %llu "
	     "size %llu", s->client, s->initiator, peer, s->target, s->name,
	     (unsigned long long)s->lun, (unsigned long long)t->size_bytes);
	pthread_mutex_unlock(&m->mu);
	*out = s;
	return 0;
}

/* Unlink s from the list and destroy it. Caller holds m->mu. */
static void destroy(struct session_mgr *m, struct session *s, const char *peer)
{
	int lock;

	for (struct session **pp = &m->list; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	m->count--;
	lock = cfg_lock(m);
	teardown(m, s, true);
	prov_unlock(lock);
	plog("session destroy: initiator %s (as %s) peer %s target %s backstore %s%s",
	     s->client, s->initiator, peer, s->target, s->name,
	     m->keep_overlays ? " (overlay kept)" : "");
	free(s);
}

void session_release(struct session_mgr *m, struct session *s, const char *peer)
{
	if (!s)
		return;
	pthread_mutex_lock(&m->mu);
	destroy(m, s, peer);
	pthread_mutex_unlock(&m->mu);
}

const char *session_backstore(const struct session *s)
{
	return s->name;
}

const char *session_lio_initiator(const struct session *s)
{
	return s->initiator;
}

size_t session_count(struct session_mgr *m)
{
	size_t n;

	pthread_mutex_lock(&m->mu);
	n = m->count;
	pthread_mutex_unlock(&m->mu);
	return n;
}

void session_mgr_free(struct session_mgr *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	while (m->list)
		destroy(m, m->list, "shutdown");
	pthread_mutex_unlock(&m->mu);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

int session_clean_overlays(const char *state_dir)
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
