/*
 * certwatch.h — when to reload a certificate/key pair from its files, shared by the
 * portal's TLS listener (tls.c, OpenSSL) and the API's HTTPS listener
 * (api-server/https_cert.c, GnuTLS). It knows nothing of TLS libraries: the caller
 * passes a loader that builds its own objects from the two paths and swaps them in.
 *
 * Rules (one place for both listeners):
 *  - the files are looked at (stat: device, inode, size, mtime, ctime) at most once per
 *    reload interval; a change of any field of either file is a new version;
 *  - a new version is handed to the loader; when it loads, it is in service and its
 *    stamps are remembered; when it does not (or a file is missing), the previous
 *    version stays in service and the failure is reported once per version: later
 *    checks of the same broken files return the same error without calling the loader
 *    again, and a further change of the files is tried again.
 *
 * Not locked: the caller serialises calls on one struct certwatch (its own mutex).
 * Time is the caller's monotonic clock in seconds, so tests can drive it.
 */
#ifndef SCSIPUB_CERTWATCH_H
#define SCSIPUB_CERTWATCH_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* What identifies one version of a file. Private. */
struct certwatch_stamp {
	int err;                    /* stat's errno, 0 when the rest is valid */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

/* Fields are private; the struct is public so holders can embed it. */
struct certwatch {
	char cert[PATH_MAX], key[PATH_MAX];
	unsigned reload_s;
	int64_t last_check;                   /* monotonic seconds */
	struct certwatch_stamp cert_st, key_st;   /* the version in service */
	bool failed;                          /* fcert_st/fkey_st did not load */
	struct certwatch_stamp fcert_st, fkey_st;
	int fail_r;
};

/*
 * Build new objects from the files cert and key and put them in service (the loader
 * owns what it builds). 0, or a negative errno (-EPROTO: the TLS library refused the
 * certificate or key, -ENOMEM) with a one-line reason in err (errlen bytes); on
 * failure whatever was in service must stay.
 */
typedef int (*certwatch_load_fn)(void *arg, const char *cert, const char *key, char *err,
				 size_t errlen);

/*
 * Remember the paths and interval (reload_s >= 1 seconds; the first check is due at
 * now_s + reload_s), take the files' stamps, then call load once for the first
 * version (stamps first: a change during the load is seen by the next check).
 * key may be "" for "in cert's file". 0, or what load returned / -EINVAL (empty or too
 * long path, interval 0) with a reason in err.
 */
int certwatch_init(struct certwatch *w, const char *cert, const char *key, unsigned reload_s,
		   int64_t now_s, certwatch_load_fn load, void *arg, char *err, size_t errlen);

/*
 * Stat both files now; if either changed since the version in service (and since the
 * last failed attempt) call load. Returns 1 when the new version went into service,
 * 0 when nothing changed, or a negative errno when the changed files cannot be used
 * (stat's errno, or load's). err gets a one-line reason only the first time a
 * version fails (so the caller logs it once); otherwise err is "".
 */
int certwatch_check_now(struct certwatch *w, certwatch_load_fn load, void *arg, char *err,
			size_t errlen);

/*
 * certwatch_check_now if at least reload_s seconds passed since the last check (or
 * the clock went backwards), else 0 with err "".
 */
int certwatch_maybe(struct certwatch *w, int64_t now_s, certwatch_load_fn load, void *arg,
		    char *err, size_t errlen);

/*
 * A SHA-256 digest (n bytes) as upper-case hex pairs joined by ':' — what
 * `openssl x509 -fingerprint -sha256` prints — into out (len bytes, at least
 * 3 * n; truncated otherwise).
 */
void certwatch_hex_fingerprint(const unsigned char *md, size_t n, char *out, size_t len);

#endif
