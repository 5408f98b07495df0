/*
 * budget.c — the image budget held by fetches in progress (see budget.h).
 */
#include "budget.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>

#include "reason.h"

/* One account with fetches in progress: its ready images' bytes (used) and the sum of
 * what its running fetches hold (reserved). */
struct budget_entry {
	int64_t account_id;
	uint64_t used, reserved;
	unsigned fetches;
};

void budget_init(struct budget *b, budget_used_fn used, void *arg)
{
	*b = (struct budget){ .used = used, .used_arg = arg };
	pthread_mutex_init(&b->mu, NULL);
}

void budget_set_limits(struct budget *b, unsigned total, unsigned per_account)
{
	pthread_mutex_lock(&b->mu);
	b->max_fetches = total;
	b->max_account_fetches = per_account;
	pthread_mutex_unlock(&b->mu);
}

void budget_fini(struct budget *b)
{
	free(b->v);
	b->v = NULL;
	b->n = 0;
	pthread_mutex_destroy(&b->mu);
}

/* used + reserved + need <= limit, without overflowing. */
static bool fits(uint64_t used, uint64_t reserved, uint64_t need, uint64_t limit)
{
	return used <= limit && reserved <= limit - used && need <= limit - used - reserved;
}

/* The entry of account id, or NULL. Called with mu held. */
static struct budget_entry *find(struct budget *b, int64_t id)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		if (b->v[i].account_id == id)
			return &b->v[i];
	return NULL;
}

/* Drop entry e when no fetch holds it any more. Called with mu held. */
static void drop_idle(struct budget *b, struct budget_entry *e)
{
	if (e->fetches)
		return;
	*e = b->v[--b->n];
}

int budget_begin(struct budget *b, int64_t id, uint64_t limit, uint64_t *held, char *err,
		 size_t errlen)
{
	struct budget_entry *e;
	int rc = 0;

	pthread_mutex_lock(&b->mu);
	if (b->max_fetches && b->fetches >= b->max_fetches) {
		rc = reason_fail(err, errlen, -EBUSY, "the server runs %u image fetches, its "
				 "limit; try again when one has ended", b->fetches);
		goto out;
	}
	e = find(b, id);
	if (e && b->max_account_fetches && e->fetches >= b->max_account_fetches) {
		rc = reason_fail(err, errlen, -EAGAIN, "the account runs %u image fetches, its "
				 "limit; try again when one has ended (GET /api/images)",
				 e->fetches);
		goto out;
	}
	if (!e) {
		uint64_t used = 0;
		struct budget_entry *v;

		rc = b->used(b->used_arg, id, &used, err, errlen);
		if (rc < 0)
			goto out;
		v = realloc(b->v, (b->n + 1) * sizeof(*v));
		if (!v) {
			rc = reason_fail(err, errlen, -ENOMEM, "out of memory");
			goto out;
		}
		b->v = v;
		e = &b->v[b->n++];
		*e = (struct budget_entry){ .account_id = id, .used = used };
	}
	if (!fits(e->used, e->reserved, BUDGET_START, limit)) {
		rc = reason_fail(err, errlen, -EDQUOT,
				 "image budget exceeded: the account's images use %" PRIu64
				 " and its fetches in progress hold %" PRIu64 " of its %" PRIu64
				 " bytes", e->used, e->reserved, limit);
		drop_idle(b, e);
		goto out;
	}
	e->reserved += BUDGET_START;
	e->fetches++;
	b->fetches++;
	*held = BUDGET_START;
out:
	pthread_mutex_unlock(&b->mu);
	return rc;
}

int budget_grow(struct budget *b, int64_t id, uint64_t limit, uint64_t *held, uint64_t need,
		char *err, size_t errlen)
{
	struct budget_entry *e;
	int rc = 0;

	pthread_mutex_lock(&b->mu);
	e = find(b, id);
	if (!e || need <= *held) {
		rc = e ? 0 : -EIO;
		if (!e)
			reason_fail(err, errlen, rc, "internal error: no budget reservation");
	} else if (!fits(e->used, e->reserved - *held, need, limit)) {
		rc = reason_fail(err, errlen, -EDQUOT,
				 "image budget exceeded: the image needs at least %" PRIu64
				 " bytes; the account's images use %" PRIu64
				 " and its other fetches in progress hold %" PRIu64
				 " of its %" PRIu64 " bytes", need, e->used, e->reserved - *held,
				 limit);
	} else {
		e->reserved += need - *held;
		*held = need;
	}
	pthread_mutex_unlock(&b->mu);
	return rc;
}

void budget_end(struct budget *b, int64_t id, uint64_t held, uint64_t committed)
{
	struct budget_entry *e;

	pthread_mutex_lock(&b->mu);
	e = find(b, id);
	if (e) {
		e->reserved -= held <= e->reserved ? held : e->reserved;
		e->used += committed;
		e->fetches--;
		b->fetches--;
		drop_idle(b, e);
	}
	pthread_mutex_unlock(&b->mu);
}

size_t budget_accounts(struct budget *b)
{
	size_t n;

	pthread_mutex_lock(&b->mu);
	n = b->n;
	pthread_mutex_unlock(&b->mu);
	return n;
}
