/*
 * privdrop.h — leave root for good: what the daemons that parse network input
 * (portal, API) do after opening their listeners when started as root outside
 * systemd (under systemd, User= and CapabilityBoundingSet= do the same).
 */
#ifndef SCSIPUB_PRIVDROP_H
#define SCSIPUB_PRIVDROP_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Become user (a name, or "uid" or "uid:gid" in decimal): empty the capability
 * bounding set, set the supplementary groups (the user's from the group database, or
 * none for a bare uid), gid and uid, and set no_new_privs; then check that root cannot
 * be regained. Afterwards the process has uid, gid != 0 and no capabilities (permitted,
 * effective, ambient and bounding sets empty). Must be called single-threaded.
 * 0, or -errno with a reason in err (errlen bytes): -ENOENT no such user, -EINVAL a
 * user that is root, -EPERM not running as root.
 */
int privdrop_to(const char *user, char *err, size_t errlen);

/* The uid and gid privdrop_to would take for user (same syntax). 0, or -ENOENT /
 * -EINVAL (root) with a reason. */
int privdrop_ids(const char *user, uid_t *uid, gid_t *gid, char *err, size_t errlen);

#endif
