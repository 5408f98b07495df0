/*
 * login.c — Login Request validation and Login Response building (RFC 7143 §11.12,
 * §11.13, §6).
 */
#include "login.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reason.h"

bool login_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > LOGIN_ISCSI_NAME_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == ':' || c == '-' || c == '_'))
			return false;
	}
	return true;
}

uint16_t login_parse(const struct pdu *p, struct login_req *req, char *why, size_t whylen)
{
	const uint8_t *b = p->bhs;
	char kwhy[160] = "";
	int r;

	memset(req, 0, sizeof(*req));
	if (pdu_opcode(b) != PDU_OP_LOGIN_REQ)
		return reason_fail(why, whylen, LOGIN_INITIATOR_ERROR,
				   "opcode 0x%02x is not a Login Request", pdu_opcode(b));
	req->immediate = pdu_is_immediate(b);
	req->transit = (b[1] & LOGIN_FLAG_TRANSIT) != 0;
	req->cont = (b[1] & LOGIN_FLAG_CONTINUE) != 0;
	req->csg = (b[1] >> 2) & 3;
	req->nsg = b[1] & 3;
	req->version_max = b[2];
	req->version_min = b[3];
	memcpy(req->isid, b + 8, 6);
	req->tsih = pdu_get16(b + 14);
	req->itt = pdu_get32(b + 16);
	req->cid = pdu_get16(b + 20);
	req->cmdsn = pdu_get32(b + 24);
	req->exp_statsn = pdu_get32(b + 28);

	if (req->version_min != 0)
		return reason_fail(why, whylen, LOGIN_UNSUPPORTED_VERSION,
				   "version-min 0x%02x (only 0x00 is supported)",
				   req->version_min);
	if (p->ahs_len)
		return reason_fail(why, whylen, LOGIN_INITIATOR_ERROR,
				   "AHS in a Login Request");
	if (req->transit && req->cont)
		return reason_fail(why, whylen, LOGIN_INITIATOR_ERROR,
				   "both T and C bits set");
	if (req->csg != LOGIN_STAGE_SECURITY && req->csg != LOGIN_STAGE_OPERATIONAL)
		return reason_fail(why, whylen, LOGIN_INITIATOR_ERROR, "bad CSG %u", req->csg);
	if (req->transit && (req->nsg == 2 || req->nsg <= req->csg))
		return reason_fail(why, whylen, LOGIN_INITIATOR_ERROR,
				   "bad stage transition %u -> %u", req->csg, req->nsg);

	r = tk_parse(p->data, p->data_len, &req->keys, kwhy, sizeof(kwhy));
	if (r == -ENOMEM)
		return reason_fail(why, whylen, LOGIN_OUT_OF_RESOURCES, "out of memory");
	if (r < 0)
		return reason_fail(why, whylen, LOGIN_INITIATOR_ERROR, "malformed keys: %s",
				   kwhy);
	req->initiator = tk_get(&req->keys, "InitiatorName");
	req->target = tk_get(&req->keys, "TargetName");
	req->session_type = tk_get(&req->keys, "SessionType");
	req->discovery = req->session_type && !strcmp(req->session_type, "Discovery");
	return LOGIN_OK;
}

/* The names LIO's first-PDU scan matches by prefix (login.h). */
static const char *const identity_keys[] = { "InitiatorName", "SessionType", "TargetName" };

uint16_t login_check_identity_keys(const struct tk_list *l, bool allow_identity, char *why,
				   size_t whylen)
{
	for (size_t i = 0; i < l->n; i++) {
		const char *k = l->pairs[i].key;

		for (size_t j = 0; j < sizeof(identity_keys) / sizeof(identity_keys[0]); j++) {
			size_t n = strlen(identity_keys[j]);

			if (strncmp(k, identity_keys[j], n))
				continue;
			if (k[n])
				return reason_fail(why, whylen, LOGIN_INITIATOR_ERROR,
						   "key %.63s would be read as %s by the target",
						   k, identity_keys[j]);
			if (!allow_identity)
				return reason_fail(why, whylen, LOGIN_INITIATOR_ERROR,
						   "%s after the first Login Request", k);
		}
	}
	return LOGIN_OK;
}

int login_rewrite_initiator(const struct pdu *p, const char *name, uint8_t **raw,
			    size_t *raw_len)
{
	struct tk_list l;
	struct tk_buf b;
	bool found = false;
	uint8_t *out;
	size_t len;

	*raw = NULL;
	*raw_len = 0;
	if (tk_parse(p->data, p->data_len, &l, NULL, 0) < 0)
		return -EINVAL;
	tk_buf_init(&b);
	for (size_t i = 0; i < l.n; i++) {
		bool is_name = !strcmp(l.pairs[i].key, "InitiatorName");

		found |= is_name;
		tk_buf_add(&b, l.pairs[i].key, is_name ? name : l.pairs[i].value);
	}
	tk_free(&l);
	if (b.err || !found || b.len > PDU_DSL_MAX) {
		int r = b.err ? b.err : -EINVAL;

		tk_buf_free(&b);
		return r;
	}
	len = PDU_BHS_LEN + pdu_pad4(b.len);
	out = calloc(1, len);
	if (!out) {
		tk_buf_free(&b);
		return -ENOMEM;
	}
	memcpy(out, p->bhs, PDU_BHS_LEN);
	out[4] = 0; /* no AHS */
	pdu_put24(out + 5, (uint32_t)b.len);
	memcpy(out + PDU_BHS_LEN, b.data, b.len);
	tk_buf_free(&b);
	*raw = out;
	*raw_len = len;
	return 0;
}

