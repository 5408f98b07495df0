/*
 * tls.c — the TLS listener's certificate holder and the struct pio over an SSL
 * (see tls.h).
 */
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "certwatch.h"
#include "log.h"
#include "monotime.h"

#define SHUTDOWN_WAIT_MS 1000   /* close_notify on a full non-blocking socket */

struct tls_server {
	pthread_mutex_t mu;
	SSL_CTX *ctx;               /* in service; one reference held here */
	struct certwatch w;         /* when to reload (certwatch.h) */
	char fpr[TLS_FINGERPRINT_LEN];
};

/* ---- errors ---- */

/* OpenSSL's queued errors (this thread) as "reason; reason" into buf; clears them. */
static void ssl_errors(char *buf, size_t len)
{
	unsigned long e;
	size_t used = 0;

	buf[0] = '\0';
	while ((e = ERR_get_error()) != 0) {
		char one[256];

		ERR_error_string_n(e, one, sizeof(one));
		if (used + 3 < len) {
			snprintf(buf + used, len - used, "%s%s", used ? "; " : "", one);
			used = strlen(buf);
		}
	}
	if (!buf[0])
		snprintf(buf, len, "unknown OpenSSL error");
}

/* ---- certificate holder ---- */

/* Never prompt on a terminal for an encrypted key: refuse it. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return 0;
}

static void fingerprint(X509 *x, char *out, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	out[0] = '\0';
	if (x && X509_digest(x, EVP_sha256(), md, &n))
		certwatch_hex_fingerprint(md, n, out, len);
}

/* A server context from the two files, or NULL with the reason in err. */
static SSL_CTX *build_ctx(const char *cert, const char *key, char *err, size_t errlen)
{
	char why[512];
	SSL_CTX *ctx;

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		ssl_errors(why, sizeof(why));
		snprintf(err, errlen, "creating a TLS context: %s", why);
		return NULL;
	}
	/* TLS 1.2 and 1.3 only; no renegotiation, no session tickets or cache. */
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION)) {
		ssl_errors(why, sizeof(why));
		snprintf(err, errlen, "limiting TLS versions to 1.2-1.3: %s", why);
		SSL_CTX_free(ctx);
		return NULL;
	}
	/*
	 * SSL_OP_ENABLE_KTLS: once the handshake is done OpenSSL hands the keys to
	 * the kernel's tls module where it can (OpenSSL 3.0: sending, and receiving
	 * for TLS 1.2), and stays in user space otherwise (no module, a cipher the
	 * kernel lacks): pio_tls_splice_fd tells which.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
			    SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_ENABLE_KTLS);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		ssl_errors(why, sizeof(why));
		snprintf(err, errlen, "certificate %s: %s", cert, why);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		unsigned long e = ERR_peek_last_error();
		bool mismatch = ERR_GET_LIB(e) == ERR_LIB_X509 &&
				ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH;

		ssl_errors(why, sizeof(why));
		if (mismatch)
			snprintf(err, errlen, "private key %s does not match certificate %s: %s",
				 key, cert, why);
		else
			snprintf(err, errlen, "private key %s: %s", key, why);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ssl_errors(why, sizeof(why));
		snprintf(err, errlen, "private key %s does not match certificate %s: %s", key,
			 cert, why);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* One line about the certificate in ctx: subject, expiry, fingerprint. */
static void describe(SSL_CTX *ctx, const char *fpr, char *out, size_t len)
{
	X509 *x = SSL_CTX_get0_certificate(ctx);
	char subject[256] = "?", expires[64] = "?";

	if (x) {
		BIO *b = BIO_new(BIO_s_mem());

		X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject));
		if (b && ASN1_TIME_print(b, X509_get0_notAfter(x)) == 1) {
			int n = BIO_read(b, expires, sizeof(expires) - 1);

			expires[n > 0 ? n : 0] = '\0';
		}
		BIO_free(b);
	}
	snprintf(out, len, "subject %s, expires %s, sha256 %s", subject, expires, fpr);
}

