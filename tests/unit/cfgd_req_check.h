/*
 * cfgd_req_check.h — what configfs-manager/cfgd_proto.h promises of a request that
 * cfgd_req_parse accepted, checked on the test's own terms (not with the parser's
 * helpers). scsipub-cfgd runs as root and parses what the unprivileged portal sends;
 * both the unit test's seeded mutations (test_cfgd_proto) and the libFuzzer harness
 * (tests/fuzz/fuzz_cfgd.c) hold their accepted requests to these rules.
 */
#ifndef SCSIPUB_CFGD_REQ_CHECK_H
#define SCSIPUB_CFGD_REQ_CHECK_H

#include <string.h>

#include "aptpl.h"
#include "cfgd_proto.h"

#define CFGD_CHECK_LOWER "abcdefghijklmnopqrstuvwxyz0123456789"
#define CFGD_CHECK_UPPER "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

/* Whether every character of s is in set. */
static inline int cfgd_check_chars(const char *s, const char *set)
{
	return strspn(s, set) == strlen(s);
}

/*
 * NULL when q holds only what the protocol allows: a known op; target in the IQN set
 * (lower case, digits, '.', '-', ':'), initiator the same with upper case, backstore,
 * id and after lower case and digits, client and peer printable ASCII without space;
 * a prov payload on prov_create only, with 1..CFGD_LUNS_MAX LUNs, each a non-zero
 * multiple of 512 bytes, its base "" or an absolute path, at most CFGD_PR_REGS_MAX
 * registrations with non-zero keys. Otherwise what the request breaks.
 */
static inline const char *cfgd_req_check(const struct cfgd_req *q)
{
	static const char printable[] = "!\"#$%&'()*+,-./0123456789:;<=>?@" CFGD_CHECK_UPPER
					"[\\]^_`" CFGD_CHECK_LOWER "{|}~";

	if (q->op < CFGD_OP_HELLO || q->op > CFGD_OP_ANON_COUNT)
		return "an unknown op";
	if (!cfgd_check_chars(q->target, CFGD_CHECK_LOWER ".-:") ||
	    !cfgd_check_chars(q->initiator, CFGD_CHECK_LOWER CFGD_CHECK_UPPER ".-:") ||
	    !cfgd_check_chars(q->backstore, CFGD_CHECK_LOWER) ||
	    !cfgd_check_chars(q->id, CFGD_CHECK_LOWER) ||
	    !cfgd_check_chars(q->after, CFGD_CHECK_LOWER) ||
	    !cfgd_check_chars(q->client, printable) || !cfgd_check_chars(q->peer, printable))
		return "a field with a character outside its set";
	if (q->op != CFGD_OP_PROV_CREATE)
		return q->prov ? "a prov payload on another op" : NULL;
	if (!q->prov || !q->prov->n_luns || q->prov->n_luns > CFGD_LUNS_MAX)
		return "prov_create without 1..CFGD_LUNS_MAX LUNs";
	for (unsigned i = 0; i < q->prov->n_luns; i++) {
		const struct cfgd_prov_lun *l = &q->prov->luns[i];

		if (!l->size_bytes || l->size_bytes % 512)
			return "a LUN size that is not a non-zero multiple of 512";
		if (l->base[0] && l->base[0] != '/')
			return "a relative base path";
		if (l->pr && l->pr->n > CFGD_PR_REGS_MAX)
			return "more than CFGD_PR_REGS_MAX registrations";
		for (size_t j = 0; l->pr && j < l->pr->n; j++)
			if (!l->pr->regs[j].key)
				return "a zero PR key";
	}
	return NULL;
}

/* Whether a and b are the same request, prov_create's LUNs and registrations included
 * (both as cfgd_req_parse fills them). */
static inline int cfgd_req_same(const struct cfgd_req *a, const struct cfgd_req *b)
{
	struct cfgd_req x = *a, y = *b;

	x.prov = y.prov = NULL;
	if (memcmp(&x, &y, sizeof(x)) || !a->prov != !b->prov)
		return 0;
	if (!a->prov)
		return 1;
	if (strcmp(a->prov->chap_user, b->prov->chap_user) ||
	    strcmp(a->prov->chap_secret, b->prov->chap_secret) ||
	    a->prov->write_limit != b->prov->write_limit || a->prov->n_luns != b->prov->n_luns)
		return 0;
	for (unsigned i = 0; i < a->prov->n_luns; i++) {
		const struct cfgd_prov_lun *l = &a->prov->luns[i], *m = &b->prov->luns[i];

		if (strcmp(l->base, m->base) || l->size_bytes != m->size_bytes ||
		    !l->pr != !m->pr || (l->pr && !aptpl_state_equal(l->pr, m->pr)))
			return 0;
	}
	return 1;
}

#endif
