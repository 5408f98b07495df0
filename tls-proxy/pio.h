/*
 * pio.h — the byte-stream interface the portal speaks iSCSI over.
 *
 * Every protocol module (pdu, login, discovery, relay) reads and writes through a
 * struct pio, never through a socket directly, so the transport can change without
 * touching them: pio_fd_init wraps a plain TCP socket today; a TLS stream (issue:
 * TLS on 3261) only has to provide the same three callouts. pio_mem_init is an
 * in-memory stream for unit tests (scripted input, captured output).
 *
 * Callouts return bytes moved (> 0), 0 for end of stream (read only), or a negative
 * errno (-EAGAIN when a non-blocking stream would block, -ETIMEDOUT when a receive
 * timeout expired). They never return a short count of 0 for a write.
 *
 * A stream that is not a plain fd (TLS: tls.h) may also set the optional callouts
 * poll_events, pending and set_nonblock; NULL means "plain fd" and the pio_* helpers
 * below supply that behaviour, so callers always go through the helpers.
 */
#ifndef SCSIPUB_PIO_H
#define SCSIPUB_PIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct pio {
	ssize_t (*read)(struct pio *io, void *buf, size_t len);
	ssize_t (*write)(struct pio *io, const void *buf, size_t len);
	/* Half-close: no more writes (the peer reads end of stream). 0 or -errno. */
	int (*shutdown_write)(struct pio *io);
	/* Descriptor to poll for readiness, or -1 for a memory stream. */
	int fd;
	/*
	 * Optional. After a read (want = POLLIN) or a write (want = POLLOUT) returned
	 * -EAGAIN: the poll(2) events to wait for on fd before retrying it. A TLS stream
	 * may need the other direction (a read that must first send a record, a write
	 * that must first receive one).
	 */
	short (*poll_events)(struct pio *io, short want);
	/* Optional. Nonzero when a read returns bytes without waiting on fd (data
	 * already received and buffered inside the stream). */
	int (*pending)(struct pio *io);
	/* Optional. Non-blocking mode on (1) or off (0), as pio_fd_set_nonblock. */
	int (*set_nonblock)(struct pio *io, int on);
	/*
	 * Optional. The descriptor splice(2) may move the stream's bytes through in
	 * direction dir (POLLIN: read from it, POLLOUT: write to it), or -1 when only
	 * the read/write callouts can (a TLS stream whose records the kernel does not
	 * handle in that direction, pio_tls_splice_fd).
	 */
	int (*splice_fd)(struct pio *io, short dir);
};

/* io->poll_events(io, want), or want itself for a plain stream. */
short pio_poll_events(struct pio *io, short want);
/* io->pending(io), or 0 for a plain stream (the kernel buffers, poll sees it). */
int pio_pending(struct pio *io);
/* io->set_nonblock(io, on): 0 or -errno; 0 for a stream without one (memory). */
int pio_set_nonblock(struct pio *io, int on);

/*
 * A plain socket (or any fd). The fd stays owned by the caller. A blocking fd whose
 * SO_RCVTIMEO/SO_SNDTIMEO expires reports -ETIMEDOUT; after pio_fd_set_nonblock(p, 1)
 * the same condition is -EAGAIN (poll io.fd and retry).
 */
struct pio_fd {
	struct pio io;
	int nonblock;
};
void pio_fd_init(struct pio_fd *p, int fd);
/*
 * The descriptor through which splice(2) may move io's bytes in direction dir
 * (POLLIN: out of the stream, POLLOUT: into it): a plain pio_fd stream's own fd, a
 * stream's splice_fd callout (kernel TLS), else -1 (memory, user-space TLS).
 */
int pio_splice_fd(struct pio *io, short dir);
/* Switch O_NONBLOCK on (1) or off (0). 0 or -errno. */
int pio_fd_set_nonblock(struct pio_fd *p, int on);

/*
 * Memory stream: reads consume in[0..in_len) (then end of stream), writes append to a
 * growing buffer out (malloc'd, owned by the pio; free with pio_mem_free). If
 * write_fail is set, writes fail with -EPIPE.
 */
struct pio_mem {
	struct pio io;
	const uint8_t *in;
	size_t in_len, in_pos;
	uint8_t *out;
	size_t out_len, out_cap;
	int write_fail;
	int shut_wr;          /* set by shutdown_write */
};
void pio_mem_init(struct pio_mem *m, const void *in, size_t in_len);
void pio_mem_free(struct pio_mem *m);

/*
 * Read exactly len bytes. 0 on success; -EPIPE when the stream ended first (even
 * after 0 bytes); any other negative errno from the callout (-EAGAIN is retried only
 * by polling the fd, for up to the socket's own receive timeout semantics: callers
 * use blocking descriptors here).
 */
int pio_read_full(struct pio *io, void *buf, size_t len);
/* Write exactly len bytes. 0 or a negative errno. */
int pio_write_full(struct pio *io, const void *buf, size_t len);

#endif
