/*
 * provtarget.c — provisioned target names and their presence in configfs.
 */
#include "provtarget.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prov.h"

bool provtarget_name(const char *iqn)
{
	size_t n = strlen(PROV_IQN_PREFIX);

	return iqn && !strncmp(iqn, PROV_IQN_PREFIX, n) && prov_id_valid(iqn + n);
}

int provtarget_exists(const char *configfs_root, const char *iqn)
{
	char path[PATH_MAX];
	struct stat st;
	int n;

	if (!configfs_root || !provtarget_name(iqn))
		return -EINVAL;
	n = snprintf(path, sizeof(path), "%s/iscsi/%s/tpgt_1", configfs_root, iqn);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	if (stat(path, &st) < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	return S_ISDIR(st.st_mode) ? 1 : 0;
}

/*
 * The backstore name a LUN's link target names ("../../../../core/user_K/<dev>"), into
 * out; 0, or -EINVAL for a link to anything else.
 */
static int user_backstore(const char *link, char *out, size_t outlen)
{
	const char *leaf = strrchr(link, '/'), *parent;
	size_t n;

	if (!leaf || leaf == link)
		return -EINVAL;
	for (parent = leaf - 1; parent > link && parent[-1] != '/'; parent--)
		;
	if (strncmp(parent, "user_", 5) != 0)
		return -EINVAL;
	n = strlen(++leaf);
	if (n == 0 || n >= outlen || strspn(leaf, "abcdefghijklmnopqrstuvwxyz0123456789") != n)
		return -EINVAL;
	memcpy(out, leaf, n + 1);
	return 0;
}

/* The link in LUN directory dir (the one entry that is a symlink) into link. */
static int lun_link(const char *dir, char *link, size_t linklen)
{
	char p[PATH_MAX];
	struct dirent *e;
	struct stat st;
	ssize_t n = -1;
	DIR *d = opendir(dir);

	if (!d)
		return -errno;
	while (n < 0 && (e = readdir(d))) {
		if (e->d_name[0] == '.' || (size_t)snprintf(p, sizeof(p), "%s/%s", dir,
							     e->d_name) >= sizeof(p))
			continue;
		if (e->d_type != DT_LNK && (e->d_type != DT_UNKNOWN || lstat(p, &st) < 0 ||
					    !S_ISLNK(st.st_mode)))
			continue;
		n = readlink(p, link, linklen - 1);
	}
	closedir(d);
	if (n < 0)
		return -ENOENT;
	while (n > 1 && link[n - 1] == '/')
		n--;
	link[n] = '\0';
	return 0;
}

int provtarget_disks(const char *configfs_root, const char *iqn,
		     char (*disk)[PROVTARGET_DISK_LEN], unsigned max)
{
	char path[PATH_MAX], lun[PATH_MAX], link[PATH_MAX];
	struct dirent *e;
	unsigned n = 0;
	DIR *d;
	int len;

	if (!configfs_root || !provtarget_name(iqn))
		return -EINVAL;
	len = snprintf(path, sizeof(path), "%s/iscsi/%s/tpgt_1/lun", configfs_root, iqn);
	if (len < 0 || (size_t)len >= sizeof(path))
		return -ENAMETOOLONG;
	d = opendir(path);
	if (!d)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	while (n < max && (e = readdir(d))) {
		if (strncmp(e->d_name, "lun_", 4) != 0 ||
		    (size_t)snprintf(lun, sizeof(lun), "%s/%s", path, e->d_name) >= sizeof(lun))
			continue;
		if (lun_link(lun, link, sizeof(link)) == 0 &&
		    user_backstore(link, disk[n], sizeof(disk[n])) == 0)
			n++;
	}
	closedir(d);
	return (int)n;
}
