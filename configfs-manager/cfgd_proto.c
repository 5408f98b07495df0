/*
 * cfgd_proto.c — scsipub-cfgd's request messages (see cfgd_proto.h), parsed with
 * json-c and validated field by field.
 */
#include "cfgd_proto.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "reason.h"

enum field { F_TARGET = 1, F_INITIATOR = 2, F_CLIENT = 4, F_PEER = 8, F_BACKSTORE = 16 };

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
	if (have != want)
		return reason_fail(err, errlen, -EINVAL, "%s: missing fields",
				   cfgd_op_name(req->op));
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
	tok = json_tokener_new_ex(2);
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
	if (r < 0)
		memset(req, 0, sizeof(*req));
	return r;
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