/* certwatch_load_fn: a new SSL_CTX from the files replaces the one in service. */
static int load_ctx(void *arg, const char *cert, const char *key, char *err, size_t errlen)
{
	struct tls_server *ts = arg;
	SSL_CTX *ctx = build_ctx(cert, key, err, errlen);

	if (!ctx)
		return -EPROTO;
	SSL_CTX_free(ts->ctx); /* live connections hold their own references */
	ts->ctx = ctx;
	fingerprint(SSL_CTX_get0_certificate(ctx), ts->fpr, sizeof(ts->fpr));
	return 0;
}

struct tls_server *tls_server_new(const char *cert_path, const char *key_path,
				  unsigned reload_s, int64_t now_s, char *err, size_t errlen)
{
	struct tls_server *ts = calloc(1, sizeof(*ts));

	if (!ts) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (!key_path[0] || certwatch_init(&ts->w, cert_path, key_path, reload_s, now_s,
					   load_ctx, ts, err, errlen) < 0) {
		if (!key_path[0])
			snprintf(err, errlen, "TLS needs a certificate, a key and a reload "
				 "interval >= 1 s");
		SSL_CTX_free(ts->ctx);
		free(ts);
		return NULL;
	}
	pthread_mutex_init(&ts->mu, NULL);
	return ts;
}

void tls_server_free(struct tls_server *ts)
{
	if (!ts)
		return;
	SSL_CTX_free(ts->ctx);
	pthread_mutex_destroy(&ts->mu);
	free(ts);
}

/* Log what a check of the files did (r: certwatch's result, err: its reason). */
static int report(struct tls_server *ts, int r, const char *err)
{
	char about[512];

	if (r == 1) {
		describe(ts->ctx, ts->fpr, about, sizeof(about));
		plog("TLS certificate reloaded from %s (%s); new connections use it, "
		     "live ones keep theirs", ts->w.cert, about);
	} else if (r < 0 && err[0]) {
		plog("TLS certificate/key changed but cannot be used: %s; still serving the "
		     "previous certificate (sha256 %s)", err, ts->fpr);
	}
	return r;
}

int tls_server_check_now(struct tls_server *ts)
{
	char err[PATH_MAX + 1024];
	int r;

	pthread_mutex_lock(&ts->mu);
	r = report(ts, certwatch_check_now(&ts->w, load_ctx, ts, err, sizeof(err)), err);
	pthread_mutex_unlock(&ts->mu);
	return r;
}

/* With ts->mu held. */
static int maybe_locked(struct tls_server *ts, int64_t now_s)
{
	char err[PATH_MAX + 1024];

	return report(ts, certwatch_maybe(&ts->w, now_s, load_ctx, ts, err, sizeof(err)), err);
}

int tls_server_maybe_reload(struct tls_server *ts, int64_t now_s)
{
	int r;

	pthread_mutex_lock(&ts->mu);
	r = maybe_locked(ts, now_s);
	pthread_mutex_unlock(&ts->mu);
	return r;
}

SSL_CTX *tls_server_ctx(struct tls_server *ts, int64_t now_s)
{
	SSL_CTX *ctx;

	pthread_mutex_lock(&ts->mu);
	maybe_locked(ts, now_s);
	ctx = ts->ctx;
	SSL_CTX_up_ref(ctx);
	pthread_mutex_unlock(&ts->mu);
	return ctx;
}

int tls_server_fingerprint(struct tls_server *ts, char *out, size_t len)
{
	int r = 0;

	pthread_mutex_lock(&ts->mu);
	if (strlen(ts->fpr) >= len)
		r = -ENOSPC;
	else
		strcpy(out, ts->fpr);
	pthread_mutex_unlock(&ts->mu);
	return r;
}

/* ---- struct pio over an SSL ---- */

static int set_fd_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
	return fcntl(fd, F_SETFL, fl) < 0 ? -errno : 0;
}

/*
 * Map the result n of SSL_read/SSL_write/SSL_shutdown to the pio convention
 * (errno_after: errno right after the call). *wants gets the poll events a retry
 * waits for.
 */
