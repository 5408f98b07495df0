/*
 * aptpl.h — LIO's Persistent Reservation metadata text ("APTPL file"), parsed and
 * written back (issue 4, docs/persistent-reservations.md).
 *
 * With attrib/force_pr_aptpl=1 the kernel rewrites <db_root>/pr/aptpl_<unit serial>
 * after every PERSISTENT RESERVE OUT that changes state (SPC-4 §5.12.1 APTPL; format in
 * lio-tcmu-facts.md §2, K:core_scsi3_update_aptpl_buf): one "PR_REG_START: n" ...
 * "PR_REG_END: n" block of key=value lines per registration, or the single line
 * "No Registrations or Reservations". The same keys, one registration per write,
 * are what pr/res_aptpl_metadata accepts before the device is exported, which is how
 * state is put back (prov.h).
 *
 * Pure text processing: no I/O, no allocation beyond the state's registration array.
 */
#ifndef SCSIPUB_APTPL_H
#define SCSIPUB_APTPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define APTPL_NAME_MAX 223       /* IQN length limit (RFC 7143 §4.2.7.1) */
#define APTPL_ISID_MAX 16        /* the kernel keeps the ISID as text, < 16 chars */
#define APTPL_REGS_MAX 4096      /* registrations per device we accept from a file */
/* Bytes enough for one aptpl_format_reg line. */
#define APTPL_LINE_MAX 768

/* SPC-4 §6.15.3 Table 212: the PR TYPE codes the kernel records. */
enum aptpl_type {
	APTPL_WRITE_EXCLUSIVE = 1,
	APTPL_EXCLUSIVE_ACCESS = 3,
	APTPL_WRITE_EXCLUSIVE_REGONLY = 5,
	APTPL_EXCLUSIVE_ACCESS_REGONLY = 6,
	APTPL_WRITE_EXCLUSIVE_ALLREG = 7,
	APTPL_EXCLUSIVE_ACCESS_ALLREG = 8,
};

/* One registration (an I_T nexus with its reservation key) on one device. */
struct aptpl_reg {
	char initiator[APTPL_NAME_MAX + 1];  /* initiator_node: the initiator IQN */
	char isid[APTPL_ISID_MAX + 1];       /* initiator_sid as the kernel printed it; "" = none */
	uint64_t key;                        /* sa_res_key, non-zero */
	bool holder;                         /* res_holder: holds the reservation */
	uint8_t type;                        /* res_type (holder only): enum aptpl_type */
	uint8_t scope;                       /* res_scope (holder only; 0 = LU_SCOPE) */
	bool all_tg_pt;                      /* res_all_tg_pt */
	uint64_t mapped_lun;                 /* LUN number the initiator sees */
	char target[APTPL_NAME_MAX + 1];     /* target_node: the target IQN */
	uint16_t tpgt;                       /* target portal group tag */
	uint64_t target_lun;                 /* TPG LUN number */
};

/* A device's registrations in the kernel's order, plus its PRgeneration. */
struct aptpl_state {
	struct aptpl_reg *regs;   /* malloc'd array (NULL when n == 0); aptpl_state_free */
	size_t n;
	uint32_t generation;      /* PRgeneration (SPC-4 §6.16.2); not part of the file */
};

/*
 * Parse the kernel's APTPL text (NUL-terminated) into *st (st->generation is left
 * 0). "No Registrations or Reservations" or an empty text gives n == 0. Keys the kernel
 * writes but restore ignores (initiator_fabric, target_fabric, port_rtpi) are accepted.
 * Hexadecimal is accepted for res_type/res_scope (the kernel prints them "%02x").
 * Returns 0, or -EINVAL with a one-line reason in err (an unknown key, a block without
 * END, a missing initiator_node/target_node/sa_res_key, a zero key, a holder without a
 * valid type, over APTPL_REGS_MAX blocks), -ENOMEM. On error *st is empty.
 */
int aptpl_parse(const char *text, struct aptpl_state *st, char *err, size_t errlen);

/* Free st->regs and empty *st (st may be NULL). */
void aptpl_state_free(struct aptpl_state *st);

/*
 * One registration as a pr/res_aptpl_metadata write: comma-separated key=value pairs,
 * every number in decimal (the kernel parses them with base auto-detection, so its own
 * "res_type=08" would be read as octal; lio-tcmu-facts.md §2). Returns the length, or
 * -ENOSPC when len is too small (APTPL_LINE_MAX is enough), -EINVAL for a registration
 * without initiator/target/key.
 */
int aptpl_format_reg(const struct aptpl_reg *r, char *buf, size_t len);

/* 1 when a and b hold the same registrations in the same order and generation. */
int aptpl_state_equal(const struct aptpl_state *a, const struct aptpl_state *b);

#endif
