/*
 * fetchbudget.h — how much of the caller's image budget one fetch holds. The bytes a
 * fetch needs only grow (the announced Content-Length, the bytes downloaded, the bytes
 * decoded, a qcow2's virtual size, the final padded size: fetch.h, fetch_reserve_fn);
 * each time they pass what was granted, the policy's reserve callback is asked for the
 * new total. In the decoder program that callback asks its parent (fetchunpack.h).
 */
#ifndef SCSIPUB_FETCHBUDGET_H
#define SCSIPUB_FETCHBUDGET_H

#include <stddef.h>
#include <stdint.h>

struct fetch_policy;

/* One fetch's budget: zero it, then set pol (NULL: no reservation). Owns nothing. */
struct fetch_budget {
	const struct fetch_policy *pol; /* its reserve callback (fetch.h); NULL: none */
	uint64_t held;                  /* bytes granted so far */
};

/*
 * The fetch needs `bytes` (bytes, in total): when that is more than b->held, ask
 * b->pol->reserve for it and hold it. 0 when held (or when b, its policy or its
 * callback is NULL); else the callback's negative errno with its reason in err, or
 * -EDQUOT "over the image budget" when it returned a positive value.
 */
int fetch_budget_need(struct fetch_budget *b, uint64_t bytes, char *err, size_t errlen);

#endif
