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

/* True when iqn is PROV_IQN_PREFIX followed by a valid session id ([a-z0-9]{1,32}). */
bool provtarget_name(const char *iqn);

/*
 * 1 when <configfs_root>/iscsi/<iqn>/tpgt_1 is a directory, 0 when it is missing,
 * -EINVAL when iqn is not a provisioned target name, another -errno on error.
 * Reads configfs directly (stat), so any thread may call it without the cfs lock.
 */
int provtarget_exists(const char *configfs_root, const char *iqn);

#endif
