/*
 * fetchbudget.c — the image budget one fetch holds (see fetchbudget.h).
 */
#include "fetchbudget.h"

#include <errno.h>

#include "reason.h"

int fetch_budget_need(struct fetch_budget *b, uint64_t bytes, char *err, size_t errlen)
{
	int r;

	if (!b || bytes <= b->held || !b->reserve)
		return 0;
	r = b->reserve(b->arg, bytes, err, errlen);
	if (r)
		return r < 0 ? r : reason_fail(err, errlen, -EDQUOT, "over the image budget");
	b->held = bytes;
	return 0;
}
