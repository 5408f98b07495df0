/*
 * log.h — the one logger of every scsipub program: one line per message on stderr,
 *
 *     [<timestamp> ]<plog_program>: [error: |warning: ]<message>\n
 *
 * written with a single write(2), so lines of concurrent threads never interleave;
 * a line longer than PLOG_LINE_MAX bytes (newline included) is cut. The timestamp
 * (ISO 8601 UTC, "2026-12-02T11:37:53Z") only with plog_timestamps set.
 * PLOG_DEBUG lines are written only when plog_verbose is set (--verbose). With
 * plog_quiet set, every message is still formatted (so sanitizers check each format
 * against its arguments) but not written: the fuzz harnesses run that way.
 *
 * The settings below are plain variables: set them in main() before any thread starts.
 */
#ifndef SCSIPUB_LOG_H
#define SCSIPUB_LOG_H

/* Longest line written, in bytes, the newline included. */
#define PLOG_LINE_MAX 1024

enum plog_level {
	PLOG_ERROR, /* "error: " after the program name */
	PLOG_WARN,  /* "warning: " after the program name */
	PLOG_INFO,  /* no level word */
	PLOG_DEBUG, /* no level word; written only with plog_verbose */
};

extern int plog_verbose;
extern int plog_quiet;
/* Start every line with the UTC time (ISO 8601) and a space; off by default. */
extern int plog_timestamps;
/* Prefix of every line: the program's name (default "scsipub"); set once in main. */
extern const char *plog_program;

/* Log one line at level (printf format, no trailing newline needed). */
void plog_at(enum plog_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* plog_at(PLOG_INFO, ...). */
void plog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* plog_at(PLOG_DEBUG, ...). */
void plog_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
