/*
 * https_cert.c — the HTTPS listener's certificate holder on GnuTLS (see
 * https_cert.h); the reload rules are common/certwatch.c's.
 */
#include "https_cert.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "certwatch.h" /* common */
#include "log.h"
#include "monotime.h"

#define CHAIN_MAX 16   /* certificates in the chain file */

/* One loaded certificate chain and its key. */
struct gen {
	struct gen *older;          /* replaced ones, kept until the holder is freed */
	gnutls_pcert_st *pcert;
	unsigned n;
	gnutls_privkey_t key;
};

struct https_cert {
	pthread_mutex_t mu;
	struct certwatch w;
	struct gen *cur;            /* in service; NULL only before the first load */
	char fpr[HTTPS_FINGERPRINT_LEN];
};

static pthread_mutex_t installed_mu = PTHREAD_MUTEX_INITIALIZER;
static struct https_cert *installed;

static void gen_free(struct gen *g)
{
	if (!g)
		return;
	for (unsigned i = 0; i < g->n; i++)
		gnutls_pcert_deinit(&g->pcert[i]);
	free(g->pcert);
	if (g->key)
		gnutls_privkey_deinit(g->key);
	free(g);
}

/* The DER public key of pub into *out (gnutls_free), or a GnuTLS error. */
static int pub_der(gnutls_pubkey_t pub, gnutls_datum_t *out)
{
	return gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, out);
}

/* 0 when key is the private half of pcert's public key, else -EPROTO with err. */
static int key_matches(const gnutls_pcert_st *pc, gnutls_privkey_t key, const char *kpath,
		       const char *cpath, char *err, size_t errlen)
{
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t a = { 0 }, b = { 0 };
	int r = gnutls_pubkey_init(&pub);

	if (r == 0)
		r = gnutls_pubkey_import_privkey(pub, key, 0, 0);
	if (r == 0)
		r = pub_der(pub, &a);
	if (r == 0)
		r = pub_der(pc->pubkey, &b);
	if (r == 0 && (a.size != b.size || memcmp(a.data, b.data, a.size)))
		r = GNUTLS_E_CERTIFICATE_KEY_MISMATCH;
	if (r < 0)
		snprintf(err, errlen, "private key %s does not match certificate %s: %s", kpath,
			 cpath, gnutls_strerror(r));
	gnutls_free(a.data);
	gnutls_free(b.data);
	if (pub)
		gnutls_pubkey_deinit(pub);
	return r < 0 ? -EPROTO : 0;
}

/* Read the two PEM files into a new generation, or NULL with the reason in err. */
static struct gen *gen_load(const char *cpath, const char *kpath, int *rc, char *err,
			    size_t errlen)
{
	gnutls_datum_t cd = { 0 }, kd = { 0 };
	struct gen *g = calloc(1, sizeof(*g));
	unsigned n = CHAIN_MAX;
	int r;

	*rc = -ENOMEM;
	if (!g || !(g->pcert = calloc(CHAIN_MAX, sizeof(*g->pcert)))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	*rc = -EPROTO;
	r = gnutls_load_file(cpath, &cd);
	if (r < 0) {
		*rc = -EIO;
		snprintf(err, errlen, "certificate %s: %s", cpath, gnutls_strerror(r));
		goto fail;
	}
	r = gnutls_pcert_list_import_x509_raw(g->pcert, &n, &cd, GNUTLS_X509_FMT_PEM, 0);
	if (r < 0 || n == 0) {
		snprintf(err, errlen, "certificate %s: %s", cpath,
			 r < 0 ? gnutls_strerror(r) : "no certificate in the file");
		goto fail;
	}
	g->n = n;
	r = gnutls_load_file(kpath, &kd);
	if (r < 0) {
		*rc = -EIO;
		snprintf(err, errlen, "private key %s: %s", kpath, gnutls_strerror(r));
		goto fail;
	}
	r = gnutls_privkey_init(&g->key);
	if (r == 0)
		r = gnutls_privkey_import_x509_raw(g->key, &kd, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (r < 0) {
		snprintf(err, errlen, "private key %s: %s", kpath, gnutls_strerror(r));
		goto fail;
	}
	if (key_matches(&g->pcert[0], g->key, kpath, cpath, err, errlen) < 0)
		goto fail;
	gnutls_free(cd.data);
	gnutls_free(kd.data);
	*rc = 0;
	return g;
fail:
	gnutls_free(cd.data);
	gnutls_free(kd.data);
	gen_free(g);
	return NULL;
}

/* certwatch_load_fn: a new generation goes into service. */
static int load(void *arg, const char *cert, const char *key, char *err, size_t errlen)
{
	struct https_cert *h = arg;
	unsigned char md[32];
	struct gen *g;
	int rc;

	g = gen_load(cert, key, &rc, err, errlen);
	if (!g)
		return rc;
	h->fpr[0] = '\0';
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, g->pcert[0].cert.data, g->pcert[0].cert.size,
			     md) == 0)
		certwatch_hex_fingerprint(md, sizeof(md), h->fpr, sizeof(h->fpr));
	g->older = h->cur;
	h->cur = g;
	return 0;
}

