/*
 * provtarget.c — provisioned target names and their presence in configfs.
 */
#include "provtarget.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

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
