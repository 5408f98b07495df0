/*
 * cowstore.c — a session LUN's copy-on-write user backstore (see cowstore.h).
 */
#include "cowstore.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cfs.h"
#include "cow_config.h"
#include "reason.h"

static int copy(char *dst, size_t len, const char *src)
{
	int n = snprintf(dst, len, "%s", src ? src : "");

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int cowstore_create(struct cfs *c, const struct cowstore *b, char *err, size_t errlen)
{
	struct cow_config cc;
	char devcfg[COW_CONFIG_MAX + 1];
	int r;

	memset(&cc, 0, sizeof(cc));
	cc.size_bytes = b->size_bytes;
	cc.limit_bytes = b->limit_bytes;
	cc.read_only = b->read_only;
	if (copy(cc.overlay, sizeof(cc.overlay), b->overlay) ||
	    copy(cc.bitmap, sizeof(cc.bitmap), b->bitmap) || copy(cc.base, sizeof(cc.base), b->base))
		return reason_fail(err, errlen, -ENAMETOOLONG,
				   "backstore %s: overlay or base image path too long", b->name);
	r = cow_config_format(&cc, devcfg, sizeof(devcfg));
	if (r < 0)
		return reason_fail(err, errlen, r, "backstore %s: dev_config does not fit (%s): "
				   "shorten the state directory or the base image path", b->name,
				   strerror(-r));
	r = (b->new_name ? cfs_backstore_create_new : cfs_backstore_create)(
		c, b->name, b->size_bytes, devcfg, b->serial);
	if (r < 0) {
		reason_fail(err, errlen, r, "backstore %s: %s", b->name, cfs_error(c));
		/* A half-made one (e.g. handler refused); -EEXIST: another's, left alone. */
		if (r != -EEXIST)
			cfs_backstore_remove(c, b->name);
	}
	return r;
}
