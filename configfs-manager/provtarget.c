/*
 * provtarget.c — provisioned target names and their presence in configfs.
 */
#include "provtarget.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cfs.h"
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

struct disks_arg {
	char (*disk)[PROVTARGET_DISK_LEN];
	unsigned n, max;
};

/* cfs_lun_cb: keep a user (TCMU) backstore with a name scsipub-tcmu can be told. */
static int take_disk(void *arg, uint64_t lun, const char *hba, const char *dev)
{
	struct disks_arg *a = arg;
	size_t n = strlen(dev);

	(void)lun;
	if (strncmp(hba, "user_", 5) == 0 && n > 0 && n < PROVTARGET_DISK_LEN &&
	    strspn(dev, "abcdefghijklmnopqrstuvwxyz0123456789") == n)
		memcpy(a->disk[a->n++], dev, n + 1);
	return a->n == a->max;
}

int provtarget_disks(const char *configfs_root, const char *iqn,
		     char (*disk)[PROVTARGET_DISK_LEN], unsigned max)
{
	struct disks_arg a = { .disk = disk, .max = max };
	struct cfs *c;
	int r;

	if (!configfs_root || !provtarget_name(iqn))
		return -EINVAL;
	if (max == 0)
		return 0;
	c = cfs_open(configfs_root);
	if (!c)
		return -errno;
	r = cfs_list_lun_backstores(c, iqn, take_disk, &a);
	cfs_close(c);
	return r < 0 ? r : (int)a.n;
}
