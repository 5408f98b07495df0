/*
 * poolspec.h — the --pool setting of scsipub-cfgd: which anonymous targets get
 * sessions made in advance, and how many.
 *
 * A pre-made session is an anonymous session (anon.h) whose backstore, TPG LUN and
 * ACL (with a fresh generated initiator name and its own empty overlay) exist before
 * any login asks for one; a login to that target takes one and scsipub-cfgd makes a
 * replacement in the background (0.2 s later while others are ready, so that it does
 * not compete with that login for CPU; at once when the pool is empty). A login then
 * costs no configfs change at all.
 *
 * Syntax: TARGET=COUNT[:MAX][,TARGET=COUNT[:MAX]...], TARGET the name after
 * "iqn.2025-01.pub.scsipub:" ("blank", "image.<name>", "multi") or that whole IQN.
 * Only targets whose sessions have private overlays can be pooled (blank, image.*,
 * multi): a shared read-only export (ro.*) is made once anyway, and an account's
 * image (p.*) carries that account's CHAP. With MAX (>= COUNT) the pool grows to the
 * size of the last burst of logins, up to MAX, and shrinks back to COUNT when bursts
 * stop (poolsize.h); without it MAX = COUNT.
 */
#ifndef SCSIPUB_POOLSPEC_H
#define SCSIPUB_POOLSPEC_H

#include <stddef.h>

#include "catalog.h"

#define POOLSPEC_TARGETS_MAX 8
#define POOLSPEC_TOTAL_MAX 1024   /* sessions made in advance, over every target */

struct poolspec {
	char iqn[CATALOG_IQN_MAX + 1];  /* the whole target IQN */
	unsigned count;                 /* sessions kept ready, >= 1 */
	unsigned max;                   /* what bursts may grow it to, >= count */
};

/*
 * Parse text (NUL-terminated; "" = no pool) into out[0..*n). Errors: -EINVAL with a
 * one-line reason in err (a malformed entry, a COUNT of 0 or above POOLSPEC_TOTAL_MAX,
 * a MAX below COUNT or above POOLSPEC_TOTAL_MAX, a target that cannot be pooled, a target named twice, more than
 * POOLSPEC_TARGETS_MAX targets, MAXes (COUNTs where no MAX is given) adding up to
 * more than POOLSPEC_TOTAL_MAX).
 */
int poolspec_parse(const char *text, struct poolspec out[POOLSPEC_TARGETS_MAX], unsigned *n,
		   char *err, size_t errlen);

#endif
