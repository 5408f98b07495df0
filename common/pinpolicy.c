/*
 * pinpolicy.c — when a thread runs on LIO's CPU for its connection (see pinpolicy.h).
 */
#include "pinpolicy.h"

#include <errno.h>
#include <pthread.h>

void pinpolicy_init(struct pinpolicy *p)
{
	p->bound = false;
	p->cpu = -1;
	p->calm = 0;
	p->busy = 0;
}

enum pinpolicy_action pinpolicy_wake(struct pinpolicy *p, int hint, enum pinpolicy_wake w)
{
	if (hint < 0) {
		if (!p->bound)
			return PINPOLICY_KEEP;
		pinpolicy_init(p);
		return PINPOLICY_FREE;
	}
	if (p->bound && hint != p->cpu) {
		p->cpu = hint;
		return PINPOLICY_BIND;
	}
	if (w == PINPOLICY_IDLE)
		return PINPOLICY_KEEP;
	if (!p->bound) {
		p->calm = w == PINPOLICY_CALM ? p->calm + 1 : 0;
		if (p->calm < PINPOLICY_CALM_WAKES)
			return PINPOLICY_KEEP;
		p->bound = true;
		p->cpu = hint;
		p->calm = 0;
		p->busy = 0;
		return PINPOLICY_BIND;
	}
	p->busy = w == PINPOLICY_BUSY ? p->busy + 1 : 0;
	if (p->busy < PINPOLICY_BUSY_WAKES)
		return PINPOLICY_KEEP;
	pinpolicy_init(p);
	return PINPOLICY_FREE;
}

int pinpolicy_apply(struct pinpolicy *p, enum pinpolicy_action a, const cpu_set_t *free_cpus)
{
	cpu_set_t one;
	int r;

	switch (a) {
	case PINPOLICY_BIND:
		CPU_ZERO(&one);
		CPU_SET(p->cpu, &one);
		r = pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
		if (r)
			pinpolicy_init(p);
		return -r;
	case PINPOLICY_FREE:
		return -pthread_setaffinity_np(pthread_self(), sizeof(*free_cpus), free_cpus);
	case PINPOLICY_KEEP:
		break;
	}
	return 0;
}

int pinpolicy_may_run_on(int cpu)
{
	cpu_set_t mine;
	int r;

	if (cpu < 0 || cpu >= CPU_SETSIZE)
		return -EPERM;
	r = pthread_getaffinity_np(pthread_self(), sizeof(mine), &mine);
	if (r)
		return -r;
	return CPU_ISSET(cpu, &mine) ? 0 : -EPERM;
}
