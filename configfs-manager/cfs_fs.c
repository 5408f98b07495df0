/*
 * cfs_fs.c — filesystem operations on the configfs tree, with the plain-directory
 * emulation the unit tests run on.
 *
 * configfs facts relied on (fs/configfs/dir.c, file.c, symlink.c in Linux 6.1):
 *  - one write() is one ->store() call (configfs_write_iter fills a page then flushes);
 *  - rmdir of an item that a symlink points at fails -EBUSY (s_links), and an item
 *    with user-created children (including symlinks) fails -ENOTEMPTY
 *    (configfs_detach_prep); attribute files and default groups go with the item;
 *  - symlink() resolves its target path and accepts an absolute path.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfs_priv.h"

/* Format a relative path from fmt/ap and make it absolute. */
static int vpath(struct cfs *c, char *abs, char *rel, const char *fmt, va_list ap)
{
	int r = vsnprintf(rel, PATH_MAX, fmt, ap);

	if (r < 0 || r >= PATH_MAX)
		return cfs_fail(c, -ENAMETOOLONG, "path under %s too long", c->root);
	return cfs_abs(c, abs, rel);
}

/* cfs_ready, then vpath: what every call that acts on the tree first does. */
static int ready_vpath(struct cfs *c, char *abs, char *rel, const char *fmt, va_list ap)
{
	int r = cfs_ready(c);

	return r ? r : vpath(c, abs, rel, fmt, ap);
}

bool cfs_is_dir(struct cfs *c, const char *fmt, ...)
{
	char rel[PATH_MAX], abs[PATH_MAX];
	struct stat st;
	va_list ap;
	int r;

	c->err_hold++;
	va_start(ap, fmt);
	r = vpath(c, abs, rel, fmt, ap);
	va_end(ap);
	c->err_hold--;
	if (r)
		return false;
	return lstat(abs, &st) == 0 && S_ISDIR(st.st_mode);
}