void login_req_free(struct login_req *req)
{
	tk_free(&req->keys);
	req->initiator = req->target = req->session_type = NULL;
}

uint16_t login_check_leading(const struct login_req *req, char *why, size_t whylen)
{
	if (req->cont)
		return reason_fail(why, whylen, LOGIN_INITIATOR_ERROR,
				   "continued (C bit) leading Login Request is not supported");
	if (login_check_identity_keys(&req->keys, true, why, whylen) != LOGIN_OK)
		return LOGIN_INITIATOR_ERROR;
	if (!req->initiator || !req->initiator[0])
		return reason_fail(why, whylen, LOGIN_MISSING_PARAMETER, "no InitiatorName");
	if (!login_name_ok(req->initiator))
		return reason_fail(why, whylen, LOGIN_INITIATOR_ERROR,
				   "invalid InitiatorName");
	if (req->session_type && strcmp(req->session_type, "Discovery") &&
	    strcmp(req->session_type, "Normal"))
		return reason_fail(why, whylen, LOGIN_SESSION_TYPE_UNSUPPORTED,
				   "SessionType %.40s", req->session_type);
	if (req->discovery) {
		if (req->tsih)
			return reason_fail(why, whylen, LOGIN_SESSION_NOT_FOUND,
					   "discovery login names TSIH %u", req->tsih);
		return LOGIN_OK;
	}
	if (!req->target || !req->target[0])
		return reason_fail(why, whylen, LOGIN_MISSING_PARAMETER,
				   "no TargetName in a normal session");
	if (!login_name_ok(req->target))
		return reason_fail(why, whylen, LOGIN_TARGET_NOT_FOUND, "invalid TargetName");
	return LOGIN_OK;
}

void login_response_init(uint8_t bhs[PDU_BHS_LEN], const uint8_t req_bhs[PDU_BHS_LEN],
			 uint16_t status, bool transit, uint8_t nsg, uint16_t tsih,
			 uint32_t statsn, uint32_t exp_cmdsn, uint32_t max_cmdsn,
			 uint32_t data_len)
{
	uint8_t flags = (uint8_t)(req_bhs[1] & 0x0c); /* CSG */

	if (transit)
		flags |= LOGIN_FLAG_TRANSIT | (nsg & 3);
	pdu_bhs_init(bhs, PDU_OP_LOGIN_RSP, flags, data_len);
	bhs[2] = 0; /* Version-max */
	bhs[3] = 0; /* Version-active */
	memcpy(bhs + 8, req_bhs + 8, 6);
	pdu_put16(bhs + 14, tsih);
	memcpy(bhs + 16, req_bhs + 16, 4);
	pdu_put32(bhs + 24, statsn);
	pdu_put32(bhs + 28, exp_cmdsn);
	pdu_put32(bhs + 32, max_cmdsn);
	bhs[36] = (uint8_t)(status >> 8);
	bhs[37] = (uint8_t)status;
}

int login_send_reject(struct pio *io, const uint8_t req_bhs[PDU_BHS_LEN], uint16_t status,
		      uint32_t statsn)
{
	uint8_t bhs[PDU_BHS_LEN];
	uint32_t cmdsn = pdu_get32(req_bhs + 24);

	login_response_init(bhs, req_bhs, status, false, 0, 0, statsn, cmdsn, cmdsn, 0);
	return pdu_write(io, bhs, NULL, 0);
}

const char *login_status_str(uint16_t status)
{
	switch (status) {
	case LOGIN_OK: return "success";
	case LOGIN_INITIATOR_ERROR: return "initiator error";
	case LOGIN_AUTH_FAILURE: return "authentication failure";
	case LOGIN_AUTHZ_FAILURE: return "authorization failure";
	case LOGIN_TARGET_NOT_FOUND: return "target not found";
	case LOGIN_UNSUPPORTED_VERSION: return "unsupported version";
	case LOGIN_TOO_MANY_CONNECTIONS: return "too many connections";
	case LOGIN_MISSING_PARAMETER: return "missing parameter";
	case LOGIN_SESSION_TYPE_UNSUPPORTED: return "session type not supported";
	case LOGIN_SESSION_NOT_FOUND: return "session does not exist";
	case LOGIN_INVALID_DURING_LOGIN: return "invalid during login";
	case LOGIN_TARGET_ERROR: return "target error";
	case LOGIN_SERVICE_UNAVAILABLE: return "service unavailable";
	case LOGIN_OUT_OF_RESOURCES: return "out of resources";
	}
	return "unknown status";
}
