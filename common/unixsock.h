/*
 * unixsock.h — the listening end of a local control socket: a Unix socket file that
 * root and one group may use (unix(7): connecting or sending to a socket file needs
 * write permission on it), for the daemons' unprivileged clients.
 */
#ifndef SCSIPUB_UNIXSOCK_H
#define SCSIPUB_UNIXSOCK_H

#include <stddef.h>

/*
 * Make a Unix socket of `type` (SOCK_SEQPACKET, SOCK_STREAM or SOCK_DGRAM; SOCK_CLOEXEC
 * and SOCK_NONBLOCK may be or-ed in) bound at `path`: a stale socket file there is
 * replaced, the parent directory is created (0755) if missing, the file gets mode 0660,
 * owner root and group `group` ("" or NULL: root's group, so root only), and a
 * connection-oriented socket listens (backlog 128). Returns the descriptor (caller
 * owns), or a negative errno with a one-line reason in err (errlen bytes): -EINVAL for
 * an unknown group, -ENAMETOOLONG for a path longer than sun_path, or what socket,
 * bind, chmod, chown or listen returned.
 */
int unixsock_listen(const char *path, int type, const char *group, char *err, size_t errlen);

#endif
