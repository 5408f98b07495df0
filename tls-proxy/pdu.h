/*
 * pdu.h — iSCSI PDU framing (RFC 7143 §11.2): the 48-byte Basic Header Segment,
 * big-endian field access, segment lengths and padding, reading one whole PDU from a
 * struct pio, and the Reject PDU (§11.17).
 *
 * Digests are never present during the Login Phase, so a login PDU on the wire is
 * exactly BHS + AHS + data segment + pad to 4 bytes. In Full Feature Phase a session
 * that negotiated CRC32C (RFC 7143 §13.1) adds a 4-byte header digest after the AHS
 * and, when the data segment is not empty, a 4-byte data digest after its padding
 * (§11.1, §11.2); the *_dg functions take the negotiated struct pdu_digests.
 */
#ifndef SCSIPUB_PDU_H
#define SCSIPUB_PDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pio.h"

#define PDU_BHS_LEN 48
#define PDU_DSL_MAX 0xffffffu      /* DataSegmentLength is 24 bits */
#define PDU_AHS_MAX (255u * 4u)    /* TotalAHSLength is 8 bits, in 4-byte words */
#define PDU_RESERVED_TAG 0xffffffffu

/* Opcodes (byte 0, low 6 bits; §11.2.1.2). */
enum pdu_opcode {
	PDU_OP_NOP_OUT = 0x00,
	PDU_OP_SCSI_CMD = 0x01,
	PDU_OP_LOGIN_REQ = 0x03,
	PDU_OP_TEXT_REQ = 0x04,
	PDU_OP_LOGOUT_REQ = 0x06,
	PDU_OP_NOP_IN = 0x20,
	PDU_OP_LOGIN_RSP = 0x23,
	PDU_OP_TEXT_RSP = 0x24,
	PDU_OP_LOGOUT_RSP = 0x26,
	PDU_OP_REJECT = 0x3f,
};
#define PDU_IMMEDIATE 0x40   /* byte 0: I bit (initiator PDUs) */
#define PDU_FINAL 0x80       /* byte 1: F bit (T bit in login PDUs) */
#define PDU_CONTINUE 0x40    /* byte 1: C bit (text and login PDUs) */

/* Reject reasons (§11.17.1). */
enum pdu_reject_reason {
	PDU_REJECT_DATA_DIGEST = 0x02,
	PDU_REJECT_PROTOCOL_ERROR = 0x04,
	PDU_REJECT_CMD_NOT_SUPPORTED = 0x05,
	PDU_REJECT_INVALID_FIELD = 0x09,
};

#define PDU_DIGEST_LEN 4    /* bytes of a CRC32C digest on the wire */

/* Digests in use on a connection (RFC 7143 §13.1: CRC32C when true, None when false). */
struct pdu_digests {
	bool header;
	bool data;
};

/* One PDU as read from the wire. raw holds every byte read, in wire order. */
struct pdu {
	uint8_t *raw;          /* BHS + AHS + data + pad (malloc'd, owned) */
	size_t raw_len;
	uint8_t *bhs;          /* = raw */
	uint8_t *ahs;          /* raw + 48, ahs_len bytes (0 = none) */
	size_t ahs_len;
	uint8_t *data;         /* data segment, data_len bytes (pad not counted) */
	uint32_t data_len;
};

static inline uint16_t pdu_get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t pdu_get24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}
static inline uint32_t pdu_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void pdu_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void pdu_put24(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 16); p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)v;
}
static inline void pdu_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* A CRC32C digest as it travels: least significant byte first (pdu_crc32c). */
static inline void pdu_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline uint32_t pdu_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline unsigned pdu_opcode(const uint8_t *bhs) { return bhs[0] & 0x3f; }
static inline bool pdu_is_immediate(const uint8_t *bhs) { return (bhs[0] & PDU_IMMEDIATE) != 0; }
/* TotalAHSLength in bytes (§11.2.1.4). */
static inline size_t pdu_ahs_len(const uint8_t *bhs) { return (size_t)bhs[4] * 4u; }
/* DataSegmentLength in bytes, without padding (§11.2.1.5). */
static inline uint32_t pdu_data_len(const uint8_t *bhs) { return pdu_get24(bhs + 5); }
static inline uint32_t pdu_itt(const uint8_t *bhs) { return pdu_get32(bhs + 16); }
/* Round a segment length up to the 4-byte boundary the wire uses (§11.1). */
static inline size_t pdu_pad4(size_t n) { return (n + 3u) & ~(size_t)3u; }

