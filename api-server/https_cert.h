/*
 * https_cert.h — the certificate of scsipub-api's HTTPS listener (GnuTLS, which is
 * what libmicrohttpd uses in Debian 12), reloaded from its files by the same rules
 * as the portal's TLS listener (common/certwatch.h): the files' metadata is
 * looked at at most once per reload interval; a changed pair that loads goes into
 * service for new TLS handshakes, one that does not (unparsable, missing, key not
 * matching the certificate) is logged once and the previous one stays.
 *
 * libmicrohttpd asks for the certificate in each handshake through GnuTLS's
 * retrieve callback (MHD_OPTION_HTTPS_CERT_CALLBACK), which carries no user pointer:
 * so one holder per process is "installed" (https_cert_install) and
 * https_cert_retrieve serves it. Certificates replaced by a reload are kept until the
 * holder is freed (a handshake in progress may still use them; a few KiB each, and
 * certificates change rarely).
 *
 * Thread-safe: the retrieve callback runs in MHD's connection threads while the main
 * thread calls https_cert_maybe_reload.
 */
#ifndef SCSIPUB_HTTPS_CERT_H
#define SCSIPUB_HTTPS_CERT_H

#include <stddef.h>
#include <stdint.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

/* "AB:CD:..." SHA-256 with NUL, as `openssl x509 -fingerprint -sha256` prints it. */
#define HTTPS_FINGERPRINT_LEN 96
/* GnuTLS priority string of the listener: TLS 1.2 and 1.3 only. */
#define HTTPS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

struct https_cert;

/*
 * Load cert_path (PEM certificate, optionally followed by its chain) and key_path
 * (PEM private key, unencrypted; "" = in cert_path's file). reload_s (>= 1, seconds)
 * is the least time between two looks at the files; now_s the current monotonic time
 * in seconds. Returns the holder (free with https_cert_free), or NULL with a one-line
 * reason in err (errlen bytes): unreadable file, no certificate, a key GnuTLS cannot
 * parse or one that does not match the certificate.
 */
struct https_cert *https_cert_new(const char *cert_path, const char *key_path,
				  unsigned reload_s, int64_t now_s, char *err, size_t errlen);

/* Free the holder and every certificate it ever loaded; uninstalls it. NULL ok. */
void https_cert_free(struct https_cert *h);

/*
 * If the reload interval passed since the last look (now_s: monotonic seconds), do
 * https_cert_check_now. Returns what that returned, or 0 when no look was due.
 */
int https_cert_maybe_reload(struct https_cert *h, int64_t now_s);

/*
 * Look at the files now; reload them if they changed. 1 = a new certificate is in
 * service (logged with its fingerprint), 0 = unchanged, negative errno = the changed
 * files cannot be used (logged once per change; the previous certificate stays).
 */
int https_cert_check_now(struct https_cert *h);

/* Fingerprint of the certificate in service into out (HTTPS_FINGERPRINT_LEN). 0/-ENOSPC. */
int https_cert_fingerprint(struct https_cert *h, char *out, size_t len);

/*
 * Make h the holder https_cert_retrieve serves (NULL uninstalls). -EBUSY when another
 * holder is installed; 0 otherwise.
 */
int https_cert_install(struct https_cert *h);

/*
 * gnutls_certificate_retrieve_function2 for MHD_OPTION_HTTPS_CERT_CALLBACK: the
 * installed holder's certificate chain and key (after a due reload look). -1 (the
 * handshake fails) when no holder is installed.
 */
int https_cert_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn,
			int nreqs, const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
			gnutls_pcert_st **pcert, unsigned int *pcert_length,
			gnutls_privkey_t *pkey);

#endif
