/*
 * pdu.c — iSCSI PDU framing (RFC 7143 §11.2) and the Reject PDU (§11.17).
 */
#include "pdu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

int pdu_read(struct pio *io, uint32_t max_data, struct pdu *out)
{
	uint8_t bhs[PDU_BHS_LEN];
	size_t ahs, total;
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
	total = PDU_BHS_LEN + ahs + pdu_pad4(dl);
	raw = malloc(total);
	if (!raw)
		return -ENOMEM;
	memcpy(raw, bhs, PDU_BHS_LEN);
	r = pio_read_full(io, raw + PDU_BHS_LEN, total - PDU_BHS_LEN);
	if (r < 0) {
		free(raw);
		return r;
	}
	out->raw = raw;
	out->raw_len = total;
	out->bhs = raw;
	out->ahs = raw + PDU_BHS_LEN;
	out->ahs_len = ahs;
	out->data = raw + PDU_BHS_LEN + ahs;
	out->data_len = dl;
	return 0;
}

int pdu_write(struct pio *io, const uint8_t bhs[PDU_BHS_LEN], const void *data, uint32_t data_len)
{
	static const uint8_t zero[4];
	int r = pio_write_full(io, bhs, PDU_BHS_LEN);

	if (r < 0 || data_len == 0)
		return r;
	r = pio_write_full(io, data, data_len);
	if (r < 0)
		return r;
	return pio_write_full(io, zero, pdu_pad4(data_len) - data_len);
}

int pdu_send_reject(struct pio *io, const uint8_t rejected_bhs[PDU_BHS_LEN], uint8_t reason,
		    uint32_t statsn, uint32_t exp_cmdsn, uint32_t max_cmdsn)
{
	uint8_t bhs[PDU_BHS_LEN];

	pdu_bhs_init(bhs, PDU_OP_REJECT, PDU_FINAL, PDU_BHS_LEN);
	bhs[2] = reason;
	pdu_put32(bhs + 16, PDU_RESERVED_TAG);
	pdu_put32(bhs + 24, statsn);
	pdu_put32(bhs + 28, exp_cmdsn);
	pdu_put32(bhs + 32, max_cmdsn);
	return pdu_write(io, bhs, rejected_bhs, PDU_BHS_LEN);
}
