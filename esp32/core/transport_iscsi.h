/*
 * transport_iscsi.h — the bridge's transport (transport.h) over libiscsi: one
 * Normal session (RFC 7143) to one LUN, with optional one-way CHAP (RFC 7143 §12.1.3)
 * and CRC32C header digests. libiscsi's own reconnect is switched off: the bridge's
 * state machine decides when to log in again. libiscsi answers the target's NOP-In
 * pings with NOP-Out (RFC 7143 §11.18) whenever tr_ops.service runs it.
 */
#ifndef TRANSPORT_ISCSI_H
#define TRANSPORT_ISCSI_H

#include <stdbool.h>
#include <stdint.h>

#include "transport.h"

struct tri_config {
	const char *portal;        /* "host[:port]", port 3260 by default */
	const char *target;        /* target IQN */
	int lun;
	const char *initiator;     /* initiator IQN */
	const char *chap_user;     /* NULL or "" = no CHAP */
	const char *chap_secret;
	bool header_digest;        /* offer CRC32C first */
	int timeout_s;             /* bound of each login and command; default 15 */
};

struct tri {
	struct tri_config cfg;     /* strings borrowed, must outlive the tri */
	struct iscsi_context *iscsi;
	uint32_t block_size;
	char err[160];             /* last error, for the front end's logs */
};

/* Set up *t (not connected). */
void tri_init(struct tri *t, const struct tri_config *cfg);

/* Log out (if logged in) and free the libiscsi context, if any. */
void tri_destroy(struct tri *t);

/* The tr_ops to pass to bridge_init with ctx = the struct tri. */
extern const struct tr_ops tri_ops;

#endif
