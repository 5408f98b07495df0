/* bsense.c — see bsense.h. */
#include <string.h>

#include "bsense.h"

void bsense_set(struct bsense *s, uint8_t key, uint8_t asc, uint8_t ascq)
{
	memset(s, 0, sizeof(*s));
	s->key = key;
	s->asc = asc;
	s->ascq = ascq;
}

void bsense_invalid_opcode(struct bsense *s) { bsense_set(s, BS_ILLEGAL_REQUEST, 0x20, 0x00); }
void bsense_invalid_field(struct bsense *s) { bsense_set(s, BS_ILLEGAL_REQUEST, 0x24, 0x00); }
void bsense_lba_out_of_range(struct bsense *s) { bsense_set(s, BS_ILLEGAL_REQUEST, 0x21, 0x00); }
void bsense_becoming_ready(struct bsense *s) { bsense_set(s, BS_NOT_READY, 0x04, 0x01); }
void bsense_clear(struct bsense *s) { bsense_set(s, BS_NO_SENSE, 0, 0); }

unsigned bsense_fixed(const struct bsense *s, uint8_t out[18])
{
	memset(out, 0, 18);
	out[0] = 0x70;          /* current error, fixed format */
	out[2] = s->key & 0x0f;
	out[7] = 10;            /* additional sense length: bytes 8..17 */
	out[12] = s->asc;
	out[13] = s->ascq;
	if (s->sks_valid) {
		out[15] = (uint8_t)(s->sks[0] | 0x80); /* SKSV */
		out[16] = s->sks[1];
		out[17] = s->sks[2];
	}
	return 18;
}
