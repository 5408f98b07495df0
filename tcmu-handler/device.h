/*
 * device.h — one TCMU device served by scsipub-tcmu: its uio name, its cow store
 * (cow.h), its SCSI logical unit (scsi.h), its ring (ring.h) and a worker thread that
 * waits on the uio fd and hands each command to the command threads (iopool.h).
 *
 * Its uio name ("tcm-user/<hba>/<dev>/<dev_config>", ours "cow/...") and the sysfs
 * scan that finds it are device_uio.h. The handler logs through the common logger
 * (log.h).
 *
 * Threading: device_open/device_close/device_set_write_cache are called from one
 * thread (the main loop). Each device has its own worker thread, which reads the
 * commands off its ring and hands each to the daemon's command threads
 * (device_pool_new), so several commands of a device run at once: those
 * scsi_cmd_shares_lu() lets overlap (reads, and cached writes without FUA) share the
 * device's logical unit lock, every other command holds it alone. They complete in
 * whatever order they finish (ring_complete). Without a pool the worker runs each
 * command itself, one at a time, in ring order.
 */
#ifndef SCSIPUB_DEVICE_H
#define SCSIPUB_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "cow_config.h"
#include "device_uio.h"
#include "iopool.h"

/* ---- served devices -------------------------------------------------------------- */

/*
 * Where the kernel's files are, and the daemon-wide settings every device gets; all
 * strings must outlive every device opened with them.
 */
struct device_env {
	const char *configfs_root; /* e.g. "/sys/kernel/config/target" */
	const char *uio_sysfs;     /* e.g. "/sys/class/uio" */
	const char *dev_dir;       /* e.g. "/dev" */
	uint64_t disk_reserve;     /* bytes kept available on each overlay's filesystem
				      (cow_set_reserve); 0 = none */
	const char *mirror_dir;    /* where bitmaps keep their mirrors (cow_open; a
				      tmpfs directory), NULL = none */
	struct iopool *pool;       /* the command threads (device_pool_new), shared by
				      every device; NULL = each device's worker runs
				      its commands itself, one at a time */
};

/*
 * Start the daemon's command threads for struct device_env's pool: `threads`
 * (1..IOPOOL_MAX_THREADS) threads that run the commands of every device opened with
 * it. Returns the pool (caller owns; iopool_free, after every device using it is
 * closed) or NULL with a reason in err.
 */
struct iopool *device_pool_new(unsigned threads, char *err, size_t errlen);

struct device;

/*
 * Serve /dev/uio<minor>: parse uio_name (NULL = read it from sysfs; otherwise it must
 * match sysfs when sysfs is readable), check the subtype is "cow", parse the
 * dev_config (cow_config_parse), map the ring, open the cow store (its bitmap's
 * mirror in env->mirror_dir, env->disk_reserve as its reserve; writes refused for it are logged at most once a
 * minute per device), fill the logical
 * unit (serial from core/user_<hba>/<dev>/wwn/vpd_unit_serial, else the backstore
 * name; max transfer from attrib/hw_max_sectors, else 128 blocks; write cache from
 * attrib/emulate_write_cache, else off, i.e. write-through: see device_set_write_cache)
 * and start the worker thread.
 * reattach != 0 runs the restart protocol around it for a device that was live before
 * we started: action/block_dev=1, action/reset_ring=1 (outstanding commands complete
 * BUSY, so initiators retry), open, action/block_dev=0 (also on failure).
 * Returns 0 with *out set (caller owns; device_close), or a negative errno with a
 * one-line reason in err: -ENOENT for a subtype that is not ours, -EINVAL for a bad
 * name or dev_config, -ENODEV when the uio name no longer matches, -EBUSY when
 * another process holds the uio device, or cow_open's errno. One exception: when the
 * cow store cannot be opened and the kernel awaits no reply for the device
 * (device_reply_awaited: nothing would tell it), the device is still served, with
 * every command answered CHECK CONDITION, NOT READY / LOGICAL UNIT NOT READY, MANUAL
 * INTERVENTION REQUIRED (04h/03h, SPC-4) instead of timing out; 0 is returned with
 * the reason in err and in device_unusable().
 */
