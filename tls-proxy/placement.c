/*
 * placement.c — bind a relay thread to its LIO connection's CPU (see placement.h).
 */
#include "placement.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>

int placement_follow_socket(int fd)
{
	cpu_set_t now, want;
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
	if (!CPU_ISSET(cpu, &now))
		return -EPERM;
	CPU_ZERO(&want);
	CPU_SET(cpu, &want);
	r = pthread_setaffinity_np(pthread_self(), sizeof(want), &want);
	if (r)
		return -r;
	return cpu;
}