static ssize_t io_result(struct pio_tls *t, int n, int errno_after, short *wants)
{
	switch (SSL_get_error(t->ssl, n)) {
	case SSL_ERROR_ZERO_RETURN: /* close_notify, or EOF (SSL_OP_IGNORE_UNEXPECTED_EOF) */
		return 0;
	case SSL_ERROR_WANT_READ:
		*wants = POLLIN;
		return t->nonblock ? -EAGAIN : -ETIMEDOUT;
	case SSL_ERROR_WANT_WRITE:
		*wants = POLLOUT;
		return t->nonblock ? -EAGAIN : -ETIMEDOUT;
	case SSL_ERROR_SYSCALL:
		t->failed = 1;
		ERR_clear_error();
		return errno_after ? -errno_after : -EPIPE;
	default:
		t->failed = 1;
		ERR_clear_error();
		return -EPROTO;
	}
}

/*
 * One SSL_read into rd, or (rd == NULL) one SSL_write from wr, with the pio result
 * convention; a signal interrupting a blocking call is retried. For a write, the
 * peer's close_notify ends our writing too (-EPIPE).
 */
static ssize_t tls_io(struct pio_tls *t, void *rd, const void *wr, size_t len)
{
	short *wants = rd ? &t->rd_wants : &t->wr_wants;

	if (len > INT_MAX)
		len = INT_MAX;
	for (;;) {
		ssize_t r;
		int n, e;

		ERR_clear_error();
		errno = 0;
		n = rd ? SSL_read(t->ssl, rd, (int)len) : SSL_write(t->ssl, wr, (int)len);
		e = errno;
		if (n > 0)
			return n;
		r = io_result(t, n, e, wants);
		if (r == -ETIMEDOUT && e == EINTR)
			continue; /* a signal, not the receive/send timeout */
		return r == 0 && !rd ? -EPIPE : r;
	}
}

static ssize_t tls_read(struct pio *io, void *buf, size_t len)
{
	struct pio_tls *t = (struct pio_tls *)io;

	if (!t->ssl || t->failed)
		return -EPIPE;
	return tls_io(t, buf, NULL, len);
}

static ssize_t tls_write(struct pio *io, const void *buf, size_t len)
{
	struct pio_tls *t = (struct pio_tls *)io;

	if (!t->ssl || t->failed || t->shut)
		return -EPIPE;
	return tls_io(t, NULL, buf, len);
}

static int tls_shutdown_write(struct pio *io)
{
	struct pio_tls *t = (struct pio_tls *)io;
	int64_t until = monotime_ms() + SHUTDOWN_WAIT_MS;

	if (!t->ssl || t->failed)
		return -EPIPE;
	while (!t->shut) {
		struct pollfd p = { .fd = t->io.fd, .events = POLLOUT };
		int n, e;
		short wants = POLLOUT;
		ssize_t r;
		int64_t left;

		ERR_clear_error();
		errno = 0;
		n = SSL_shutdown(t->ssl);
		e = errno;
		if (n >= 0) {
			t->shut = 1; /* 0: sent, the peer's not seen yet; 1: both */
			break;
		}
		r = io_result(t, n, e, &wants);
		if (r != -EAGAIN && r != -ETIMEDOUT)
			return r < 0 ? (int)r : -EPIPE;
		left = until - monotime_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		p.events = wants;
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			return -errno;
	}
	return 0;
}

static short tls_poll_events(struct pio *io, short want)
{
	struct pio_tls *t = (struct pio_tls *)io;

	if (want & POLLIN)
		return t->rd_wants ? t->rd_wants : POLLIN;
	return t->wr_wants ? t->wr_wants : POLLOUT;
}

static int tls_pending(struct pio *io)
{
	struct pio_tls *t = (struct pio_tls *)io;

	return t->ssl && !t->failed && SSL_pending(t->ssl) > 0;
}

/*
 * Only the sending side: bytes spliced into a kernel-TLS socket go out as
 * application data records. Receiving stays with SSL_read, which also handles the
 * records that are not application data (alerts, close_notify, KeyUpdate).
 */
