/*
 * fsspace.h — how much room the state filesystem has left: the one place that asks
 * the kernel (statvfs), shared by the handler (a write that would allocate overlay
 * blocks past the reserve fails, cow.h) and the portal (a new anonymous login is
 * refused, RFC 7143 §11.13.5 status 0x0302 Out of resources).
 *
 * Units: BYTES everywhere. "Available" is f_bavail * f_frsize: what an unprivileged
 * writer may still allocate, so ext4's root-reserved blocks are never counted as
 * ours even though the daemons run as root (they stay for the rest of the system).
 *
 * Thread-safe (no state).
 */
#ifndef SCSIPUB_FSSPACE_H
#define SCSIPUB_FSSPACE_H

#include <stdint.h>

/*
 * Default of the portal's and the handler's --disk-reserve: 512 MiB. The state
 * filesystem also holds what must keep working when overlays fill it: PostgreSQL
 * (<state>/pg: 16 MiB WAL segments, checkpoints), the image catalog and fetches,
 * logs, connections.json and the bitmap files of new sessions. A fixed amount (not
 * a share of the disk) gives that the same room on any disk size; 512 MiB is a few
 * WAL segments plus a catalog image in flight.
 */
#define FSSPACE_DEFAULT_RESERVE (512ull * 1024 * 1024)
/* The same, as text, for option tables (test_fsspace checks that the two agree). */
#define FSSPACE_DEFAULT_RESERVE_TEXT "536870912"

/*
 * Bytes available on the filesystem that holds the open file fd (fstatvfs:
 * f_bavail * f_frsize) into *avail. Returns 0, -errno from fstatvfs, or -ENOTSUP
 * when the filesystem reports no size at all (f_blocks == 0: ramfs, some pseudo
 * filesystems) — callers then cannot enforce a reserve and should not pretend to.
 */
int fsspace_avail_fd(int fd, uint64_t *avail);

/* As fsspace_avail_fd, for the filesystem holding path (statvfs). */
int fsspace_avail_path(const char *path, uint64_t *avail);

/*
 * The allocation unit of the filesystem holding fd, in bytes: f_frsize (f_bsize when
 * that is 0), the granule in which a sparse file's holes get filled. Values that are
 * not a power of two in [512, 1 MiB] (odd network filesystems) give 4096. Never
 * fails: 4096 when fstatvfs does.
 */
uint32_t fsspace_block_size_fd(int fd);

/*
 * 1 when the filesystem holding path has at least reserve bytes available, 0 when it
 * has less, -errno when it cannot tell (path missing, -ENOTSUP as above). *avail
 * (may be NULL) gets the available bytes when known. reserve 0 is always 1.
 */
int fsspace_has_reserve(const char *path, uint64_t reserve, uint64_t *avail);

#endif
