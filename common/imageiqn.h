/*
 * imageiqn.h — the iSCSI name of an account's private image (issue 11), shared by
 * the API (which hands it out), the portal (login routing) and scsipub-cfgd
 * (provisioning), so the three never disagree on a name.
 *
 *   iqn.2025-01.pub.scsipub:p.<account id>.<image name>
 *
 * <account id> is the account's decimal database id (no dots, so the name after it
 * may hold dots); <image name> matches imageiqn_name_valid (^[a-z0-9][a-z0-9.-]{0,62}$).
 * The whole name stays within RFC 7143 §4.2.7.1 (at most 223 bytes, lower case,
 * characters of §4.2.7.2's iqn. format) and never holds '/'.
 * POST/GET /api/images return it as "iqn"; a login to it gets a per-connection
 * overlay of the image after one-way CHAP with the owner's credentials
 * (common/acctchap.h, common/anontarget.h ANONTARGET_ACCOUNT).
 */
#ifndef SCSIPUB_IMAGEIQN_H
#define SCSIPUB_IMAGEIQN_H

#include <stddef.h>
#include <stdint.h>

#define IMAGEIQN_PREFIX "iqn.2025-01.pub.scsipub:p."
#define IMAGEIQN_NAME_MAX 63     /* bytes of an image (or account) name */
/* Buffer size for any private-image IQN: prefix + 19 digits + '.' + 63 + NUL. */
#define IMAGEIQN_MAX (sizeof(IMAGEIQN_PREFIX) + 19 + 1 + 63)

/* 1 when s is a valid image or account name (^[a-z0-9][a-z0-9.-]{0,62}$), else 0. */
int imageiqn_name_valid(const char *s);

/*
 * Format the IQN of image name of account account_id into buf (len bytes).
 * Returns buf; NULL (buf set to "" when len > 0) when account_id < 1, name is not a
 * valid image name, or len is too small (IMAGEIQN_MAX always suffices).
 */
char *imageiqn_format(int64_t account_id, const char *name, char *buf, size_t len);

/*
 * Parse iqn as a private-image IQN: on success 0, *account_id and name (name_len
 * bytes, at least 64) filled. -EINVAL when iqn is not one (other prefix, letter case
 * differs, id not a canonical decimal > 0, name invalid); the outputs are then
 * untouched. No I/O; iqn is untrusted input (e.g. a Login Request's TargetName).
 */
int imageiqn_parse(const char *iqn, int64_t *account_id, char *name, size_t name_len);

/*
 * The file of image name of account account_id under private_dir (the API's private
 * image directory, <state>/images: statelayout.h), "<private_dir>/<id>/<name>.img",
 * into buf (len bytes). 0, -EINVAL for an id < 1 or an invalid name, -ENAMETOOLONG.
 */
int imageiqn_path(const char *private_dir, int64_t account_id, const char *name, char *buf,
		  size_t len);

#endif
