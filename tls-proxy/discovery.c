/*
 * discovery.c — discovery session state machine (see discovery.h; RFC 7143 §6, §11,
 * §13).
 */
#include "discovery.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anontarget.h"
#include "catalog.h"
#include "log.h"
#include "login.h"
#include "textkeys.h"

struct disc {
	const struct discovery_cfg *cfg;
	struct pio *io;
	uint8_t stage;          /* current login stage (CSG expected next) */
	bool ffp;               /* in Full Feature Phase */
	struct pdu_digests dg;  /* negotiated; on the wire in Full Feature Phase only */
	bool declared_mrdsl;    /* our MaxRecvDataSegmentLength was sent */
	unsigned login_pdus;
	uint32_t statsn, exp_cmdsn;
	uint32_t peer_mrdsl;    /* initiator's MaxRecvDataSegmentLength, bytes */
	char initiator[LOGIN_ISCSI_NAME_MAX + 1];
	/* A Text Response still being sent in parts. */
	struct tk_buf pending;
	size_t pending_off;
	uint32_t pending_ttt, next_ttt;
};

static uint32_t max_cmdsn(const struct disc *d)
{
	return d->exp_cmdsn + DISCOVERY_CMD_WINDOW - 1;
}

/* Decimal 0..max, whole string. */
static bool parse_num(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > max)
			return false;
	}
	*out = v;
	return true;
}

/* Does the comma-separated list contain item? */
static bool list_has(const char *list, const char *item)
{
	size_t n = strlen(item);

	for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (!strncmp(p, item, n) && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

/*
 * HeaderDigest / DataDigest (RFC 7143 §13.1) are list negotiations: answer the first
 * value of the initiator's list that we support (§6.2.1), CRC32C or None. Sets *crc
 * and returns the answer, or "Reject" when the list holds neither.
 */
static const char *pick_digest(const char *list, bool *crc)
{
	for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
		size_t n = strcspn(p, ",");

		if (n == 6 && !strncmp(p, "CRC32C", 6)) {
			*crc = true;
			return "CRC32C";
		}
		if (n == 4 && !strncmp(p, "None", 4)) {
			*crc = false;
			return "None";
		}
	}
	return "Reject";
}

static bool one_of(const char *key, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(key, *set))
			return true;
	return false;
}

/*
 * Answer the offered keys of one Login Request into rsp. Returns a login status; on
 * failure *why says which key failed.
 */
