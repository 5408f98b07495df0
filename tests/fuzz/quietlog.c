/*
 * quietlog.c — the portal's log.h interface for the fuzzers: every message is
 * formatted exactly as tls-proxy/log.c formats it (so the sanitizers still check
 * each format string against its fuzzed arguments), then dropped instead of being
 * written to stderr, which would slow a run down and bury libFuzzer's own report.
 * plog_verbose starts at 1 so the debug messages are formatted too.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

int plog_verbose = 1;

/* Total bytes formatted; read by nobody, it only keeps the formatting observable. */
static volatile size_t formatted;

static void vformat(const char *fmt, va_list ap)
{
	char line[1024];
	int n = vsnprintf(line, sizeof(line), fmt, ap);

	if (n > 0)
		formatted += (size_t)n;
}

void plog(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vformat(fmt, ap);
	va_end(ap);
}

void plog_debug(const char *fmt, ...)
{
	va_list ap;

	if (!plog_verbose)
		return;
	va_start(ap, fmt);
	vformat(fmt, ap);
	va_end(ap);
}
