/*
 * dbus_service.h — the org.kernel.TCMUService1 D-Bus service that makes targetcli
 * list our user backstores.
 *
 * targetcli-fb (ui_backstore.py, _user_backstores) shows a "user:<subtype>" node
 * only for handlers that a service named org.kernel.TCMUService1 on the SYSTEM bus
 * reports; the storage objects under it come from configfs (rtslib matches the
 * dev_config prefix "<subtype>/"). This module exports the same interface as
 * tcmu-runner, for our single handler "cow":
 *
 *   /org/kernel/TCMUService1          org.freedesktop.DBus.ObjectManager
 *                                       GetManagedObjects() -> a{oa{sa{sv}}}
 *   /org/kernel/TCMUService1/cow      org.kernel.TCMUService1
 *                                       property ConfigDesc (s, read-only)
 *                                       CheckConfig(s configstr) -> (b is_valid,
 *                                                                    s message)
 *                                       ChangeMedium(s name, t size, s configstr)
 *                                         -> (i ret, s message); always answers
 *                                         -EOPNOTSUPP (a cow disk has no medium)
 *
 * targetcli takes the handler name from the last element of the object path and
 * calls CheckConfig with the full dev_config ("cow/size=...") before it creates a
 * backstore. The standard Properties and Introspectable interfaces come with GDBus.
 *
 * On a real host the system bus only lets root own the name when a bus policy
 * allows it (tcmu-runner ships one in /etc/dbus-1/system.d/); see
 * tests/lab/targetcli.sh for a minimal one. DBUS_SYSTEM_BUS_ADDRESS overrides the
 * bus address (the unit test points it at a private dbus-daemon).
 *
 * Threading: dbus_service_start() connects, exports the objects and owns the name
 * synchronously on the caller's thread, then serves requests from a GMainLoop on a
 * dedicated thread ("scsipub-dbus") with its own GMainContext; the caller's poll
 * loop is never touched. Those threads block all asynchronous signals, so signals
 * (SIGTERM, a signalfd's set) are only ever delivered to the daemon's own threads.
 * Call start and stop from one thread (not concurrently).
 * D-Bus is optional for the daemon: a start failure only means targetcli will not
 * show user:cow, so log it as a warning and carry on.
 */
#ifndef SCSIPUB_DBUS_SERVICE_H
#define SCSIPUB_DBUS_SERVICE_H

#include <stddef.h>

#define DBUS_SERVICE_NAME      "org.kernel.TCMUService1"
#define DBUS_SERVICE_PATH      "/org/kernel/TCMUService1"
#define DBUS_SERVICE_IFACE     "org.kernel.TCMUService1"

/*
 * Validate a dev_config for the "cow" handler, as CheckConfig does: `cfg` is the
 * full string ("cow/size=...;overlay=...;bitmap=...") or only the part after "cow/".
 * Returns 1 when valid (reason = "success"), 0 when not (reason = why, one line).
 * A NULL cfg is invalid. reason may be NULL; otherwise it receives a NUL-terminated
 * message of at most len - 1 bytes. Pure: no I/O, thread-safe.
 */
int dbus_service_check_config(const char *cfg, char *reason, size_t len);

/*
 * Connect to the system bus, export the objects above, own org.kernel.TCMUService1
 * and start the serving thread. Returns 0, or a negative errno with a one-line reason
 * in err (errlen bytes; err may be NULL):
 *   -ENOTCONN  no system bus (no socket, refused, authentication failed),
 *   -EBUSY     another process owns org.kernel.TCMUService1 (e.g. tcmu-runner),
 *   -EACCES    the bus policy forbids us to own the name,
 *   -EALREADY  already started,
 *   -EAGAIN    the thread could not be created,
 *   -EIO       any other bus error.
 * On failure nothing is left behind and start may be retried.
 */
int dbus_service_start(char *err, size_t errlen);

/*
 * Stop the serving thread, release the name and close the bus connection. Blocks
 * until the thread has exited. A no-op when not started; start may be called again
 * afterwards.
 */
void dbus_service_stop(void);

#endif
