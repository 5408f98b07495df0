/*
 * nofile.h — the descriptor limit of daemons that hold descriptors per session
 * (the portal: two sockets and a scsipub-cfgd connection per relayed connection;
 * scsipub-cfgd: one connection per anonymous session; scsipub-tcmu: the uio device,
 * overlay, bitmap and base image of every device it serves).
 */
#ifndef SCSIPUB_NOFILE_H
#define SCSIPUB_NOFILE_H

/* The descriptors a daemon asks for: 4 per device for the handler at scsipub-cfgd's
 * largest --max-sessions (4096), with room. */
#define NOFILE_WANT 65536

/* Raise RLIMIT_NOFILE: the hard limit to NOFILE_WANT when it is lower and the process
 * may (root, CAP_SYS_RESOURCE; refused quietly otherwise), then the soft limit to the
 * hard limit. Returns the soft limit now in effect (descriptors), or -errno. */
long nofile_raise(void);

#endif