static uint16_t negotiate(struct disc *d, const struct login_req *req, struct tk_buf *rsp,
			  const char **why)
{
	static const char *const declared[] = {
		"InitiatorName", "InitiatorAlias", "SessionType", "TargetName", NULL,
	};
	static const char *const irrelevant[] = {
		"MaxConnections", "InitialR2T", "ImmediateData", "MaxBurstLength",
		"FirstBurstLength", "MaxOutstandingR2T", "DataPDUInOrder",
		"DataSequenceInOrder", "IFMarkInt", "OFMarkInt", "TaskReporting", NULL,
	};
	uint16_t st = LOGIN_OK;

	for (size_t i = 0; i < req->keys.n; i++) {
		const char *k = req->keys.pairs[i].key, *v = req->keys.pairs[i].value;
		unsigned long n;

		if (one_of(k, declared))
			continue;
		if (!strcmp(k, "AuthMethod")) {
			if (list_has(v, "None")) {
				tk_buf_add(rsp, k, "None");
			} else {
				tk_buf_add(rsp, k, "Reject");
				if (st == LOGIN_OK) {
					st = LOGIN_AUTH_FAILURE;
					*why = "AuthMethod None not offered";
				}
			}
		} else if (!strcmp(k, "HeaderDigest")) {
			tk_buf_add(rsp, k, pick_digest(v, &d->dg.header));
		} else if (!strcmp(k, "DataDigest")) {
			tk_buf_add(rsp, k, pick_digest(v, &d->dg.data));
		} else if (!strcmp(k, "MaxRecvDataSegmentLength")) {
			/*
			 * A declaration (§13.12), 512..2^24-1. An invalid one cannot be
			 * answered "Reject": our own declaration of the same key goes into
			 * this response, and no key may appear twice (§6.2). Initiator
			 * error instead, as for any inadmissible value.
			 */
			if (parse_num(v, PDU_DSL_MAX, &n) && n >= 512) {
				d->peer_mrdsl = (uint32_t)n;
			} else if (st == LOGIN_OK) {
				st = LOGIN_INITIATOR_ERROR;
				*why = "invalid MaxRecvDataSegmentLength";
			}
		} else if (!strcmp(k, "DefaultTime2Wait")) {
			if (parse_num(v, 3600, &n))
				tk_buf_add_uint(rsp, k, n > 2 ? n : 2);
			else
				tk_buf_add(rsp, k, "Reject");
		} else if (!strcmp(k, "DefaultTime2Retain") || !strcmp(k, "ErrorRecoveryLevel")) {
			if (parse_num(v, 3600, &n))
				tk_buf_add(rsp, k, "0");
			else
				tk_buf_add(rsp, k, "Reject");
		} else if (!strcmp(k, "IFMarker") || !strcmp(k, "OFMarker")) {
			tk_buf_add(rsp, k, "No");
		} else if (!strcmp(k, "iSCSIProtocolLevel")) {
			if (parse_num(v, 31, &n))
				tk_buf_add_uint(rsp, k, n < 1 ? n : 1);
			else
				tk_buf_add(rsp, k, "Reject");
		} else if (one_of(k, irrelevant)) {
			tk_buf_add(rsp, k, "Irrelevant");
		} else {
			tk_buf_add(rsp, k, "NotUnderstood");
		}
	}
	return st;
}

static int reject_login(struct disc *d, const struct pdu *p, uint16_t st, const char *why)
{
	plog("discovery from %s (%s): login rejected: %s (0x%04x): %s", d->cfg->peer,
	     d->initiator[0] ? d->initiator : "?", login_status_str(st), st, why);
	login_send_reject(d->io, p->bhs, st, d->statsn);
	return -EPROTO;
}

/* One Login Request of the Login Phase. 0 to continue, -errno to end. */
static int on_login(struct disc *d, const struct pdu *p)
{
	struct login_req req;
	struct tk_buf rsp;
	uint8_t bhs[PDU_BHS_LEN];
	char why[200] = "";
	const char *fail = "";
	uint16_t st;
	bool first = d->login_pdus == 0;
	bool to_ffp;
	int r;

	if (++d->login_pdus > DISCOVERY_MAX_LOGIN_PDUS)
		return reject_login(d, p, LOGIN_INITIATOR_ERROR, "too many Login Requests");
	st = login_parse(p, &req, why, sizeof(why));
	if (st != LOGIN_OK)
		return reject_login(d, p, st, why);
	if (first) {
		d->exp_cmdsn = req.cmdsn;
		st = login_check_leading(&req, why, sizeof(why));
		if (req.initiator && login_name_ok(req.initiator))
			snprintf(d->initiator, sizeof(d->initiator), "%s", req.initiator);
		if (st == LOGIN_OK && !req.discovery) {
			st = LOGIN_INITIATOR_ERROR;
			snprintf(why, sizeof(why), "not a discovery session");
		}
		d->stage = req.csg;
	} else if (req.csg != d->stage) {
		st = LOGIN_INITIATOR_ERROR;
		snprintf(why, sizeof(why), "CSG %u while in stage %u", req.csg, d->stage);
	} else if (req.cont) {
		st = LOGIN_INITIATOR_ERROR;
		snprintf(why, sizeof(why), "continued Login Requests are not supported");
	}
	if (st != LOGIN_OK) {
		login_req_free(&req);
		return reject_login(d, p, st, why);
	}

	tk_buf_init(&rsp);
	st = negotiate(d, &req, &rsp, &fail);
	if (st == LOGIN_OK && req.csg == LOGIN_STAGE_OPERATIONAL && !d->declared_mrdsl) {
		tk_buf_add_uint(&rsp, "MaxRecvDataSegmentLength", d->cfg->max_recv_dsl);
		d->declared_mrdsl = true;
	}
	if (st == LOGIN_OK && rsp.err) {
		st = LOGIN_OUT_OF_RESOURCES;
		fail = "out of memory";
	}
	if (st != LOGIN_OK) {
		tk_buf_free(&rsp);
		login_req_free(&req);
		return reject_login(d, p, st, fail);
	}
	to_ffp = req.transit && req.nsg == LOGIN_STAGE_FULL_FEATURE;
	login_response_init(bhs, p->bhs, LOGIN_OK, req.transit, req.nsg,
			    to_ffp ? d->cfg->tsih : req.tsih, d->statsn++, d->exp_cmdsn,
			    max_cmdsn(d), (uint32_t)rsp.len);
	r = pdu_write(d->io, bhs, rsp.data, (uint32_t)rsp.len);
	tk_buf_free(&rsp);
	if (req.transit)
		d->stage = req.nsg;
	login_req_free(&req);
	if (r < 0)
		return r;
	if (to_ffp) {
		d->ffp = true;
		plog_debug("discovery from %s (%s): logged in, TSIH %u, HeaderDigest=%s, "
			   "DataDigest=%s", d->cfg->peer, d->initiator, d->cfg->tsih,
			   d->dg.header ? "CRC32C" : "None", d->dg.data ? "CRC32C" : "None");
		if (d->cfg->logged_in)
			d->cfg->logged_in(d->cfg->arg);
	}
	return 0;
}

