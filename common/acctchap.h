/*
 * acctchap.h — an account's iSCSI credentials on disk (issue 11): the one-way CHAP
 * user name and secret (RFC 7143 §12.1.3) that every login to one of the account's
 * private images (imageiqn.h) must pass.
 *
 * The database is their source of truth (scsipub-api); the API writes them to
 *
 *   <private dir>/<account id>/iscsi-chap     mode 0600, "<user>\n<secret>\n"
 *
 * (the private dir is <state>/images, statelayout.h) whenever they are made or
 * rotated, replacing the file atomically (rename). scsipub-cfgd (root) reads the file
 * when it provisions a connection's session on one of the account's images and writes
 * the credentials into that session's ACL, so LIO checks CHAP; the portal never reads
 * them. Sessions made before a rotation keep running; the next login needs the new
 * secret.
 *
 * The file is written by a less privileged program than the one reading it, so
 * acctchap_read trusts nothing in it: no symlink, a regular file of at most
 * ACCTCHAP_FILE_MAX bytes, and both values checked (charset and length).
 */
#ifndef SCSIPUB_ACCTCHAP_H
#define SCSIPUB_ACCTCHAP_H

#include <stddef.h>
#include <stdint.h>

#define ACCTCHAP_FILE "iscsi-chap"
#define ACCTCHAP_USER_MAX 63         /* bytes; an account name fits */
#define ACCTCHAP_SECRET_MIN 12       /* the Windows initiator's minimum */
#define ACCTCHAP_SECRET_MAX 64
#define ACCTCHAP_FILE_MAX 256

/*
 * 1 when user (1..ACCTCHAP_USER_MAX bytes) and secret (ACCTCHAP_SECRET_MIN..
 * ACCTCHAP_SECRET_MAX bytes) are printable ASCII without spaces, else 0.
 */
int acctchap_valid(const char *user, const char *secret);

/*
 * Write account account_id's credentials to <private_dir>/<id>/iscsi-chap (the
 * directory is made 0700 if missing; the file 0600, through a temporary file renamed
 * over the old one). 0, or -errno with a one-line reason in err (-EINVAL for an
 * id < 1 or values acctchap_valid refuses).
 */
int acctchap_write(const char *private_dir, int64_t account_id, const char *user,
		   const char *secret, char *err, size_t errlen);

/*
 * Read account account_id's credentials into user (ACCTCHAP_USER_MAX + 1 bytes) and
 * secret (ACCTCHAP_SECRET_MAX + 1 bytes). 0; -ENOENT when the file does not exist;
 * -EINVAL when it is not a regular file (a symlink is refused: O_NOFOLLOW), is larger
 * than ACCTCHAP_FILE_MAX or does not hold two valid lines; other -errno from the file
 * system. A one-line reason goes to err.
 */
int acctchap_read(const char *private_dir, int64_t account_id, char *user, char *secret,
		  char *err, size_t errlen);

#endif
