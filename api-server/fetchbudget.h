/*
 * fetchbudget.h — how much of the caller's image budget one fetch holds. The bytes a
 * fetch needs only grow (fetch_reserve_fn below); each time they pass what was
 * granted, the reserve callback (fetch.h: struct fetch_policy) is asked for the new
 * total. In the decoder program that callback asks its parent (fetchunpack.h).
 */
#ifndef SCSIPUB_FETCHBUDGET_H
#define SCSIPUB_FETCHBUDGET_H

#include <stddef.h>
#include <stdint.h>

/*
 * Budget reservation callback: the fetch needs `bytes` of the caller's budget so far
 * (the largest of the announced Content-Length, the bytes downloaded, the bytes
 * decompressed, a qcow2's virtual size and the final padded size; it only grows).
 * Called from the fetching thread, possibly for every chunk. Return 0 to go on, or a
 * negative errno (e.g. -EDQUOT) with a one-line reason in err to stop: the fetch
 * then fails with that errno and reason.
 */
typedef int (*fetch_reserve_fn)(void *arg, uint64_t bytes, char *err, size_t errlen);

/* One fetch's budget: zero it, then set reserve (NULL: no reservation). Owns nothing. */
struct fetch_budget {
	fetch_reserve_fn reserve;       /* asked for each new total; NULL: none */
	void *arg;                      /* reserve's first argument */
	uint64_t held;                  /* bytes granted so far */
};

/*
 * The fetch needs `bytes` (bytes, in total): when that is more than b->held, ask
 * b->reserve for it and hold it. 0 when held (or when b or its callback is NULL);
 * else the callback's negative errno with its reason in err, or -EDQUOT "over the
 * image budget" when it returned a positive value.
 */
int fetch_budget_need(struct fetch_budget *b, uint64_t bytes, char *err, size_t errlen);

#endif
