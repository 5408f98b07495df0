/*
 * platform_posix.c — bridge_platform.h for Linux/POSIX: CLOCK_MONOTONIC and stderr.
 * The one file of the core allowed to include OS headers (the build check in
 * esp32/core/Makefile enforces that).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <time.h>

#include "bridge_platform.h"

/* 0 = errors only ... 3 = debug; set by the front end (e.g. from -v). */
int bplat_log_level = BPLAT_INFO;

uint64_t bplat_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void bplat_log(enum bplat_level lvl, const char *fmt, ...)
{
	static const char *const name[] = { "error", "warning", "info", "debug" };
	va_list ap;

	if ((int)lvl > bplat_log_level)
		return;
	fprintf(stderr, "bridge: %s: ", name[lvl]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
