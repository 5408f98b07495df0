/*
 * tls.h — TLS termination for the portal's second listener (issue 4, port 3261).
 *
 * iSCSI itself has no TLS (RFC 7143 §9, Security Considerations, leaves the
 * confidentiality of the connection to IPsec below TCP), so the portal terminates
 * TLS in front of the unchanged iSCSI byte stream: the decrypted stream is a struct
 * pio (pio.h) and goes through exactly the same login hook, discovery and relay as
 * port 3260.
 *
 * Two parts, both on OpenSSL:
 *  - struct tls_server holds the server SSL_CTX (TLS 1.2 and 1.3 only) built from a
 *    PEM certificate (chain) file and a PEM private key file. At most once per reload
 *    interval it stats both files; when either changed (mtime, ctime, size, inode) it
 *    builds a new SSL_CTX and swaps it in. Connections already established keep the
 *    SSL (and so the SSL_CTX reference) they were made with and are not affected.
 *    A new certificate or key that does not load, or does not match, is logged and
 *    the previous one stays in service; a later change of the files is tried again.
 *    Time is passed in by the caller (monotonic seconds) so tests can drive it.
 *  - struct pio_tls is a struct pio over an SSL on a connected socket: a blocking
 *    handshake bounded by a deadline, then reads and writes with the pio.h semantics
 *    (-ETIMEDOUT on a blocking socket whose SO_RCVTIMEO/SO_SNDTIMEO expired, -EAGAIN
 *    once non-blocking, with poll_events telling which readiness a retry needs).
 *
 * The process must ignore SIGPIPE (OpenSSL writes to the socket with write(2)).
 * All functions are thread-safe for distinct pio_tls objects; a tls_server may be
 * used by any number of threads at once.
 */
#ifndef SCSIPUB_TLS_H
#define SCSIPUB_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "pio.h"

#define TLS_RELOAD_DEFAULT_S 60   /* seconds between checks of the files, default */
#define TLS_FINGERPRINT_LEN 96    /* "AB:CD:..." SHA-256 with NUL: 32 * 3 bytes */

struct tls_server;

/*
 * Load cert_path (PEM certificate, optionally followed by its chain) and key_path
 * (PEM private key, unencrypted; may be the same file) into a server context that
 * allows TLS 1.2 and 1.3 only. reload_s (>= 1, seconds) is the least time between
 * two looks at the files' metadata; now_s is the current monotonic time in seconds
 * (the first check is due at now_s + reload_s). Returns the holder (free with
 * tls_server_free), or NULL with a one-line reason (OpenSSL's errors included) in
 * err (errlen bytes).
 */
struct tls_server *tls_server_new(const char *cert_path, const char *key_path,
				  unsigned reload_s, int64_t now_s, char *err, size_t errlen);

/* Drop the holder's reference to its SSL_CTX; live connections keep theirs. NULL ok. */
void tls_server_free(struct tls_server *ts);

/*
 * If at least reload_s seconds passed since the last check (now_s: monotonic
 * seconds), do tls_server_check_now. Returns what that returned, or 0 when no check
 * was due.
 */
int tls_server_maybe_reload(struct tls_server *ts, int64_t now_s);

/*
 * Stat both files now and, if either changed since the context in service was built
 * (and since the last failed attempt), build a new context and swap it in. Returns 1
 * when a new certificate went into service (logged with its fingerprint), 0 when
 * nothing changed, or a negative errno when the changed files cannot be used
 * (-ENOENT and friends from stat, -EPROTO for a certificate or key OpenSSL refuses,
 * -ENOMEM): the failure is logged once per change and the previous context stays.
 */
int tls_server_check_now(struct tls_server *ts);

/*
 * The SSL_CTX for a new connection, after tls_server_maybe_reload(ts, now_s). The
 * caller owns one reference and releases it with SSL_CTX_free (an SSL made from it
 * holds its own). Never NULL.
 */
SSL_CTX *tls_server_ctx(struct tls_server *ts, int64_t now_s);

/*
 * SHA-256 fingerprint of the certificate in service, as upper-case hex pairs joined
 * by ':' (what `openssl x509 -fingerprint -sha256` prints), into out (at least
 * TLS_FINGERPRINT_LEN bytes). 0 or -ENOSPC.
 */
int tls_server_fingerprint(struct tls_server *ts, char *out, size_t len);

/* The TLS side of one connection. Fields are private except ssl (read-only use). */
struct pio_tls {
	struct pio io;
	SSL *ssl;           /* NULL before a successful handshake and after pio_tls_end */
	int nonblock;       /* -EAGAIN (1) or -ETIMEDOUT (0) when the socket would block */
	short rd_wants;     /* poll events the last read that would block waits for */
	short wr_wants;     /* same for the last write */
	int failed;         /* fatal TLS or socket error: no close_notify any more */
	int shut;           /* close_notify sent */
	int ktls_tx;        /* the kernel encrypts what is sent (kernel TLS, tls(7)):
			       io.splice_fd gives fd for POLLOUT, so the relay can
			       splice data to the initiator without copying it */
};

/*
 * Run the server side of a TLS handshake on the connected socket fd with a new SSL
 * from ctx (the SSL takes its own reference), waiting at most timeout_ms
 * milliseconds in total. The socket is non-blocking during the handshake and gets
 * its previous O_NONBLOCK setting back afterwards. On success t is a struct pio over
 * the session (t->io; io.fd = fd, which stays owned by the caller) and 0 is
 * returned; end it with pio_tls_end. On failure nothing needs freeing and a negative
 * errno is returned with a one-line reason in err: -ETIMEDOUT (deadline), -EPROTO
 * (the peer does not speak an acceptable TLS, e.g. TLS 1.1 or plain iSCSI: OpenSSL's
 * reason is in err), -EPIPE (closed), -ENOMEM, or a socket errno.
 */
int pio_tls_accept(struct pio_tls *t, SSL_CTX *ctx, int fd, int timeout_ms, char *err,
		   size_t errlen);

/*
 * Non-blocking mode for the session (the socket's O_NONBLOCK and the pio's
 * -EAGAIN semantics): 1 on, 0 off. 0 or -errno. Also t->io.set_nonblock.
 */
int pio_tls_set_nonblock(struct pio_tls *t, int on);

/*
 * End the session: send close_notify unless it was sent already or the session
 * failed (waiting at most about a second for the socket on a non-blocking one), then
 * free the SSL. Leaves the socket open. Safe to call twice.
 */
void pio_tls_end(struct pio_tls *t);

#endif
