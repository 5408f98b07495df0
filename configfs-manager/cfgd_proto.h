/*
 * cfgd_proto.h — the request set of scsipub-cfgd, the configfs manager daemon
 * (cfgd.h), version 1. Both sides use this module: clients format requests
 * (cfgd_req_format), the daemon parses each one as untrusted input (cfgd_req_parse)
 * and builds its responses (cfgd_resp_ok, cfgd_resp_fail, cfgd_resp_emit).
 *
 * Transport: a Unix SOCK_SEQPACKET socket (default CFGD_SOCKET_DEFAULT); one message
 * is one request or one response, at most CFGD_MSG_MAX bytes, a JSON object (json-c).
 * Every request carries "v": CFGD_PROTO_VERSION and "op"; the daemon answers each
 * request with one message, in order:
 *   {"ok": true, ...result...}  or  {"ok": false, "errno": E, "error": "one line"}
 * (E a positive errno value: EINVAL bad request, EPROTO wrong version, EPERM not
 * allowed, ENOENT unknown target/session, EMFILE a limit reached, others from
 * configfs).
 *
 * Compatibility: a change that an older peer of the same version cannot misread keeps
 * the version: new target names a request may carry (multi and ro.<name> came that
 * way), new keys in responses (clients ignore keys they do not know). A new request
 * field, a changed meaning or a removed key bumps CFGD_PROTO_VERSION (the daemon
 * refuses other versions with EPROTO, so a portal and a daemon from different builds
 * fail loudly at their first request instead of misunderstanding each other).
 *
 * Requests (op, fields; all strings printable ASCII, no control characters):
 *   hello                                   -> {"v": 1, "max_msg": N}
 *   anon_create  target  client  peer       -> {"initiator", "backstore", "lun",
 *                                               "luns", "kind", "disks"}
 *        the session of one connection to anonymous target `target`
 *        (common/anontarget.h, resolved against the daemon's own catalog and
 *        --multi-images): blank and image.<name> get one private COW LUN, multi two,
 *        ro.<name> LUN 0 of the image's shared read-only export (anon.h); `client` is
 *        the InitiatorName the initiator sent and `peer` its address, both for logs
 *        only. Answer: the LIO initiator name the login must carry, the session's
 *        handle ("backstore": sp + 16 hex digits, LUN 0's backstore for private
 *        targets), LUN 0's TPG LUN, the number of LUNs, the kind ("private",
 *        "multi", "ro") and "disks": the backstores only this session uses, in LUN
 *        order (one per LUN; none for ro.<name>, whose one backstore every session
 *        shares; added after version 1 shipped, so a client takes a missing key as
 *        none). The session belongs to the socket connection that made it:
 *        anon_destroy or the connection's end removes it (anon.h).
 *   anon_destroy backstore                  -> {}
 *        one of this connection's sessions, by its handle.
 *   acl_sweep    target  initiator          -> {"freed": 0|1}
 *        free the dynamic node ACL LIO cached for `initiator` on provisioned target
 *        `target` (iqn...:s.<id>) after a login (cfs_acl_sweep_dynamic).
 *   anon_count   target                     -> {"sessions": N}
 *        live sessions the daemon made on `target` (any name; 0 for one it does not
 *        serve): the API's check before it deletes a private image (issue 11).
 *   list                                    -> {"anon": [{"backstore", "initiator",
 *        "target", "kind", "luns", "client", "peer", "pid"}...], "total", "truncated"}
 *        live anonymous sessions (as many as fit one message).
 *   prov_create  id chap_user chap_secret write_limit luns  -> {"iqn"}
 *        create or complete provisioned session `id` (prov.h: prov_session_create):
 *        luns is an array of 1..PROV_LUNS_MAX objects {"base": path or "", "size":
 *        bytes, "generation": PRgeneration, "pr": [registration...]}, a registration
 *        {"initiator", "isid", "key" (decimal string), "holder", "type", "scope",
 *        "all_tg_pt", "mapped_lun", "target", "tpgt", "target_lun"} (aptpl.h). The
 *        daemon serves only base images under its catalog or private-image
 *        directory (realpath checked).
 *   prov_destroy id                          -> {}   (prov_session_destroy)
 *   prov_status  id                          -> {"connections", "logins", "written"}
 *        initiators logged in now (-1 when the target is missing), successful logins
 *        since the target was made (-1 unknown), overlay bytes allocated (prov.h).
 *   prov_list    [after]                     -> {"ids": [...], "truncated"}  the ids
 *        of provisioned sessions found in configfs or the state directory, sorted,
 *        those greater than `after` only (paging for janitors).
 */
