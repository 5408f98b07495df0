/*
 * cfgd_proto.c — scsipub-cfgd's request messages (see cfgd_proto.h), parsed with
 * json-c and validated field by field, and its responses.
 */
#include "cfgd_proto.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aptpl.h"
#include "reason.h"

enum field {
	F_TARGET = 1, F_INITIATOR = 2, F_CLIENT = 4, F_PEER = 8, F_BACKSTORE = 16, F_ID = 32,
	F_AFTER = 64, /* optional */
	F_PROV = 128, /* chap_user, chap_secret, write_limit, luns: parse_prov */
};
#define F_OPTIONAL F_AFTER

static const struct {
	enum cfgd_op op;
	const char *name;
	unsigned fields;
} ops[] = {
	{ CFGD_OP_HELLO, "hello", 0 },
	{ CFGD_OP_ANON_CREATE, "anon_create", F_TARGET | F_CLIENT | F_PEER },
	{ CFGD_OP_ANON_DESTROY, "anon_destroy", F_BACKSTORE },
	{ CFGD_OP_ACL_SWEEP, "acl_sweep", F_TARGET | F_INITIATOR },
	{ CFGD_OP_LIST, "list", 0 },
	{ CFGD_OP_PROV_CREATE, "prov_create", F_ID | F_PROV },
	{ CFGD_OP_PROV_DESTROY, "prov_destroy", F_ID },
	{ CFGD_OP_PROV_LIST, "prov_list", F_AFTER },
	{ CFGD_OP_PROV_STATUS, "prov_status", F_ID },
	{ CFGD_OP_ANON_COUNT, "anon_count", F_TARGET },
};
#define NOPS (sizeof(ops) / sizeof(ops[0]))

const char *cfgd_op_name(enum cfgd_op op)
{
	for (size_t i = 0; i < NOPS; i++)
		if (ops[i].op == op)
			return ops[i].name;
	return "?";
}

/* Which characters a field may hold. */
enum charset { CS_PRINTABLE, CS_IQN, CS_INITIATOR, CS_BACKSTORE };

static bool char_ok(enum charset cs, char ch)
{
	bool lower = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');

	switch (cs) {
	case CS_PRINTABLE:
		return ch > 0x20 && ch < 0x7f;
	case CS_IQN:
		return lower || ch == '.' || ch == '-' || ch == ':';
	case CS_INITIATOR:
		return lower || (ch >= 'A' && ch <= 'Z') || ch == '.' || ch == '-' || ch == ':';
	case CS_BACKSTORE:
		return lower;
	}
	return false;
}

