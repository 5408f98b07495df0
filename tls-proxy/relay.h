/*
 * relay.h — copy bytes both ways between the initiator's stream and LIO's socket
 * until the session ends.
 *
 * One poll loop, non-blocking on both sides, a RELAY_BUF_SIZE buffer per direction
 * (and a pipe for zero-copy runs, below).
 * End of stream on one side is passed on as a half-close to the other
 * (shutdown_write), after the bytes already buffered are delivered; the relay then
 * keeps copying the other direction until it ends too, for at most
 * RELAY_LINGER_MS. Any error, or both directions ended, stops it. The initiator side
 * is a struct pio so a TLS stream can take the place of the socket: the loop polls
 * the events pio_poll_events asks for and does not wait while pio_pending says
 * bytes are already buffered in the stream.
 */
#ifndef SCSIPUB_RELAY_H
#define SCSIPUB_RELAY_H

#include <stdint.h>

#include "pio.h"

struct pdufilter;

#define RELAY_BUF_SIZE 65536  /* bytes per direction */
/*
 * Zero copy: in a direction whose two ends allow it (pio_splice_fd: plain sockets, and
 * a kernel-TLS client socket as the destination), bytes the filter passes unread
 * (pdufilter_opaque: the rest of a data segment) in runs of at least RELAY_SPLICE_MIN
 * go socket → pipe → socket with splice(2), RELAY_PIPE_BYTES at a time, never copied
 * to user space (unfiltered: every byte); the kernel encrypts what it sends on a
 * kernel-TLS socket. Small PDUs (4 KiB commands) keep the copy path, and so does
 * everything a user-space TLS end reads or writes. The pipe of a direction is
 * made at its first such run (two more descriptors per connection then). After a
 * PDU with such a data segment, the next read at a PDU boundary of that direction
 * takes the header only (pdufilter_header_left; when a read brings part of it, the
 * next takes the rest of it only), and the tail of such a segment is
 * spliced however short it is, so that a stream of large PDUs
 * (1 MiB I/O: Data-Out, Data-In, immediate data) has every data segment spliced,
 * not its first 64 KiB copied; after a small one, reads take what is there again
 * (RELAY_BUF_SIZE), so small PDUs cost no extra read.
 */
#define RELAY_SPLICE_MIN 16384
#define RELAY_PIPE_BYTES 65536
#define RELAY_LINGER_MS 5000  /* after a half-close, wait this long for the other side */

struct relay_stats {
	uint64_t to_lio;     /* bytes initiator → LIO */
	uint64_t to_client;  /* bytes LIO → initiator */
	uint64_t spliced;    /* of both, bytes moved by splice (never in user space) */
};

/*
 * Relay between client and lio (both must allow -EAGAIN: non-blocking fds) until
 * both directions ended or one failed. Returns 0 when the session ended with end of
 * stream, or the first negative errno. Byte counts go to *st (may be NULL).
 */
int relay_run(struct pio *client, struct pio *lio, struct relay_stats *st);

/*
 * Live byte counts: called from the relaying thread after every poll round that
 * moved bytes (st holds the running totals; valid during the call only).
 */
typedef void (*relay_progress_fn)(void *arg, const struct relay_stats *st);

/* relay_run, calling fn(arg, ...) as bytes move (fn may be NULL). */
int relay_run_progress(struct pio *client, struct pio *lio, struct relay_stats *st,
		       relay_progress_fn fn, void *arg);

/*
 * relay_run_progress with every byte of both directions passed through filter
 * (pdufilter.h; NULL = none): what the filter emits is sent, and a filter error
 * (-EPROTO: the session must be closed) ends the relay with that error. The filter is
 * not freed.
 */
int relay_run_filtered(struct pio *client, struct pio *lio, struct pdufilter *filter,
		       struct relay_stats *st, relay_progress_fn fn, void *arg);

#endif