static int tls_splice_fd(struct pio *io, short dir)
{
	struct pio_tls *t = (struct pio_tls *)io;

	if (!(dir & POLLOUT) || !t->ssl || !t->ktls_tx || t->failed || t->shut)
		return -1;
	return t->io.fd;
}

static int tls_set_nonblock(struct pio *io, int on)
{
	return pio_tls_set_nonblock((struct pio_tls *)io, on);
}

int pio_tls_set_nonblock(struct pio_tls *t, int on)
{
	int r = set_fd_nonblock(t->io.fd, on);

	if (r == 0)
		t->nonblock = on;
	return r;
}

int pio_tls_accept(struct pio_tls *t, SSL_CTX *ctx, int fd, int timeout_ms, char *err,
		   size_t errlen)
{
	int64_t until = monotime_ms() + timeout_ms;
	int fl, r = 0;

	memset(t, 0, sizeof(*t));
	t->io.read = tls_read;
	t->io.write = tls_write;
	t->io.shutdown_write = tls_shutdown_write;
	t->io.poll_events = tls_poll_events;
	t->io.pending = tls_pending;
	t->io.set_nonblock = tls_set_nonblock;
	t->io.splice_fd = tls_splice_fd;
	t->io.fd = fd;
	err[0] = '\0';

	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		r = -errno;
		snprintf(err, errlen, "socket flags: %s", strerror(-r));
		return r;
	}
	ERR_clear_error();
	t->ssl = SSL_new(ctx);
	if (!t->ssl || SSL_set_fd(t->ssl, fd) != 1) {
		char why[256];

		ssl_errors(why, sizeof(why));
		snprintf(err, errlen, "creating the TLS session: %s", why);
		r = -ENOMEM;
		goto out;
	}
	for (;;) {
		struct pollfd p = { .fd = fd };
		int n, e;
		int64_t left;

		ERR_clear_error();
		errno = 0;
		n = SSL_accept(t->ssl);
		e = errno;
		if (n == 1)
			break;
		switch (SSL_get_error(t->ssl, n)) {
		case SSL_ERROR_WANT_READ:
			p.events = POLLIN;
			break;
		case SSL_ERROR_WANT_WRITE:
			p.events = POLLOUT;
			break;
		case SSL_ERROR_SYSCALL:
			r = e ? -e : -EPIPE;
			snprintf(err, errlen, "%s", e ? strerror(e)
				 : "connection closed during the TLS handshake");
			ERR_clear_error();
			goto out;
		case SSL_ERROR_ZERO_RETURN:
			r = -EPIPE;
			snprintf(err, errlen, "connection closed during the TLS handshake");
			goto out;
		default: {
			char why[512];

			ssl_errors(why, sizeof(why));
			r = -EPROTO;
			snprintf(err, errlen, "TLS handshake failed: %s", why);
			goto out;
		}
		}
		left = until - monotime_ms();
		if (left <= 0) {
			r = -ETIMEDOUT;
			snprintf(err, errlen, "TLS handshake not done within %d ms", timeout_ms);
			goto out;
		}
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR) {
			r = -errno;
			snprintf(err, errlen, "poll: %s", strerror(-r));
			goto out;
		}
	}
out:
	if (fcntl(fd, F_SETFL, fl) < 0 && r == 0) {
		r = -errno;
		snprintf(err, errlen, "socket flags: %s", strerror(-r));
	}
	if (r < 0) {
		SSL_free(t->ssl); /* no close_notify: there is no session */
		t->ssl = NULL;
		return r;
	}
	t->nonblock = (fl & O_NONBLOCK) != 0;
	t->ktls_tx = BIO_get_ktls_send(SSL_get_wbio(t->ssl)) == 1;
	return 0;
}

void pio_tls_end(struct pio_tls *t)
{
	if (!t->ssl)
		return;
	if (!t->failed && !t->shut)
		tls_shutdown_write(&t->io);
	SSL_free(t->ssl);
	t->ssl = NULL;
}
