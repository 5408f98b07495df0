/*
 * stopsignal.h — SIGTERM/SIGINT as a readable descriptor, for daemons whose main loop
 * polls: the handler writes one byte to a pipe (async-signal-safe), the loop sees the
 * read end become readable and stops. SIGPIPE is ignored (a peer that went away is an
 * EPIPE, not a death).
 */
#ifndef SCSIPUB_STOPSIGNAL_H
#define SCSIPUB_STOPSIGNAL_H

/*
 * Install the handlers (once per process). Returns the pipe's read end (non-blocking,
 * close-on-exec; poll it for POLLIN), or -errno when the pipe cannot be made.
 */
int stopsignal_install(void);

#endif