static const struct {
	unsigned bit;
	const char *key;
	size_t max;
	enum charset cs;
	size_t off;
} fields[] = {
	{ F_TARGET, "target", CFGD_NAME_MAX, CS_IQN, offsetof(struct cfgd_req, target) },
	{ F_INITIATOR, "initiator", CFGD_NAME_MAX, CS_INITIATOR,
	  offsetof(struct cfgd_req, initiator) },
	{ F_CLIENT, "client", CFGD_NAME_MAX, CS_PRINTABLE, offsetof(struct cfgd_req, client) },
	{ F_PEER, "peer", CFGD_PEER_MAX, CS_PRINTABLE, offsetof(struct cfgd_req, peer) },
	{ F_BACKSTORE, "backstore", CFGD_BACKSTORE_MAX, CS_BACKSTORE,
	  offsetof(struct cfgd_req, backstore) },
	{ F_ID, "id", CFGD_ID_MAX, CS_BACKSTORE, offsetof(struct cfgd_req, id) },
	{ F_AFTER, "after", CFGD_ID_MAX, CS_BACKSTORE, offsetof(struct cfgd_req, after) },
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static int field_set(struct cfgd_req *req, size_t f, json_object *v, char *err, size_t errlen)
{
	const char *s;
	size_t n;

	if (!json_object_is_type(v, json_type_string))
		return reason_fail(err, errlen, -EINVAL, "%s: not a string", fields[f].key);
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (n == 0 || n > fields[f].max)
		return reason_fail(err, errlen, -EINVAL, "%s: 1 to %zu characters", fields[f].key,
				   fields[f].max);
	for (size_t i = 0; i < n; i++)
		if (!char_ok(fields[f].cs, s[i]))
			return reason_fail(err, errlen, -EINVAL, "%s: character %zu not allowed",
					   fields[f].key, i);
	memcpy((char *)req + fields[f].off, s, n);
	((char *)req + fields[f].off)[n] = '\0';
	return 0;
}

/* A string member of o (required) into out: 1..max characters of charset cs. */
static int get_string(json_object *o, const char *key, enum charset cs, char *out, size_t max,
		      bool may_be_empty, char *err, size_t errlen)
{
	json_object *v;
	const char *str;
	size_t n;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return reason_fail(err, errlen, -EINVAL, "%s: missing or not a string", key);
	str = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if ((!n && !may_be_empty) || n > max)
		return reason_fail(err, errlen, -EINVAL, "%s: %d to %zu characters", key,
				   may_be_empty ? 0 : 1, max);
	for (size_t i = 0; i < n; i++)
		if (!char_ok(cs, str[i]))
			return reason_fail(err, errlen, -EINVAL, "%s: character %zu not allowed",
					   key, i);
	memcpy(out, str, n);
	out[n] = '\0';
	return 0;
}

/* An integer member of o (required) in [min, max]. */
static int get_u64(json_object *o, const char *key, uint64_t min, uint64_t max, uint64_t *out,
		   char *err, size_t errlen)
{
	json_object *v;
	int64_t x;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return reason_fail(err, errlen, -EINVAL, "%s: missing or not an integer", key);
	x = json_object_get_int64(v);
	if (x < 0 || (uint64_t)x < min || (uint64_t)x > max)
		return reason_fail(err, errlen, -EINVAL, "%s: out of range", key);
	*out = (uint64_t)x;
	return 0;
}

static int get_bool(json_object *o, const char *key, bool *out, char *err, size_t errlen)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_boolean))
		return reason_fail(err, errlen, -EINVAL, "%s: missing or not a boolean", key);
	*out = json_object_get_boolean(v);
	return 0;
}

/* Exactly the keys in keys[] (n of them) are in o. */
static int only_keys(json_object *o, const char *const *keys, size_t n, const char *what,
		     char *err, size_t errlen)
{
	size_t have = 0;

	json_object_object_foreach(o, key, val)
	{
		size_t i;

		(void)val;
		for (i = 0; i < n && strcmp(keys[i], key); i++)
			;
		if (i == n)
			return reason_fail(err, errlen, -EINVAL, "%s: unexpected key", what);
		have++;
	}
	return have == n ? 0 : reason_fail(err, errlen, -EINVAL, "%s: missing keys", what);
}

/* One PR registration object (aptpl.h). */
static int parse_reg(json_object *o, struct aptpl_reg *r, char *err, size_t errlen)
{
	static const char *const keys[] = { "initiator", "isid", "key", "holder", "type",
					    "scope", "all_tg_pt", "mapped_lun", "target", "tpgt",
					    "target_lun" };
	char key[24], *end;
	uint64_t x;
	int rc;

	if (!json_object_is_type(o, json_type_object))
		return reason_fail(err, errlen, -EINVAL, "pr: not an object");
	if ((rc = only_keys(o, keys, sizeof(keys) / sizeof(keys[0]), "pr", err, errlen)) ||
	    (rc = get_string(o, "initiator", CS_INITIATOR, r->initiator, APTPL_NAME_MAX, false,
			     err, errlen)) ||
	    (rc = get_string(o, "isid", CS_PRINTABLE, r->isid, APTPL_ISID_MAX, true, err,
			     errlen)) ||
	    (rc = get_string(o, "key", CS_BACKSTORE, key, 20, false, err, errlen)) ||
	    (rc = get_bool(o, "holder", &r->holder, err, errlen)) ||
	    (rc = get_string(o, "target", CS_IQN, r->target, APTPL_NAME_MAX, false, err,
			     errlen)) ||
	    (rc = get_bool(o, "all_tg_pt", &r->all_tg_pt, err, errlen)) ||
	    (rc = get_u64(o, "mapped_lun", 0, CFGD_LUNS_MAX - 1, &r->mapped_lun, err, errlen)) ||
	    (rc = get_u64(o, "target_lun", 0, 65535, &r->target_lun, err, errlen)))
		return rc;
	errno = 0;
	r->key = strtoull(key, &end, 10);
	if (errno || *end || !r->key)
		return reason_fail(err, errlen, -EINVAL, "pr: key is not a non-zero decimal");
	if ((rc = get_u64(o, "type", 0, 255, &x, err, errlen)))
		return rc;
	r->type = (uint8_t)x;
	if ((rc = get_u64(o, "scope", 0, 255, &x, err, errlen)))
		return rc;
	r->scope = (uint8_t)x;
	if ((rc = get_u64(o, "tpgt", 1, 65535, &x, err, errlen)))
		return rc;
	r->tpgt = (uint16_t)x;
	return 0;
}

