/*
 * conntab.h — the portal's table of live relayed connections, published for the
 * api-server's admin page as <state>/portal/connections.json (docs/provisioned.md):
 *
 *   [{"peer":"ip:port","initiator":"iqn...","lio_initiator":"iqn...","target":"iqn...",
 *     "kind":"anonymous"|"provisioned","bytes_in":N,"bytes_out":N,"since":unix_ts}]
 *
 * initiator is the InitiatorName the client sent (for operators); lio_initiator, only
 * present when it differs, the name LIO knows the session by (an anonymous
 * connection's own name, session.h). The file is mode 0640 in a 0750 directory:
 * readable by the service's own users only, never world-readable.
 *
 * bytes_in counts bytes from the initiator (to LIO), bytes_out bytes to the
 * initiator; since is the UNIX time (seconds) the connection was added. The file is
 * rewritten atomically (<path>.tmp, fsync-free write, rename) at most once per
 * CONNTAB_TICK_MS: an add or remove writes it at once when the last write is that
 * old, and otherwise leaves it to conntab_tick (conntab_due_ms says when), which also
 * writes changed byte counters. Each write is the whole list (O(connections)), so a
 * burst of logins costs one write per tick, not one per login.
 * Discovery sessions are not listed (they are answered by the portal itself).
 * Thread-safe: one mutex guards the table and the file writes. JSON via json-c.
 */
#ifndef SCSIPUB_CONNTAB_H
#define SCSIPUB_CONNTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "statelayout.h"

#define CONNTAB_SUBDIR STATE_PORTAL_DIR
#define CONNTAB_FILE "connections.json" /* STATE_CONNECTIONS */
#define CONNTAB_TICK_MS 1000 /* milliseconds between two writes of the file, at least */
#define CONNTAB_MODE 0640  /* the published file: owner and group only */

enum conntab_kind { CONNTAB_ANONYMOUS, CONNTAB_PROVISIONED };

struct conntab;

/*
 * A table publishing to path (NULL = keep it in memory only, for tests of the JSON).
 * The directory must exist (see conntab_default_path). Caller owns; NULL + errno.
 */
struct conntab *conntab_new(const char *path);
/* Free the table (the file keeps its last contents; call conntab_clear first to
 * publish an empty list at shutdown). */
void conntab_free(struct conntab *t);

/*
 * <state_dir>/portal/connections.json into buf (len bytes), creating
 * <state_dir>/portal (0750) if missing. 0 or -errno (-ENAMETOOLONG).
 */
int conntab_default_path(const char *state_dir, char *buf, size_t len);

/*
 * Add a connection; strings are copied (truncated to 255 bytes). Returns its id
 * (> 0) for conntab_bytes / conntab_remove, or 0 when out of memory (the connection
 * then simply is not listed). Writes the file now if the last write is CONNTAB_TICK_MS
 * old, else leaves it to conntab_tick.
 */
uint64_t conntab_add(struct conntab *t, const char *peer, const char *initiator,
		     const char *lio_initiator, const char *target, enum conntab_kind kind,
		     time_t since);
/* Set the byte counters of connection id (no-op for 0 or an unknown id); publishes
 * nothing by itself (conntab_tick does). */
void conntab_bytes(struct conntab *t, uint64_t id, uint64_t bytes_in, uint64_t bytes_out);
/* Remove connection id (no-op for 0 or unknown); the file as for conntab_add. */
void conntab_remove(struct conntab *t, uint64_t id);
/* Remove every connection and publish the (empty) file. */
void conntab_clear(struct conntab *t);
/*
 * Write the file if the list or a counter changed since the last write and the last
 * write is at least CONNTAB_TICK_MS old (now: CLOCK_MONOTONIC milliseconds,
 * monotime_ms). Returns true if it wrote.
 */
bool conntab_tick(struct conntab *t, int64_t now);
/*
 * Milliseconds from now (CLOCK_MONOTONIC ms) until conntab_tick has a change to
 * write: 0 = now, -1 = nothing changed (the caller's poll timeout).
 */
int64_t conntab_due_ms(struct conntab *t, int64_t now);
/* Use clock_ms (CLOCK_MONOTONIC milliseconds) instead of monotime_ms to time writes;
 * NULL restores it. For tests. */
void conntab_set_clock(struct conntab *t, int64_t (*clock_ms)(void));
/* Number of connections listed. */
size_t conntab_count(struct conntab *t);

/*
 * The table as a JSON text (malloc'd, caller frees), or NULL when out of memory.
 * This is exactly what the file holds.
 */
char *conntab_json(struct conntab *t);

/*
 * Write the file now (tmp + rename). 0 or -errno; a table without a path returns 0.
 */
int conntab_publish(struct conntab *t);

#endif
