/*
 * fullio.h — whole-buffer positioned file I/O for the cow store and its bitmap:
 * pread/pwrite/pwritev retried over short transfers and EINTR, so callers see one
 * result per buffer. Offsets and lengths are in bytes. Thread-safe (no state; the
 * file offset is never used).
 */
#ifndef SCSIPUB_FULLIO_H
#define SCSIPUB_FULLIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/*
 * Read up to len bytes of fd at off into buf. Returns the bytes read (fewer than len
 * only at end of file) or a negative errno of pread(2).
 */
ssize_t fullio_pread(int fd, void *buf, size_t len, uint64_t off);

/*
 * Write all len bytes of buf to fd at off. Returns 0, a negative errno of pwrite(2),
 * or -EIO when a write makes no progress.
 */
int fullio_pwrite(int fd, const void *buf, size_t len, uint64_t off);

/*
 * Write all of iov[0..cnt) to fd at off; iov is modified (advanced past what was
 * written). Returns 0, a negative errno of pwritev(2), or -EIO when a write makes no
 * progress.
 */
int fullio_pwritev(int fd, struct iovec *iov, int cnt, uint64_t off);

#endif
