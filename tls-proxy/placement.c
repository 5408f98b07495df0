/*
 * placement.c — bind a relay thread to its LIO connection's CPU (see placement.h).
 */
#include "placement.h"

#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>

int placement_socket_cpu(int fd)
{
	cpu_set_t now;
	socklen_t len;
	int cpu = -1, r;

	len = sizeof(cpu);
	if (getsockopt(fd, SOL_SOCKET, SO_INCOMING_CPU, &cpu, &len) < 0)
		return -errno;
	if (cpu < 0 || cpu >= CPU_SETSIZE)
		return -EAGAIN;
	r = pthread_getaffinity_np(pthread_self(), sizeof(now), &now);
	if (r)
		return -r;
	return CPU_ISSET(cpu, &now) ? cpu : -EPERM;
}

int placement_bind(int cpu)
{
	cpu_set_t want;

	CPU_ZERO(&want);
	CPU_SET(cpu, &want);
	return -pthread_setaffinity_np(pthread_self(), sizeof(want), &want);
}

int placement_restore(const cpu_set_t *cpus)
{
	return -pthread_setaffinity_np(pthread_self(), sizeof(*cpus), cpus);
}
