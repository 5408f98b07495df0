/*
 * ring.h — the UIO side of one TCMU device: the shared mapping
 * [mailbox][command ring][data area] of <linux/target_core_user.h>, drained in ring
 * order, each command completed in place.
 *
 * Layout and protocol (../shared/lio-tcmu-facts.md §1.1):
 * - struct tcmu_mailbox at offset 0; the kernel writes cmd_head, we write cmd_tail.
 * - Entries live at mailbox + cmdr_off, each hdr.len_op bytes long (8-byte aligned),
 *   never straddling the ring's end (the kernel pads with a PAD entry instead).
 * - A CMD entry's CDB is at map + req.cdb_off and its data at map + iov[i].iov_base:
 *   every address in the mapping is an offset from the start of the mapping.
 * - The response (rsp) is a union with the request (req), so the iovecs and the CDB
 *   are copied out of the entry before anything is written back.
 *
 * The ring is processed by one thread, sequentially: every entry is completed in
 * place and in order, so the kernel's in-order reaper never sees a gap and no
 * out-of-order slot stealing is needed.
 *
 * Two ways to obtain a ring: ring_open() maps a real /dev/uioN; ring_init_mem() wraps
 * any memory buffer laid out the same way (unit tests build one by hand). Everything
 * else works the same on both.
 *
 * Thread safety: a struct ring is used by one thread at a time (the device worker).
 */
#ifndef SCSIPUB_RING_H
#define SCSIPUB_RING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
/*
 * <linux/target_core_user.h> pulls in <linux/uio.h>, whose struct iovec clashes with
 * glibc's (same layout); claim that header's guard so only glibc's definition exists.
 */
#ifndef __LINUX_UIO_H
#define __LINUX_UIO_H
#endif
#include <linux/target_core_user.h>
#include "scsi.h"

/* Longest CDB we copy out of an entry (variable-length CDBs: 8 + 252 bytes, rounded). */
#define RING_CDB_MAX 264

struct ring {
	uint8_t *map;          /* start of the mapping (the mailbox) */
	size_t map_len;        /* bytes mapped */
	uint32_t cmdr_off;     /* command ring offset, read once from the mailbox */
	uint32_t cmdr_size;    /* command ring size in bytes, read once */
	int fd;                /* /dev/uioN, or -1 for a memory ring */
	int mapped;            /* 1 if map came from mmap() (ring_close unmaps it) */
	unsigned minor;        /* uio minor (ring_open only) */
	struct iovec *iov;     /* scratch: the current command's iovecs (owned) */
	size_t iov_cap;        /* entries allocated in iov */
	uint8_t cdb[RING_CDB_MAX]; /* scratch: the current command's CDB */
};

/*
 * Per-command callback: carry out cmd (cdb, iov and iov_cnt are filled in; sense,
 * data_in and data_in_len are outputs, zeroed before the call) and return its SCSI
 * status (SCSI_STATUS_GOOD, SCSI_STATUS_CHECK_CONDITION with cmd->sense filled, ...).
 * A return value outside 0..255 is reported to the initiator as CHECK CONDITION /
 * HARDWARE ERROR / INTERNAL TARGET FAILURE. cmd and its buffers are valid only during
 * the call.
 */
typedef int (*ring_cmd_fn)(void *arg, struct scsi_cmd *cmd);

/*
 * Wrap a memory buffer of map_len bytes that holds a TCMU mailbox at offset 0.
 * Checks the mailbox (version TCMU_MAILBOX_VERSION, cmdr_off ≥ sizeof mailbox,
 * cmdr_size a non-zero multiple of 8, ring inside the buffer). The buffer stays owned
 * by the caller and must outlive the ring; ring_close() does not free it.
 * Returns 0, or -EINVAL with a one-line reason in err (errlen bytes).
 */
int ring_init_mem(struct ring *r, void *map, size_t map_len, char *err, size_t errlen);

/*
 * Map the ring of /dev/uio<minor>: read the mapping size from
 * <uio_sysfs>/uio<minor>/maps/map0/size (the mmap length must equal it exactly), open
 * <dev_dir>/uio<minor> O_RDWR|O_NONBLOCK|O_CLOEXEC, mmap it shared and check the
 * mailbox as ring_init_mem() does. uio_sysfs is normally "/sys/class/uio" and dev_dir
 * "/dev". Returns 0, or a negative errno with a reason in err: -EBUSY when another
 * process holds the device open (the kernel allows only one), -ENOENT when the uio
 * device is gone, -EINVAL for a bad size or mailbox. On failure nothing stays open.
 */
int ring_open(struct ring *r, unsigned minor, const char *uio_sysfs, const char *dev_dir,
	      char *err, size_t errlen);

/* Unmap (if mapped), close the uio fd (if any) and free the scratch. Idempotent. */
void ring_close(struct ring *r);

/* The uio fd to poll for POLLIN (new commands), or -1 for a memory ring. */
int ring_fd(const struct ring *r);

/*
 * Consume the pending uio event: read the 4-byte event count (non-blocking). Call it
 * BEFORE ring_process(), so a command queued during processing still wakes the next
 * poll. Returns 0 (also when there was no event), or a negative errno: -EIO/-ENODEV
 * mean the uio device is gone (the kernel removed it).
 */
int ring_ack(struct ring *r);

/*
 * Drain the command ring: for every entry from cmd_tail up to cmd_head, skip PAD and
 * TMR entries, flag other unknown ring opcodes with TCMU_UFLAG_UNKNOWN_OP, and run fn
 * on each CMD. Completion of a CMD: rsp.scsi_status; rsp.sense_buffer (96 bytes) when
 * the status is CHECK CONDITION; for a data-in command with GOOD status that produced
 * fewer bytes than its buffer, rsp.read_len and TCMU_UFLAG_READ_LEN. A malformed CMD
 * (iovec or CDB outside the mapping) completes with CHECK CONDITION / HARDWARE ERROR
 * without calling fn. cmd_tail advances past each entry as it completes (release
 * store; cmd_head is read with an acquire load).
 * Returns the number of entries consumed (0 if the ring was empty), or -EPROTO with a
 * reason in err when the ring itself is inconsistent (head/tail outside the ring, an
 * entry length of 0, unaligned, or running past the ring's end or past cmd_head);
 * entries before the bad one stay completed. Call ring_kick() when the result is > 0.
 */
int ring_process(struct ring *r, ring_cmd_fn fn, void *arg, char *err, size_t errlen);

/*
 * Tell the kernel to reap completions: write 4 bytes to the uio fd. A no-op returning
 * 0 for a memory ring. Returns 0 or a negative errno.
 */
int ring_kick(struct ring *r);

#endif
