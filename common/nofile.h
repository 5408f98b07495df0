/*
 * nofile.h — the descriptor limit of daemons that hold descriptors per session
 * (the portal: two sockets and a scsipub-cfgd connection per relayed connection;
 * scsipub-cfgd: one connection per anonymous session).
 */
#ifndef SCSIPUB_NOFILE_H
#define SCSIPUB_NOFILE_H

/* Raise RLIMIT_NOFILE's soft limit to its hard limit. Returns the soft limit now in
 * effect (descriptors), or -errno. */
long nofile_raise(void);

#endif
