/*
 * bsense.h — SCSI sense data of the bridge: built in one place (SPC-4 §4.5.3, fixed
 * format), so the USB side returns what the target or the core decided, unchanged.
 */
#ifndef BSENSE_H
#define BSENSE_H

#include <stdbool.h>
#include <stdint.h>

/* Sense keys (SPC-4 Table 48) used by the bridge. */
enum {
	BS_NO_SENSE = 0x0, BS_NOT_READY = 0x2, BS_MEDIUM_ERROR = 0x3,
	BS_HARDWARE_ERROR = 0x4, BS_ILLEGAL_REQUEST = 0x5, BS_UNIT_ATTENTION = 0x6,
	BS_DATA_PROTECT = 0x7, BS_ABORTED_COMMAND = 0xb,
};

/*
 * One sense datum. key/asc/ascq are what the host sees; sks holds the three
 * sense-key-specific bytes (SPC-4 §4.5.2.4.1, e.g. the field pointer of an INVALID
 * FIELD IN CDB) and is sent only when sks_valid.
 */
struct bsense {
	uint8_t key, asc, ascq;
	bool sks_valid;
	uint8_t sks[3];
};

/* Set *s to key/asc/ascq with no sense-key-specific bytes. */
void bsense_set(struct bsense *s, uint8_t key, uint8_t asc, uint8_t ascq);

/* Shorthands for the bridge's own conditions (SPC-4 Annex D codes). */
void bsense_invalid_opcode(struct bsense *s);   /* 05/20/00 */
void bsense_invalid_field(struct bsense *s);    /* 05/24/00 */
void bsense_lba_out_of_range(struct bsense *s); /* 05/21/00 */
void bsense_becoming_ready(struct bsense *s);   /* 02/04/01: link down, reconnecting */
void bsense_clear(struct bsense *s);            /* 00/00/00 */

/*
 * Write *s as fixed-format sense data (response code 0x70, current error) into
 * out[0..17]. Returns the length, always 18.
 */
unsigned bsense_fixed(const struct bsense *s, uint8_t out[18]);

#endif