/* "subject ..., expires ..." of the certificate in service. */
static void describe(struct https_cert *h, char *out, size_t len)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t dn = { 0 };
	char expires[64] = "?";
	time_t t;

	if (gnutls_x509_crt_init(&crt) == 0 &&
	    gnutls_x509_crt_import(crt, &h->cur->pcert[0].cert, GNUTLS_X509_FMT_DER) == 0) {
		gnutls_x509_crt_get_dn3(crt, &dn, 0);
		t = gnutls_x509_crt_get_expiration_time(crt);
		if (t != (time_t)-1)
			strftime(expires, sizeof(expires), "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
	}
	snprintf(out, len, "subject %s, expires %s, sha256 %s",
		 dn.data ? (const char *)dn.data : "?", expires, h->fpr);
	gnutls_free(dn.data);
	if (crt)
		gnutls_x509_crt_deinit(crt);
}

/* Log what a look at the files did; returns r. With h->mu held. */
static int report(struct https_cert *h, int r, const char *err)
{
	char about[768];

	if (r == 1) {
		describe(h, about, sizeof(about));
		plog("HTTPS certificate reloaded from %s (%s); new connections use it",
		     h->w.cert, about);
	} else if (r < 0 && err[0]) {
		plog("HTTPS certificate/key changed but cannot be used: %s; still serving the "
		     "previous certificate (sha256 %s)", err, h->fpr);
	}
	return r;
}

struct https_cert *https_cert_new(const char *cert_path, const char *key_path,
				  unsigned reload_s, int64_t now_s, char *err, size_t errlen)
{
	struct https_cert *h = calloc(1, sizeof(*h));

	if (!h) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (certwatch_init(&h->w, cert_path, key_path, reload_s, now_s, load, h, err,
			   errlen) < 0) {
		gen_free(h->cur);
		free(h);
		return NULL;
	}
	pthread_mutex_init(&h->mu, NULL);
	return h;
}

void https_cert_free(struct https_cert *h)
{
	struct gen *g, *older;

	if (!h)
		return;
	pthread_mutex_lock(&installed_mu);
	if (installed == h)
		installed = NULL;
	pthread_mutex_unlock(&installed_mu);
	for (g = h->cur; g; g = older) {
		older = g->older;
		gen_free(g);
	}
	pthread_mutex_destroy(&h->mu);
	free(h);
}

int https_cert_check_now(struct https_cert *h)
{
	char err[PATH_MAX + 1024];
	int r;

	pthread_mutex_lock(&h->mu);
	r = report(h, certwatch_check_now(&h->w, load, h, err, sizeof(err)), err);
	pthread_mutex_unlock(&h->mu);
	return r;
}

int https_cert_maybe_reload(struct https_cert *h, int64_t now_s)
{
	char err[PATH_MAX + 1024];
	int r;

	pthread_mutex_lock(&h->mu);
	r = report(h, certwatch_maybe(&h->w, now_s, load, h, err, sizeof(err)), err);
	pthread_mutex_unlock(&h->mu);
	return r;
}

int https_cert_fingerprint(struct https_cert *h, char *out, size_t len)
{
	int r = 0;

	pthread_mutex_lock(&h->mu);
	if (strlen(h->fpr) >= len)
		r = -ENOSPC;
	else
		strcpy(out, h->fpr);
	pthread_mutex_unlock(&h->mu);
	return r;
}

int https_cert_install(struct https_cert *h)
{
	int r = 0;

	pthread_mutex_lock(&installed_mu);
	if (h && installed && installed != h)
		r = -EBUSY;
	else
		installed = h;
	pthread_mutex_unlock(&installed_mu);
	return r;
}

int https_cert_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn,
			int nreqs, const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
			gnutls_pcert_st **pcert, unsigned int *pcert_length,
			gnutls_privkey_t *pkey)
{
	struct https_cert *h;
	int r = -1;

	(void)session;
	(void)req_ca_dn;
	(void)nreqs;
	(void)pk_algos;
	(void)pk_algos_length;
	pthread_mutex_lock(&installed_mu);
	h = installed;
	if (h) {
		char err[PATH_MAX + 1024];

		pthread_mutex_lock(&h->mu);
		report(h, certwatch_maybe(&h->w, monotime_s(), load, h, err, sizeof(err)), err);
		*pcert = h->cur->pcert;
		*pcert_length = h->cur->n;
		*pkey = h->cur->key;
		pthread_mutex_unlock(&h->mu);
		r = 0;
	}
	pthread_mutex_unlock(&installed_mu);
	return r;
}
