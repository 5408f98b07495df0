/*
 * test_tls.c — tls-proxy/tls.c: the TLS terminator of port 3261.
 *
 * Certificates are made here with OpenSSL's APIs (EC P-256, self-signed) in a
 * private temporary directory; the two ends talk over a socketpair, the server side
 * in a thread. Covered: handshake and bytes both ways (blocking pio_read_full /
 * pio_write_full and the non-blocking relay to a "LIO" socket), TLS 1.2 and 1.3
 * accepted, TLS 1.1 refused (with a control showing the client really offers 1.1),
 * plain iSCSI bytes refused without an iSCSI answer, the handshake deadline, and the
 * certificate holder: reload only when due (injected clock) and only on a change,
 * new connections get the new certificate while a live one keeps working, a bad or
 * mismatched new certificate or key keeps the old one in service.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "test_cert.h"
#include "test_tmpdir.h"

#include "pio.h"
#include "relay.h"
#include "tls.h"

#define HANDSHAKE_MS 10000

static char dir[PATH_MAX];
static char cert_path[PATH_MAX + 32], key_path[PATH_MAX + 32];

/* ---- certificates ---- */

/* Write cn's certificate and key to cert_path / key_path (each by rename). */
static void install_cert(const char *cn, char *fpr, size_t len)
{
	EVP_PKEY *key;
	X509 *x;

	test_cert_make(cn, NULL, &key, &x);
	test_pem_replace(key_path, key, NULL, NULL);
	test_pem_replace(cert_path, NULL, x, NULL);
	if (fpr)
		test_cert_fingerprint(x, fpr, len);
	EVP_PKEY_free(key);
	X509_free(x);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* ---- the server side, in a thread ---- */

struct srv {
	SSL_CTX *ctx;
	int fd;
	int timeout_ms;
	int r;
	char err[512];
	struct pio_tls t;
	pthread_t th;
};

static void *srv_accept(void *arg)
{
	struct srv *s = arg;

	s->r = pio_tls_accept(&s->t, s->ctx, s->fd, s->timeout_ms, s->err, sizeof(s->err));
	return NULL;
}

static void srv_start(struct srv *s, SSL_CTX *ctx, int fd)
{
	memset(s, 0, sizeof(*s));
	s->ctx = ctx;
	s->fd = fd;
	s->timeout_ms = HANDSHAKE_MS;
	assert_int_equal(pthread_create(&s->th, NULL, srv_accept, s), 0);
}

static int srv_join(struct srv *s)
{
	assert_int_equal(pthread_join(s->th, NULL), 0);
	return s->r;
}

/* ---- the client side ---- */

/* A client context allowing min..max (0 = OpenSSL's default bound). */
static SSL_CTX *client_ctx(int min, int max, bool legacy)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());

	assert_non_null(c);
	if (legacy) {
		/* OpenSSL 3 allows TLS < 1.2 only at security level 0. */
		SSL_CTX_set_security_level(c, 0);
		assert_int_equal(SSL_CTX_set_cipher_list(c, "DEFAULT@SECLEVEL=0"), 1);
	}
	assert_int_equal(SSL_CTX_set_min_proto_version(c, min), 1);
	assert_int_equal(SSL_CTX_set_max_proto_version(c, max), 1);
	SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL); /* self-signed test certificates */
	return c;
}

