/*
 * placement.h — run a connection's relay thread on the CPU that serves its LIO
 * connection, while that helps.
 *
 * LIO binds each iSCSI connection's receive and transmit threads (iscsi_trx,
 * iscsi_ttx) to one CPU, chosen per connection at login
 * (drivers/target/iscsi/iscsi_target.c, iscsit_thread_get_cpumask). Every PDU of a
 * relayed session passes between those threads and the relay thread, so a relay
 * thread that the scheduler wakes on another CPU adds a cross-CPU wakeup to both
 * hops of every command (README "Performance": at queue depth 1 in the lab VM, a
 * 4 KiB read through the portal took about 2.0 ms with the relay on LIO's CPU and
 * 3.0–3.8 ms without). When the session streams large data the two CPUs do better
 * apart; when to bind and when to let go is common/pinpolicy.h's.
 *
 * The CPU is learnt from the LIO socket's SO_INCOMING_CPU (socket(7)): the CPU that
 * processed the last segment received on it, which over loopback is the CPU of the
 * thread that sent it. Login responses come from LIO's login thread, so the caller
 * asks once LIO has sent a PDU in Full Feature Phase (its transmit thread).
 */
#ifndef SCSIPUB_PLACEMENT_H
#define SCSIPUB_PLACEMENT_H

/*
 * The CPU that received the last segment on socket fd, if the calling thread may run
 * on it. Returns the CPU (>= 0), or:
 *   -EAGAIN  nothing received on fd yet (SO_INCOMING_CPU is -1), or not a socket
 *            that records it (AF_UNIX: always -1);
 *   -EPERM   that CPU is outside the thread's current affinity (an operator's taskset
 *            or cpuset stays in force);
 *   -errno   from getsockopt or pthread_getaffinity_np.
 */
int placement_socket_cpu(int fd);

#endif
