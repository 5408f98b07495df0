/*
 * cow_config.h — the TCMU dev_config string of the `cow` subtype.
 *
 * The kernel hands a TCMU backstore's dev_config verbatim to userspace as part of the
 * uio name "tcm-user/<hba>/<dev>/<dev_config>" (at most 255 characters,
 * TCMU_CONFIG_LEN - 1). Ours is
 *
 *     cow/size=<bytes>;overlay=<path>;bitmap=<path>[;base=<path>][;limit=<bytes>][;ro=1]
 *
 * - size:    device size in bytes (multiple of 512), required.
 * - overlay: the per-session overlay file (created sparse if missing), required.
 * - bitmap:  the per-session bitmap file, 1 bit per 512-byte sector, required.
 * - base:    read-only base image (.img/.iso); absent for a blank disk.
 * - limit:   write limit in bytes of overlay allocation (0 or absent = unlimited):
 *            whole filesystem blocks, so sparse writes are charged what they
 *            occupy (cow.h, cow_charged_bytes).
 * - ro:      1 = a write-protected logical unit (a shared read-only export): the WP
 *            bit of the mode parameter header is set and every command that would
 *            change the medium gets DATA PROTECT / WRITE PROTECTED (SBC-3 §4.11);
 *            0 or absent = writable.
 *
 * Fields are separated by ';' because configfs `control` splits on ',' and the
 * rtslib/kernel convention forbids ':' in the config. Paths therefore may not contain
 * ';', ',', ':' or newlines. This module is shared by the handler (parse) and the
 * portal (format) so the format lives in one place.
 */
#ifndef SCSIPUB_COW_CONFIG_H
#define SCSIPUB_COW_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define COW_CONFIG_SUBTYPE "cow"
#define COW_CONFIG_MAX 255 /* longest dev_config the kernel accepts */

struct cow_config {
	uint64_t size_bytes;   /* device size in bytes */
	uint64_t limit_bytes;  /* write limit in bytes of overlay allocation; 0 = none */
	char overlay[256];     /* overlay file path */
	char bitmap[256];      /* bitmap file path */
	char base[256];        /* base image path; "" = none (blank disk) */
	int read_only;         /* 1 = write-protected logical unit (ro=1) */
};

/*
 * Parse `s`, either the full dev_config ("cow/size=...") or only the part after
 * "cow/". Returns 0, or -EINVAL with a one-line reason in err (errlen bytes) for a
 * missing/unknown/duplicate key, a bad number, a size that is 0 or not a multiple of
 * 512, or a path that is too long or contains a forbidden character.
 */
int cow_config_parse(const char *s, struct cow_config *out, char *err, size_t errlen);

/*
 * Write the full dev_config ("cow/...") for `c` into buf (buflen bytes, NUL-terminated).
 * Returns the string length, or -ENAMETOOLONG when it would exceed COW_CONFIG_MAX or
 * buflen, or -EINVAL when a path contains a forbidden character.
 */
int cow_config_format(const struct cow_config *c, char *buf, size_t buflen);

#endif
