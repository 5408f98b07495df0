/*
 * placehint.h — the portal tells scsipub-tcmu which CPU serves a session's LIO
 * connection, so the device's worker thread can run there too.
 *
 * LIO binds each iSCSI connection's receive and transmit threads to one CPU
 * (drivers/target/iscsi/iscsi_target.c, iscsit_thread_get_cpumask). A SCSI command
 * reaches the TCMU handler from the receive thread (the ring's uio wakeup) and its
 * completion goes back to that CPU, so a worker thread that the scheduler wakes on
 * another CPU adds a cross-CPU wakeup both ways (README "Performance": a 4 KiB read at
 * queue depth 1 straight to LIO took about 1.0 ms with the worker on LIO's CPU, 1.3 ms
 * left free and 1.9 ms on the other CPU of the lab VM). Only the portal can learn that
 * CPU (tls-proxy/placement.h: SO_INCOMING_CPU on its LIO socket); a TCMU device says
 * nothing about the connections that use it.
 *
 * The hint is one datagram on a Unix socket of the handler: "<backstore> <cpu>\n",
 * the backstore's configfs name ([a-z0-9], 1..PLACEHINT_NAME_MAX) and the CPU's number
 * in decimal (0..CPU_SETSIZE-1), or "<backstore> -\n" to withdraw an earlier hint (a
 * provisioned target's LUN that now serves connections on several CPUs,
 * tls-proxy/provplace.h). It is advice, not an order: the handler binds the device's
 * worker only to a CPU it may run on itself, and a hint for a device it does not serve
 * changes nothing. The sender never waits for the handler.
 */
#ifndef SCSIPUB_PLACEHINT_H
#define SCSIPUB_PLACEHINT_H

#include <stddef.h>

#define PLACEHINT_SOCKET_DEFAULT "/run/scsipub/tcmu-place.sock"
#define PLACEHINT_NAME_MAX 63       /* > scsipub-cfgd's backstore names (sp..., pv<id>l<N>) */
#define PLACEHINT_MSG_MAX 72        /* longest datagram read, bytes */
#define PLACEHINT_NONE (-1)         /* the CPU of a withdrawn hint: "<backstore> -" */

/*
 * Parse one hint datagram (msg, len bytes; a trailing newline is optional). Returns 0
 * with the backstore name in name (namelen bytes, at least PLACEHINT_NAME_MAX + 1) and
 * the CPU in *cpu (PLACEHINT_NONE for "-", a withdrawn hint), or -EINVAL for anything
 * else (empty, too long, other characters, a CPU number out of range or with leading
 * zeros or a sign). Pure.
 */
int placehint_parse(const char *msg, size_t len, char *name, size_t namelen, int *cpu);

/*
 * Send the hint "name runs best on cpu" to the handler's socket at path, or withdraw
 * an earlier one (cpu PLACEHINT_NONE), without waiting (MSG_DONTWAIT; a full socket
 * drops the hint). Thread-safe; one sending socket per process, made at the first call
 * and kept open. Returns 0, -EINVAL for a name or CPU placehint_parse would refuse, or the -errno of socket or sendto (-ENOENT or
 * -ECONNREFUSED: no handler listening there; -EACCES: not in the socket's group).
 */
int placehint_send(const char *path, const char *name, int cpu);

/*
 * Read one pending hint from fd (a SOCK_DGRAM socket made with unixsock_listen,
 * non-blocking). Returns 1 with name and *cpu set (as placehint_parse), 0 when nothing
 * is pending, -EINVAL for a malformed datagram (consumed), or another -errno of recv.
 */
int placehint_recv(int fd, char *name, size_t namelen, int *cpu);

#endif
