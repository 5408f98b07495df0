/*
 * latency.h — nearest-rank percentiles of latency samples, for the lab's measuring
 * tools (login-time.c, session-ramp.c).
 */
#ifndef SCSIPUB_LAB_LATENCY_H
#define SCSIPUB_LAB_LATENCY_H

#include <stdlib.h>

#include "monotime.h"

/* CLOCK_MONOTONIC in milliseconds, with their fraction (common/monotime.h). */
static inline double lat_now_ms(void)
{
	return (double)monotime_ns() / 1e6;
}

static inline int lat_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Sort v[0..n-1] ascending. */
static inline void lat_sort(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), lat_cmp);
}

/* Nearest-rank percentile of sorted v[0..n-1], p in (0, 100]; 0 when n == 0. */
static inline double lat_pct(const double *v, int n, double p)
{
	int i = (int)((p / 100.0) * n + 0.999999) - 1;

	if (n <= 0)
		return 0.0;
	if (i < 0)
		i = 0;
	if (i >= n)
		i = n - 1;
	return v[i];
}

/* Median of sorted v[0..n-1]; 0 when n == 0. */
static inline double lat_median(const double *v, int n)
{
	if (n <= 0)
		return 0.0;
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif
