/*
 * pio.c — plain-socket and in-memory implementations of struct pio (see pio.h).
 */
#include "pio.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static ssize_t fd_read(struct pio *io, void *buf, size_t len)
{
	for (;;) {
		ssize_t n = read(io->fd, buf, len);

		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK || errno == EAGAIN)
			return ((struct pio_fd *)io)->nonblock ? -EAGAIN : -ETIMEDOUT;
		return -errno;
	}
}

static ssize_t fd_write(struct pio *io, const void *buf, size_t len)
{
	for (;;) {
		ssize_t n = send(io->fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == ENOTSOCK)
			n = write(io->fd, buf, len);
		if (n > 0)
			return n;
		if (n == 0)
			return -EIO;
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK || errno == EAGAIN)
			return ((struct pio_fd *)io)->nonblock ? -EAGAIN : -ETIMEDOUT;
		return -errno;
	}
}

static int fd_shutdown_write(struct pio *io)
{
	return shutdown(io->fd, SHUT_WR) < 0 ? -errno : 0;
}

static int fd_set_nonblock(struct pio *io, int on)
{
	return pio_fd_set_nonblock((struct pio_fd *)io, on);
}

int pio_splice_fd(struct pio *io, short dir)
{
	if (io->read == fd_read)
		return io->fd;
	return io->splice_fd ? io->splice_fd(io, dir) : -1;
}

void pio_fd_init(struct pio_fd *p, int fd)
{
	memset(p, 0, sizeof(*p));
	p->io.set_nonblock = fd_set_nonblock;
	p->io.read = fd_read;
	p->io.write = fd_write;
	p->io.shutdown_write = fd_shutdown_write;
	p->io.fd = fd;
	p->nonblock = 0;
}

int pio_fd_set_nonblock(struct pio_fd *p, int on)
{
	int fl = fcntl(p->io.fd, F_GETFL);

	if (fl < 0)
		return -errno;
	fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
	if (fcntl(p->io.fd, F_SETFL, fl) < 0)
		return -errno;
	p->nonblock = on;
	return 0;
}

static ssize_t mem_read(struct pio *io, void *buf, size_t len)
{
	struct pio_mem *m = (struct pio_mem *)io;
	size_t n = m->in_len - m->in_pos;

	if (n > len)
		n = len;
	if (n)
		memcpy(buf, m->in + m->in_pos, n);
	m->in_pos += n;
	return (ssize_t)n;
}

static ssize_t mem_write(struct pio *io, const void *buf, size_t len)
{
	struct pio_mem *m = (struct pio_mem *)io;

	if (m->write_fail || m->shut_wr)
		return -EPIPE;
	if (m->out_len + len > m->out_cap) {
		size_t cap = m->out_cap ? m->out_cap : 4096;
		uint8_t *p;

		while (cap < m->out_len + len)
			cap *= 2;
		p = realloc(m->out, cap);
		if (!p)
			return -ENOMEM;
		m->out = p;
		m->out_cap = cap;
	}
	memcpy(m->out + m->out_len, buf, len);
	m->out_len += len;
	return (ssize_t)len;
}

static int mem_shutdown_write(struct pio *io)
{
	((struct pio_mem *)io)->shut_wr = 1;
	return 0;
}

void pio_mem_init(struct pio_mem *m, const void *in, size_t in_len)
{
	memset(m, 0, sizeof(*m));
	m->io.read = mem_read;
	m->io.write = mem_write;
	m->io.shutdown_write = mem_shutdown_write;
	m->io.fd = -1;
	m->in = in;
	m->in_len = in_len;
}

void pio_mem_free(struct pio_mem *m)
{
	free(m->out);
	m->out = NULL;
	m->out_len = m->out_cap = 0;
}

short pio_poll_events(struct pio *io, short want)
{
	return io->poll_events ? io->poll_events(io, want) : want;
}

int pio_pending(struct pio *io)
{
	return io->pending ? io->pending(io) : 0;
}

int pio_set_nonblock(struct pio *io, int on)
{
	return io->set_nonblock ? io->set_nonblock(io, on) : 0;
}

static int wait_fd(struct pio *io, short want)
{
	struct pollfd p = { .fd = io->fd, .events = pio_poll_events(io, want) };
	int r;

	if (p.fd < 0)
		return -EAGAIN;
	do
		r = poll(&p, 1, -1);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

int pio_read_full(struct pio *io, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = io->read(io, p, len);

		if (n == -EAGAIN) {
			int r = wait_fd(io, POLLIN);

			if (r < 0)
				return r;
			continue;
		}
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int pio_write_full(struct pio *io, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = io->write(io, p, len);

		if (n == -EAGAIN) {
			int r = wait_fd(io, POLLOUT);

			if (r < 0)
				return r;
			continue;
		}
		if (n < 0)
			return (int)n;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