static int parse_lun(json_object *o, struct cfgd_prov_lun *l, char *err, size_t errlen)
{
	static const char *const keys[] = { "base", "size", "generation", "pr" };
	json_object *pr;
	uint64_t g;
	size_t n;
	int rc;

	if (!json_object_is_type(o, json_type_object))
		return reason_fail(err, errlen, -EINVAL, "luns: not an object");
	if ((rc = only_keys(o, keys, 4, "luns", err, errlen)) ||
	    (rc = get_string(o, "base", CS_PRINTABLE, l->base, CFGD_PATH_MAX, true, err,
			     errlen)) ||
	    (rc = get_u64(o, "size", 512, UINT64_C(1) << 50, &l->size_bytes, err, errlen)) ||
	    (rc = get_u64(o, "generation", 0, UINT32_MAX, &g, err, errlen)))
		return rc;
	if (l->size_bytes % 512)
		return reason_fail(err, errlen, -EINVAL, "size: not a multiple of 512");
	if (l->base[0] && l->base[0] != '/')
		return reason_fail(err, errlen, -EINVAL, "base: not an absolute path");
	json_object_object_get_ex(o, "pr", &pr);
	if (!json_object_is_type(pr, json_type_array))
		return reason_fail(err, errlen, -EINVAL, "pr: not an array");
	n = json_object_array_length(pr);
	if (n > CFGD_PR_REGS_MAX)
		return reason_fail(err, errlen, -EINVAL, "pr: more than %d registrations",
				   CFGD_PR_REGS_MAX);
	l->pr = calloc(1, sizeof(*l->pr));
	if (!l->pr || (n && !(l->pr->regs = calloc(n, sizeof(*l->pr->regs)))))
		return reason_fail(err, errlen, -ENOMEM, "out of memory");
	l->pr->generation = (uint32_t)g;
	for (size_t i = 0; i < n; i++, l->pr->n++)
		if ((rc = parse_reg(json_object_array_get_idx(pr, i), &l->pr->regs[i], err,
				    errlen)))
			return rc;
	return 0;
}

static int parse_prov(json_object *o, struct cfgd_req *req, char *err, size_t errlen)
{
	json_object *luns;
	struct cfgd_prov *p;
	size_t n;
	int rc;

	p = req->prov = calloc(1, sizeof(*p));
	if (!p)
		return reason_fail(err, errlen, -ENOMEM, "out of memory");
	if ((rc = get_string(o, "chap_user", CS_PRINTABLE, p->chap_user, CFGD_NAME_MAX, false,
			     err, errlen)) ||
	    (rc = get_string(o, "chap_secret", CS_PRINTABLE, p->chap_secret, CFGD_SECRET_MAX,
			     false, err, errlen)) ||
	    (rc = get_u64(o, "write_limit", 0, INT64_MAX, &p->write_limit, err, errlen)))
		return rc;
	if (!json_object_object_get_ex(o, "luns", &luns) ||
	    !json_object_is_type(luns, json_type_array))
		return reason_fail(err, errlen, -EINVAL, "luns: missing or not an array");
	n = json_object_array_length(luns);
	if (n < 1 || n > CFGD_LUNS_MAX)
		return reason_fail(err, errlen, -EINVAL, "luns: 1 to %d", CFGD_LUNS_MAX);
	p->luns = calloc(n, sizeof(*p->luns));
	if (!p->luns)
		return reason_fail(err, errlen, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++, p->n_luns++)
		if ((rc = parse_lun(json_object_array_get_idx(luns, i), &p->luns[i], err, errlen))) {
			aptpl_state_free(p->luns[i].pr); /* the half-parsed LUN's */
			free(p->luns[i].pr);
			p->luns[i].pr = NULL;
			return rc;
		}
	return 0;
}

