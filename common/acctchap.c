/* acctchap.c — an account's iSCSI credentials on disk (see acctchap.h). */
#include "acctchap.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reason.h"

static int printable(const char *s, size_t min, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	if (n < min || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return 0;
	return 1;
}

int acctchap_valid(const char *user, const char *secret)
{
	return printable(user, 1, ACCTCHAP_USER_MAX) &&
	       printable(secret, ACCTCHAP_SECRET_MIN, ACCTCHAP_SECRET_MAX);
}

static int file_path(const char *dir, int64_t id, const char *name, char *buf)
{
	int n = snprintf(buf, PATH_MAX, "%s/%" PRId64 "%s%s", dir, id, name ? "/" : "",
			 name ? name : "");

	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

int acctchap_write(const char *private_dir, int64_t account_id, const char *user,
		   const char *secret, char *err, size_t errlen)
{
	char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX + 8];
	int fd, r, n;

	if (account_id < 1 || !acctchap_valid(user, secret))
		return reason_fail(err, errlen, -EINVAL, "account %" PRId64 ": invalid iSCSI "
				   "credentials", account_id);
	if (file_path(private_dir, account_id, NULL, dir) < 0 ||
	    file_path(private_dir, account_id, ACCTCHAP_FILE, path) < 0)
		return reason_fail(err, errlen, -ENAMETOOLONG, "%s: path too long", private_dir);
	if (mkdir(private_dir, 0700) < 0 && errno != EEXIST)
		return reason_fail(err, errlen, -errno, "%s: %s", private_dir, strerror(errno));
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return reason_fail(err, errlen, -errno, "%s: %s", dir, strerror(errno));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return reason_fail(err, errlen, -errno, "%s: %s", tmp, strerror(errno));
	n = dprintf(fd, "%s\n%s\n", user, secret);
	r = n < 0 || fsync(fd) < 0 ? -errno : 0;
	if (close(fd) < 0 && !r)
		r = -errno;
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	if (r) {
		unlink(tmp);
		return reason_fail(err, errlen, r, "%s: %s", path, strerror(-r));
	}
	return 0;
}

int acctchap_read(const char *private_dir, int64_t account_id, char *user, char *secret,
		  char *err, size_t errlen)
{
	char path[PATH_MAX], buf[ACCTCHAP_FILE_MAX + 1], *nl, *s2, *nl2;
	struct stat st;
	ssize_t n;
	int fd, r;

	if (account_id < 1 || file_path(private_dir, account_id, ACCTCHAP_FILE, path) < 0)
		return reason_fail(err, errlen, -EINVAL, "account %" PRId64 ": no credentials "
				   "file name", account_id);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		r = errno == ELOOP ? -EINVAL : -errno;
		return reason_fail(err, errlen, r, "%s: %s", path,
				   r == -EINVAL ? "a symbolic link" : strerror(errno));
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > ACCTCHAP_FILE_MAX) {
		close(fd);
		return reason_fail(err, errlen, -EINVAL, "%s: not a regular file of at most %d "
				   "bytes", path, ACCTCHAP_FILE_MAX);
	}
	n = read(fd, buf, ACCTCHAP_FILE_MAX);
	r = n < 0 ? -errno : 0;
	close(fd);
	if (r)
		return reason_fail(err, errlen, r, "%s: %s", path, strerror(-r));
	buf[n] = '\0';
	nl = strchr(buf, '\n');
	s2 = nl ? nl + 1 : NULL;
	nl2 = s2 ? strchr(s2, '\n') : NULL;
	if (!nl || !nl2 || nl2[1]) {
		return reason_fail(err, errlen, -EINVAL, "%s: expected two lines (user, secret)",
				   path);
	}
	*nl = *nl2 = '\0';
	if (!acctchap_valid(buf, s2))
		return reason_fail(err, errlen, -EINVAL, "%s: user or secret malformed", path);
	memcpy(user, buf, strlen(buf) + 1);
	memcpy(secret, s2, strlen(s2) + 1);
	return 0;
}
