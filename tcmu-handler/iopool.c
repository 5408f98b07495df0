/*
 * iopool.c — the handler's command threads (contract in iopool.h), a GThreadPool of
 * exclusive threads started up front.
 */
#include <errno.h>
#include <glib.h>
#include <stdlib.h>

#include "iopool.h"
#include "reason.h"

struct iopool {
	GThreadPool *gp;
	iopool_fn fn;
};

static void run_one(gpointer data, gpointer user_data)
{
	struct iopool *p = user_data;

	p->fn(data);
}

struct iopool *iopool_new(unsigned threads, iopool_fn fn, char *err, size_t errlen)
{
	struct iopool *p;
	GError *gerr = NULL;

	if (threads < 1 || threads > IOPOOL_MAX_THREADS || !fn) {
		reason_fail(err, errlen, -EINVAL, "command threads: %u is not in 1..%d",
			    threads, IOPOOL_MAX_THREADS);
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		reason_fail(err, errlen, -ENOMEM, "out of memory");
		return NULL;
	}
	p->fn = fn;
	/* exclusive = TRUE: the threads are ours and all start now. */
	p->gp = g_thread_pool_new(run_one, p, (gint)threads, TRUE, &gerr);
	if (!p->gp) {
		reason_fail(err, errlen, -EAGAIN, "cannot start %u command threads: %s",
			    threads, gerr ? gerr->message : "unknown error");
		g_clear_error(&gerr);
		free(p);
		return NULL;
	}
	return p;
}

int iopool_run(struct iopool *p, void *arg)
{
	GError *gerr = NULL;

	if (!g_thread_pool_push(p->gp, arg, &gerr)) {
		g_clear_error(&gerr);
		return -EAGAIN;
	}
	return 0;
}

void iopool_free(struct iopool *p)
{
	if (!p)
		return;
	/* immediate = FALSE: queued jobs still run; wait = TRUE: until they have. */
	g_thread_pool_free(p->gp, FALSE, TRUE);
	free(p);
}