int device_open(const struct device_env *env, unsigned minor, const char *uio_name,
		int reattach, struct device **out, char *err, size_t errlen);

/* Why d has no cow store (every command gets NOT READY 04h/03h), or NULL when served. */
const char *device_unusable(const struct device *d);

/*
 * Stop the worker (it dispatches the commands already in the ring first), join it,
 * wait until every command of d running on the pool has completed, unmap the ring, close the uio device and the cow store, free d. Deletes nothing
 * and does not touch configfs. NULL is allowed.
 */
void device_close(struct device *d);

/*
 * Set the logical unit's write cache (WCE in the caching mode page, SBC-3 §6.4.5) to
 * on (0/1); the kernel's attrib/emulate_write_cache (RECONFIG_DEVICE) says which. The
 * worker applies it before the next command it executes. On (WCE = 1): writes complete
 * in the overlay's page cache and are made durable by SYNCHRONIZE CACHE and FUA (the
 * initiator knows to send them). Off (WCE = 0): write-through, every command that
 * changes the medium is durable before GOOD; when the cache goes off, the writes it
 * held are flushed before the next command. Either way the WCE bit never promises
 * more durability than the handler gives.
 */
void device_set_write_cache(struct device *d, int on);

/* The write cache setting last requested for d (device_set_write_cache or open). */
int device_write_cache(const struct device *d);

/* The uio minor and the uio name the device was opened with. */
unsigned device_minor(const struct device *d);
const char *device_uio_name(const struct device *d);

/* "user_<hba>/<dev>" — how log lines name the device. */
const char *device_label(const struct device *d);

/* The backstore's configfs name (<dev> of core/user_<hba>/<dev>). */
const char *device_backstore(const struct device *d);

/*
 * Hint that d is used by a connection whose LIO threads run on CPU `cpu`
 * (common/placehint.h). d's worker thread (which reads the command ring and, at
 * queue depth 1, runs every command) then runs on that CPU while its commands come
 * one small one at a time, and anywhere the daemon may run otherwise (common/pinpolicy.h);
 * it applies the hint itself at its next wakeups. A CPU the calling thread may not
 * run on is refused, so an operator's taskset or cpuset for the daemon stays in force.
 * cpu PLACEHINT_NONE withdraws the hint: the worker goes back to where the daemon may
 * run at its next wakeup (connections on several CPUs share d).
 * Returns 1 when the hint is new or another CPU than before (or newly withdrawn), 0
 * when it is the same,
 * -EPERM for a CPU it may not run on or one out of range (nothing changed), or the
 * -errno of pthread_getaffinity_np. Any thread may call it.
 */
int device_place(struct device *d, int cpu);

/*
 * The device's dev_config as device_open parsed it (size in bytes, overlay, bitmap,
 * base, limit): parsed once per device, valid until device_close. Also for a device
 * whose cow store could not open (device_unusable).
 */
const struct cow_config *device_config(const struct device *d);

/* The whole dev_config string of the uio name ("cow/size=..."), as the kernel gave it. */
const char *device_dev_config(const struct device *d);

/*
 * 1 once the worker has stopped on its own because the uio device went away (the
 * kernel removed it while netlink was blocked, so no REMOVED_DEVICE came); the owner
 * should then device_close() it. 0 otherwise.
 */
int device_gone(const struct device *d);

/*
 * Whether the kernel waits for a *_DONE reply to the events of the device named
 * uio_name: reads core/user_<hba>/<dev>/attrib/nl_reply_supported under
 * env->configfs_root, which after enable holds -1 (opted out, as cfs_backstore_create
 * makes them) or the module-wide reply flag copied at enable (target_core_user.c
 * tcmu_configure_device). Returns 0 when the value is <= 0 (no reply awaited; a reply
 * would only be refused with -ENODEV and logged by the kernel), 1 when it is > 0 or
 * cannot be read (answering is then the safe side: the kernel may be waiting).
 */
int device_reply_awaited(const struct device_env *env, const char *uio_name);

/* device_reply_awaited() as read when the device was opened. */
int device_awaits_reply(const struct device *d);

#endif
