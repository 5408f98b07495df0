/*
 * srv_test.h — a small HTTP/1.1 source server for the image-fetch tests, on a
 * loopback address only (127.0.0.0/8: the only addresses tests may send traffic to).
 * One thread accepts; each connection gets its own thread and one answer, then is
 * closed:
 *  - with srv->redirect set, every request is answered "302 Found" to that URL;
 *  - GET /stall sends the headers of a stall_len-byte body (zeros) and its first
 *    1024 bytes, waits for srv_test_go, then sends the rest;
 *  - GET /NAME sends the file dir/NAME (200, Content-Length) or 404.
 * srv->accepted counts accepted connections (read it with srv_test_accepted).
 */
#ifndef SCSIPUB_SRV_TEST_H
#define SCSIPUB_SRV_TEST_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define SRV_TEST_CONNS 32
#define SRV_TEST_STALL_HEAD 1024

struct srv_test {
	char ip[16];                 /* a 127.x.y.z address */
	uint16_t port;
	char dir[PATH_MAX];          /* files served as /NAME ("" = none) */
	const char *redirect;        /* non-NULL: answer every request with 302 to it */
	size_t stall_len;            /* body length of /stall */
	int lfd;
	pthread_t acceptor;
	pthread_t conns[SRV_TEST_CONNS];
	int fds[SRV_TEST_CONNS];
	unsigned nconns;
	unsigned accepted;
	bool go;                     /* /stall may send the rest of its body */
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

struct srv_test_conn {
	struct srv_test *s;
	int fd;
};

static inline int srv_test_send(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static inline void srv_test_answer(struct srv_test *s, int fd)
{
	char req[4096], head[PATH_MAX + 256], path[PATH_MAX + 300], name[256];
	static const char zeros[16384];
	size_t got = 0;
	struct stat st;
	int file;

	while (got < sizeof(req) - 1) { /* the request head, up to its empty line */
		ssize_t n = recv(fd, req + got, sizeof(req) - 1 - got, 0);

		if (n <= 0)
			return;
		got += (size_t)n;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	if (sscanf(req, "GET /%255[^ ?] ", name) != 1)
		name[0] = '\0';
	if (s->redirect) {
		snprintf(head, sizeof(head), "HTTP/1.1 302 Found\r\nLocation: %s\r\n"
			 "Content-Length: 0\r\nConnection: close\r\n\r\n", s->redirect);
		srv_test_send(fd, head, strlen(head));
		return;
	}
	if (!strcmp(name, "stall")) {
		size_t left = s->stall_len;

		snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n", s->stall_len);
		if (srv_test_send(fd, head, strlen(head)) ||
		    srv_test_send(fd, zeros, SRV_TEST_STALL_HEAD))
			return;
		left -= SRV_TEST_STALL_HEAD;
		pthread_mutex_lock(&s->mu);
		while (!s->go)
			pthread_cond_wait(&s->cv, &s->mu);
		pthread_mutex_unlock(&s->mu);
		while (left) {
			size_t k = left < sizeof(zeros) ? left : sizeof(zeros);

			if (srv_test_send(fd, zeros, k))
				return;
			left -= k;
		}
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	file = s->dir[0] && name[0] && !strstr(name, "..") ? open(path, O_RDONLY) : -1;
	if (file < 0 || fstat(file, &st) < 0) {
		snprintf(head, sizeof(head), "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
			 "Connection: close\r\n\r\n");
		srv_test_send(fd, head, strlen(head));
	} else {
		char buf[16384];
		ssize_t n;

		snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %lld\r\n"
			 "Connection: close\r\n\r\n", (long long)st.st_size);
		if (!srv_test_send(fd, head, strlen(head)))
			while ((n = read(file, buf, sizeof(buf))) > 0)
				if (srv_test_send(fd, buf, (size_t)n))
					break;
	}
	if (file >= 0)
		close(file);
}

static inline void *srv_test_conn_main(void *arg)
{
	struct srv_test_conn *c = arg;

	srv_test_answer(c->s, c->fd);
	shutdown(c->fd, SHUT_WR);
	free(c);
	return NULL;
}

static inline void *srv_test_accept_main(void *arg)
{
	struct srv_test *s = arg;

	for (;;) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		struct srv_test_conn *c;

		if (fd < 0)
			return NULL; /* srv_test_stop shut the listener down */
		pthread_mutex_lock(&s->mu);
		s->accepted++;
		c = s->nconns < SRV_TEST_CONNS ? malloc(sizeof(*c)) : NULL;
		if (c) {
			c->s = s;
			c->fd = fd;
			s->fds[s->nconns] = fd;
			if (pthread_create(&s->conns[s->nconns], NULL, srv_test_conn_main, c) == 0) {
				s->nconns++;
			} else {
				free(c);
				c = NULL;
			}
		}
		pthread_mutex_unlock(&s->mu);
		if (!c)
			close(fd);
	}
}

/* Listen on ip (127.x.y.z), port chosen by the kernel, serving dir. 0 or -1. */
static inline int srv_test_start(struct srv_test *s, const char *ip, const char *dir)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);

	memset(s, 0, sizeof(*s));
	snprintf(s->ip, sizeof(s->ip), "%s", ip);
	snprintf(s->dir, sizeof(s->dir), "%s", dir ? dir : "");
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1 || (ntohl(a.sin_addr.s_addr) >> 24) != 127)
		return -1;
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(s->lfd, 16) < 0 || getsockname(s->lfd, (struct sockaddr *)&a, &alen) < 0)
		return -1;
	s->port = ntohs(a.sin_port);
	return pthread_create(&s->acceptor, NULL, srv_test_accept_main, s) ? -1 : 0;
}

/* Let /stall send the rest of its body. */
static inline void srv_test_go(struct srv_test *s)
{
	pthread_mutex_lock(&s->mu);
	s->go = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static inline unsigned srv_test_accepted(struct srv_test *s)
{
	unsigned n;

	pthread_mutex_lock(&s->mu);
	n = s->accepted;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* "http://IP:PORT/path" into buf. */
static inline const char *srv_test_url(const struct srv_test *s, const char *path, char *buf,
				       size_t len)
{
	snprintf(buf, len, "http://%s:%u/%s", s->ip, s->port, path);
	return buf;
}

/* Stop accepting, release /stall, join every thread, close everything. */
static inline void srv_test_stop(struct srv_test *s)
{
	unsigned i;

	srv_test_go(s);
	shutdown(s->lfd, SHUT_RDWR); /* wakes accept() */
	pthread_join(s->acceptor, NULL);
	for (i = 0; i < s->nconns; i++) {
		pthread_join(s->conns[i], NULL);
		close(s->fds[i]);
	}
	close(s->lfd);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
}

#endif
