/*
 * test_cert.h — certificates for the unit tests of the TLS listeners (the portal's
 * tls.c, the API's https_cert.c): a fresh P-256 key with a self-signed certificate,
 * and PEM files replaced atomically (write <path>.tmp, rename), as an operator or
 * provision.sh replaces them. Header-only; include after <cmocka.h>.
 */
#ifndef SCSIPUB_TEST_CERT_H
#define SCSIPUB_TEST_CERT_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/*
 * A new P-256 key and a certificate self-signed with it, common name cn, valid from
 * an hour ago for a day; with san_ip (e.g. "127.0.0.1") a subjectAltName IP entry.
 * The caller frees both (EVP_PKEY_free, X509_free).
 */
static inline void test_cert_make(const char *cn, const char *san_ip, EVP_PKEY **keyp,
				  X509 **xp)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;

	assert_non_null(key);
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(random() & 0x7fffffff));
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	assert_int_equal(X509_set_pubkey(x, key), 1);
	name = X509_get_subject_name(x);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
						    (const unsigned char *)cn, -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(x, name), 1);
	if (san_ip) {
		char san[64];
		X509V3_CTX v3;
		X509_EXTENSION *ext;

		snprintf(san, sizeof(san), "IP:%s", san_ip);
		X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
		ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
		assert_non_null(ext);
		assert_int_equal(X509_add_ext(x, ext, -1), 1);
		X509_EXTENSION_free(ext);
	}
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	*keyp = key;
	*xp = x;
}

/* The certificate's SHA-256 fingerprint as "AB:CD:..." (the portal's and the API's
 * log/status form) into fpr (len bytes). */
static inline void test_cert_fingerprint(X509 *x, char *fpr, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	size_t used = 0;

	assert_non_null(x);
	assert_int_equal(X509_digest(x, EVP_sha256(), md, &n), 1);
	fpr[0] = '\0';
	for (unsigned i = 0; i < n && used < len; i++)
		used += (size_t)snprintf(fpr + used, len - used, "%s%02X", i ? ":" : "", md[i]);
}

/* Replace path with key, certificate and/or text (each may be NULL), by rename. */
static inline void test_pem_replace(const char *path, EVP_PKEY *key, X509 *x,
				    const char *text)
{
	char tmp[PATH_MAX + 64];
	FILE *f;

	assert_true((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) < sizeof(tmp));
	f = fopen(tmp, "w");
	assert_non_null(f);
	if (key)
		assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
	if (x)
		assert_int_equal(PEM_write_X509(f, x), 1);
	if (text)
		fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, path), 0);
}

#endif
