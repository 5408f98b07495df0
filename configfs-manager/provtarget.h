/*
 * provtarget.h — provisioned targets as the portal sees them (docs/provisioned.md):
 * iqn.2025-01.pub.scsipub:s.<id> targets are made by the api-server in LIO (demo
 * mode, CHAP in the TPG's auth/). The portal never provisions or lists them: a
 * Normal login naming one is forwarded to LIO when the target exists in configfs
 * (LIO checks CHAP), else answered with 0x0203 TARGET NOT FOUND.
 */
#ifndef SCSIPUB_PROVTARGET_H
#define SCSIPUB_PROVTARGET_H

#include <stdbool.h>

#define PROVTARGET_DISK_LEN 64     /* a backstore name provtarget_disks reports, with NUL */

/* True when iqn is PROV_IQN_PREFIX followed by a valid session id ([a-z0-9]{1,32}). */
bool provtarget_name(const char *iqn);

/*
 * 1 when <configfs_root>/iscsi/<iqn>/tpgt_1 is a directory, 0 when it is missing,
 * -EINVAL when iqn is not a provisioned target name, another -errno on error.
 * Reads configfs directly (stat), so any thread may call it without the cfs lock.
 */
int provtarget_exists(const char *configfs_root, const char *iqn);

/*
 * The user (TCMU) backstores behind the TPG LUNs of provisioned target iqn: for each
 * <configfs_root>/iscsi/<iqn>/tpgt_1/lun/lun_N, the name <dev> of the
 * core/user_K/<dev> its symlink points at (cfs_list_lun_backstores). Fills disk[0..]
 * (at most max names, in LUN order) and returns how many; a LUN whose link is
 * missing, points at another kind of backstore or names a backstore longer than
 * PROVTARGET_DISK_LEN - 1 or with characters other than [a-z0-9] is skipped, as is a
 * target without LUNs or TPG (0). -EINVAL when iqn is not a provisioned target name,
 * another -errno when configfs_root is too long or cannot be read. Only reads configfs,
 * through its own struct cfs (for the portal's hints to scsipub-tcmu,
 * tls-proxy/provplace.h); any thread may call it.
 */
int provtarget_disks(const char *configfs_root, const char *iqn,
		     char (*disk)[PROVTARGET_DISK_LEN], unsigned max);

#endif
