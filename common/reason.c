/*
 * reason.c — failure reasons into caller buffers (reason.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include "reason.h"

int reason_fail(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}
