/*
 * relay.c — bidirectional byte relay with half-close (see relay.h).
 */
#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "pdufilter.h"
#include "monotime.h"

struct dir {
	struct pio *src, *dst;
	struct pdufilter *filter; /* NULL: bytes pass unchanged */
	enum pf_dir way;
	uint8_t *in;        /* read buffer when filtering */
	struct pf_buf out;  /* the filter's output */
	uint8_t *buf;
	size_t off, len;    /* pending bytes buf[off..off+len) */
	bool eof;           /* src ended */
	bool shut;          /* dst was half-closed */
	uint64_t bytes;
	uint64_t spliced;   /* of bytes, moved by splice */
	/* Splice (both ends allow it in this direction, pio_splice_fd): src_fd/dst_fd
	 * >= 0; the pipe is made at the first opaque run; piped bytes sit in it on their
	 * way to dst. */
	int src_fd, dst_fd;
	int pipe[2];
	size_t piped;
	bool no_splice;     /* the pipe could not be made: copy only */
	/* Filtered: the last PDU seen had a data segment worth splicing, so the next
	 * read at a PDU boundary takes its header only (relay.h). */
	bool big;
};

/* Bytes read from src and not yet written to dst. */
static size_t held(const struct dir *d)
{
	return d->len + d->piped;
}

/*
 * Move opaque bytes (relay.h) from src to dst through the pipe, kernel to kernel.
 * *tried is set when a splice was attempted (the copy path then waits a round).
 * 0 or -errno; *progress when bytes moved.
 */