static int mkdir_abs(struct cfs *c, bool *created, const char *abs)
{
	struct stat st;

	if (created)
		*created = false;
	if (mkdir(abs, 0755) == 0) {
		if (created)
			*created = true;
		return 0;
	}
	if (errno != EEXIST)
		return cfs_fail(c, -errno, "mkdir %s: %s", abs, strerror(errno));
	if (lstat(abs, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	return cfs_fail(c, -ENOTDIR, "mkdir %s: exists and is not a directory", abs);
}

int cfs_mkdir(struct cfs *c, bool *created, const char *fmt, ...)
{
	char rel[PATH_MAX], abs[PATH_MAX];
	va_list ap;
	int r;

	if (created)
		*created = false;
	va_start(ap, fmt);
	r = ready_vpath(c, abs, rel, fmt, ap);
	va_end(ap);
	if (r)
		return r;
	return mkdir_abs(c, created, abs);
}

int cfs_mkdir_p(struct cfs *c, bool *created, const char *fmt, ...)
{
	char rel[PATH_MAX], abs[PATH_MAX];
	size_t base;
	char *p;
	va_list ap;
	int r;

	if (created)
		*created = false;
	va_start(ap, fmt);
	r = ready_vpath(c, abs, rel, fmt, ap);
	va_end(ap);
	if (r)
		return r;
	base = strlen(c->root) + 1;
	for (p = abs + base; (p = strchr(p, '/')); p++) {
		*p = '\0';
		r = mkdir_abs(c, NULL, abs);
		*p = '/';
		if (r)
			return r;
	}
	return mkdir_abs(c, created, abs);
}

int cfs_make_groups(struct cfs *c, const char *rel, const char *const *groups)
{
	int r;

	r = cfs_ready(c);
	if (r || !cfs_plain(c))
		return r;
	for (; *groups; groups++) {
		r = cfs_mkdir(c, NULL, "%s/%s", rel, *groups);
		if (r)
			return r;
	}
	return 0;
}

/*
 * The reason for a failed write of val to abs: -errno r, or a short write (r == 0: n
 * of len bytes). CHAP secrets (auth/password, password_mutual) never reach a log.
 */
static int write_failed(struct cfs *c, const char *abs, const char *val, int r, ssize_t n,
			size_t len)
{
	const char *shown = strstr(abs, "/password") ? "(secret)" : val;

	if (r)
		return cfs_fail(c, r, "write '%.80s' to %s: %s", shown, abs, strerror(-r));
	return cfs_fail(c, -EIO, "write '%.80s' to %s: short write (%zd of %zu bytes)", shown,
			abs, n, len);
}

/*
 * Write val whole at offset 0 of fd, an attribute open for writing, and close fd. A
 * configfs text attribute takes a write as its whole value; a plain-mode file is
 * truncated first when truncate is set. 0, or the reason (write_failed).
 */
static int write_value(struct cfs *c, int fd, const char *abs, const char *val,
		       bool truncate)
{
	size_t len = strlen(val);
	ssize_t n = truncate && ftruncate(fd, 0) < 0 ? -1 : 0;
	int r;

	if (n == 0) {
		do
			n = pwrite(fd, val, len, 0);
		while (n < 0 && errno == EINTR);
	}
	r = n < 0 ? -errno : 0;
	close(fd);
	return r || (size_t)n != len ? write_failed(c, abs, val, r, n, len) : 0;
}

int cfs_write(struct cfs *c, const char *val, const char *fmt, ...)
{
	char rel[PATH_MAX], abs[PATH_MAX];
	va_list ap;
	int fd, r;

	va_start(ap, fmt);
	r = ready_vpath(c, abs, rel, fmt, ap);
	va_end(ap);
	if (r)
		return r;
	if (cfs_plain(c)) {
		fd = open(abs, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 && errno == ENOENT) {
			/* A default group that plain mode has not made yet (one level). */
			char *slash = strrchr(abs, '/');

			*slash = '\0';
			r = mkdir_abs(c, NULL, abs);
			*slash = '/';
			if (r)
				return r;
			fd = open(abs, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		}
	} else {
		fd = open(abs, O_WRONLY | O_CLOEXEC);
	}
	if (fd < 0)
		return cfs_fail(c, -errno, "open %s: %s", abs, strerror(errno));
	return write_value(c, fd, abs, val, false);  /* plain mode opened it O_TRUNC */
}

/* Read up to len bytes from fd into buf as they are; *got of them read. 0 or -errno. */
static int read_fd(int fd, char *buf, size_t len, size_t *got)
{
	ssize_t n;

	*got = 0;
	while (*got < len) {
		n = read(fd, buf + *got, len - *got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		*got += (size_t)n;
	}
	return 0;
}

/* Read up to len bytes of the file abs into buf as they are; *got of them read. */
static int read_abs(struct cfs *c, const char *abs, char *buf, size_t len, size_t *got)
{
	int fd, r;

	*got = 0;
	fd = open(abs, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cfs_fail(c, -errno, "open %s: %s", abs, strerror(errno));
	r = read_fd(fd, buf, len, got);
	close(fd);
	return r ? cfs_fail(c, r, "read %s: %s", abs, strerror(-r)) : 0;
}

/* buf holds got bytes of an attribute's text: end it at the first NUL (configfs show()
 * output may hold NULs: dynamic_sessions) and strip trailing whitespace. */
static void trim_value(char *buf, size_t got)
{
	buf[got] = '\0';
	got = strlen(buf);
	while (got > 0 && (buf[got - 1] == '\n' || buf[got - 1] == ' ' ||
			   buf[got - 1] == '\t' || buf[got - 1] == '\r'))
		buf[--got] = '\0';
}

int cfs_read_raw(struct cfs *c, const char *rel, char *buf, size_t len, size_t *got)
{
	char abs[PATH_MAX];
	int r;

	*got = 0;
	r = cfs_abs(c, abs, rel);
	return r ? r : read_abs(c, abs, buf, len, got);
}

int cfs_read(struct cfs *c, char *buf, size_t len, const char *fmt, ...)
{
	char rel[PATH_MAX], abs[PATH_MAX];
	size_t got = 0;
	va_list ap;
	int r;

	if (!len)
		return cfs_fail(c, -EINVAL, "read: empty buffer");
	buf[0] = '\0';
	va_start(ap, fmt);
	r = ready_vpath(c, abs, rel, fmt, ap);
	va_end(ap);
	if (r)
		return r;
	r = read_abs(c, abs, buf, len - 1, &got);
	if (r)
		return r;
	trim_value(buf, got);
	return 0;
}

/* 1 when the attribute open at fd reads val (trailing whitespace stripped). A value
 * that fills the buffer may go on, so it counts as different. */
static int reads_as(int fd, const char *val)
{
	char cur[CFS_ENSURE_READ_MAX + 1];
	size_t got;

	if (read_fd(fd, cur, sizeof(cur) - 1, &got) < 0 || got >= sizeof(cur) - 1)
		return 0;
	trim_value(cur, got);
	return !strcmp(cur, val);
}

int cfs_ensure(struct cfs *c, const char *val, const char *fmt, ...)
{
	char rel[PATH_MAX], abs[PATH_MAX];
	va_list ap;
	int fd, r, same;

	va_start(ap, fmt);
	r = ready_vpath(c, abs, rel, fmt, ap);
	va_end(ap);
	if (r)
		return r;
	/*
	 * One open for the read and the write: each open of a configfs attribute looks
	 * its name up among its siblings and makes a dentry and an inode, freed again
	 * at close. A text attribute's write is its whole new value, wherever the file
	 * offset stands (fs/configfs/file.c); plain mode truncates first.
	 */
	fd = open(abs, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		/* Not writable (then only a different value is an error) or not readable,
		 * or plain mode's file not made yet: read alone, write alone. */
		fd = open(abs, O_RDONLY | O_CLOEXEC);
		same = fd >= 0 && reads_as(fd, val);
		if (fd >= 0)
			close(fd);
		return same ? 0 : cfs_write(c, val, "%s", rel);
	}
	if (reads_as(fd, val)) {
		close(fd);
		return 0;
	}
	return write_value(c, fd, abs, val, cfs_plain(c));
}

/*
 * Plain mode: find a symlink anywhere under dir (an absolute path in a PATH_MAX
 * buffer, modified and restored) that resolves to target. 1 and its path in found.
 */
static int find_link_to(char *dir, const char *target, char *found, int depth)
{
	size_t dl = strlen(dir);
	struct dirent *de;
	struct stat st;
	char real[PATH_MAX];
	DIR *d;
	int hit = 0;

	if (depth > 32)
		return 0;
	d = opendir(dir);
	if (!d)
		return 0;
	while (!hit && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (dl + 1 + strlen(de->d_name) >= PATH_MAX)
			continue;
		dir[dl] = '/';
		strcpy(dir + dl + 1, de->d_name);
		if (lstat(dir, &st) == 0) {
			if (S_ISLNK(st.st_mode)) {
				if (realpath(dir, real) && !strcmp(real, target)) {
					strcpy(found, dir);
					hit = 1;
				}
			} else if (S_ISDIR(st.st_mode)) {
				hit = find_link_to(dir, target, found, depth + 1);
			}
		}
		dir[dl] = '\0';
	}
	closedir(d);
	return hit;
}

/* Plain mode: -ENOTEMPTY when dir holds a child directory (other than a default group)
 * or a symlink, or a group holds one; the offender's path goes in the reason. */
static int plain_children(struct cfs *c, const char *abs, const char *const *groups)
{
	char p[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int r = 0;

	d = opendir(abs);
	if (!d)
		return cfs_fail(c, -errno, "opendir %s: %s", abs, strerror(errno));
	while (!r && (de = readdir(d))) {
		const char *const *g;
		bool group = false;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(p, sizeof(p), "%s/%s", abs, de->d_name) >= (int)sizeof(p))
			continue;
		if (lstat(p, &st) < 0 || S_ISREG(st.st_mode))
			continue;
		for (g = groups; groups && *g; g++)
			if (!strcmp(*g, de->d_name))
				group = true;
		if (group && S_ISDIR(st.st_mode))
			r = plain_children(c, p, NULL);
		else
			r = cfs_fail(c, -ENOTEMPTY, "rmdir %s: %s (%s is left)", abs,
				     strerror(ENOTEMPTY), p);
	}
	closedir(d);
	return r;
}

/* Plain mode: delete the regular files of abs, then rmdir it. */
static int plain_rmdir(struct cfs *c, const char *abs)
{
	char p[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;

	d = opendir(abs);
	if (!d)
		return errno == ENOENT ? 0 : cfs_fail(c, -errno, "opendir %s: %s", abs,
						      strerror(errno));
	while ((de = readdir(d))) {
		if (snprintf(p, sizeof(p), "%s/%s", abs, de->d_name) >= (int)sizeof(p))
			continue;
		if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) && unlink(p) < 0) {
			int e = errno;

			closedir(d);
			return cfs_fail(c, -e, "unlink %s: %s", p, strerror(e));
		}
	}
	closedir(d);
	if (rmdir(abs) < 0 && errno != ENOENT)
		return cfs_fail(c, -errno, "rmdir %s: %s", abs, strerror(errno));
	return 0;
}

int cfs_rmdir_obj(struct cfs *c, const char *rel, const char *const *groups)
{
	char abs[PATH_MAX], real[PATH_MAX], walk[PATH_MAX], found[PATH_MAX];
	const char *const *g;
	struct stat st;
	int r;

	r = cfs_ready(c);
	if (r)
		return r;
	r = cfs_abs(c, abs, rel);
	if (r)
		return r;
	if (lstat(abs, &st) < 0)
		return errno == ENOENT ? 0 : cfs_fail(c, -errno, "stat %s: %s", abs,
						      strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return cfs_fail(c, -ENOTDIR, "rmdir %s: not a directory", abs);
	if (!cfs_plain(c)) {
		if (rmdir(abs) == 0 || errno == ENOENT)
			return 0;
		r = -errno;
		return cfs_fail(c, r, "rmdir %s: %s%s", abs, strerror(-r),
				r == -EBUSY ? " (a symlink still points at it)" :
				r == -ENOTEMPTY ? " (it still has children)" : "");
	}
	/* Plain mode: emulate configfs's checks before deleting anything. */
	if (!realpath(abs, real))
		return cfs_fail(c, -errno, "realpath %s: %s", abs, strerror(errno));
	snprintf(walk, sizeof(walk), "%s", c->root);
	if (find_link_to(walk, real, found, 0))
		return cfs_fail(c, -EBUSY, "rmdir %s: %s (linked from %s)", abs,
				strerror(EBUSY), found);
	r = plain_children(c, abs, groups);
	if (r)
		return r;
	for (g = groups; *g; g++) {
		char p[PATH_MAX];

		if (snprintf(p, sizeof(p), "%s/%s", abs, *g) >= (int)sizeof(p))
			return cfs_fail(c, -ENAMETOOLONG, "path %s/%s too long", abs, *g);
		r = plain_rmdir(c, p);
		if (r)
			return r;
	}
	return plain_rmdir(c, abs);
}

int cfs_symlink(struct cfs *c, const char *target_rel, const char *link_rel)
{
	char tabs[PATH_MAX], labs[PATH_MAX];
	struct stat st;
	int r;

	r = cfs_ready(c);
	if (r)
		return r;
	r = cfs_abs(c, tabs, target_rel);
	if (!r)
		r = cfs_abs(c, labs, link_rel);
	if (r)
		return r;
	/* configfs resolves the target (LOOKUP_DIRECTORY); plain mode checks it too. */
	if (cfs_plain(c) && (lstat(tabs, &st) < 0 || !S_ISDIR(st.st_mode)))
		return cfs_fail(c, -ENOENT, "symlink %s -> %s: target missing", labs, tabs);
	if (symlink(tabs, labs) < 0)
		return cfs_fail(c, -errno, "symlink %s -> %s: %s", labs, tabs, strerror(errno));
	return 0;
}

int cfs_unlink_links(struct cfs *c, const char *rel)
{
	struct cfs_names links;
	char abs[PATH_MAX], p[PATH_MAX];
	size_t i;
	int r;

	r = cfs_list(c, &links, CFS_LINKS, rel);
	if (r)
		return r;
	r = cfs_abs(c, abs, rel);
	for (i = 0; !r && i < links.n; i++) {
		if (snprintf(p, sizeof(p), "%s/%s", abs, links.v[i]) >= (int)sizeof(p)) {
			r = cfs_fail(c, -ENAMETOOLONG, "path %s/%s too long", abs, links.v[i]);
			break;
		}
		if (unlink(p) < 0 && errno != ENOENT)
			r = cfs_fail(c, -errno, "unlink %s: %s", p, strerror(errno));
	}
	cfs_names_free(&links);
	return r;
}

static int copy_out(struct cfs *c, char *dst, size_t len, const char *src, size_t n)
{
	if (n >= len)
		return cfs_fail(c, -ENAMETOOLONG, "link component '%.*s' too long", (int)n, src);
	memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

int cfs_link_tail(struct cfs *c, const char *rel, char *parent, size_t plen,
		  char *leaf, size_t llen)
{
	struct cfs_names links;
	char abs[PATH_MAX], p[PATH_MAX], t[PATH_MAX];
	char *last, *prev;
	ssize_t n;
	int r;

	r = cfs_list(c, &links, CFS_LINKS, rel);
	if (r)
		return r;
	if (!links.n) {
		cfs_names_free(&links);
		if (cfs_abs(c, abs, rel))
			return -ENOENT;
		return cfs_fail(c, -ENOENT, "%s holds no symlink", abs);
	}
	r = cfs_abs(c, abs, rel);
	if (!r && snprintf(p, sizeof(p), "%s/%s", abs, links.v[0]) >= (int)sizeof(p))
		r = cfs_fail(c, -ENAMETOOLONG, "path %s/%s too long", abs, links.v[0]);
	cfs_names_free(&links);
	if (r)
		return r;
	n = readlink(p, t, sizeof(t) - 1);
	if (n < 0)
		return cfs_fail(c, -errno, "readlink %s: %s", p, strerror(errno));
	t[n] = '\0';
	while (n > 1 && t[n - 1] == '/')
		t[--n] = '\0';
	last = strrchr(t, '/');
	if (!last)
		return cfs_fail(c, -EINVAL, "symlink %s -> '%s' has no parent component", p, t);
	*last++ = '\0';
	prev = strrchr(t, '/');
	prev = prev ? prev + 1 : t;
	r = copy_out(c, parent, plen, prev, strlen(prev));
	if (!r)
		r = copy_out(c, leaf, llen, last, strlen(last));
	return r;
}