/* A Reject (§11.17) in Full Feature Phase, with the session's digests. */
static int reject_pdu(struct disc *d, const uint8_t *bhs, uint8_t reason)
{
	return pdu_send_reject_dg(d->io, bhs, reason, d->statsn, d->exp_cmdsn, max_cmdsn(d),
				  &d->dg);
}

/* Account a Full Feature Phase request's CmdSN (§4.2.2.1). */
static void take_cmdsn(struct disc *d, const uint8_t *bhs)
{
	if (!pdu_is_immediate(bhs) && pdu_get32(bhs + 24) == d->exp_cmdsn)
		d->exp_cmdsn++;
}

struct st_walk {
	const char *what;          /* "All" or one IQN */
	const char *addr;          /* "<public>,1" */
	struct tk_buf *out;
};

static int st_add(const char *iqn, void *arg)
{
	struct st_walk *w = arg;

	if (strcmp(w->what, "All") && strcmp(w->what, iqn))
		return 0;
	tk_buf_add(w->out, "TargetName", iqn);
	tk_buf_add(w->out, "TargetAddress", w->addr);
	return 0;
}

static int build_sendtargets(struct disc *d, const char *what, struct tk_buf *out)
{
	struct catalog cat;
	char addr[300];
	struct st_walk w = { .what = what, .addr = addr, .out = out };
	int r = catalog_scan(d->cfg->images_dir, &cat);

	if (r < 0)
		return r;
	snprintf(addr, sizeof(addr), "%s,1", d->cfg->public_addr);
	anontarget_each(&cat, d->cfg->multi_images, st_add, &w);
	catalog_free(&cat);
	return out->err;
}

