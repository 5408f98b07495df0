/*
 * poolsize.c — the size of a pool of pre-made sessions over time (see poolsize.h).
 */
#include "poolsize.h"

#include <string.h>

void poolsize_init(struct poolsize *z, unsigned count, unsigned max, double keep_s)
{
	memset(z, 0, sizeof(*z));
	z->count = count;
	z->max = max < count ? count : max;
	z->target = count;
	z->keep_s = keep_s > 0 ? keep_s : POOLSIZE_KEEP_S;
}

unsigned poolsize_login(struct poolsize *z, double now)
{
	if (!z->window_at || now - z->window_at >= POOLSIZE_WINDOW_S) {
		z->window_at = now;
		z->burst = 0;
	}
	if (z->burst < z->max)
		z->burst++;
	if (z->burst > z->count)
		z->big_at = now;
	if (z->burst > z->target)
		z->target = z->burst;
	return z->target;
}

unsigned poolsize_target(struct poolsize *z, double now, double *shrink_at)
{
	if (z->target > z->count && now - z->big_at >= z->keep_s)
		z->target = z->count;
	if (shrink_at)
		*shrink_at = z->target > z->count ? z->big_at + z->keep_s : 0;
	return z->target;
}
