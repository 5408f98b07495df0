/*
 * pdufilter.h — what a relayed session may say to LIO, and what LIO may tell it.
 *
 * The relay (relay.h) copies a session's bytes between the initiator and LIO's
 * loopback portal. Left alone, LIO would answer a SendTargets Text Request inside a
 * Normal session (RFC 7143 §11.10, Appendix C) with every target it has (other
 * accounts' s.<id> targets, every anonymous target) at its loopback portal
 * (127.0.0.1:3262), and would read identity keys in later Login Requests. The filter
 * follows the PDU framing of both directions (RFC 7143 §11.2: BHS, AHS, header
 * digest, padded data segment, data digest; CRC32C digests are on only after the
 * Login Phase, as the target's Login Responses negotiated them, §13.1) and holds only
 * the PDUs it has to read; every other byte passes unchanged:
 *  - an AHS from the initiator (RFC 7143 §11.2.2) on anything but a SCSI Command, or an
 *    Extended CDB AHS whose AHSLength is 0 or longer than the AHS sent: the
 *    connection is refused (LIO reads no Login Request's AHS, and copies an Extended
 *    CDB AHS by its AHSLength unchecked);
 *  - Login Requests after the first (which the portal read itself): a key LIO would
 *    read as InitiatorName, SessionType or TargetName (login_check_identity_keys),
 *    keys that do not parse (textkeys.h), or the C bit: the connection is refused;
 *  - Login Responses: HeaderDigest/DataDigest answers are noted, and take effect after
 *    the final response (T bit, NSG 3, status 0);
 *  - Text Requests that start a command (Target Transfer Tag 0xffffffff) and hold a
 *    SendTargets key, or the C bit: the data segment becomes exactly
 *    "SendTargets=<the session's own target>", so LIO lists that target only;
 *  - Text Responses: only the session's own TargetName is kept, and each of its
 *    TargetAddress values is replaced by the public address (keeping ",<TPGT>");
 *    other targets and their keys are dropped.
 * Rewritten PDUs get their DataSegmentLength, header digest and data digest anew.
 * A held PDU's data segment is bounded by PDUFILTER_HOLD_MAX bytes.
 */
#ifndef SCSIPUB_PDUFILTER_H
#define SCSIPUB_PDUFILTER_H

#include <stddef.h>
#include <stdint.h>

#define PDUFILTER_HOLD_MAX 65536  /* bytes of a held PDU's data segment */

/* A growing byte buffer (the filter's output). */
struct pf_buf {
	uint8_t *data;
	size_t len, cap;
};
/* Append n bytes; 0 or -ENOMEM. */
int pf_buf_add(struct pf_buf *b, const void *p, size_t n);
void pf_buf_free(struct pf_buf *b);

struct pdufilter_cfg {
	const char *target;       /* the session's TargetName (copied) */
	const char *public_addr;  /* "host:port" to advertise (copied) */
	const char *peer;         /* the initiator's address, for logs (copied) */
};

enum pf_dir {
	PF_TO_TARGET = 0,     /* initiator → LIO */
	PF_TO_INITIATOR = 1,  /* LIO → initiator */
};

struct pdufilter;

/* A filter for one session, in the Login Phase after its first Login Request. NULL
 * on ENOMEM or a name over 255 bytes. */
struct pdufilter *pdufilter_new(const struct pdufilter_cfg *cfg);
void pdufilter_free(struct pdufilter *f);

/*
 * Feed n bytes read from one side (dir says which way they go) and append what is to
 * be sent on to out. Returns 0, -EPROTO when the session must be closed (the reason
 * is logged, with the peer), or -ENOMEM.
 */
int pdufilter_feed(struct pdufilter *f, enum pf_dir dir, const uint8_t *in, size_t n,
		   struct pf_buf *out);

/*
 * Bytes of the current PDU of direction d that the filter passes on unread and
 * unchanged (the rest of a data segment, its padding and data digest), 0 when it must
 * see the next byte. A relay may move up to that many bytes past the filter (splice)
 * and then account for them with pdufilter_skip.
 */
uint64_t pdufilter_opaque(const struct pdufilter *f, enum pf_dir d);
/* n bytes (at most pdufilter_opaque(f, d)) of direction d went on unread. */
void pdufilter_skip(struct pdufilter *f, enum pf_dir d, uint64_t n);

/*
 * Bytes of direction d that are header for certain (RFC 7143 §11.2: the BHS, then
 * its AHS and header digest) when the filter is collecting a PDU's header, else 0
 * (inside a data segment, or holding a whole PDU). A relay that reads no more than
 * this never reads past the header into the data segment, so it can splice that.
 */
size_t pdufilter_header_left(const struct pdufilter *f, enum pf_dir d);

/* Whether digests are in effect (after the Login Phase), for tests. */
void pdufilter_digests(const struct pdufilter *f, int *header, int *data);
/* Whether LIO's final Login Response (T=1, NSG 3, status 0) has gone through: the
 * session is in Full Feature Phase (RFC 7143 §6.3). */
int pdufilter_in_ffp(const struct pdufilter *f);

#endif
