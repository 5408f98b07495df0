/*
 * placement.c — which CPU serves a relay thread's LIO connection (see placement.h).
 */
#include "placement.h"

#include <errno.h>
#include <sched.h>
#include <sys/socket.h>

#include "pinpolicy.h"

int placement_socket_cpu(int fd)
{
	socklen_t len;
	int cpu = -1, r;

	len = sizeof(cpu);
	if (getsockopt(fd, SOL_SOCKET, SO_INCOMING_CPU, &cpu, &len) < 0)
		return -errno;
	if (cpu < 0 || cpu >= CPU_SETSIZE)
		return -EAGAIN;
	r = pinpolicy_may_run_on(cpu);
	return r < 0 ? r : cpu;
}
