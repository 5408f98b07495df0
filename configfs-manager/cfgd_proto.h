/*
 * cfgd_proto.h — the request set of scsipub-cfgd, the configfs manager daemon
 * (cfgd.h), version 1. Both sides use this module: clients format requests
 * (cfgd_req_format), the daemon parses each one as untrusted input (cfgd_req_parse).
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
 * Requests (op, fields; all strings printable ASCII, no control characters):
 *   hello                                   -> {"v": 1, "max_msg": N}
 *   anon_create  target  client  peer       -> {"initiator", "backstore", "lun"}
 *        a private disk for one connection to anonymous target `target` (a catalog
 *        IQN, looked up in the daemon's own catalog); `client` is the InitiatorName
 *        the initiator sent and `peer` its address, both for logs only. The session
 *        belongs to the socket connection that made it: anon_destroy or the
 *        connection's end removes it (anon.h).
 *   anon_destroy backstore                  -> {}
 *        one of this connection's sessions.
 *   acl_sweep    target  initiator          -> {"freed": 0|1}
 *        free the dynamic node ACL LIO cached for `initiator` on provisioned target
 *        `target` (iqn...:s.<id>) after a login (cfs_acl_sweep_dynamic).
 *   list                                    -> {"anon": [{"backstore", "initiator",
 *        "target", "client", "peer", "pid"}...]}  every live anonymous session.
 */
#ifndef SCSIPUB_CFGD_PROTO_H
#define SCSIPUB_CFGD_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define CFGD_PROTO_VERSION 1
#define CFGD_SOCKET_DEFAULT "/run/scsipub/cfgd.sock"
#define CFGD_MSG_MAX 4096          /* bytes per request or response message */
#define CFGD_NAME_MAX 223          /* IQN length limit (RFC 7143 §4.2.7.1) */
#define CFGD_PEER_MAX 63           /* "[v6addr]:port" */
#define CFGD_BACKSTORE_MAX 31

enum cfgd_op {
	CFGD_OP_HELLO = 1,
	CFGD_OP_ANON_CREATE,
	CFGD_OP_ANON_DESTROY,
	CFGD_OP_ACL_SWEEP,
	CFGD_OP_LIST,
};

/* One request; unused fields are "". */
struct cfgd_req {
	enum cfgd_op op;
	char target[CFGD_NAME_MAX + 1];
	char initiator[CFGD_NAME_MAX + 1];
	char client[CFGD_NAME_MAX + 1];
	char peer[CFGD_PEER_MAX + 1];
	char backstore[CFGD_BACKSTORE_MAX + 1];
};

/*
 * Parse and validate one request message (buf, len bytes; need not be NUL-terminated).
 * Checks: a JSON object of at most CFGD_MSG_MAX bytes and nesting depth 2, "v" ==
 * CFGD_PROTO_VERSION (else -EPROTO), a known "op", exactly the fields that op needs
 * (unknown keys are refused), each a string within its limit, printable ASCII, and
 * for names the IQN charset (lowercase letters, digits, '.', '-', ':'; initiator
 * names may hold upper case: LIO lowercases them). 0 with *req filled, or -EINVAL /
 * -EPROTO with a reason in err.
 */
int cfgd_req_parse(const char *buf, size_t len, struct cfgd_req *req, char *err,
		   size_t errlen);

/* The request as a message into buf (len bytes). Length written (no NUL counted), or
 * -E2BIG / -EINVAL. */
int cfgd_req_format(const struct cfgd_req *req, char *buf, size_t len);

/* The op's name ("anon_create"...), or "?" */
const char *cfgd_op_name(enum cfgd_op op);

#endif
