/*
 * cfgd_client.h — the client side of scsipub-cfgd's socket (cfgd_proto.h): used by the
 * unprivileged portal and by scsipub-ctl. Blocking calls on one connection; a
 * connection is not thread-safe (one request at a time: callers serialise, or open one
 * connection per thread). Every function returns 0 (or a documented count) or a
 * negative errno with a one-line reason in err (errlen bytes): the daemon's own errno
 * and message for a refused request, -ECONNRESET / -EPIPE when the daemon went away,
 * -EPROTO for a malformed response.
 */
#ifndef SCSIPUB_CFGD_CLIENT_H
#define SCSIPUB_CFGD_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "cfgd_proto.h"

struct json_object;

/* Connect to the daemon at path (NULL = CFGD_SOCKET_DEFAULT). The fd (close it to end
 * the connection: the daemon then destroys the sessions it made), or -errno. */
int cfgd_connect(const char *path, char *err, size_t errlen);

/* Send q, wait for its response. 0 with *resp (the response object, caller puts it;
 * resp may be NULL) when the daemon answered ok, else -errno. */
int cfgd_call(int fd, const struct cfgd_req *q, struct json_object **resp, char *err,
	      size_t errlen);

/* What anon_create made for one connection. */
struct cfgd_anon {
	char initiator[CFGD_NAME_MAX + 1];      /* the LIO name the relayed login carries */
	char backstore[CFGD_BACKSTORE_MAX + 1]; /* the session's handle (cfgd_anon_destroy) */
	/* The backstores only this session uses, LUN order (none for ro.<name>, or from a
	 * daemon that does not send them): the disks scsipub-tcmu may place (placehint.h). */
	char disks[CFGD_DISKS_MAX][CFGD_BACKSTORE_MAX + 1];
	unsigned n_disks;
};

/*
 * anon_create: the disks of one connection to anonymous target `target` into *out;
 * client (the InitiatorName sent; bytes outside printable ASCII become '?', longer
 * than CFGD_NAME_MAX is cut) and peer are for the daemon's logs. The session lives
 * until cfgd_anon_destroy or until fd is closed. -EPROTO when a name in the answer is
 * missing, empty or too long, or "disks" is not an array of at most CFGD_DISKS_MAX of
 * them.
 */
int cfgd_anon_create(int fd, const char *target, const char *client, const char *peer,
		     struct cfgd_anon *out, char *err, size_t errlen);

/* anon_count: the daemon's live sessions on target (any connection's), or -errno. */
int cfgd_anon_count(int fd, const char *target, char *err, size_t errlen);

/* anon_destroy of one of this connection's sessions. */
int cfgd_anon_destroy(int fd, const char *backstore, char *err, size_t errlen);

/* acl_sweep: 1 when the daemon freed initiator's dynamic ACL on provisioned target
 * `target`, 0 when it left it, -errno. */
int cfgd_acl_sweep(int fd, const char *target, const char *initiator, char *err,
		   size_t errlen);

struct prov_session;

/*
 * prov_create: ask the daemon to create or complete provisioned session ps (prov.h:
 * prov_session_create; its base paths must lie in the daemon's catalog or private
 * image directory, else -EACCES). -E2BIG when the request (PR state included) does not
 * fit one CFGD_MSG_MAX message.
 */
int cfgd_prov_create(int fd, const struct prov_session *ps, char *err, size_t errlen);

/* prov_destroy: prov_session_destroy of session id through the daemon. */
int cfgd_prov_destroy(int fd, const char *id, char *err, size_t errlen);

/* prov_status: initiators logged in to session id now (-1: no target), logins since
 * its target was made (-1: unknown), overlay bytes allocated. */
int cfgd_prov_status(int fd, const char *id, int *connections, int64_t *logins,
		     uint64_t *written, char *err, size_t errlen);

/* Called by cfgd_prov_list once per session id, in strcmp order. */
typedef void (*cfgd_id_fn)(void *arg, const char *id);

/* prov_list, every page: fn for each provisioned session id the daemon finds. The
 * number of ids, or -errno. */
int cfgd_prov_list(int fd, cfgd_id_fn fn, void *arg, char *err, size_t errlen);

#endif
