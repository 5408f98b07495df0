/*
 * app_image.c — the service core's private images (see app.h): their files and IQN
 * credentials, fetches in worker threads within the account's budget (budget.h),
 * and deletes that wait for the image's connections to end.
 */
#include "app_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acctchap.h"
#include "cfgd_client.h"
#include "fetch.h"
#include "imageiqn.h"
#include "log.h"
#include "reason.h"
#include "statelayout.h"

int app_account_chap(struct app *a, const struct db_account *acct, bool rotate, char *user,
		     char *secret, char *err, size_t errlen)
{
	static const char alnum[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char rnd[2 * APP_ACCOUNT_SECRET_LEN];
	char fresh[APP_ACCOUNT_SECRET_LEN + 1], dir[PATH_MAX], stored[DB_CHAP_SECRET_MAX + 1];
	size_t n = 0;
	int rc;

	/* Bytes of 248 and above are dropped (248 = 4 * 62), so every character is
	 * equally likely: about 143 bits in 24 characters. */
	while (n < APP_ACCOUNT_SECRET_LEN) {
		if (app_random(rnd, sizeof(rnd)) < 0)
			return reason_fail(err, errlen, -EIO, "no random numbers");
		for (size_t i = 0; i < sizeof(rnd) && n < APP_ACCOUNT_SECRET_LEN; i++)
			if (rnd[i] < 248)
				fresh[n++] = alnum[rnd[i] % 62];
	}
	fresh[APP_ACCOUNT_SECRET_LEN] = '\0';
	rc = db_account_chap(a->db, acct->id, fresh, rotate, stored, err, errlen);
	if (rc < 0)
		return rc;
	if (app_images_dir(a, dir) < 0)
		return reason_fail(err, errlen, -ENAMETOOLONG, "state directory too long");
	rc = acctchap_write(dir, acct->id, acct->name, stored, err, errlen);
	if (rc < 0)
		return rc;
	snprintf(user, ACCTCHAP_USER_MAX + 1, "%s", acct->name);
	snprintf(secret, ACCTCHAP_SECRET_MAX + 1, "%s", stored);
	return 0;
}

/* One fetch, shared by the worker and the waiting request (refcounted). */
struct job {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;
	bool done;
	struct app *a;
	int64_t account_id;
	char name[DB_NAME_MAX + 1];
	char *url;
	char sha_want[DB_SHA_HEX + 1];
	char path[PATH_MAX];
	uint64_t cap;                /* --max-image-bytes */
	uint64_t budget;             /* the account's image budget */
	uint64_t held;               /* bytes held (budget.h), worker thread only */
	/* results */
	struct app_image_result res;
};

static void job_put(struct job *j)
{
	bool last;

	pthread_mutex_lock(&j->mu);
	last = --j->refs == 0;
	pthread_mutex_unlock(&j->mu);
	if (last) {
		pthread_mutex_destroy(&j->mu);
		pthread_cond_destroy(&j->cv);
		free(j->url);
		free(j);
	}
}

static void on_progress(void *arg, const struct fetch_progress *p)
{
	struct job *j = arg;

	db_image_progress(j->a->db, j->account_id, j->name, p->bytes_done, p->bytes_total);
}

static int on_reserve(void *arg, uint64_t bytes, char *err, size_t errlen)
{
	struct job *j = arg;

	return budget_grow(&j->a->budget, j->account_id, j->budget, &j->held, bytes, err,
			   errlen);
}

static void *fetch_worker(void *arg)
{
	struct job *j = arg;
	struct app_image_result *res = &j->res;
	struct fetch_policy pol = { .allow = &j->a->o.fetch_allow, .reserve = on_reserve,
				    .reserve_arg = j, .timeout_s = j->a->o.fetch_timeout };
	char err[512] = "", sha[DB_SHA_HEX + 1] = "";
	uint64_t size = 0, used = 0;
	bool remote;
	int rc;

	rc = fetch_image(j->url, j->path, &pol, j->sha_want[0] ? j->sha_want : NULL, j->cap,
			 on_progress, j, sha, &size, err, sizeof(err));
	if (rc == 0) {
		rc = db_image_ready(j->a->db, j->account_id, j->name, sha, size, &used, err,
				    sizeof(err));
		if (rc == 0) {
			res->status = 201;
			snprintf(res->sha256, sizeof(res->sha256), "%s", sha);
			res->size_bytes = size;
			plog("image %s of account %" PRId64 " ready: %" PRIu64 " bytes",
			     j->name, j->account_id, size);
		} else {
			unlink(j->path);
		}
	}
	budget_end(&j->a->budget, j->account_id, j->held, rc == 0 ? size : 0);
	/* The source's failures (fetch.h) keep a failed row the client can read; a
	 * mismatch, a refusal, too big, or a failure here (files, database) registers
	 * nothing. */
	remote = rc == -EREMOTEIO || rc == -EPROTO || rc == -EINVAL;
	if (rc < 0 && !remote)
		db_image_delete(j->a->db, j->account_id, j->name, false, NULL, 0);
	else if (rc < 0)
		db_image_fail(j->a->db, j->account_id, j->name, err);
	if (rc == -EBADMSG || rc == -EPERM) { /* sha256 mismatch; a non-public address */
		res->status = 422;
		snprintf(res->error, sizeof(res->error), "%.500s", err);
	} else if (rc == -EFBIG) {
		res->status = 413;
		snprintf(res->error, sizeof(res->error),
			 "image too large: over the server's limit of %" PRIu64 " bytes", j->cap);
	} else if (rc == -EDQUOT) {
		res->status = 413;
		snprintf(res->error, sizeof(res->error), "%.500s", err);
	} else if (remote) {
		res->status = 422;
		snprintf(res->error, sizeof(res->error), "cannot fetch the image: %.400s", err);
	} else if (rc < 0) {
		/* the reason may name server paths: it goes to the log only */
		res->status = 500;
		snprintf(res->error, sizeof(res->error), "storing the image failed on the "
			 "server (its log has the reason); nothing was registered");
		plog("image %s of account %" PRId64 ": storing it failed: %s", j->name,
		     j->account_id, err);
	}
	if (rc < 0 && res->status != 500) /* a 500's reason is logged above */
		plog("image %s of account %" PRId64 ": %s", j->name, j->account_id,
		     res->error);
	pthread_mutex_lock(&j->mu);
	j->done = true;
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->mu);
	job_put(j);
	return NULL;
}