/* Send the next part of d->pending answering the request header req_bhs. */
static int send_text_part(struct disc *d, const uint8_t *req_bhs)
{
	uint8_t bhs[PDU_BHS_LEN];
	size_t left = d->pending.len - d->pending_off;
	size_t part = left < d->peer_mrdsl ? left : d->peer_mrdsl;
	bool last = part == left;
	uint8_t flags = last ? PDU_FINAL : 0;
	int r;

	/* C=1 when the part ends inside a key=value pair (§11.11.2). */
	if (!last && d->pending.data[d->pending_off + part - 1] != '\0')
		flags |= PDU_CONTINUE;
	pdu_bhs_init(bhs, PDU_OP_TEXT_RSP, flags, (uint32_t)part);
	memcpy(bhs + 8, req_bhs + 8, 8);    /* LUN */
	memcpy(bhs + 16, req_bhs + 16, 4);  /* ITT */
	if (!last) {
		if (++d->next_ttt == PDU_RESERVED_TAG)
			d->next_ttt = 1;
		d->pending_ttt = d->next_ttt;
	}
	pdu_put32(bhs + 20, last ? PDU_RESERVED_TAG : d->pending_ttt);
	pdu_put32(bhs + 24, d->statsn++);
	pdu_put32(bhs + 28, d->exp_cmdsn);
	pdu_put32(bhs + 32, max_cmdsn(d));
	/* An empty response (no keys, or SendTargets naming no target) has no buffer:
	 * no pointer arithmetic on NULL then. */
	r = pdu_write_dg(d->io, bhs, part ? d->pending.data + d->pending_off : NULL, (uint32_t)part,
			 &d->dg);
	d->pending_off += part;
	if (last) {
		tk_buf_free(&d->pending);
		d->pending_off = 0;
		d->pending_ttt = PDU_RESERVED_TAG;
	}
	return r;
}

static int on_text(struct disc *d, const struct pdu *p)
{
	uint32_t ttt = pdu_get32(p->bhs + 20);
	struct tk_list keys;
	char why[160] = "";
	int r;

	take_cmdsn(d, p->bhs);
	if (p->bhs[1] & PDU_CONTINUE) {
		plog("discovery from %s (%s): continued Text Requests are not supported",
		     d->cfg->peer, d->initiator);
		reject_pdu(d, p->bhs, PDU_REJECT_CMD_NOT_SUPPORTED);
		return -EPROTO;
	}
	if (ttt != PDU_RESERVED_TAG) {
		if (d->pending.len && ttt == d->pending_ttt)
			return send_text_part(d, p->bhs);
		return reject_pdu(d, p->bhs, PDU_REJECT_INVALID_FIELD);
	}
	/* A new request drops any unfinished response (§11.10.4). */
	tk_buf_free(&d->pending);
	d->pending_off = 0;
	r = tk_parse(p->data, p->data_len, &keys, why, sizeof(why));
	if (r < 0) {
		plog("discovery from %s (%s): bad Text Request: %s", d->cfg->peer,
		     d->initiator, why);
		return reject_pdu(d, p->bhs, PDU_REJECT_INVALID_FIELD);
	}
	tk_buf_init(&d->pending);
	for (size_t i = 0; i < keys.n && r == 0; i++) {
		if (!strcmp(keys.pairs[i].key, "SendTargets")) {
			r = build_sendtargets(d, keys.pairs[i].value, &d->pending);
			plog_debug("discovery from %s (%s): SendTargets=%s", d->cfg->peer,
				   d->initiator, keys.pairs[i].value);
		} else {
			r = tk_buf_add(&d->pending, keys.pairs[i].key, "NotUnderstood");
		}
	}
	tk_free(&keys);
	if (r < 0) {
		tk_buf_free(&d->pending);
		return r;
	}
	return send_text_part(d, p->bhs);
}

static int on_nop_out(struct disc *d, const struct pdu *p)
{
	uint8_t bhs[PDU_BHS_LEN];

	take_cmdsn(d, p->bhs);
	if (pdu_itt(p->bhs) == PDU_RESERVED_TAG)
		return 0; /* answer to a NOP-In of ours; we never send any */
	pdu_bhs_init(bhs, PDU_OP_NOP_IN, PDU_FINAL, p->data_len);
	memcpy(bhs + 8, p->bhs + 8, 8);
	memcpy(bhs + 16, p->bhs + 16, 4);
	pdu_put32(bhs + 20, PDU_RESERVED_TAG);
	pdu_put32(bhs + 24, d->statsn++);
	pdu_put32(bhs + 28, d->exp_cmdsn);
	pdu_put32(bhs + 32, max_cmdsn(d));
	return pdu_write_dg(d->io, bhs, p->data, p->data_len, &d->dg);
}

