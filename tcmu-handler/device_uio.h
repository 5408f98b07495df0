/*
 * device_uio.h — naming and finding the TCMU devices scsipub-tcmu serves (device.h).
 *
 * The kernel names a TCMU uio device "tcm-user/<hba>/<dev>/<dev_config>"
 * (../shared/lio-tcmu-facts.md §1.3): <hba> is N of configfs core/user_N, <dev> the
 * backstore's directory name and <dev_config> the string written to `control`;
 * ours is "cow/..." (cow_config.h). Devices of any other subtype are not ours.
 * Also here: the small sysfs/configfs attribute reads and writes the handler makes.
 */
#ifndef SCSIPUB_DEVICE_UIO_H
#define SCSIPUB_DEVICE_UIO_H

#include <stddef.h>
#include <sys/types.h>

/* ---- uio names ------------------------------------------------------------------- */

#define DEVICE_UIO_PREFIX "tcm-user/"

struct device_name {
	unsigned hba;        /* N of core/user_N */
	char dev[256];       /* backstore name (configfs directory under core/user_N) */
	char config[256];    /* the whole dev_config ("" when the name has none) */
	char subtype[64];    /* dev_config up to its first '/' ("" when none) */
};

/*
 * Split a uio name "tcm-user/<hba>/<dev>[/<dev_config>]" (a trailing newline, as read
 * from sysfs, is ignored). <hba> must be a decimal number that fits in 32 bits; <dev>
 * must be non-empty; <dev_config> is everything after the third '/' and may contain
 * '/'. Pure function. Returns 0, -EINVAL for a name of another shape (wrong prefix,
 * bad hba, empty dev), -ENAMETOOLONG when a part does not fit its field.
 */
int device_parse_uio_name(const char *name, struct device_name *out);

/*
 * Whether uio name `name` ("tcm-user/<hba>/<dev>[/<dev_config>]") belongs to another
 * TCMU daemon: 1 when it has the tcm-user shape and its subtype (dev_config up to the
 * first '/') is not COW_CONFIG_SUBTYPE — a missing dev_config included, and however
 * long the subtype is; 0 for our subtype, for NULL and for a name of another shape
 * (those we answer ourselves, with an error). Pure function.
 */
int device_name_is_foreign(const char *name);

/* ---- filesystem helpers ---------------------------------------------------------- */

/*
 * Write value (a short string) to the sysfs/configfs attribute at path, with one
 * write(2). Returns 0 or a negative errno (-ENOENT when the attribute does not exist).
 */
int device_write_attr(const char *path, const char *value);

/*
 * Read <uio_sysfs>/uio<minor>/name into buf (buflen bytes), without the trailing
 * newline. Returns 0 or a negative errno (-ENAMETOOLONG when it does not fit).
 */
int device_read_uio_name(const char *uio_sysfs, unsigned minor, char *buf, size_t buflen);

/*
 * Read a small file (a sysfs/configfs attribute, at most one page) into buf (buflen
 * bytes, NUL-terminated) without one trailing newline. Returns its length in bytes, or
 * a negative errno (-ENAMETOOLONG when it does not fit in buflen - 1 bytes).
 */
ssize_t device_read_small(const char *path, char *buf, size_t buflen);

/*
 * device_read_small() of path relative to the directory open at dirfd (openat(2);
 * AT_FDCWD for the working directory), so reads of several attributes of one configfs
 * object walk its long path once. The same returns.
 */
ssize_t device_read_small_at(int dirfd, const char *path, char *buf, size_t buflen);

/*
 * Call cb(arg, minor, name) for every <uio_sysfs>/uio<N> whose name starts with
 * DEVICE_UIO_PREFIX, in directory order. A non-zero return from cb stops the scan and
 * is returned. Returns 0, or a negative errno when uio_sysfs cannot be read (a
 * missing directory, i.e. no uio devices at all, counts as empty: 0).
 */
int device_scan(const char *uio_sysfs,
		int (*cb)(void *arg, unsigned minor, const char *name), void *arg);

#endif
