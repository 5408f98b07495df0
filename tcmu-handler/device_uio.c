/*
 * device_uio.c — naming and finding TCMU devices: uio names, the uio class in sysfs,
 * and small sysfs/configfs attribute reads and writes (see device_uio.h).
 */
#include "device_uio.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cow_config.h"

/* ---- uio names ------------------------------------------------------------------- */

int device_parse_uio_name(const char *name, struct device_name *out)
{
	const char *p, *slash, *end;
	unsigned long long hba = 0;
	size_t len, n;

	memset(out, 0, sizeof(*out));
	if (!name)
		return -EINVAL;
	len = strlen(name);
	if (len && name[len - 1] == '\n')
		len--;
	end = name + len;
	n = strlen(DEVICE_UIO_PREFIX);
	if (len < n || memcmp(name, DEVICE_UIO_PREFIX, n) != 0)
		return -EINVAL;
	p = name + n;

	/* <hba>: decimal, fits in 32 bits. */
	if (p == end || !isdigit((unsigned char)*p))
		return -EINVAL;
	while (p < end && isdigit((unsigned char)*p)) {
		hba = hba * 10 + (unsigned)(*p - '0');
		if (hba > UINT32_MAX)
			return -EINVAL;
		p++;
	}
	if (p == end || *p != '/')
		return -EINVAL;
	p++;

	/* <dev>: non-empty, up to the next '/' or the end. */
	slash = memchr(p, '/', (size_t)(end - p));
	n = (size_t)((slash ? slash : end) - p);
	if (n == 0)
		return -EINVAL;
	if (n >= sizeof(out->dev))
		return -ENAMETOOLONG;
	memcpy(out->dev, p, n);
	out->dev[n] = '\0';
	out->hba = (unsigned)hba;
	if (!slash)
		return 0;

	/* <dev_config>: everything after, '/' included. */
	p = slash + 1;
	n = (size_t)(end - p);
	if (n >= sizeof(out->config))
		return -ENAMETOOLONG;
	memcpy(out->config, p, n);
	out->config[n] = '\0';
	slash = memchr(p, '/', n);
	if (slash)
		n = (size_t)(slash - p);
	if (n >= sizeof(out->subtype))
		return -ENAMETOOLONG;
	memcpy(out->subtype, p, n);
	out->subtype[n] = '\0';
	return 0;
}

int device_name_is_foreign(const char *name)
{
	static const char prefix[] = "tcm-user/";
	static const char ours[] = COW_CONFIG_SUBTYPE;
	const char *p;
	size_t n = sizeof(ours) - 1;
	int i;

	if (!name || strncmp(name, prefix, sizeof(prefix) - 1) != 0)
		return 0;
	p = name + sizeof(prefix) - 1;
	/* Skip <hba>/ and <dev>/; without a dev_config nobody's subtype matches. */
	for (i = 0; i < 2; i++) {
		p = strchr(p, '/');
		if (!p)
			return i == 1;
		p++;
	}
	if (strncmp(p, ours, n) != 0)
		return 1;
	return !(p[n] == '\0' || p[n] == '/' || p[n] == '\n');
}

/* ---- filesystem helpers ---------------------------------------------------------- */

int device_write_attr(const char *path, const char *value)
{
	size_t len = strlen(value);
	ssize_t n;
	int fd, e;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do {
		n = write(fd, value, len);
	} while (n < 0 && errno == EINTR);
	e = errno;
	close(fd);
	if (n < 0)
		return -e;
	return (size_t)n == len ? 0 : -EIO;
}

ssize_t device_read_small(const char *path, char *buf, size_t buflen)
{
	return device_read_small_at(AT_FDCWD, path, buf, buflen);
}

ssize_t device_read_small_at(int dirfd, const char *path, char *buf, size_t buflen)
{
	char tmp[4096 + 1];
	size_t len = 0;
	ssize_t n;
	int fd, e = 0;

	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len < sizeof(tmp) - 1) {
		n = read(fd, tmp + len, sizeof(tmp) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (e)
		return -e;
	if (len && tmp[len - 1] == '\n')
		len--;
	if (!buflen || len >= buflen)
		return -ENAMETOOLONG;
	memcpy(buf, tmp, len);
	buf[len] = '\0';
	return (ssize_t)len;
}

int device_read_uio_name(const char *uio_sysfs, unsigned minor, char *buf, size_t buflen)
{
	char path[PATH_MAX];
	ssize_t n;

	if (snprintf(path, sizeof(path), "%s/uio%u/name", uio_sysfs, minor) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	n = device_read_small(path, buf, buflen);
	return n < 0 ? (int)n : 0;
}

/* "uio<N>" with N a decimal number that fits in unsigned. */
static int parse_uio_dirent(const char *name, unsigned *minor)
{
	unsigned long v = 0;
	const char *p;

	if (strncmp(name, "uio", 3) != 0 || !name[3])
		return -1;
	for (p = name + 3; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return -1;
		v = v * 10 + (unsigned)(*p - '0');
		if (v > UINT_MAX)
			return -1;
	}
	*minor = (unsigned)v;
	return 0;
}

int device_scan(const char *uio_sysfs,
		int (*cb)(void *arg, unsigned minor, const char *name), void *arg)
{
	char name[1024];
	struct dirent *de;
	unsigned minor;
	DIR *dir;
	int ret = 0;

	dir = opendir(uio_sysfs);
	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	for (;;) {
		errno = 0;
		de = readdir(dir);
		if (!de) {
			if (errno)
				ret = -errno;
			break;
		}
		if (parse_uio_dirent(de->d_name, &minor) < 0)
			continue;
		/* A device removed meanwhile, or an unreadable name, is skipped. */
		if (device_read_uio_name(uio_sysfs, minor, name, sizeof(name)) < 0)
			continue;
		if (strncmp(name, DEVICE_UIO_PREFIX, strlen(DEVICE_UIO_PREFIX)) != 0)
			continue;
		ret = cb(arg, minor, name);
		if (ret)
			break;
	}
	closedir(dir);
	return ret;
}
