/*
 * pdu.c — iSCSI PDU framing (RFC 7143 §11.2), CRC32C digests (§13.1) and the Reject
 * PDU (§11.17).
 */
#include "pdu.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <isa-l/crc.h>

void pdu_bhs_init(uint8_t bhs[PDU_BHS_LEN], unsigned opcode, uint8_t flags, uint32_t data_len)
{
	memset(bhs, 0, PDU_BHS_LEN);
	bhs[0] = (uint8_t)(opcode & 0x3f);
	bhs[1] = flags;
	pdu_put24(bhs + 5, data_len & PDU_DSL_MAX);
}

void pdu_free(struct pdu *p)
{
	free(p->raw);
	memset(p, 0, sizeof(*p));
}

uint32_t pdu_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	/* crc32_iscsi neither pre- nor post-inverts; the digest form does both. */
	crc = ~crc;
	while (len) {
		int n = len > INT_MAX ? INT_MAX : (int)len;

		crc = crc32_iscsi((unsigned char *)p, n, crc);
		p += n;
		len -= (size_t)n;
	}
	return ~crc;
}

int pdu_read(struct pio *io, uint32_t max_data, struct pdu *out)
{
	return pdu_read_dg(io, max_data, NULL, out);
}

int pdu_read_dg(struct pio *io, uint32_t max_data, const struct pdu_digests *dg,
		struct pdu *out)
{
	uint8_t bhs[PDU_BHS_LEN];
	size_t ahs, total, hd, dd;
	uint32_t dl;
	uint8_t *raw;
	ssize_t n;
	int r;

	memset(out, 0, sizeof(*out));
	/* The first byte separately, so a clean end of stream is told apart. */
	n = io->read(io, bhs, 1);
	if (n == -EAGAIN) {
		r = pio_read_full(io, bhs, 1);
		if (r < 0)
			return r;
		n = 1;
	}
	if (n < 0)
		return (int)n;
	if (n == 0)
		return -EPIPE;
	r = pio_read_full(io, bhs + 1, PDU_BHS_LEN - 1);
	if (r < 0)
		return r;

	ahs = pdu_ahs_len(bhs);
	dl = pdu_data_len(bhs);
	if (dl > max_data) {
		out->raw = malloc(PDU_BHS_LEN);
		if (!out->raw)
			return -ENOMEM;
		memcpy(out->raw, bhs, PDU_BHS_LEN);
		out->raw_len = PDU_BHS_LEN;
		out->bhs = out->raw;
		return -EMSGSIZE;
	}
	hd = dg && dg->header ? PDU_DIGEST_LEN : 0;
	dd = dg && dg->data && dl ? PDU_DIGEST_LEN : 0;
	total = PDU_BHS_LEN + ahs + hd + pdu_pad4(dl) + dd;
	raw = malloc(total);
	if (!raw)
		return -ENOMEM;
	memcpy(raw, bhs, PDU_BHS_LEN);
	r = pio_read_full(io, raw + PDU_BHS_LEN, total - PDU_BHS_LEN);
	if (r < 0) {
		free(raw);
		return r;
	}
	if (hd && pdu_get_le32(raw + PDU_BHS_LEN + ahs) != pdu_crc32c(0, raw, PDU_BHS_LEN + ahs)) {
		free(raw);
		return -EBADMSG;
	}
	out->raw = raw;
	out->raw_len = total;
	out->bhs = raw;
	out->ahs = raw + PDU_BHS_LEN;
	out->ahs_len = ahs;
	out->data = raw + PDU_BHS_LEN + ahs + hd;
	out->data_len = dl;
	if (dd && pdu_get_le32(out->data + pdu_pad4(dl)) != pdu_crc32c(0, out->data, pdu_pad4(dl)))
		return -EILSEQ;
	return 0;
}

int pdu_write(struct pio *io, const uint8_t bhs[PDU_BHS_LEN], const void *data, uint32_t data_len)
{
	return pdu_write_dg(io, bhs, data, data_len, NULL);
}

int pdu_write_dg(struct pio *io, const uint8_t bhs[PDU_BHS_LEN], const void *data,
		 uint32_t data_len, const struct pdu_digests *dg)
{
	static const uint8_t zero[4];
	size_t pad = pdu_pad4(data_len) - data_len;
	uint8_t digest[PDU_DIGEST_LEN];
	int r = pio_write_full(io, bhs, PDU_BHS_LEN);

	if (r == 0 && dg && dg->header) {
		pdu_put_le32(digest, pdu_crc32c(0, bhs, PDU_BHS_LEN));
		r = pio_write_full(io, digest, sizeof(digest));
	}
	if (r < 0 || data_len == 0)
		return r;
	r = pio_write_full(io, data, data_len);
	if (r == 0)
		r = pio_write_full(io, zero, pad);
	if (r == 0 && dg && dg->data) {
		pdu_put_le32(digest, pdu_crc32c(pdu_crc32c(0, data, data_len), zero, pad));
		r = pio_write_full(io, digest, sizeof(digest));
	}
	return r;
}

int pdu_send_reject(struct pio *io, const uint8_t rejected_bhs[PDU_BHS_LEN], uint8_t reason,
		    uint32_t statsn, uint32_t exp_cmdsn, uint32_t max_cmdsn)
{
	return pdu_send_reject_dg(io, rejected_bhs, reason, statsn, exp_cmdsn, max_cmdsn, NULL);
}

int pdu_send_reject_dg(struct pio *io, const uint8_t rejected_bhs[PDU_BHS_LEN], uint8_t reason,
		       uint32_t statsn, uint32_t exp_cmdsn, uint32_t max_cmdsn,
		       const struct pdu_digests *dg)
{
	uint8_t bhs[PDU_BHS_LEN];

	pdu_bhs_init(bhs, PDU_OP_REJECT, PDU_FINAL, PDU_BHS_LEN);
	bhs[2] = reason;
	pdu_put32(bhs + 16, PDU_RESERVED_TAG);
	pdu_put32(bhs + 24, statsn);
	pdu_put32(bhs + 28, exp_cmdsn);
	pdu_put32(bhs + 32, max_cmdsn);
	return pdu_write_dg(io, bhs, rejected_bhs, PDU_BHS_LEN, dg);
}
