/*
 * app_priv.h — what the service core's own files (app.c, app_image.c) share beyond
 * app.h: where private images live, and the connection to scsipub-cfgd
 * (cfgd_client.h), one per process, that every request for LIO objects goes through.
 */
#ifndef SCSIPUB_APP_PRIV_H
#define SCSIPUB_APP_PRIV_H

#include <stdbool.h>
#include <stddef.h>

#include "app.h"

/* The private image directory, <state>/images (imageiqn.h, acctchap.h), into buf
 * (PATH_MAX bytes). 0 or -ENAMETOOLONG. */
int app_images_dir(const struct app *a, char *buf);

/* True for a result that says scsipub-cfgd went away (restarted): worth one new
 * connection. */
bool app_cfgd_gone(int rc);

/* a's connection to scsipub-cfgd, made when missing (fresh: made anew). Caller holds
 * a->cfgd_mu. The fd, or -errno with a reason in err. */
int app_cfgd_fd(struct app *a, bool fresh, char *err, size_t errlen);

/* Run CALL (an expression using fd) on the daemon connection under cfgd_mu, once
 * more on a new connection when the daemon restarted; rc gets its result. */
#define CFGD_DO(a, rc, err, errlen, CALL)                                               \
	do {                                                                            \
		pthread_mutex_lock(&(a)->cfgd_mu);                                      \
		for (int try_ = 0; try_ < 2; try_++) {                                  \
			int fd = app_cfgd_fd((a), try_ > 0, (err), (errlen));           \
			(rc) = fd < 0 ? fd : (CALL);                                    \
			if (!app_cfgd_gone(rc) && fd >= 0)                              \
				break;                                                  \
		}                                                                       \
		pthread_mutex_unlock(&(a)->cfgd_mu);                                    \
	} while (0)

#endif
