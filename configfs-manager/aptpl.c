/*
 * aptpl.c — LIO's APTPL metadata text: parse the kernel's file, format restore writes
 * (aptpl.h; lio-tcmu-facts.md §2; SPC-4 §5.12.1).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aptpl.h"

#define NO_REGS "No Registrations or Reservations"

static int perr(char *err, size_t errlen, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int perr(char *err, size_t errlen, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (err && errlen) {
		n = snprintf(err, errlen, "APTPL line %u: ", line);
		if (n < 0 || (size_t)n >= errlen)
			n = 0;
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Unsigned number, base auto-detected (0x.. hex, else decimal); whole string. */
static int num(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	v = strtoull(s, &end, strncmp(s, "0x", 2) ? 10 : 16);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

/* res_type / res_scope: the kernel prints "%02x". */
static int hexnum(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 16);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

static int copy_name(char *dst, size_t cap, const char *v)
{
	size_t n = strlen(v);

	if (!n || n >= cap)
		return -1;
	memcpy(dst, v, n + 1);
	return 0;
}

static int valid_type(uint64_t t)
{
	return t == APTPL_WRITE_EXCLUSIVE || t == APTPL_EXCLUSIVE_ACCESS ||
	       t == APTPL_WRITE_EXCLUSIVE_REGONLY || t == APTPL_EXCLUSIVE_ACCESS_REGONLY ||
	       t == APTPL_WRITE_EXCLUSIVE_ALLREG || t == APTPL_EXCLUSIVE_ACCESS_ALLREG;
}

/* Apply one key=value line of a block to r. 0, or -1 with *why set. */
static int apply(struct aptpl_reg *r, const char *k, const char *v, const char **why)
{
	uint64_t x;

	if (!strcmp(k, "initiator_fabric") || !strcmp(k, "target_fabric") ||
	    !strcmp(k, "port_rtpi"))
		return 0;
	if (!strcmp(k, "initiator_node"))
		return copy_name(r->initiator, sizeof(r->initiator), v) ? (*why = "bad initiator_node", -1) : 0;
	if (!strcmp(k, "target_node"))
		return copy_name(r->target, sizeof(r->target), v) ? (*why = "bad target_node", -1) : 0;
	if (!strcmp(k, "initiator_sid"))
		return copy_name(r->isid, sizeof(r->isid), v) ? (*why = "bad initiator_sid", -1) : 0;
	if (!strcmp(k, "sa_res_key")) {
		if (num(v, UINT64_MAX, &r->key))
			return *why = "bad sa_res_key", -1;
		return 0;
	}
	if (!strcmp(k, "res_holder") || !strcmp(k, "res_all_tg_pt")) {
		if (num(v, 1, &x))
			return *why = "bad flag (want 0 or 1)", -1;
		if (k[4] == 'h')
			r->holder = x;
		else
			r->all_tg_pt = x;
		return 0;
	}
	if (!strcmp(k, "res_type") || !strcmp(k, "res_scope")) {
		if (hexnum(v, 255, &x))
			return *why = "bad res_type/res_scope", -1;
		if (k[4] == 't')
			r->type = (uint8_t)x;
		else
			r->scope = (uint8_t)x;
		return 0;
	}
	if (!strcmp(k, "mapped_lun") || !strcmp(k, "target_lun")) {
		if (num(v, UINT64_MAX, &x))
			return *why = "bad LUN number", -1;
		if (k[0] == 'm')
			r->mapped_lun = x;
		else
			r->target_lun = x;
		return 0;
	}
	if (!strcmp(k, "tpgt")) {
		if (num(v, 65535, &x))
			return *why = "bad tpgt", -1;
		r->tpgt = (uint16_t)x;
		return 0;
	}
	*why = "unknown key";
	return -1;
}

static int push(struct aptpl_state *st, size_t *cap, const struct aptpl_reg *r)
{
	if (st->n == *cap) {
		size_t nc = *cap ? 2 * *cap : 4;
		struct aptpl_reg *v = realloc(st->regs, nc * sizeof(*v));

		if (!v)
			return -ENOMEM;
		st->regs = v;
		*cap = nc;
	}
	st->regs[st->n++] = *r;
	return 0;
}

int aptpl_parse(const char *text, struct aptpl_state *st, char *err, size_t errlen)
{
	struct aptpl_reg cur;
	const char *p = text, *why = NULL;
	char line[APTPL_LINE_MAX];
	size_t cap = 0;
	unsigned lineno = 0;
	int in_block = 0, r = 0;

	memset(st, 0, sizeof(*st));
	if (!text)
		return perr(err, errlen, 0, "no text");
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char *eq;

		lineno++;
		if (n >= sizeof(line)) {
			r = perr(err, errlen, lineno, "line longer than %zu bytes", sizeof(line) - 1);
			goto fail;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		p += n + (nl ? 1 : 0);
		while (n && (line[n - 1] == '\r' || line[n - 1] == ' '))
			line[--n] = '\0';
		if (!n)
			continue;
		if (!in_block) {
			if (!strcmp(line, NO_REGS))
				continue;
			if (strncmp(line, "PR_REG_START:", 13)) {
				r = perr(err, errlen, lineno, "expected PR_REG_START, got '%.40s'", line);
				goto fail;
			}
			if (st->n >= APTPL_REGS_MAX) {
				r = perr(err, errlen, lineno, "more than %d registrations",
					 APTPL_REGS_MAX);
				goto fail;
			}
			memset(&cur, 0, sizeof(cur));
			in_block = 1;
			continue;
		}
		if (!strncmp(line, "PR_REG_END:", 11)) {
			if (!cur.initiator[0] || !cur.target[0] || !cur.key) {
				r = perr(err, errlen, lineno, "registration without initiator_node, "
					 "target_node or a non-zero sa_res_key");
				goto fail;
			}
			if (cur.holder && !valid_type(cur.type)) {
				r = perr(err, errlen, lineno, "reservation holder with PR type %u",
					 cur.type);
				goto fail;
			}
			if ((r = push(st, &cap, &cur)) < 0) {
				if (err && errlen)
					snprintf(err, errlen, "out of memory");
				goto fail;
			}
			in_block = 0;
			continue;
		}
		eq = strchr(line, '=');
		if (!eq) {
			r = perr(err, errlen, lineno, "expected key=value, got '%.40s'", line);
			goto fail;
		}
		*eq = '\0';
		if (apply(&cur, line, eq + 1, &why)) {
			r = perr(err, errlen, lineno, "%s: %.40s=%.60s", why, line, eq + 1);
			goto fail;
		}
	}
	if (in_block) {
		r = perr(err, errlen, lineno, "registration block without PR_REG_END");
		goto fail;
	}
	return 0;
fail:
	aptpl_state_free(st);
	return r;
}

void aptpl_state_free(struct aptpl_state *st)
{
	if (!st)
		return;
	free(st->regs);
	memset(st, 0, sizeof(*st));
}

int aptpl_format_reg(const struct aptpl_reg *r, char *buf, size_t len)
{
	char isid[APTPL_ISID_MAX + 32] = "", hold[64];
	int n;

	if (!r || !r->initiator[0] || !r->target[0] || !r->key)
		return -EINVAL;
	if (r->isid[0])
		snprintf(isid, sizeof(isid), "initiator_sid=%s,", r->isid);
	if (r->holder)
		snprintf(hold, sizeof(hold), "res_holder=1,res_type=%u,res_scope=%u,",
			 (unsigned)r->type, (unsigned)r->scope);
	else
		snprintf(hold, sizeof(hold), "res_holder=0,");
	n = snprintf(buf, len,
		     "initiator_fabric=iSCSI,initiator_node=%s,%ssa_res_key=%" PRIu64 ",%s"
		     "res_all_tg_pt=%d,mapped_lun=%" PRIu64 ",target_fabric=iSCSI,"
		     "target_node=%s,tpgt=%u,target_lun=%" PRIu64,
		     r->initiator, isid, r->key, hold, r->all_tg_pt ? 1 : 0, r->mapped_lun,
		     r->target, (unsigned)r->tpgt, r->target_lun);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}

static int reg_equal(const struct aptpl_reg *a, const struct aptpl_reg *b)
{
	return !strcmp(a->initiator, b->initiator) && !strcmp(a->isid, b->isid) &&
	       a->key == b->key && a->holder == b->holder &&
	       (!a->holder || (a->type == b->type && a->scope == b->scope)) &&
	       a->all_tg_pt == b->all_tg_pt && a->mapped_lun == b->mapped_lun &&
	       !strcmp(a->target, b->target) && a->tpgt == b->tpgt &&
	       a->target_lun == b->target_lun;
}

int aptpl_state_equal(const struct aptpl_state *a, const struct aptpl_state *b)
{
	size_t i;

	if (a->n != b->n || a->generation != b->generation)
		return 0;
	for (i = 0; i < a->n; i++)
		if (!reg_equal(&a->regs[i], &b->regs[i]))
			return 0;
	return 1;
}
