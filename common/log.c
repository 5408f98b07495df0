/*
 * log.c — stderr logging for every program (see log.h). One fprintf per line, so lines
 * from concurrent connection threads do not interleave.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

int plog_verbose;
int plog_quiet;
const char *plog_program = "scsipub";

static void vlog(const char *fmt, va_list ap)
{
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	if (!plog_quiet)
		fprintf(stderr, "%s: %s\n", plog_program, line);
}

void plog(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

void plog_debug(const char *fmt, ...)
{
	va_list ap;

	if (!plog_verbose)
		return;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}
