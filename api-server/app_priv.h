/*
 * app_priv.h — what the service core's own files (app.c, app_image.c, app_session.c,
 * app_watch.c, app_watchlist.c) share beyond app.h: where private images live, the
 * connection to scsipub-cfgd (cfgd_client.h), one per process, that every request for
 * LIO objects goes through, and the watch list of provisioned sessions.
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

/*
 * The watch list (app_watchlist.c; under a->watch_mu, taken here): what the watcher
 * knows of each provisioned session it watches.
 *  - app_watch_add: watch session id (again: every field but its login counter reset);
 *    had: it had a connection before; zero_ticks: ticks it has been without one so far
 *    (negative: a grace period in ticks). Out of memory: not watched, nothing said.
 *  - app_watch_logins_from_zero: id's target was just made by this process, so its
 *    login counter starts from 0.
 *  - app_watch_del: id is no longer watched (nothing when it was not).
 */
void app_watch_add(struct app *a, const char *id, bool had, int zero_ticks);
void app_watch_logins_from_zero(struct app *a, const char *id);
void app_watch_del(struct app *a, const char *id);

/* Forget every watched session that is not among v[0..n) (the rows of the store). */
void app_watch_retain(struct app *a, const struct db_session *v, size_t n);

/*
 * One tick's look at session id (the watcher): conns, its connections now (-1
 * unknown); logins, LIO's login counter of its target (-1 unknown). A connection, or a
 * login counter past the last one seen, marks it as having had a connection
 * (*relogin for the counter: a login that was over before dynamic_sessions showed
 * it); a tick without one, after it had one, counts toward zero_ticks. *out gets the
 * entry as it is now. False (nothing changed) when id is not watched.
 */
bool app_watch_observe(struct app *a, const char *id, int conns, int64_t logins,
		       struct app_watch *out, bool *relogin);

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