void cfgd_req_clear(struct cfgd_req *req)
{
	struct cfgd_prov *p = req->prov;

	if (!p)
		return;
	for (unsigned i = 0; i < p->n_luns; i++) {
		aptpl_state_free(p->luns[i].pr);
		free(p->luns[i].pr);
	}
	free(p->luns);
	free(p);
	req->prov = NULL;
}

static int parse_obj(json_object *o, struct cfgd_req *req, char *err, size_t errlen)
{
	json_object *v;
	const char *op;
	unsigned want = 0, have = 0;
	size_t i;
	int r;

	if (!json_object_is_type(o, json_type_object))
		return reason_fail(err, errlen, -EINVAL, "not a JSON object");
	if (!json_object_object_get_ex(o, "v", &v) || !json_object_is_type(v, json_type_int))
		return reason_fail(err, errlen, -EPROTO, "no protocol version \"v\"");
	if (json_object_get_int64(v) != CFGD_PROTO_VERSION)
		return reason_fail(err, errlen, -EPROTO, "protocol version %lld not supported "
				   "(this daemon speaks %d)", (long long)json_object_get_int64(v),
				   CFGD_PROTO_VERSION);
	if (!json_object_object_get_ex(o, "op", &v) || !json_object_is_type(v, json_type_string))
		return reason_fail(err, errlen, -EINVAL, "no \"op\"");
	op = json_object_get_string(v);
	for (i = 0; i < NOPS; i++)
		if (!strcmp(ops[i].name, op))
			break;
	if (i == NOPS)
		return reason_fail(err, errlen, -EINVAL, "unknown op");
	req->op = ops[i].op;
	want = ops[i].fields;
	json_object_object_foreach(o, key, val)
	{
		size_t f;

		if (!strcmp(key, "v") || !strcmp(key, "op"))
			continue;
		if ((want & F_PROV) && (!strcmp(key, "chap_user") || !strcmp(key, "chap_secret") ||
					!strcmp(key, "write_limit") || !strcmp(key, "luns")))
			continue;
		for (f = 0; f < NFIELDS; f++)
			if (!strcmp(fields[f].key, key))
				break;
		if (f == NFIELDS || !(want & fields[f].bit))
			return reason_fail(err, errlen, -EINVAL, "%s: unexpected key",
					   cfgd_op_name(req->op));
		r = field_set(req, f, val, err, errlen);
		if (r < 0)
			return r;
		have |= fields[f].bit;
	}
	if (have != (want & ~(unsigned)(F_PROV | F_OPTIONAL)) &&
	    have != (want & ~(unsigned)F_PROV))
		return reason_fail(err, errlen, -EINVAL, "%s: missing fields",
				   cfgd_op_name(req->op));
	if (want & F_PROV)
		return parse_prov(o, req, err, errlen);
	return 0;
}

int cfgd_req_parse(const char *buf, size_t len, struct cfgd_req *req, char *err,
		   size_t errlen)
{
	struct json_tokener *tok;
	json_object *o;
	int r;

	memset(req, 0, sizeof(*req));
	if (len == 0 || len > CFGD_MSG_MAX)
		return reason_fail(err, errlen, -EINVAL, "message of %zu bytes (1 to %d)", len,
				   CFGD_MSG_MAX);
	tok = json_tokener_new_ex(6); /* object > luns > LUN > pr > registration */
	if (!tok)
		return reason_fail(err, errlen, -ENOMEM, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, buf, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		json_object_put(o);
		json_tokener_free(tok);
		return reason_fail(err, errlen, -EINVAL, "not one JSON object");
	}
	json_tokener_free(tok);
	r = parse_obj(o, req, err, errlen);
	json_object_put(o);
	if (r < 0) {
		cfgd_req_clear(req);
		memset(req, 0, sizeof(*req));
	}
	return r;
}

