/*
 * login_accept_check.h — what the portal's reading of a leading Login Request
 * promises once it accepted one (tls-proxy/login.h), checked on the test's own terms:
 * the names are valid iSCSI names, and the InitiatorName rewrite that the portal
 * relays to LIO says what the request said, with the new name, also as LIO reads it.
 * Used by the unit test test_login_random and the libFuzzer harness
 * tests/fuzz/fuzz_login.c.
 */
#ifndef SCSIPUB_LOGIN_ACCEPT_CHECK_H
#define SCSIPUB_LOGIN_ACCEPT_CHECK_H

#include <stdlib.h>
#include <string.h>

#include "login.h"
#include "pdu.h"

/* An iSCSI name as login.h states the rule (RFC 7143 §4.2.7.1: at most 223 bytes;
 * letters, digits, '.', ':', '-', '_'). */
static inline int login_check_name(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 223 || !strcmp(s, ".") || !strcmp(s, ".."))
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz" "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789.:-_") == n;
}

/* The identity keys as LIO takes them from the first Login Request's data. */
struct lio_identity {
	const char *initiator, *target, *session_type;
};

/*
 * LIO's first-PDU scan of data (len bytes), as login.h describes
 * iscsi_target_locate_portal (Linux 6.1): every pair needs '=' and its NUL; a key that
 * starts with InitiatorName, SessionType or TargetName counts as that key, the last
 * one wins. 0, or -1 when LIO would refuse the login.
 */
static inline int lio_identity_scan(const char *data, size_t len, struct lio_identity *v)
{
	size_t i = 0;

	memset(v, 0, sizeof(*v));
	while (i < len) {
		const char *e = data + i, *eq;
		size_t el = strnlen(e, len - i);

		if (el == len - i)
			return -1; /* no NUL: not a pair */
		eq = memchr(e, '=', el);
		if (!eq)
			return -1;
		if (!strncmp(e, "InitiatorName", 13))
			v->initiator = eq + 1;
		else if (!strncmp(e, "SessionType", 11))
			v->session_type = eq + 1;
		else if (!strncmp(e, "TargetName", 10))
			v->target = eq + 1;
		i += el + 1;
	}
	return 0;
}

static inline int login_check_same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* The rest of login_accept_check, on the rewrite q of p; r2 is q parsed. */
static inline const char *login_check_rewrite(const struct pdu *p, const struct login_req *r,
					      const struct pdu *q, const struct login_req *r2,
					      const char *new_name)
{
	struct lio_identity v;

	if (!login_check_same(r2->initiator, new_name) ||
	    !login_check_same(r2->target, r->target) || r2->discovery != r->discovery ||
	    r2->keys.n != r->keys.n)
		return "the rewritten request says something else";
	for (size_t i = 0; i < r->keys.n; i++)
		if (strcmp(r->keys.pairs[i].key, r2->keys.pairs[i].key) ||
		    (strcmp(r->keys.pairs[i].key, "InitiatorName") &&
		     strcmp(r->keys.pairs[i].value, r2->keys.pairs[i].value)))
			return "a pair changed in the rewrite";
	if (memcmp(q->bhs, p->bhs, 4) || memcmp(q->bhs + 8, p->bhs + 8, PDU_BHS_LEN - 8))
		return "the rewritten BHS differs beyond DataSegmentLength";
	if (lio_identity_scan((const char *)q->data, q->data_len, &v))
		return "LIO would refuse the rewritten request";
	if (!login_check_same(v.initiator, new_name) || !login_check_same(v.target, r->target) ||
	    (v.session_type && !strncmp(v.session_type, "Discovery", 9)) != r->discovery)
		return "LIO reads another identity from the rewritten request";
	return NULL;
}

/*
 * NULL when the leading Login Request p, which login_parse and login_check_leading
 * accepted as r, keeps login.h's promises: a valid InitiatorName, a valid TargetName
 * for a Normal session, and login_rewrite_initiator(p, new_name) gives a request that
 * they accept again with the new name, the same target and session type, every other
 * pair in order, the BHS unchanged but for DataSegmentLength, and from which LIO's
 * scan reads exactly that identity. Otherwise what is broken. Frees what it made.
 */
static inline const char *login_accept_check(const struct pdu *p, const struct login_req *r,
					     const char *new_name)
{
	struct login_req r2;
	struct pdu q;
	uint8_t *raw;
	size_t raw_len;
	char why[256];
	const char *broken;

	if (!r->initiator || !login_check_name(r->initiator))
		return "accepted without a valid InitiatorName";
	if (!r->discovery && (!r->target || !login_check_name(r->target)))
		return "a Normal session accepted without a valid TargetName";
	if (login_rewrite_initiator(p, new_name, &raw, &raw_len))
		return "the accepted request was not rewritten";
	memset(&q, 0, sizeof(q));
	q.raw = q.bhs = raw;
	q.raw_len = raw_len;
	q.data = raw + PDU_BHS_LEN;
	q.data_len = pdu_data_len(raw);
	if (raw_len != PDU_BHS_LEN + pdu_pad4(q.data_len)) {
		free(raw);
		return "the rewrite's length disagrees with its DataSegmentLength";
	}
	if (login_parse(&q, &r2, why, sizeof(why)) != LOGIN_OK ||
	    login_check_leading(&r2, why, sizeof(why)) != LOGIN_OK) {
		login_req_free(&r2);
		free(raw);
		return "the rewritten request was refused";
	}
	broken = login_check_rewrite(p, r, &q, &r2, new_name);
	login_req_free(&r2);
	free(raw);
	return broken;
}

#endif
