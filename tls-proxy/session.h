/*
 * session.h — the portal's side of the LIO objects behind each anonymous
 * connection. Every Normal-session connection to an anonymous target
 * (common/anontarget.h) gets its own initiator identity for LIO and its own
 * copy-on-write disks (blank, image.<name>: one; multi: two), or for ro.<name> its own
 * write-protected view of the image's one shared export (the isolation rule and the
 * shared exports: configfs-manager/anon.h). The portal does not make LIO objects:
 * it runs unprivileged and asks scsipub-cfgd, the configfs manager, over its Unix
 * socket (configfs-manager/cfgd_client.h). Each session has its own socket connection
 * to the daemon, so the disk lives exactly as long as the iSCSI connection, and a
 * portal that dies leaves nothing behind (the daemon destroys what a closed
 * connection owned).
 */
#ifndef SCSIPUB_SESSION_H
#define SCSIPUB_SESSION_H

#include <stddef.h>

#include "anon.h"

struct session_cfg {
	const char *cfgd_socket;   /* scsipub-cfgd's socket (NULL = CFGD_SOCKET_DEFAULT) */
};

struct session_mgr;
struct session;

/* A manager (copies cfg's strings). NULL + errno on failure. */
struct session_mgr *session_mgr_new(const struct session_cfg *cfg);
/* Release every remaining session (as the last release would), then free. */
void session_mgr_free(struct session_mgr *m);

/*
 * Make the private session of one connection on anonymous target `target` (an IQN the
 * daemon finds in its own catalog): client_initiator is the name the client sent and
 * peer its address, both kept for logs only. Returns 0 with *out (owned by the
 * manager until session_release), or a negative errno with a reason in err: the
 * daemon's (-ENOENT unknown target, -EMFILE session limit, configfs errors), or
 * -ECONNREFUSED / -ENOENT when the daemon is not running.
 */
int session_acquire(struct session_mgr *m, const char *client_initiator, const char *target,
		    const char *peer, struct session **out, char *err, size_t errlen);
/* The connection ended: the daemon tears the session down (NULL is ignored). */
void session_release(struct session_mgr *m, struct session *s, const char *peer);

/* The session's handle: LUN 0's backstore name for a private target (valid until
 * session_release). */
const char *session_backstore(const struct session *s);
/* How many backstores only this session uses (its LUNs, 0..CFGD_DISKS_MAX: 0 for
 * ro.<name>, whose one backstore every session shares). */
unsigned session_disk_count(const struct session *s);
/* The backstore of its LUN i (i < session_disk_count; NULL beyond), valid until
 * session_release. */
const char *session_disk(const struct session *s, unsigned i);
/* The initiator name LIO knows the session by (valid until session_release). */
const char *session_lio_initiator(const struct session *s);
/* Number of live sessions. */
size_t session_count(struct session_mgr *m);

#endif
