/*
 * cfgd_config.h — scsipub-cfgd's settings (from its command line, cfgd.c; the unit
 * tests set their own), as cfgd_server_new takes them (cfgd_server.h).
 */
#ifndef SCSIPUB_CFGD_CONFIG_H
#define SCSIPUB_CFGD_CONFIG_H

#include <sys/types.h>

#include "anon.h"
#include "poolspec.h"

struct cfs;

#define CFGD_ALLOW_UIDS_MAX 8

struct cfgd_server_cfg {
	struct cfs *cfs;            /* used under the server's mutex only; not owned */
	const char *images_dir;     /* the anonymous catalog (catalog.h) */
	const char *multi_images;   /* the multi target's images (anontarget.h; NULL or
				       "" = the first two catalog images); copied */
	const char *private_dir;    /* the API's private images; prov_create serves base
				       images under images_dir or private_dir only */
	struct anon_cfg anon;       /* strings copied */
	unsigned max_clients;       /* connections at once */
	unsigned max_sessions;      /* anonymous sessions at once */
	uid_t allow_uids[CFGD_ALLOW_UIDS_MAX]; /* besides root */
	unsigned n_allow_uids;
	uid_t portal_uids[CFGD_ALLOW_UIDS_MAX]; /* served too, but for the portal's
						    requests only (cfgd_server.h) */
	unsigned n_portal_uids;
	const struct poolspec *pool; /* targets with pre-made sessions (copied); may be NULL */
	unsigned n_pool;
	double pool_keep_s;         /* how long a pool grown by a burst keeps its size
				       (poolsize.h), seconds; 0 = POOLSIZE_KEEP_S */
};

#endif
