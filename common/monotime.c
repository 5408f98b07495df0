/* monotime.c — the time on CLOCK_MONOTONIC (contract in monotime.h). */
#include <time.h>

#include "monotime.h"

static struct timespec now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts;
}

int64_t monotime_ns(void)
{
	struct timespec ts = now();

	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t monotime_ms(void)
{
	struct timespec ts = now();

	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t monotime_s(void)
{
	return (int64_t)now().tv_sec;
}

double monotime_sec(void)
{
	struct timespec ts = now();

	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