static int format_prov(json_object *o, const struct cfgd_prov *p)
{
	json_object *luns = json_object_new_array();

	json_object_object_add(o, "chap_user", json_object_new_string(p->chap_user));
	json_object_object_add(o, "chap_secret", json_object_new_string(p->chap_secret));
	json_object_object_add(o, "write_limit", json_object_new_int64((int64_t)p->write_limit));
	json_object_object_add(o, "luns", luns);
	for (unsigned i = 0; i < p->n_luns; i++) {
		const struct cfgd_prov_lun *l = &p->luns[i];
		json_object *lo = json_object_new_object(), *pr = json_object_new_array();

		json_object_object_add(lo, "base", json_object_new_string(l->base));
		json_object_object_add(lo, "size", json_object_new_int64((int64_t)l->size_bytes));
		json_object_object_add(lo, "generation",
				       json_object_new_int64(l->pr ? l->pr->generation : 0));
		json_object_object_add(lo, "pr", pr);
		for (size_t j = 0; l->pr && j < l->pr->n; j++) {
			const struct aptpl_reg *r = &l->pr->regs[j];
			json_object *ro = json_object_new_object();
			char key[24];

			snprintf(key, sizeof(key), "%llu", (unsigned long long)r->key);
			json_object_object_add(ro, "initiator", json_object_new_string(r->initiator));
			json_object_object_add(ro, "isid", json_object_new_string(r->isid));
			json_object_object_add(ro, "key", json_object_new_string(key));
			json_object_object_add(ro, "holder", json_object_new_boolean(r->holder));
			json_object_object_add(ro, "type", json_object_new_int(r->type));
			json_object_object_add(ro, "scope", json_object_new_int(r->scope));
			json_object_object_add(ro, "all_tg_pt", json_object_new_boolean(r->all_tg_pt));
			json_object_object_add(ro, "mapped_lun",
					       json_object_new_int64((int64_t)r->mapped_lun));
			json_object_object_add(ro, "target", json_object_new_string(r->target));
			json_object_object_add(ro, "tpgt", json_object_new_int(r->tpgt));
			json_object_object_add(ro, "target_lun",
					       json_object_new_int64((int64_t)r->target_lun));
			json_object_array_add(pr, ro);
		}
		json_object_array_add(luns, lo);
	}
	return 0;
}

int cfgd_req_format(const struct cfgd_req *req, char *buf, size_t len)
{
	json_object *o = json_object_new_object();
	const char *s;
	size_t i, n;
	unsigned want = 0;

	for (i = 0; i < NOPS; i++)
		if (ops[i].op == req->op)
			want = ops[i].fields;
	if (!o || i > NOPS || !strcmp(cfgd_op_name(req->op), "?")) {
		json_object_put(o);
		return -EINVAL;
	}
	json_object_object_add(o, "v", json_object_new_int(CFGD_PROTO_VERSION));
	json_object_object_add(o, "op", json_object_new_string(cfgd_op_name(req->op)));
	for (i = 0; i < NFIELDS; i++)
		if (want & fields[i].bit)
			json_object_object_add(o, fields[i].key,
					       json_object_new_string((const char *)req + fields[i].off));
	for (i = 0; i < NFIELDS; i++) /* optional fields only when set */
		if ((want & fields[i].bit & F_OPTIONAL) && !((const char *)req + fields[i].off)[0])
			json_object_object_del(o, fields[i].key);
	if ((want & F_PROV) && (!req->prov || format_prov(o, req->prov) < 0)) {
		json_object_put(o);
		return -EINVAL;
	}
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	n = strlen(s);
	if (n > len || n > CFGD_MSG_MAX) {
		json_object_put(o);
		return -E2BIG;
	}
	memcpy(buf, s, n);
	json_object_put(o);
	return (int)n;
}

json_object *cfgd_resp_ok(void)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	return o;
}

size_t cfgd_resp_emit(json_object *o, char *out, size_t outlen)
{
	const char *t = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	size_t n = strlen(t);

	if (n >= outlen) { /* cannot happen for our responses; say so rather than cut */
		n = (size_t)snprintf(out, outlen, "{\"ok\":false,\"errno\":%d,\"error\":\"response too "
				     "large\"}", E2BIG);
	} else {
		memcpy(out, t, n + 1);
	}
	json_object_put(o);
	return n;
}

size_t cfgd_resp_fail(int r, const char *msg, char *out, size_t outlen)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "errno", json_object_new_int(r < 0 ? -r : r));
	json_object_object_add(o, "error", json_object_new_string(msg));
	return cfgd_resp_emit(o, out, outlen);
}
