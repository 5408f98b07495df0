/*
 * placehint.c — the portal's CPU hints to scsipub-tcmu (see placehint.h).
 */
#include "placehint.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

int placehint_parse(const char *msg, size_t len, char *name, size_t namelen, int *cpu)
{
	size_t n = 0, i;
	long v = 0;

	if (len && msg[len - 1] == '\n')
		len--;
	while (n < len && ((msg[n] >= 'a' && msg[n] <= 'z') || (msg[n] >= '0' && msg[n] <= '9')))
		n++;
	if (n == 0 || n > PLACEHINT_NAME_MAX || n + 1 > namelen || n + 1 >= len || msg[n] != ' ')
		return -EINVAL;
	i = n + 1;
	if (len - i == 1 && msg[i] == '-') {
		memcpy(name, msg, n);
		name[n] = '\0';
		*cpu = PLACEHINT_NONE;
		return 0;
	}
	if (len - i > 4 || (msg[i] == '0' && len - i > 1))
		return -EINVAL;
	for (; i < len; i++) {
		if (msg[i] < '0' || msg[i] > '9')
			return -EINVAL;
		v = v * 10 + (msg[i] - '0');
	}
	if (v >= CPU_SETSIZE)
		return -EINVAL;
	memcpy(name, msg, n);
	name[n] = '\0';
	*cpu = (int)v;
	return 0;
}

/*
 * The sending socket, made at the first hint and kept: one unbound datagram socket
 * serves every thread (sendto names the address each time). -errno while it cannot be
 * made; tried again at the next hint.
 */
static int sender(void)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static int fd = -1;
	int r;

	pthread_mutex_lock(&mu);
	if (fd < 0)
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	r = fd < 0 ? -errno : fd;
	pthread_mutex_unlock(&mu);
	return r;
}

int placehint_send(const char *path, const char *name, int cpu)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char msg[PLACEHINT_MSG_MAX], check[PLACEHINT_NAME_MAX + 1];
	int n, fd, c;

	n = cpu == PLACEHINT_NONE ? snprintf(msg, sizeof(msg), "%s -\n", name) :
		snprintf(msg, sizeof(msg), "%s %d\n", name, cpu);
	if (n < 0 || (size_t)n >= sizeof(msg) || placehint_parse(msg, (size_t)n, check,
								  sizeof(check), &c) < 0)
		return -EINVAL;
	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	memcpy(a.sun_path, path, strlen(path) + 1);
	fd = sender();
	if (fd < 0)
		return fd;
	if (sendto(fd, msg, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -errno;
	return 0;
}

int placehint_recv(int fd, char *name, size_t namelen, int *cpu)
{
	char msg[PLACEHINT_MSG_MAX + 1];
	ssize_t n;

	do
		n = recv(fd, msg, sizeof(msg), MSG_DONTWAIT | MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	if ((size_t)n > PLACEHINT_MSG_MAX)
		return -EINVAL;
	return placehint_parse(msg, (size_t)n, name, namelen, cpu) < 0 ? -EINVAL : 1;
}
