/*
 * cfgd_requests.h — scsipub-cfgd's handling of one request (the op set and its
 * answers: cfgd_proto.h). Anonymous sessions come from a pool or are made here and
 * belong to the client connection that asked (anon.h, cfgd_worker.h); provisioned
 * sessions are prov.h's; configfs changes run under cfs_mu (cfgd_state.h).
 */
#ifndef SCSIPUB_CFGD_REQUESTS_H
#define SCSIPUB_CFGD_REQUESTS_H

#include <stdbool.h>
#include <stddef.h>

#include "cfgd_state.h"

/*
 * Parse request message msg (len bytes, untrusted: cfgd_req_parse) of client c,
 * carry it out and write its response message into out (outlen bytes, at least
 * CFGD_MSG_MAX + 1). Returns the response's length in bytes; a bad or failed request
 * gets an {"ok": false, "errno", "error"} response, never an error return.
 * may_defer: an anon_destroy may be left to the worker (cfgd_worker.h) while it runs;
 * then 0 is returned, c is busy, and the worker sends c the response when the
 * teardown is done. The caller holds neither mutex.
 */
size_t cfgd_request_handle(struct cfgd_server *s, struct cfgd_client *c, const char *msg,
			   size_t len, char *out, size_t outlen, bool may_defer);

#endif
