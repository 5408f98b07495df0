/*
 * certwatch.c — reload decisions for a certificate/key pair (see certwatch.h).
 */
#include "certwatch.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static void stamp_of(const char *path, struct certwatch_stamp *st)
{
	struct stat sb;

	memset(st, 0, sizeof(*st));
	if (stat(path, &sb) < 0) {
		st->err = errno ? errno : EIO;
		return;
	}
	st->dev = sb.st_dev;
	st->ino = sb.st_ino;
	st->size = sb.st_size;
	st->mtime = sb.st_mtim;
	st->ctime = sb.st_ctim;
}

static bool stamp_eq(const struct certwatch_stamp *a, const struct certwatch_stamp *b)
{
	return a->err == b->err && a->dev == b->dev && a->ino == b->ino &&
	       a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec && a->ctime.tv_sec == b->ctime.tv_sec &&
	       a->ctime.tv_nsec == b->ctime.tv_nsec;
}

int certwatch_init(struct certwatch *w, const char *cert, const char *key, unsigned reload_s,
		   int64_t now_s, certwatch_load_fn load, void *arg, char *err, size_t errlen)
{
	memset(w, 0, sizeof(*w));
	if (!key || !key[0])
		key = cert;
	if (!cert || !cert[0] || strlen(cert) >= sizeof(w->cert) ||
	    strlen(key) >= sizeof(w->key) || reload_s == 0) {
		snprintf(err, errlen, "TLS needs a certificate, a key and a reload interval "
			 ">= 1 s");
		return -EINVAL;
	}
	snprintf(w->cert, sizeof(w->cert), "%s", cert);
	snprintf(w->key, sizeof(w->key), "%s", key);
	w->reload_s = reload_s;
	w->last_check = now_s;
	stamp_of(w->cert, &w->cert_st);
	stamp_of(w->key, &w->key_st);
	return load(arg, w->cert, w->key, err, errlen);
}

int certwatch_check_now(struct certwatch *w, certwatch_load_fn load, void *arg, char *err,
			size_t errlen)
{
	struct certwatch_stamp cs, ks;
	int r;

	err[0] = '\0';
	stamp_of(w->cert, &cs);
	stamp_of(w->key, &ks);
	if (stamp_eq(&cs, &w->cert_st) && stamp_eq(&ks, &w->key_st))
		return 0;
	if (w->failed && stamp_eq(&cs, &w->fcert_st) && stamp_eq(&ks, &w->fkey_st))
		return w->fail_r; /* reported when it first failed */
	if (cs.err || ks.err) {
		r = -(cs.err ? cs.err : ks.err);
		snprintf(err, errlen, "%s: %s", cs.err ? w->cert : w->key, strerror(-r));
	} else {
		r = load(arg, w->cert, w->key, err, errlen);
		if (r == 0) {
			w->cert_st = cs;
			w->key_st = ks;
			w->failed = false;
			return 1;
		}
		if (r > 0)
			r = -EPROTO;
		if (!err[0])
			snprintf(err, errlen, "%s", strerror(-r));
	}
	w->failed = true;
	w->fcert_st = cs;
	w->fkey_st = ks;
	w->fail_r = r;
	return r;
}

int certwatch_maybe(struct certwatch *w, int64_t now_s, certwatch_load_fn load, void *arg,
		    char *err, size_t errlen)
{
	err[0] = '\0';
	if (now_s - w->last_check < (int64_t)w->reload_s && now_s >= w->last_check)
		return 0;
	w->last_check = now_s;
	return certwatch_check_now(w, load, arg, err, errlen);
}

void certwatch_hex_fingerprint(const unsigned char *md, size_t n, char *out, size_t len)
{
	size_t used = 0;

	if (!len)
		return;
	out[0] = '\0';
	for (size_t i = 0; i < n && used + 4 <= len; i++)
		used += (size_t)snprintf(out + used, len - used, "%s%02X", i ? ":" : "", md[i]);
}
