/*
 * log.c — the logger of every program (see log.h): the line is built in a buffer and
 * written with one write(2).
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

int plog_verbose;
int plog_quiet;
int plog_timestamps;
const char *plog_program = "scsipub";

static void vlog(enum plog_level level, const char *fmt, va_list ap)
{
	static const char *const word[] = {
		[PLOG_ERROR] = "error: ",
		[PLOG_WARN] = "warning: ",
		[PLOG_INFO] = "",
		[PLOG_DEBUG] = "",
	};
	/* Room for PLOG_LINE_MAX - 1 bytes of text, the newline, and vsnprintf's NUL. */
	char line[PLOG_LINE_MAX + 1];
	const size_t text_max = PLOG_LINE_MAX - 1;
	size_t len = 0;
	int n;

	if (level == PLOG_DEBUG && !plog_verbose)
		return;
	if (plog_timestamps) {
		time_t now = time(NULL);
		struct tm tm;

		if (gmtime_r(&now, &tm))
			len = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ ", &tm);
	}
	n = snprintf(line + len, sizeof(line) - len, "%s: %s", plog_program,
		     (unsigned)level <= PLOG_DEBUG ? word[level] : "");
	if (n > 0)
		len += (size_t)n;
	if (len > text_max)
		len = text_max;
	n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	if (n > 0)
		len += (size_t)n;
	if (len > text_max)
		len = text_max;
	line[len++] = '\n';
	if (plog_quiet)
		return;
	while (write(STDERR_FILENO, line, len) < 0 && errno == EINTR)
		;
}

void plog_at(enum plog_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

void plog(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(PLOG_INFO, fmt, ap);
	va_end(ap);
}

void plog_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(PLOG_DEBUG, fmt, ap);
	va_end(ap);
}
