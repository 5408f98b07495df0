/*
 * discovery.h — the whole iSCSI discovery session, answered by the portal itself.
 *
 * LIO advertises the address a connection arrived on (../shared/lio-tcmu-facts.md
 * §3.3), which behind the portal would be its loopback portal, so discovery never
 * reaches LIO: this module runs the Login Phase (RFC 7143 §6: security and
 * operational stages, CSG/NSG and the T bit, AuthMethod=None only), assigns the TSIH,
 * and in Full Feature Phase answers
 *  - Text Request SendTargets=All | <iqn> (§11.10, §11.11, §13.3 and Appendix C):
 *    "TargetName=<iqn>\0TargetAddress=<public>,1\0" per anonymous target
 *    (common/anontarget.h: blank, image.<name>, multi, ro.<name>), split into
 *    Text Responses of at most the initiator's MaxRecvDataSegmentLength, continued
 *    with F=0 and a Target Transfer Tag that the initiator echoes in an empty Text
 *    Request to get the next part;
 *  - NOP-Out → NOP-In (§11.18, §11.19); Logout Request → Logout Response (§11.14,
 *    §11.15), after which the session ends;
 *  - anything else → Reject (§11.17).
 * Operational keys get answers per §13 (HeaderDigest/DataDigest: the first of
 * CRC32C and None in the initiator's list, §6.2.1 and §13.1, and with CRC32C the
 * Full Feature Phase PDUs both ways carry checked digests: a header digest error
 * closes the connection, a data digest error gets a Reject and is discarded, §7.8;
 * DefaultTime2Wait=max(offer,2), DefaultTime2Retain=0, ErrorRecoveryLevel=0, keys that
 * are irrelevant in discovery sessions=Irrelevant, unknown keys=NotUnderstood), and
 * the portal declares its own MaxRecvDataSegmentLength. The initiator's
 * MaxRecvDataSegmentLength must be 512..16777215 (§13.12), else the login fails with
 * an initiator error (a "Reject" answer would repeat the key in the response, §6.2).
 *
 * Sequence numbers: StatSN starts at cfg->statsn and advances per status-carrying
 * response; ExpCmdSN starts at the leading Login Request's CmdSN and advances for
 * each non-immediate request; MaxCmdSN = ExpCmdSN + DISCOVERY_CMD_WINDOW - 1.
 * The module only uses the struct pio it is given, so tests drive it in memory.
 */
#ifndef SCSIPUB_DISCOVERY_H
#define SCSIPUB_DISCOVERY_H

#include <stdint.h>

#include "pdu.h"
#include "pio.h"

#define DISCOVERY_CMD_WINDOW 16
#define DISCOVERY_DEFAULT_PEER_MRDSL 8192  /* bytes, §13.12 default */
#define DISCOVERY_MAX_LOGIN_PDUS 16        /* Login Requests before we give up */

struct discovery_cfg {
	const char *images_dir;   /* catalog directory, rescanned per SendTargets */
	const char *multi_images; /* the multi target's images (anontarget.h; NULL = "") */
	const char *public_addr;  /* "HOST:PORT" advertised in every TargetAddress */
	uint32_t max_recv_dsl;    /* ours, bytes (512..16777215): data we accept per PDU */
	uint16_t tsih;            /* TSIH for this session, non-zero */
	uint32_t statsn;          /* first StatSN */
	const char *peer;         /* peer address, for logs */
	/* Called once when the Login Phase ends and Full Feature Phase begins (the
	 * portal's login deadline stops there); may be NULL. */
	void (*logged_in)(void *arg);
	void *arg;                /* for logged_in */
};

/*
 * Run a discovery session whose leading Login Request (already read, opcode checked)
 * is first. Reads and answers PDUs on io until the Logout Response is sent (returns 0)
 * or the session fails: -EPROTO after a login rejected with a Login Response or a
 * protocol violation, -EBADMSG after a header digest error, -EPIPE when the
 * initiator closed, -ETIMEDOUT, -EMSGSIZE, or
 * other transport errors. Each failure is logged with the peer.
 */
int discovery_run(struct pio *io, const struct pdu *first, const struct discovery_cfg *cfg);

#endif
