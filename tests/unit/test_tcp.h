/*
 * test_tcp.h — a connected loopback TCP pair for one unit test (SO_INCOMING_CPU and
 * the like need a real TCP socket; a socketpair(2) is AF_UNIX).
 */
#ifndef SCSIPUB_TEST_TCP_H
#define SCSIPUB_TEST_TCP_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * Connect a new TCP socket to a listener on 127.0.0.1 (an ephemeral port): *a the
 * connecting end, *b the accepted one (both SOCK_CLOEXEC, the caller closes them).
 * 0, or -1 with errno set and nothing left open.
 */
static inline int test_tcp_pair(int *a, int *b)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), e;

	*a = *b = -1;
	if (l < 0)
		return -1;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(l, (struct sockaddr *)&sin, sizeof(sin)) == 0 && listen(l, 1) == 0 &&
	    getsockname(l, (struct sockaddr *)&sin, &len) == 0 &&
	    (*a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0 &&
	    connect(*a, (struct sockaddr *)&sin, sizeof(sin)) == 0)
		*b = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	e = errno;
	close(l);
	if (*b >= 0)
		return 0;
	if (*a >= 0)
		close(*a);
	*a = -1;
	errno = e;
	return -1;
}

#endif
