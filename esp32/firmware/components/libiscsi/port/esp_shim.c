/* esp_shim.c — see esp_shim.h and include/sys/uio.h. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "esp_random.h"
#include <sys/uio.h>

#undef getpid
#undef getenv

pid_t libiscsi_esp_getpid(void)
{
	return (pid_t)(esp_random() & 0x7fffffff);
}

char *libiscsi_esp_getenv(const char *name)
{
	(void)name;
	return NULL;
}

#ifndef LIBISCSI_ESP_HAVE_IDF_UIO
/* Scatter/gather as a loop: a short transfer ends the loop, as readv/writev may
 * return short counts on a non-blocking socket. */
ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
	ssize_t total = 0;

	for (int i = 0; i < iovcnt; i++) {
		ssize_t n = read(fd, iov[i].iov_base, iov[i].iov_len);

		if (n < 0)
			return total ? total : -1;
		total += n;
		if ((size_t)n < iov[i].iov_len)
			break;
	}
	return total;
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	ssize_t total = 0;

	for (int i = 0; i < iovcnt; i++) {
		ssize_t n = write(fd, iov[i].iov_base, iov[i].iov_len);

		if (n < 0)
			return total ? total : -1;
		total += n;
		if ((size_t)n < iov[i].iov_len)
			break;
	}
	return total;
}
#endif
