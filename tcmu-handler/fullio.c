/*
 * fullio.c — whole-buffer positioned file I/O (fullio.h).
 */
#include "fullio.h"

#include <errno.h>
#include <unistd.h>

ssize_t fullio_pread(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, p + done, len - done, (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int fullio_pwritev(int fd, struct iovec *iov, int cnt, uint64_t off)
{
	while (cnt > 0) {
		ssize_t n = pwritev(fd, iov, cnt, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		off += (uint64_t)n;
		while (cnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

int fullio_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	/* pwritev only reads the buffer; the cast drops const for struct iovec. */
	struct iovec iov = { (void *)buf, len };

	return len ? fullio_pwritev(fd, &iov, 1, off) : 0;
}
