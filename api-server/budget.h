/*
 * budget.h — the image budget held by accounts' fetches in progress
 * (app_image_create in app.h). Per account it keeps the bytes of its ready images
 * (asked of the caller's `used` function once, when its first fetch starts, then
 * counted here as fetches finish) and the bytes its running fetches hold. A fetch
 * holds BUDGET_START bytes from its start, grows its hold as it learns how big the
 * image is (Content-Length, bytes downloaded and decompressed), and at its end turns
 * the hold into ready bytes, or gives it back. A start or a growth that would take the
 * account's ready images plus all its fetches' holds over the account's budget is
 * refused, so concurrent fetches of one account cannot together exceed it.
 *
 * It also bounds how many fetches run: in all, and per account (budget_set_limits),
 * since each holds a thread, a socket and files for as long as its source keeps it.
 *
 * All sizes are bytes. An account has an entry only while a fetch of it runs (bounded
 * by those limits). Thread-safe: one mutex, held across the `used` call too (it runs
 * once per account and fetch burst).
 */
#ifndef SCSIPUB_BUDGET_H
#define SCSIPUB_BUDGET_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* What a fetch holds when it starts: the smallest image there is. */
#define BUDGET_START 512

/* The account's ready images' bytes into *used: 0, or -errno with a reason in err. */
typedef int (*budget_used_fn)(void *arg, int64_t account_id, uint64_t *used, char *err,
			      size_t errlen);

struct budget_entry;

struct budget {
	pthread_mutex_t mu;             /* guards the fields below */
	struct budget_entry *v;         /* accounts with fetches in progress */
	size_t n;
	budget_used_fn used;
	void *used_arg;
	unsigned fetches;               /* fetches running, all accounts */
	unsigned max_fetches;           /* 0 = no limit */
	unsigned max_account_fetches;   /* 0 = no limit */
};

/* Set up b (caller's storage) with the function that reads an account's ready bytes. */
void budget_init(struct budget *b, budget_used_fn used, void *arg);

/* At most `total` fetches at once in all and `per_account` of one account (0 = no
 * limit); budget_begin refuses the next one. Call before fetches start. */
void budget_set_limits(struct budget *b, unsigned total, unsigned per_account);

/* Free b's entries (no fetch may still use it). */
void budget_fini(struct budget *b);

/*
 * A fetch of account id starts: it holds BUDGET_START bytes (*held is set to that) when
 * the account's ready images and its fetches' holds leave that much of limit. 0;
 * -EDQUOT when they do not; -EAGAIN when the account already runs its limit of
 * fetches, -EBUSY when the server runs its limit in all (budget_set_limits); the
 * `used` function's -errno, or -ENOMEM. Reason in err.
 */
int budget_begin(struct budget *b, int64_t id, uint64_t limit, uint64_t *held, char *err,
		 size_t errlen);

/*
 * The fetch of account id holding *held bytes needs `need` bytes in all: *held grows to
 * need when the account's ready images and all its fetches' holds stay within limit
 * (nothing happens when need <= *held). 0; -EDQUOT with the reason in err, *held
 * unchanged; -EIO when no fetch of id began.
 */
int budget_grow(struct budget *b, int64_t id, uint64_t limit, uint64_t *held, uint64_t need,
		char *err, size_t errlen);

/*
 * The fetch of account id holding `held` bytes ended; `committed` bytes became a ready
 * image (0 when it failed). Call it after the image is registered as ready, so the
 * bytes are counted in the database or here at every moment.
 */
void budget_end(struct budget *b, int64_t id, uint64_t held, uint64_t committed);

/* How many accounts have fetches in progress (0 when every hold was given back). */
size_t budget_accounts(struct budget *b);

#endif