static int on_logout(struct disc *d, const struct pdu *p)
{
	uint8_t bhs[PDU_BHS_LEN];
	int r;

	take_cmdsn(d, p->bhs);
	pdu_bhs_init(bhs, PDU_OP_LOGOUT_RSP, PDU_FINAL, 0);
	bhs[2] = 0; /* connection or session closed successfully */
	memcpy(bhs + 16, p->bhs + 16, 4);
	pdu_put32(bhs + 24, d->statsn++);
	pdu_put32(bhs + 28, d->exp_cmdsn);
	pdu_put32(bhs + 32, max_cmdsn(d));
	/* Time2Wait, Time2Retain (bytes 40-43) stay 0. */
	r = pdu_write_dg(d->io, bhs, NULL, 0, &d->dg);
	if (r == 0)
		plog_debug("discovery from %s (%s): logged out", d->cfg->peer, d->initiator);
	return r < 0 ? r : 1;
}

/* Handle one PDU. 0 to continue, 1 when the session ended cleanly, -errno. */
static int on_pdu(struct disc *d, const struct pdu *p)
{
	unsigned op = pdu_opcode(p->bhs);

	if (!d->ffp) {
		if (op == PDU_OP_LOGIN_REQ)
			return on_login(d, p);
		plog("discovery from %s (%s): opcode 0x%02x during login", d->cfg->peer,
		     d->initiator, op);
		return -EPROTO;
	}
	switch (op) {
	case PDU_OP_TEXT_REQ:
		return on_text(d, p);
	case PDU_OP_NOP_OUT:
		return on_nop_out(d, p);
	case PDU_OP_LOGOUT_REQ:
		return on_logout(d, p);
	case PDU_OP_LOGIN_REQ:
		reject_pdu(d, p->bhs, PDU_REJECT_PROTOCOL_ERROR);
		return -EPROTO;
	default:
		take_cmdsn(d, p->bhs);
		return reject_pdu(d, p->bhs, PDU_REJECT_CMD_NOT_SUPPORTED);
	}
}

int discovery_run(struct pio *io, const struct pdu *first, const struct discovery_cfg *cfg)
{
	struct disc d = {
		.cfg = cfg, .io = io, .statsn = cfg->statsn,
		.peer_mrdsl = DISCOVERY_DEFAULT_PEER_MRDSL, .pending_ttt = PDU_RESERVED_TAG,
	};
	int r = on_pdu(&d, first);

	while (r == 0) {
		struct pdu p;

		r = pdu_read_dg(io, cfg->max_recv_dsl, d.ffp ? &d.dg : NULL, &p);
		if (r == -EILSEQ) {
			/* Data digest error: Reject and discard, the session goes on (§7.8). */
			plog("discovery from %s (%s): data digest error (opcode 0x%02x); "
			     "rejected", cfg->peer, d.initiator, pdu_opcode(p.bhs));
			r = reject_pdu(&d, p.bhs, PDU_REJECT_DATA_DIGEST);
			pdu_free(&p);
			continue;
		}
		if (r == -EBADMSG) {
			plog("discovery from %s (%s): header digest error; closing", cfg->peer,
			     d.initiator);
			break;
		}
		if (r == -EMSGSIZE) {
			plog("discovery from %s (%s): PDU data segment of %u bytes over %u",
			     cfg->peer, d.initiator, pdu_data_len(p.bhs), cfg->max_recv_dsl);
			if (!d.ffp)
				login_send_reject(io, p.bhs, LOGIN_INITIATOR_ERROR, d.statsn);
			pdu_free(&p);
			break;
		}
		if (r < 0) {
			if (r == -EPIPE)
				plog_debug("discovery from %s (%s): closed before logout",
					   cfg->peer, d.initiator);
			else
				plog("discovery from %s (%s): read: %s", cfg->peer, d.initiator,
				     strerror(-r));
			pdu_free(&p);
			break;
		}
		r = on_pdu(&d, &p);
		pdu_free(&p);
	}
	tk_buf_free(&d.pending);
	return r == 1 ? 0 : r;
}
