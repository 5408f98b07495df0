/*
 * log.h — one-line log messages on stderr, prefixed with the program name (plog_program).
 * plog_debug prints only when plog_verbose is set (--verbose). With plog_quiet set,
 * every message is still formatted (so sanitizers check each format against its
 * arguments) but not written: the fuzz harness runs the portal's code that way.
 */
#ifndef SCSIPUB_LOG_H
#define SCSIPUB_LOG_H

extern int plog_verbose;
extern int plog_quiet;
/* Prefix of every line: the program's name (default "scsipub"); set once in main. */
extern const char *plog_program;

void plog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void plog_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