#ifndef SCSIPUB_CFGD_PROTO_H
#define SCSIPUB_CFGD_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define CFGD_PROTO_VERSION 1
#define CFGD_SOCKET_DEFAULT "/run/scsipub/cfgd.sock"
#define CFGD_MSG_MAX 65536         /* bytes per request or response message */
#define CFGD_NAME_MAX 223          /* IQN length limit (RFC 7143 §4.2.7.1) */
#define CFGD_PEER_MAX 63           /* "[v6addr]:port" */
#define CFGD_BACKSTORE_MAX 31
#define CFGD_DISKS_MAX 2           /* anon_create's "disks" (ANONTARGET_LUNS_MAX) */

enum cfgd_op {
	CFGD_OP_HELLO = 1,
	CFGD_OP_ANON_CREATE,
	CFGD_OP_ANON_DESTROY,
	CFGD_OP_ACL_SWEEP,
	CFGD_OP_LIST,
	CFGD_OP_PROV_CREATE,
	CFGD_OP_PROV_DESTROY,
	CFGD_OP_PROV_LIST,
	CFGD_OP_PROV_STATUS,
	CFGD_OP_ANON_COUNT,
};

#define CFGD_ID_MAX 32             /* provisioned session id [a-z0-9]{1,32} (prov.h) */
#define CFGD_SECRET_MAX 255
#define CFGD_PATH_MAX 200          /* a base image path (fits a dev_config) */
#define CFGD_LUNS_MAX 256
#define CFGD_PR_REGS_MAX 256       /* PR registrations per LUN in one prov_create */

struct aptpl_state;

/* prov_create's LUN. */
struct cfgd_prov_lun {
	char base[CFGD_PATH_MAX + 1];  /* "" = blank disk */
	uint64_t size_bytes;
	struct aptpl_state *pr;        /* registrations + generation (heap) */
};

/* prov_create's payload (heap: cfgd_req_clear frees it). */
struct cfgd_prov {
	char chap_user[CFGD_NAME_MAX + 1];
	char chap_secret[CFGD_SECRET_MAX + 1];
	uint64_t write_limit;
	struct cfgd_prov_lun *luns;
	unsigned n_luns;
};

/* One request; unused fields are "". */
struct cfgd_req {
	enum cfgd_op op;
	char target[CFGD_NAME_MAX + 1];
	char initiator[CFGD_NAME_MAX + 1];
	char client[CFGD_NAME_MAX + 1];
	char peer[CFGD_PEER_MAX + 1];
	char backstore[CFGD_BACKSTORE_MAX + 1];
	char id[CFGD_ID_MAX + 1];      /* prov_create, prov_destroy */
	char after[CFGD_ID_MAX + 1];   /* prov_list; "" = from the start */
	struct cfgd_prov *prov;        /* prov_create only */
};

/* Free what a parsed request holds on the heap (req->prov); the request stays usable
 * for its other fields. */
void cfgd_req_clear(struct cfgd_req *req);

/*
 * Parse and validate one request message (buf, len bytes; need not be NUL-terminated).
 * Checks: a JSON object of at most CFGD_MSG_MAX bytes and nesting depth 2, "v" ==
 * CFGD_PROTO_VERSION (else -EPROTO), a known "op", exactly the fields that op needs
 * (unknown keys are refused), each a string within its limit, printable ASCII, and
 * for names the IQN charset (lowercase letters, digits, '.', '-', ':'; initiator
 * names may hold upper case: LIO lowercases them). prov_create: nesting depth 5 (6 for json-c), at
 * most CFGD_LUNS_MAX LUNs and CFGD_PR_REGS_MAX registrations per LUN, numbers in range,
 * sizes multiples of 512. 0 with *req filled (call cfgd_req_clear), or -EINVAL /
 * -EPROTO with a reason in err (nothing to free).
 */
int cfgd_req_parse(const char *buf, size_t len, struct cfgd_req *req, char *err,
		   size_t errlen);

/* The request as a message into buf (len bytes). Length written (no NUL counted), or
 * -E2BIG / -EINVAL. */
int cfgd_req_format(const struct cfgd_req *req, char *buf, size_t len);

/* The op's name ("anon_create"...), or "?" */
const char *cfgd_op_name(enum cfgd_op op);

struct json_object;

/* A new success response, {"ok": true}, for the caller to add its result keys to and
 * pass to cfgd_resp_emit (which frees it). NULL only when json-c is out of memory. */
struct json_object *cfgd_resp_ok(void);

/*
 * Write response o as one message into out (outlen bytes, NUL-terminated) and free o
 * (json_object_put). The message's length in bytes, NUL not counted. A response that
 * does not fit is replaced by {"ok": false, "errno": E2BIG, ...}, never cut short.
 */
size_t cfgd_resp_emit(struct json_object *o, char *out, size_t outlen);

/* The failure response {"ok": false, "errno": E, "error": msg} into out, as
 * cfgd_resp_emit; E is r as a positive errno value (r may be -E or E). */
size_t cfgd_resp_fail(int r, const char *msg, char *out, size_t outlen);

#endif
