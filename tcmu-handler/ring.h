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
 * Commands may complete in any order (the kernel sets CAP_OOOC): ring_next() copies
 * each command out of its entry, so whoever runs it owns a private request, and
 * ring_complete() writes the response into the entry at cmd_tail under the finished
 * command's cmd_id ("slot stealing", as libtcmu does), so cmd_tail only ever moves
 * over entries that hold a response and the kernel's in-order reaper sees no gap.
 *
 * Two ways to obtain a ring: ring_open() maps a real /dev/uioN; ring_init_mem() wraps
 * any memory buffer laid out the same way (unit tests build one by hand). Everything
 * else works the same on both.
 *
 * Thread safety: one thread reads commands (ring_ack, ring_next, ring_process: the
 * device's dispatcher); ring_complete() may be called from any thread at any time
 * between ring_init_mem/ring_open and ring_close (it takes the ring's own mutex).
 */
#ifndef SCSIPUB_RING_H
#define SCSIPUB_RING_H

#include <stddef.h>
#include <pthread.h>
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
	uint32_t rd;           /* next entry to read (ring offset; done_mu to change) */
	uint32_t tail;         /* cmd_tail as we last stored it (done_mu) */
	pthread_mutex_t done_mu; /* completions: tail and the entries behind rd */
	int mu_ready;          /* done_mu is initialised */
};

/*
 * One command read off the ring (ring_next): a private copy of its CDB and of its
 * data iovecs, which point into the data area and stay valid until the command is
 * completed (ring_complete frees the request).
 */
struct ring_req {
	uint16_t cmd_id;             /* the kernel's id of the command */
	uint8_t cdb[RING_CDB_MAX];   /* the CDB, zero-padded */
	int iov_cnt;                 /* data iovecs (data-in or data-out) */
	struct iovec iov[];
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
 * Read the next entry between the read cursor and cmd_head. PAD and TMR entries are
 * consumed, other unknown ring opcodes (and a CMD too short for a response) are
 * flagged TCMU_UFLAG_UNKNOWN_OP; for those *out is NULL. A CMD is copied into a new
 * request, *out (the caller owns it until it passes it to ring_complete, exactly
 * once). A malformed CMD (iovec or CDB outside the mapping) is completed at once with
 * CHECK CONDITION / HARDWARE ERROR / INTERNAL TARGET FAILURE, and one that cannot be
 * copied for lack of memory with BUSY (the initiator retries; err says so); *out is
 * NULL for both. Dispatcher thread only.
 * Returns 1 when an entry was consumed, 0 when the ring holds no unread entry, or
 * -EPROTO with a reason in err when the ring itself is inconsistent (cmd_head or the
 * cursor outside the ring or unaligned, an entry length of 0, unaligned, or running
 * past the ring's end or past cmd_head); nothing is consumed then.
 */
int ring_next(struct ring *r, struct ring_req **out, char *err, size_t errlen);

/*
 * Complete request q (from ring_next on r) with SCSI status `status` and free q.
 * cmd (may be NULL: no sense, no data) supplies the sense data (copied, 96 bytes,
 * when status is CHECK CONDITION) and the data-in residual: for a data-in command
 * with GOOD status that produced fewer bytes than its buffer, rsp.read_len and
 * TCMU_UFLAG_READ_LEN (a residual of the whole buffer also zeroes it, since the
 * kernel ignores a read_len of 0). A status outside 0..255 becomes CHECK CONDITION /
 * HARDWARE ERROR / INTERNAL TARGET FAILURE. The response goes into the entry at
 * cmd_tail under q's cmd_id, and cmd_tail moves past it and past any entries after it
 * that need no response (a release store).
 * Thread-safe; call ring_kick() afterwards so the kernel reaps it.
 */
void ring_complete(struct ring *r, struct ring_req *q, int status,
		   const struct scsi_cmd *cmd);

/*
 * Run request q through fn (see ring_cmd_fn) and ring_complete() it with the status fn
 * returns. q is freed. Any thread.
 */
void ring_run(struct ring_req *q, struct ring *r, ring_cmd_fn fn, void *arg);

/*
 * Drain the command ring in the calling thread: ring_next() until the ring is empty,
 * each CMD run at once by ring_run(). Returns the number of entries consumed (0 if the
 * ring was empty), or -EPROTO with a reason in err when the ring is inconsistent
 * (ring_next); entries before the bad one stay completed. Call ring_kick() when the
 * result is > 0.
 */
int ring_process(struct ring *r, ring_cmd_fn fn, void *arg, char *err, size_t errlen);

/*
 * Tell the kernel to reap completions: write 4 bytes to the uio fd. A no-op returning
 * 0 for a memory ring. Returns 0 or a negative errno.
 */
int ring_kick(struct ring *r);

#endif