/* Blocking client handshake on fd; the SSL or NULL when it failed. */
static SSL *client_connect(SSL_CTX *c, int fd)
{
	SSL *ssl = SSL_new(c);

	assert_non_null(ssl);
	assert_int_equal(SSL_set_fd(ssl, fd), 1);
	if (SSL_connect(ssl) != 1) {
		ERR_clear_error();
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

static void client_write_all(SSL *ssl, const uint8_t *p, size_t len)
{
	while (len) {
		int n = SSL_write(ssl, p, (int)len);

		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

static void client_read_all(SSL *ssl, uint8_t *p, size_t len)
{
	while (len) {
		int n = SSL_read(ssl, p, (int)len);

		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

static void fill(uint8_t *b, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)((i * 131u + seed * 7u) ^ (i >> 9));
}

/* A server pair: sv[0] for the client, sv[1] for the portal side. */
static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

/* Handshake a client (TLS min..max) with the portal side; returns the client SSL. */
static SSL *connect_pair(SSL_CTX *sctx, SSL_CTX *cctx, int sv[2], struct srv *s)
{
	SSL *ssl;

	pair(sv);
	srv_start(s, sctx, sv[1]);
	ssl = client_connect(cctx, sv[0]);
	srv_join(s);
	return ssl;
}

/* ---- fixtures ---- */

static int setup(void **state)
{
	(void)state;
	if (!test_mkdtemp(dir, sizeof(dir), "test_tls"))
		return -1;
	snprintf(cert_path, sizeof(cert_path), "%s/portal.crt", dir);
	snprintf(key_path, sizeof(key_path), "%s/portal.key", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return test_rmdir_flat(dir);
}

/* ---- tests ---- */

static void test_roundtrip_blocking(void **state)
{
	struct tls_server *ts;
	char err[1024], fpr[TLS_FINGERPRINT_LEN], want[TLS_FINGERPRINT_LEN], got[128];
	static uint8_t up[100], down[5000], buf[8192];
	SSL_CTX *sctx, *cctx;
	struct srv s;
	SSL *ssl;
	int sv[2];

	(void)state;
	install_cert("roundtrip", want, sizeof(want));
	ts = tls_server_new(cert_path, key_path, 60, 1000, err, sizeof(err));
	assert_non_null(ts);
	assert_int_equal(tls_server_fingerprint(ts, fpr, sizeof(fpr)), 0);
	assert_string_equal(fpr, want);
	assert_int_equal(tls_server_fingerprint(ts, fpr, 10), -ENOSPC);

	sctx = tls_server_ctx(ts, 1000);
	cctx = client_ctx(0, 0, false);
	ssl = connect_pair(sctx, cctx, sv, &s);
	assert_int_equal(s.r, 0);
	assert_non_null(ssl);
	assert_int_equal(SSL_version(ssl), TLS1_3_VERSION); /* the best both know */
	test_cert_fingerprint(SSL_get0_peer_certificate(ssl), got, sizeof(got));
	assert_string_equal(got, want);
	assert_int_equal(s.t.io.fd, sv[1]);
	assert_false(s.t.nonblock); /* the socket's blocking mode came back */

	/* Blocking pio_read_full / pio_write_full both ways (within socket buffers). */
	fill(up, sizeof(up), 1);
	fill(down, sizeof(down), 2);
	client_write_all(ssl, up, 100);
	assert_int_equal(pio_read_full(&s.t.io, buf, 100), 0);
	assert_memory_equal(buf, up, 100);
	assert_int_equal(pio_write_full(&s.t.io, down, 5000), 0);
	client_read_all(ssl, buf, 5000);
	assert_memory_equal(buf, down, 5000);

	/* Client close_notify: the portal reads end of stream; its own goes back. */
	assert_true(SSL_shutdown(ssl) >= 0);
	assert_int_equal(s.t.io.read(&s.t.io, buf, sizeof(buf)), 0);
	assert_int_equal(s.t.io.shutdown_write(&s.t.io), 0);
	assert_int_equal(SSL_read(ssl, buf, 1), 0);
	assert_int_equal(SSL_get_error(ssl, 0), SSL_ERROR_ZERO_RETURN);
	assert_int_equal(s.t.io.write(&s.t.io, "x", 1), -EPIPE); /* after shutdown_write */
	pio_tls_end(&s.t);
	pio_tls_end(&s.t); /* twice is fine */

	SSL_free(ssl);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	close(sv[0]);
	close(sv[1]);
	tls_server_free(ts);
}

/* "LIO": echo every byte back, then close after end of stream. */
static void *echo_lio(void *arg)
{
	int fd = *(int *)arg;
	static uint8_t b[32768];
	ssize_t n;

	while ((n = read(fd, b, sizeof(b))) > 0)
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(fd, b + off, (size_t)(n - off));

			if (w <= 0)
				return NULL;
			off += w;
		}
	shutdown(fd, SHUT_WR);
	return NULL;
}

struct relay_job {
	struct pio *client, *lio;
	struct relay_stats st;
	int r;
};

static void *relay_thread(void *arg)
{
	struct relay_job *j = arg;

	j->r = relay_run(j->client, j->lio, &j->st);
	return NULL;
}

static void test_relay_through_tls(void **state)
{
	struct tls_server *ts;
	char err[1024];
	static uint8_t out[1 << 20], in[1 << 20];
	SSL_CTX *sctx, *cctx;
	struct srv s;
	struct pio_fd lio;
	struct relay_job j = { 0 };
	pthread_t th_echo, th_relay;
	SSL *ssl;
	int sv[2], lv[2];
	uint8_t b;

	(void)state;
	install_cert("relay", NULL, 0);
	ts = tls_server_new(cert_path, key_path, 60, 0, err, sizeof(err));
	assert_non_null(ts);
	sctx = tls_server_ctx(ts, 0);
	cctx = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION, false);
	ssl = connect_pair(sctx, cctx, sv, &s);
	assert_int_equal(s.r, 0);
	assert_non_null(ssl);
	assert_int_equal(SSL_version(ssl), TLS1_2_VERSION); /* 1.2 is accepted too */

	pair(lv);
	assert_int_equal(pthread_create(&th_echo, NULL, echo_lio, &lv[0]), 0);
	pio_fd_init(&lio, lv[1]);
	assert_int_equal(pio_set_nonblock(&lio.io, 1), 0);
	assert_int_equal(pio_set_nonblock(&s.t.io, 1), 0);
	assert_true(s.t.nonblock);
	j.client = &s.t.io;
	j.lio = &lio.io;
	assert_int_equal(pthread_create(&th_relay, NULL, relay_thread, &j), 0);

	/* 1 MiB through TLS → relay → echo → relay → TLS, in 16 KiB steps. */
	fill(out, sizeof(out), 3);
	for (size_t off = 0; off < sizeof(out); off += 16384) {
		client_write_all(ssl, out + off, 16384);
		client_read_all(ssl, in + off, 16384);
	}
	assert_memory_equal(in, out, sizeof(out));

	/* The client's close_notify ends the session: LIO sees EOF, its EOF comes back. */
	assert_true(SSL_shutdown(ssl) >= 0);
	assert_int_equal(SSL_read(ssl, &b, 1), 0);
	assert_int_equal(SSL_get_error(ssl, 0), SSL_ERROR_ZERO_RETURN);
	assert_int_equal(pthread_join(th_relay, NULL), 0);
	assert_int_equal(pthread_join(th_echo, NULL), 0);
	assert_int_equal(j.r, 0);
	assert_int_equal(j.st.to_lio, sizeof(out));
	assert_int_equal(j.st.to_client, sizeof(out));

	pio_tls_end(&s.t);
	SSL_free(ssl);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	close(sv[0]);
	close(sv[1]);
	close(lv[0]);
	close(lv[1]);
	tls_server_free(ts);
}

static void test_tls11_refused(void **state)
{
	struct tls_server *ts;
	char err[1024];
	SSL_CTX *sctx, *cctx, *legacy;
	struct srv s;
	SSL *ssl;
	int sv[2];

	(void)state;
	install_cert("old", NULL, 0);
	ts = tls_server_new(cert_path, key_path, 60, 0, err, sizeof(err));
	assert_non_null(ts);
	cctx = client_ctx(TLS1_VERSION, TLS1_1_VERSION, true);

	/* Control: a server that allows 1.1 does get a 1.1 session from this client. */
	legacy = SSL_CTX_new(TLS_server_method());
	assert_non_null(legacy);
	SSL_CTX_set_security_level(legacy, 0);
	assert_int_equal(SSL_CTX_set_cipher_list(legacy, "DEFAULT@SECLEVEL=0"), 1);
	assert_int_equal(SSL_CTX_set_min_proto_version(legacy, TLS1_1_VERSION), 1);
	assert_int_equal(SSL_CTX_use_certificate_chain_file(legacy, cert_path), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey_file(legacy, key_path, SSL_FILETYPE_PEM), 1);
	ssl = connect_pair(legacy, cctx, sv, &s);
	assert_int_equal(s.r, 0);
	assert_non_null(ssl);
	assert_int_equal(SSL_version(ssl), TLS1_1_VERSION);
	pio_tls_end(&s.t);
	SSL_free(ssl);
	close(sv[0]);
	close(sv[1]);
	SSL_CTX_free(legacy);

	/* The portal's context refuses it. */
	sctx = tls_server_ctx(ts, 0);
	ssl = connect_pair(sctx, cctx, sv, &s);
	assert_null(ssl);
	assert_int_equal(s.r, -EPROTO);
	assert_null(s.t.ssl);
	assert_non_null(strstr(s.err, "unsupported protocol"));
	close(sv[0]);
	close(sv[1]);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	tls_server_free(ts);
}

static void test_plain_iscsi_refused(void **state)
{
	struct tls_server *ts;
	char err[1024];
	uint8_t login[48] = { 0x43, 0x87 }, reply[64];
	SSL_CTX *sctx;
	struct srv s;
	struct pollfd p;
	ssize_t n;
	int sv[2];

	(void)state;
	install_cert("plain", NULL, 0);
	ts = tls_server_new(cert_path, key_path, 60, 0, err, sizeof(err));
	assert_non_null(ts);
	sctx = tls_server_ctx(ts, 0);
	pair(sv);
	srv_start(&s, sctx, sv[1]);
	assert_int_equal(write(sv[0], login, sizeof(login)), (ssize_t)sizeof(login));
	assert_int_equal(srv_join(&s), -EPROTO);
	assert_true(s.err[0] != '\0');
	close(sv[1]); /* what the portal does after a failed handshake */
	/* No Login Response (opcode 0x23): at most a TLS alert record (type 21). */
	p.fd = sv[0];
	p.events = POLLIN;
	assert_int_equal(poll(&p, 1, 5000), 1);
	n = read(sv[0], reply, sizeof(reply));
	/* The portal closed with our bytes unread: the alert may be lost to a reset. */
	assert_true(n >= 0 || errno == ECONNRESET);
	if (n > 0) {
		assert_int_not_equal(reply[0], 0x23);
		assert_int_equal(reply[0], 21);
	}
	close(sv[0]);
	SSL_CTX_free(sctx);
	tls_server_free(ts);
}

static void test_handshake_deadline(void **state)
{
	struct tls_server *ts;
	char err[1024];
	SSL_CTX *sctx;
	struct srv s;
	int sv[2];

	(void)state;
	install_cert("slow", NULL, 0);
	ts = tls_server_new(cert_path, key_path, 60, 0, err, sizeof(err));
	assert_non_null(ts);
	sctx = tls_server_ctx(ts, 0);
	pair(sv);
	memset(&s, 0, sizeof(s));
	s.ctx = sctx;
	s.fd = sv[1];
	s.timeout_ms = 100; /* a client that never says hello */
	assert_int_equal(pthread_create(&s.th, NULL, srv_accept, &s), 0);
	assert_int_equal(srv_join(&s), -ETIMEDOUT);
	assert_non_null(strstr(s.err, "100 ms"));
	/* A peer that closes before hello. */
	close(sv[0]);
	srv_start(&s, sctx, sv[1]);
	assert_int_equal(srv_join(&s), -EPIPE);
	close(sv[1]);
	SSL_CTX_free(sctx);
	tls_server_free(ts);
}

/* Handshake a default client with ts's current context; peer fingerprint into fpr. */
static SSL *connect_ts(struct tls_server *ts, int64_t now, int sv[2], struct srv *s,
		       SSL_CTX *cctx, char *fpr, size_t len)
{
	SSL_CTX *sctx = tls_server_ctx(ts, now);
	SSL *ssl = connect_pair(sctx, cctx, sv, s);

	SSL_CTX_free(sctx); /* the SSL keeps its own reference */
	assert_int_equal(s->r, 0);
	assert_non_null(ssl);
	test_cert_fingerprint(SSL_get0_peer_certificate(ssl), fpr, len);
	return ssl;
}

static void ping(SSL *ssl, struct pio_tls *t, unsigned seed)
{
	uint8_t a[3000], b[3000];

	fill(a, sizeof(a), seed);
	client_write_all(ssl, a, sizeof(a));
	assert_int_equal(pio_read_full(&t->io, b, sizeof(b)), 0);
	assert_memory_equal(a, b, sizeof(a));
	assert_int_equal(pio_write_full(&t->io, b, sizeof(b)), 0);
	client_read_all(ssl, a, sizeof(a));
	assert_memory_equal(a, b, sizeof(a));
}

static void end_conn(SSL *ssl, struct srv *s, int sv[2])
{
	pio_tls_end(&s->t);
	SSL_free(ssl);
	close(sv[0]);
	close(sv[1]);
}

static void test_reload(void **state)
{
	struct tls_server *ts;
	char err[1024], a[TLS_FINGERPRINT_LEN], b[TLS_FINGERPRINT_LEN], c[TLS_FINGERPRINT_LEN];
	char fpr[TLS_FINGERPRINT_LEN], got[128];
	SSL_CTX *cctx = client_ctx(0, 0, false);
	struct srv s_old, s_new;
	int sv_old[2], sv_new[2];
	SSL *old, *nw;
	struct timespec ts_m[2];

	(void)state;
	install_cert("cert-a", a, sizeof(a));
	ts = tls_server_new(cert_path, key_path, 60, 1000, err, sizeof(err));
	assert_non_null(ts);
	assert_int_equal(tls_server_check_now(ts), 0); /* nothing changed */
	old = connect_ts(ts, 1000, sv_old, &s_old, cctx, got, sizeof(got));
	assert_string_equal(got, a);

	/* Replaced by rename: not looked at before the interval, picked up when due. */
	install_cert("cert-b", b, sizeof(b));
	assert_int_equal(tls_server_maybe_reload(ts, 1059), 0);
	tls_server_fingerprint(ts, fpr, sizeof(fpr));
	assert_string_equal(fpr, a);
	nw = connect_ts(ts, 1030, sv_new, &s_new, cctx, got, sizeof(got));
	assert_string_equal(got, a); /* still within the interval */
	end_conn(nw, &s_new, sv_new);
	assert_int_equal(tls_server_maybe_reload(ts, 1060), 1);
	tls_server_fingerprint(ts, fpr, sizeof(fpr));
	assert_string_equal(fpr, b);
	assert_int_equal(tls_server_maybe_reload(ts, 1061), 0); /* next check at 1120 */
	assert_int_equal(tls_server_maybe_reload(ts, 1120), 0); /* due, nothing changed */

	/* New connections get B; the live one made with A still works. */
	nw = connect_ts(ts, 1121, sv_new, &s_new, cctx, got, sizeof(got));
	assert_string_equal(got, b);
	ping(nw, &s_new.t, 4);
	ping(old, &s_old.t, 5);
	end_conn(nw, &s_new, sv_new);

	/* A broken certificate: logged, B stays (and the same state is not retried). */
	write_file(cert_path, "-----BEGIN CERTIFICATE-----\nnot base64\n");
	assert_int_equal(tls_server_check_now(ts), -EPROTO);
	assert_int_equal(tls_server_check_now(ts), -EPROTO);
	tls_server_fingerprint(ts, fpr, sizeof(fpr));
	assert_string_equal(fpr, b);
	nw = connect_ts(ts, 1200, sv_new, &s_new, cctx, got, sizeof(got));
	assert_string_equal(got, b);
	end_conn(nw, &s_new, sv_new);

	/* A certificate whose key is not the one in the key file: B stays. */
	{
		EVP_PKEY *k;
		X509 *x;

		test_cert_make("cert-mismatch", NULL, &k, &x);
		test_pem_replace(cert_path, NULL, x, NULL);
		EVP_PKEY_free(k);
		X509_free(x);
	}
	assert_int_equal(tls_server_check_now(ts), -EPROTO);
	tls_server_fingerprint(ts, fpr, sizeof(fpr));
	assert_string_equal(fpr, b);

	/* The key file missing (mid-replacement): B stays. */
	assert_int_equal(unlink(key_path), 0);
	assert_int_equal(tls_server_check_now(ts), -ENOENT);
	tls_server_fingerprint(ts, fpr, sizeof(fpr));
	assert_string_equal(fpr, b);

	/* A good pair again goes into service. */
	install_cert("cert-c", c, sizeof(c));
	assert_int_equal(tls_server_check_now(ts), 1);
	tls_server_fingerprint(ts, fpr, sizeof(fpr));
	assert_string_equal(fpr, c);

	/* Rewritten in place with the mtime set explicitly: still a change. */
	{
		EVP_PKEY *k;
		X509 *x;
		FILE *f;

		test_cert_make("cert-d", NULL, &k, &x);
		f = fopen(key_path, "w");
		assert_non_null(f);
		assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
		fclose(f);
		f = fopen(cert_path, "w");
		assert_non_null(f);
		assert_int_equal(PEM_write_X509(f, x), 1);
		fclose(f);
		test_cert_fingerprint(x, c, sizeof(c));
		EVP_PKEY_free(k);
		X509_free(x);
	}
	ts_m[0].tv_sec = ts_m[1].tv_sec = 2000000000;
	ts_m[0].tv_nsec = ts_m[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, cert_path, ts_m, 0), 0);
	assert_int_equal(tls_server_maybe_reload(ts, 1300), 1);
	tls_server_fingerprint(ts, fpr, sizeof(fpr));
	assert_string_equal(fpr, c);

	/* The connection made with A outlived every swap. */
	ping(old, &s_old.t, 6);
	end_conn(old, &s_old, sv_old);
	SSL_CTX_free(cctx);
	tls_server_free(ts);
}

static void test_new_errors(void **state)
{
	char err[1024], missing[PATH_MAX + 32];
	EVP_PKEY *k;
	X509 *x;

	(void)state;
	snprintf(missing, sizeof(missing), "%s/missing.crt", dir);
	assert_null(tls_server_new(missing, key_path, 60, 0, err, sizeof(err)));
	assert_non_null(strstr(err, missing));
	assert_null(tls_server_new("", key_path, 60, 0, err, sizeof(err)));
	install_cert("good", NULL, 0);
	assert_null(tls_server_new(cert_path, key_path, 0, 0, err, sizeof(err)));
	test_cert_make("other", NULL, &k, &x);
	test_pem_replace(cert_path, NULL, x, NULL);
	assert_null(tls_server_new(cert_path, key_path, 60, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "does not match certificate"));
	/* Certificate and key in one file. */
	test_pem_replace(cert_path, k, x, NULL);
	{
		struct tls_server *ts = tls_server_new(cert_path, cert_path, 60, 0, err,
						       sizeof(err));

		assert_non_null(ts);
		tls_server_free(ts);
	}
	tls_server_free(NULL);
	EVP_PKEY_free(k);
	X509_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_blocking),
		cmocka_unit_test(test_relay_through_tls),
		cmocka_unit_test(test_tls11_refused),
		cmocka_unit_test(test_plain_iscsi_refused),
		cmocka_unit_test(test_handshake_deadline),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_new_errors),
	};

	signal(SIGPIPE, SIG_IGN); /* as the portal: OpenSSL writes with write(2) */
	return cmocka_run_group_tests(tests, setup, teardown);
}