static int splice_step(struct dir *d, bool *tried, bool *progress)
{
	if (!d->eof && held(d) == 0 && !d->no_splice) {
		uint64_t op = d->filter ? pdufilter_opaque(d->filter, d->way) : RELAY_PIPE_BYTES;

		/* The tail of a large PDU's segment goes the same way, however short. */
		if (op >= RELAY_SPLICE_MIN || (op && d->big)) {
			ssize_t n;

			if (d->pipe[0] < 0 && pipe2(d->pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
				d->no_splice = true;
				return 0;
			}
			*tried = true;
			n = splice(d->src_fd, NULL, d->pipe[1], NULL,
				   op < RELAY_PIPE_BYTES ? (size_t)op : RELAY_PIPE_BYTES,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n > 0) {
				d->piped = (size_t)n;
				if (d->filter)
					pdufilter_skip(d->filter, d->way, (uint64_t)n);
				*progress = true;
			} else if (n == 0) {
				d->eof = true;
			} else if (errno != EAGAIN && errno != EINTR) {
				return -errno;
			}
		}
	}
	if (d->piped) {
		ssize_t n = splice(d->pipe[0], NULL, d->dst_fd, NULL, d->piped,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

		*tried = true;  /* no copy read this round: the next one splices in again */
		if (n > 0) {
			d->piped -= (size_t)n;
			d->bytes += (uint64_t)n;
			d->spliced += (uint64_t)n;
			*progress = true;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			return -errno;
		}
	}
	return 0;
}

/* Move what can be moved without blocking. 0 or -errno. */
static int pump(struct dir *d)
{
	for (;;) {
		bool progress = false, tried = false;

		if (d->src_fd >= 0) {
			int r = splice_step(d, &tried, &progress);

			if (r < 0)
				return r;
		}
		if (!d->eof && held(d) == 0 && !tried) {
			size_t want = RELAY_BUF_SIZE, h;
			bool header_only = false;
			ssize_t n;

			if (d->filter && d->big && d->src_fd >= 0 && !d->no_splice &&
			    (h = pdufilter_header_left(d->filter, d->way)) > 0) {
				want = h;
				header_only = true;
			}
			n = d->src->read(d->src, d->filter ? d->in : d->buf, want);
			if (n > 0 && d->filter) {
				int r;

				d->out.len = 0;
				r = pdufilter_feed(d->filter, d->way, d->in, (size_t)n, &d->out);
				if (r < 0)
					return r;
				/* A short read of the header: the rest of it, alone, next. */
				d->big = (header_only && (size_t)n < want) ||
					 pdufilter_opaque(d->filter, d->way) >= RELAY_SPLICE_MIN;
				d->buf = d->out.data;
				d->off = 0;
				d->len = d->out.len;
				progress = true;
			} else if (n > 0) {
				d->off = 0;
				d->len = (size_t)n;
				progress = true;
			} else if (n == 0) {
				d->eof = true;
			} else if (n != -EAGAIN) {
				return (int)n;
			}
		}
		if (d->len) {
			ssize_t n = d->dst->write(d->dst, d->buf + d->off, d->len);

			if (n > 0) {
				d->off += (size_t)n;
				d->len -= (size_t)n;
				d->bytes += (uint64_t)n;
				progress = true;
			} else if (n != -EAGAIN) {
				return (int)n;
			}
		}
		if (d->eof && held(d) == 0 && !d->shut) {
			d->shut = true;
			d->dst->shutdown_write(d->dst); /* the peer may be gone already */
		}
		if (!progress)
			return 0;
	}
}

int relay_run(struct pio *client, struct pio *lio, struct relay_stats *st)
{
	return relay_run_progress(client, lio, st, NULL, NULL);
}

int relay_run_progress(struct pio *client, struct pio *lio, struct relay_stats *st,
		       relay_progress_fn fn, void *arg)
{
	return relay_run_filtered(client, lio, NULL, st, fn, arg);
}

int relay_run_filtered(struct pio *client, struct pio *lio, struct pdufilter *filter,
		       struct relay_stats *st, relay_progress_fn fn, void *arg)
{
	int c_in = pio_splice_fd(client, POLLIN), c_out = pio_splice_fd(client, POLLOUT);
	int l_in = pio_splice_fd(lio, POLLIN), l_out = pio_splice_fd(lio, POLLOUT);
	/* Each direction splices when both of its ends can (kernel TLS: sending only). */
	struct dir up = { .src = client, .dst = lio, .filter = filter, .way = PF_TO_TARGET,
			  .src_fd = l_out >= 0 ? c_in : -1, .dst_fd = l_out,
			  .pipe = { -1, -1 } };
	struct dir down = { .src = lio, .dst = client, .filter = filter,
			    .way = PF_TO_INITIATOR, .src_fd = c_out >= 0 ? l_in : -1,
			    .dst_fd = c_out, .pipe = { -1, -1 } };
	uint8_t *own_up, *own_down;
	uint64_t seen = 0;
	int64_t linger_until = -1;
	int r = 0;

	/* Unfiltered: read straight into the send buffer; filtered: into in. */
	own_up = up.buf = malloc(RELAY_BUF_SIZE);
	own_down = down.buf = malloc(RELAY_BUF_SIZE);
	if (!up.buf || !down.buf) {
		r = -ENOMEM;
		goto out;
	}
	if (filter) {
		up.in = own_up;
		down.in = own_down;
	}
	for (;;) {
		struct pollfd p[2] = { { .fd = client->fd }, { .fd = lio->fd } };
		int timeout = -1;

		if ((r = pump(&up)) < 0 || (r = pump(&down)) < 0)
			break;
		if (fn && up.bytes + down.bytes != seen) {
			struct relay_stats now = { .to_lio = up.bytes, .to_client = down.bytes,
						   .spliced = up.spliced + down.spliced };

			seen = up.bytes + down.bytes;
			fn(arg, &now);
		}
		if (up.shut && down.shut)
			break;
		if ((up.shut || down.shut) && linger_until < 0)
			linger_until = monotime_ms() + RELAY_LINGER_MS;
		if (linger_until >= 0) {
			int64_t left = linger_until - monotime_ms();

			if (left <= 0)
				break;
			timeout = (int)left;
		}
		/* A TLS stream may need the other direction first (pio.h). */
		if (!up.eof && held(&up) == 0)
			p[0].events |= pio_poll_events(client, POLLIN);
		/* Piped bytes go to the descriptor itself: plain writability. */
		if (down.piped)
			p[0].events |= POLLOUT;
		else if (held(&down))
			p[0].events |= pio_poll_events(client, POLLOUT);
		if (!down.eof && held(&down) == 0)
			p[1].events |= pio_poll_events(lio, POLLIN);
		if (up.piped)
			p[1].events |= POLLOUT;
		else if (held(&up))
			p[1].events |= pio_poll_events(lio, POLLOUT);
		/* Bytes buffered inside a stream do not make its fd readable: no waiting. */
		if ((!up.eof && held(&up) == 0 && pio_pending(client)) ||
		    (!down.eof && held(&down) == 0 && pio_pending(lio)))
			timeout = 0;
		/* A hung-up fd we wait on for nothing would make poll spin. */
		for (int i = 0; i < 2; i++)
			if (!p[i].events)
				p[i].fd = -1;
		if (poll(p, 2, timeout) < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
		/* POLLERR/POLLHUP surface as read/write results in the next pump. */
	}
out:
	if (st) {
		st->to_lio = up.bytes;
		st->to_client = down.bytes;
		st->spliced = up.spliced + down.spliced;
	}
	free(own_up);
	free(own_down);
	pf_buf_free(&up.out);
	pf_buf_free(&down.out);
	for (int i = 0; i < 2; i++) {
		if (up.pipe[i] >= 0)
			close(up.pipe[i]);
		if (down.pipe[i] >= 0)
			close(down.pipe[i]);
	}
	return r;
}
