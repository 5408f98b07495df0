/*
 * unixsock.c — a local control socket's listening end (see unixsock.h).
 */
#include "unixsock.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "reason.h"

int unixsock_listen(const char *path, int type, const char *group, char *err, size_t errlen)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char dir[sizeof(a.sun_path)], *slash;
	gid_t gid = (gid_t)-1;
	int fd, base = type & ~(SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (strlen(path) >= sizeof(a.sun_path))
		return reason_fail(err, errlen, -ENAMETOOLONG, "%s: path too long", path);
	if (group && group[0]) {
		struct group *g = getgrnam(group);

		if (!g)
			return reason_fail(err, errlen, -EINVAL, "no group %s", group);
		gid = g->gr_gid;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return reason_fail(err, errlen, -errno, "cannot create %s: %s", dir,
					   strerror(errno));
	}
	memcpy(a.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, type, 0);
	if (fd < 0)
		return reason_fail(err, errlen, -errno, "socket: %s", strerror(errno));
	unlink(path);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || chmod(path, 0660) < 0 ||
	    (gid != (gid_t)-1 && chown(path, 0, gid) < 0) ||
	    (base != SOCK_DGRAM && listen(fd, 128) < 0)) {
		int e = errno;

		close(fd);
		return reason_fail(err, errlen, -e, "%s: %s", path, strerror(e));
	}
	return fd;
}
