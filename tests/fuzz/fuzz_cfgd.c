/*
 * fuzz_cfgd.c — libFuzzer harness for scsipub-cfgd's request parser
 * (configfs-manager/cfgd_proto.c): every input is one socket message from a client.
 * A request that parses must satisfy the protocol's field rules, and formatting it
 * again must give a message that parses to the same request (prov_create's LUNs and
 * PR registrations included); nothing leaks.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aptpl.h"
#include "cfgd_proto.h"

static int printable(const char *s)
{
	for (; *s; s++)
		if (*s <= 0x20 || *s >= 0x7f)
			return 0;
	return 1;
}

/* The same prov_create payload (LUNs, registrations) in a and b. */
static int prov_equal(const struct cfgd_prov *a, const struct cfgd_prov *b)
{
	if (!a || !b)
		return a == b;
	if (strcmp(a->chap_user, b->chap_user) || strcmp(a->chap_secret, b->chap_secret) ||
	    a->write_limit != b->write_limit || a->n_luns != b->n_luns)
		return 0;
	for (unsigned i = 0; i < a->n_luns; i++) {
		const struct cfgd_prov_lun *x = &a->luns[i], *y = &b->luns[i];

		if (strcmp(x->base, y->base) || x->size_bytes != y->size_bytes ||
		    !aptpl_state_equal(x->pr, y->pr))
			return 0;
	}
	return 1;
}

static char buf[CFGD_MSG_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfgd_req q, q2;
	struct cfgd_prov *p1, *p2;
	char err[256];
	int n, same;

	if (cfgd_req_parse((const char *)data, size, &q, err, sizeof(err)) < 0)
		return 0;
	if (!printable(q.target) || !printable(q.initiator) || !printable(q.client) ||
	    !printable(q.peer) || !printable(q.backstore) || strchr(q.target, '/') ||
	    strchr(q.initiator, '/') || strchr(q.backstore, '/'))
		abort();
	n = cfgd_req_format(&q, buf, sizeof(buf));
	if (n < 0 || cfgd_req_parse(buf, (size_t)n, &q2, err, sizeof(err)) < 0)
		abort();
	p1 = q.prov;
	p2 = q2.prov;
	q.prov = q2.prov = NULL;
	same = !memcmp(&q, &q2, sizeof(q)) && prov_equal(p1, p2);
	q.prov = p1;
	q2.prov = p2;
	cfgd_req_clear(&q);
	cfgd_req_clear(&q2);
	if (!same)
		abort();
	return 0;
}
