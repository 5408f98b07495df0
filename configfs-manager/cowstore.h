/*
 * cowstore.h — the one way a session LUN's copy-on-write backstore is made: the
 * dev_config string of our TCMU handler (tcmu-handler/cow_config.h: overlay, bitmap,
 * base image, size, write limit) and the user backstore carrying it. Used by both
 * kinds of sessions (anon.h, prov.h), so paths and limits are formatted in one place.
 */
#ifndef SCSIPUB_COWSTORE_H
#define SCSIPUB_COWSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cfs;

struct cowstore {
	const char *name;        /* backstore name (user_N/<name>) */
	const char *overlay;     /* overlay file path (created by the handler) */
	const char *bitmap;      /* its allocation bitmap path */
	const char *base;        /* read-only base image path; NULL or "" = blank disk */
	uint64_t size_bytes;     /* device size in bytes, multiple of 512, > 0 */
	uint64_t limit_bytes;    /* bytes of overlay data the device may allocate; 0 = none */
	bool read_only;          /* a write-protected LU (dev_config ro=1, cow_config.h) */
	const char *serial;      /* unit serial (VPD 0x80); NULL = LIO's default */
	bool new_name;           /* name unique by construction: cfs_backstore_create_new */
};

/*
 * Create backstore b->name with the dev_config cow_config_format makes of b
 * (cfs_backstore_create, or cfs_backstore_create_new when b->new_name). On failure a
 * half-made backstore is removed again (one that already existed, -EEXIST, is not)
 * and a reason is left in err (errlen bytes). 0, -ENAMETOOLONG when a path does not fit the 255-character dev_config (keep
 * the state directory and base paths short), -EINVAL for a bad size, or the -errno of
 * cfs_backstore_create (e.g. the handler refused the device).
 */
int cowstore_create(struct cfs *c, const struct cowstore *b, char *err, size_t errlen);

#endif
