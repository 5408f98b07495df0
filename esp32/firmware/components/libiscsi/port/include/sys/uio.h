/*
 * sys/uio.h — struct iovec, readv() and writev() for libiscsi on ESP-IDF releases
 * whose newlib has none (esp_shim.c loops over read()/write()). On IDF releases
 * that ship <sys/uio.h> this directory comes later in the include path and
 * include_next picks the IDF's.
 */
#ifndef LIBISCSI_ESP_SYS_UIO_H
#define LIBISCSI_ESP_SYS_UIO_H

#if defined(__has_include_next)
#  if __has_include_next(<sys/uio.h>)
#    include_next <sys/uio.h>
#    define LIBISCSI_ESP_HAVE_IDF_UIO 1
#  endif
#endif

#ifndef LIBISCSI_ESP_HAVE_IDF_UIO
#include <stddef.h>
#include <sys/types.h>

struct iovec {
	void *iov_base;
	size_t iov_len;
};

ssize_t readv(int fd, const struct iovec *iov, int iovcnt);
ssize_t writev(int fd, const struct iovec *iov, int iovcnt);
#endif

#endif
