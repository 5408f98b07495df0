/*
 * app.c — the service core (see app.h): its setup, the connection to scsipub-cfgd,
 * the image files and the catalog. Provisioned sessions and their restore at start are
 * app_session.c's, the threads that watch them (watcher, janitor) app_watch.c's;
 * fetching, deleting and the credentials of private images are app_image.c's.
 */
#include "app_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "catalog.h"
#include "imageiqn.h"
#include "cfgd_client.h"
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
	budget_set_limits(&a->budget, a->o.max_fetches, a->o.max_account_fetches);
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