/* Set opcode/flags and DataSegmentLength of a zeroed BHS. */
void pdu_bhs_init(uint8_t bhs[PDU_BHS_LEN], unsigned opcode, uint8_t flags, uint32_t data_len);

/*
 * Read one PDU from io: the BHS, then AHS and the padded data segment.
 * max_data bounds DataSegmentLength in bytes. Returns 0 and fills *out (release with
 * pdu_free), or a negative errno:
 *  -EMSGSIZE  DataSegmentLength > max_data; only the BHS was read and out->bhs/raw
 *             hold it (so the caller can answer the request), the rest is unread;
 *  -EPIPE     the stream ended (cleanly between PDUs: out->raw_len == 0, or mid-PDU);
 *  -ETIMEDOUT the transport's receive timeout expired;
 *  -ENOMEM, or any other transport error.
 */
int pdu_read(struct pio *io, uint32_t max_data, struct pdu *out);
void pdu_free(struct pdu *p);

/*
 * pdu_read with digests dg (NULL = none): the header digest follows the AHS and
 * covers BHS + AHS; the data digest follows the padded data segment and covers data
 * and padding; it is absent when DataSegmentLength is 0 (RFC 7143 §11.1, §13.1).
 * Digests are checked, and counted in raw/raw_len but not in data_len. Extra errors:
 *  -EBADMSG   header digest mismatch: the length fields cannot be trusted, so the
 *             connection must be closed (§7.8); nothing is returned in out;
 *  -EILSEQ    data digest mismatch: the whole PDU was read and is in out (release
 *             with pdu_free); answer with a Reject, reason PDU_REJECT_DATA_DIGEST, and
 *             discard it (§7.8, §11.17.1).
 */
int pdu_read_dg(struct pio *io, uint32_t max_data, const struct pdu_digests *dg,
		struct pdu *out);

/* Write bhs (48 bytes) then data (data_len bytes) and zero padding. 0 or -errno. */
int pdu_write(struct pio *io, const uint8_t bhs[PDU_BHS_LEN], const void *data, uint32_t data_len);
/* pdu_write adding the digests dg (NULL = none) for a BHS without AHS. 0 or -errno. */
int pdu_write_dg(struct pio *io, const uint8_t bhs[PDU_BHS_LEN], const void *data,
		 uint32_t data_len, const struct pdu_digests *dg);

/*
 * CRC32C (Castagnoli, RFC 7143 §13.1 and Appendix B.4) of len bytes at buf, continuing
 * crc (0 to start), in the form the digest carries: pdu_crc32c(0, "123456789", 9) is
 * 0xe3069283. On the wire the digest is sent least significant byte first (as in
 * Appendix B.4 and by Linux and libiscsi). Computed by Intel ISA-L (crc32_iscsi).
 */
uint32_t pdu_crc32c(uint32_t crc, const void *buf, size_t len);

/*
 * Send a Reject PDU (§11.17) for the PDU whose BHS is rejected_bhs: reason, the
 * rejected header as data, and the given sequence numbers. 0 or -errno.
 */
int pdu_send_reject(struct pio *io, const uint8_t rejected_bhs[PDU_BHS_LEN], uint8_t reason,
		    uint32_t statsn, uint32_t exp_cmdsn, uint32_t max_cmdsn);
/* pdu_send_reject with the digests dg (NULL = none). */
int pdu_send_reject_dg(struct pio *io, const uint8_t rejected_bhs[PDU_BHS_LEN], uint8_t reason,
		       uint32_t statsn, uint32_t exp_cmdsn, uint32_t max_cmdsn,
		       const struct pdu_digests *dg);

#endif