static int mkdir_p(const char *dir, mode_t mode)
{
	char p[PATH_MAX];
	char *s;

	if (snprintf(p, sizeof(p), "%s", dir) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

void app_image_create(struct app *a, const struct db_account *acct, const char *name,
		      const char *url, const char *sha256, struct app_image_result *res)
{
	char dir[PATH_MAX], err[512] = "";
	char chap_user[ACCTCHAP_USER_MAX + 1], chap_secret[ACCTCHAP_SECRET_MAX + 1];
	struct timespec deadline;
	pthread_attr_t attr;
	pthread_t th;
	struct job *j;
	int rc;

	memset(res, 0, sizeof(*res));
	j = calloc(1, sizeof(*j));
	if (!j || !(j->url = strdup(url))) {
		free(j);
		res->status = 500;
		snprintf(res->error, sizeof(res->error), "out of memory");
		return;
	}
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv, NULL);
	j->refs = 1;
	j->a = a;
	j->account_id = acct->id;
	snprintf(j->name, sizeof(j->name), "%s", name);
	snprintf(j->sha_want, sizeof(j->sha_want), "%s", sha256 ? sha256 : "");
	j->budget = acct->image_budget_bytes;
	j->cap = a->o.max_image_bytes;
	snprintf(dir, sizeof(dir), "%.3900s/" STATE_IMAGES "/%" PRId64, a->o.state, acct->id);
	rc = app_image_path(a, acct->id, name, j->path, sizeof(j->path));
	if (rc == 0)
		rc = mkdir_p(dir, 0755);
	if (rc < 0) {
		res->status = 500;
		snprintf(res->error, sizeof(res->error), "image directory %.300s: %s", dir,
			 strerror(-rc));
		job_put(j);
		return;
	}
	/* The image's IQN takes the account's CHAP: made now if it has none, so the
	 * credentials file is there before the image is ready (issue 11). */
	rc = app_account_chap(a, acct, false, chap_user, chap_secret, err, sizeof(err));
	if (rc < 0) {
		res->status = 500;
		snprintf(res->error, sizeof(res->error), "iSCSI credentials: %.480s", err);
		job_put(j);
		return;
	}
	/* the budget is reserved before the row exists: a refusal registers nothing */
	rc = budget_begin(&a->budget, acct->id, j->budget, &j->held, err, sizeof(err));
	if (rc < 0) {
		res->status = rc == -EDQUOT ? 413 : rc == -EAGAIN ? 429 : rc == -EBUSY ? 503 : 500;
		snprintf(res->error, sizeof(res->error), "%s%.480s", res->status != 500 ? "" :
			 "database: ", err);
		job_put(j);
		return;
	}
	rc = db_image_begin(a->db, acct->id, name, url, sha256, err, sizeof(err));
	if (rc < 0) {
		budget_end(&a->budget, acct->id, j->held, 0);
		res->status = rc == -EEXIST ? 409 : 500;
		snprintf(res->error, sizeof(res->error), "%.500s", err);
		job_put(j);
		return;
	}
	j->refs = 2; /* worker + this request */
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&th, &attr, fetch_worker, j);
	pthread_attr_destroy(&attr);
	if (rc) {
		db_image_delete(a->db, acct->id, name, false, NULL, 0);
		budget_end(&a->budget, acct->id, j->held, 0);
		res->status = 503;
		snprintf(res->error, sizeof(res->error), "cannot start a fetch: %s", strerror(rc));
		j->refs = 1;
		job_put(j);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += a->o.fetch_wait;
	pthread_mutex_lock(&j->mu);
	while (!j->done && pthread_cond_timedwait(&j->cv, &j->mu, &deadline) != ETIMEDOUT)
		;
	if (j->done)
		*res = j->res;
	else
		res->status = 202;
	pthread_mutex_unlock(&j->mu);
	job_put(j);
}

/* -EBUSY (reason in err) while connections are logged in to the image's IQN, 0 when
 * none are, -errno when scsipub-cfgd cannot tell. */
static int image_connections(struct app *a, int64_t account_id, const char *name,
			     char *err, size_t errlen)
{
	char iqn[IMAGEIQN_MAX];
	int rc;

	if (!imageiqn_format(account_id, name, iqn, sizeof(iqn)))
		return 0;
	CFGD_DO(a, rc, err, errlen, cfgd_anon_count(fd, iqn, err, errlen));
	if (rc > 0)
		return reason_fail(err, errlen, -EBUSY, "image %s has %d iSCSI connection(s) "
				   "logged in to %s; log them out first (DELETE does not end "
				   "them)", name, rc, iqn);
	if (rc < 0)
		return reason_fail(err, errlen, rc, "asking scsipub-cfgd for connections to %s: "
				   "%s", iqn, err);
	return 0;
}

int app_image_delete(struct app *a, const struct db_account *acct, const char *name,
		     char *err, size_t errlen)
{
	char path[PATH_MAX];
	int rc;

	if (app_image_path(a, acct->id, name, path, sizeof(path)) < 0) {
		return reason_fail(err, errlen, -ENAMETOOLONG, "name too long");
	}
	rc = image_connections(a, acct->id, name, err, errlen);
	if (rc != 0)
		return rc;
	rc = db_image_delete(a->db, acct->id, name, true, err, errlen);
	if (rc < 0)
		return rc;
	if (unlink(path) < 0 && errno != ENOENT)
		plog("deleting %s: %s", path, strerror(errno));
	return 0;
}
