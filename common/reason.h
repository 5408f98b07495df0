/*
 * reason.h — the one-line failure reason every component leaves in a caller's
 * (err, errlen) buffer: format it and hand back the error code, in one call.
 */
#ifndef SCSIPUB_REASON_H
#define SCSIPUB_REASON_H

#include <stddef.h>

/*
 * Format fmt (printf) into err (errlen bytes, NUL-terminated, truncated; nothing when
 * err is NULL or errlen 0) and return r unchanged (normally a negative errno), so a
 * caller can write `return reason_fail(err, errlen, -EINVAL, "bad %s", x);`.
 */
int reason_fail(char *err, size_t errlen, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
