/*
 * anontarget.h — the anonymous targets (no signup), their names and what each one
 * exports, resolved against the catalog (catalog.h). One module answers "which
 * anonymous targets exist and what are their LUNs" for the portal (login routing,
 * SendTargets) and for scsipub-cfgd (provisioning, configfs-manager/anon.h), so the
 * two never disagree on a name.
 *
 *   iqn.2025-01.pub.scsipub:blank        ANONTARGET_PRIVATE: one private COW LUN over
 *   iqn.2025-01.pub.scsipub:image.<name>   blank (64 MiB of zeros) or catalog image <name>
 *   iqn.2025-01.pub.scsipub:multi        ANONTARGET_MULTI: two private COW LUNs, LUN i
 *                                          over the i-th entry of the multi-images
 *                                          setting (default: the first two catalog images)
 *   iqn.2025-01.pub.scsipub:ro.<name>    ANONTARGET_SHARED_RO: catalog image <name>
 *                                          read-only, one LUN shared by every initiator
 *
 * Private LUNs get a copy-on-write overlay per connection; the shared read-only
 * export has none (writes are refused with DATA PROTECT / WRITE PROTECTED).
 *
 * Accounts' private images are served the same way, but not anonymously:
 *
 *   iqn.2025-01.pub.scsipub:p.<account>.<name>  ANONTARGET_ACCOUNT: one private COW
 *                                          LUN per connection over the account's image
 *                                          (imageiqn.h), after one-way CHAP with the
 *                                          account's credentials (acctchap.h)
 *
 * They are resolved against the API's private image directory, not the catalog
 * (anontarget_resolve_account), and are never listed by anontarget_each (SendTargets).
 *
 * The multi-images setting (--multi-images of scsipub-portal and scsipub-cfgd, key
 * multi-images in /etc/scsipub/scsipub.conf, best in [common] so both read it) is
 * "" (default) or two catalog names separated by a comma: "blank" or the <name> of
 * image.<name>, e.g. "debian-12,blank". multi exists only while both resolve: with
 * the default, while the catalog holds at least two images.
 */
#ifndef SCSIPUB_ANONTARGET_H
#define SCSIPUB_ANONTARGET_H

#include <stddef.h>

#include <stdint.h>

#include "acctchap.h"
#include "catalog.h"

#define ANONTARGET_MULTI_IQN CATALOG_IQN_PREFIX "multi"
#define ANONTARGET_RO_PREFIX CATALOG_IQN_PREFIX "ro."
#define ANONTARGET_MULTI_LUNS 2
#define ANONTARGET_LUNS_MAX 2     /* LUNs of any anonymous target */

enum anontarget_kind {
	ANONTARGET_NONE = 0,          /* not an anonymous target name */
	ANONTARGET_PRIVATE,           /* blank, image.<name> */
	ANONTARGET_MULTI,             /* multi */
	ANONTARGET_SHARED_RO,         /* ro.<name> */
	ANONTARGET_ACCOUNT,           /* p.<account>.<name>, CHAP (imageiqn.h) */
};

/* An anonymous target resolved against a catalog: LUN i exports lun[i]. */
struct anontarget {
	char iqn[CATALOG_IQN_MAX + 1];
	enum anontarget_kind kind;
	struct catalog_entry lun[ANONTARGET_LUNS_MAX];  /* copies of catalog entries */
	unsigned n_luns;                                /* 1..ANONTARGET_LUNS_MAX */
	/* ANONTARGET_ACCOUNT: the one-way CHAP a login must pass; "" for other kinds */
	char chap_user[ACCTCHAP_USER_MAX + 1];
	char chap_secret[ACCTCHAP_SECRET_MAX + 1];
};

/* The kind the name iqn announces (by name alone, no catalog): ANONTARGET_NONE for
 * names that are no anonymous target (s.<id>, other prefixes, "ro." or "image."
 * without a name). */
enum anontarget_kind anontarget_kind(const char *iqn);

/* The kind's word for logs and the daemon's list: "private", "multi", "ro", "account",
 * "none". */
const char *anontarget_kind_name(enum anontarget_kind k);

/*
 * Check a multi-images setting (see above): 0, or -EINVAL with a reason in err
 * (errlen bytes) for anything but "" or two non-empty names of [a-z0-9.-] separated
 * by one comma. Programs call it at start so a typo stops them (exit status 2).
 */
int anontarget_multi_check(const char *multi_images, char *err, size_t errlen);

/*
 * Resolve iqn against cat (catalog_scan) and the multi-images setting multi_images
 * (NULL = ""). 0 with *out filled, -ENOENT when iqn names no anonymous target that
 * exists now (unknown name, image not in the catalog, multi's images missing, ro.
 * of blank), -EINVAL for a malformed multi_images.
 */
int anontarget_resolve(const struct catalog *cat, const char *multi_images, const char *iqn,
		       struct anontarget *out);

/*
 * Resolve a private-image IQN (ANONTARGET_ACCOUNT) against private_dir, the API's
 * private image directory (<state>/images): its one LUN exports the image file
 * (imageiqn_path; a regular, non-empty file, size rounded up to 512 bytes) and the
 * account's credentials file gives the CHAP a login must pass (acctchap_read).
 * 0 with *out filled; -ENOENT when iqn is no private-image name or its image does
 * not exist (not ready, deleted); -EACCES when the account has no valid credentials
 * file; -ENAMETOOLONG when the image's path does not fit a catalog entry. A one-line
 * reason goes to err. The secret in *out is for scsipub-cfgd only: never log it.
 */
int anontarget_resolve_account(const char *private_dir, const char *iqn,
			       struct anontarget *out, char *err, size_t errlen);

/* Called by anontarget_each with each target IQN; non-zero stops the walk. */
typedef int (*anontarget_fn)(const char *iqn, void *arg);

/*
 * Every anonymous target that exists now, in SendTargets order: the catalog's
 * entries (blank, then image.<name> sorted), then multi (when it resolves), then
 * ro.<name> for every image. Returns 0, or what fn returned when it stopped the walk.
 */
int anontarget_each(const struct catalog *cat, const char *multi_images, anontarget_fn fn,
		    void *arg);

#endif
