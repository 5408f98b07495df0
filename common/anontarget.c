/*
 * anontarget.c — anonymous target names and their LUNs (see anontarget.h).
 */
#include "anontarget.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "imageiqn.h"
#include "reason.h"

#define IMAGE_WORD "image."
#define BLANK_WORD "blank"
#define MULTI_WORD "multi"   /* ANONTARGET_MULTI_IQN without the prefix */
#define RO_WORD "ro."        /* ANONTARGET_RO_PREFIX without the prefix */

enum anontarget_kind anontarget_kind(const char *iqn)
{
	size_t n = strlen(CATALOG_IQN_PREFIX);

	int64_t id;
	char name[IMAGEIQN_NAME_MAX + 1];

	if (!iqn || strncmp(iqn, CATALOG_IQN_PREFIX, n))
		return ANONTARGET_NONE;
	if (imageiqn_parse(iqn, &id, name, sizeof(name)) == 0)
		return ANONTARGET_ACCOUNT;
	iqn += n;
	if (!strcmp(iqn, BLANK_WORD) ||
	    (!strncmp(iqn, IMAGE_WORD, strlen(IMAGE_WORD)) && iqn[strlen(IMAGE_WORD)]))
		return ANONTARGET_PRIVATE;
	if (!strcmp(iqn, MULTI_WORD))
		return ANONTARGET_MULTI;
	if (!strncmp(iqn, RO_WORD, strlen(RO_WORD)) && iqn[strlen(RO_WORD)])
		return ANONTARGET_SHARED_RO;
	return ANONTARGET_NONE;
}

const char *anontarget_kind_name(enum anontarget_kind k)
{
	switch (k) {
	case ANONTARGET_PRIVATE:
		return "private";
	case ANONTARGET_MULTI:
		return "multi";
	case ANONTARGET_SHARED_RO:
		return "ro";
	case ANONTARGET_ACCOUNT:
		return "account";
	case ANONTARGET_NONE:
		break;
	}
	return "none";
}

/* Split "A,B" into the two names (CATALOG_IQN_MAX + 1 bytes each). */
static int split_multi(const char *s, char names[ANONTARGET_MULTI_LUNS][CATALOG_IQN_MAX + 1],
		       char *err, size_t errlen)
{
	const char *p = s;

	for (unsigned i = 0; i < ANONTARGET_MULTI_LUNS; i++) {
		size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789.-");

		if (!n || n > CATALOG_IQN_MAX - strlen(CATALOG_IMAGE_PREFIX))
			return reason_fail(err, errlen, -EINVAL, "multi-images '%s': expected two "
					   "catalog names (blank or an image name of [a-z0-9.-]) "
					   "separated by a comma", s);
		memcpy(names[i], p, n);
		names[i][n] = '\0';
		p += n;
		if (i + 1 < ANONTARGET_MULTI_LUNS && *p++ != ',')
			return reason_fail(err, errlen, -EINVAL, "multi-images '%s': expected "
					   "NAME,NAME", s);
	}
	if (*p)
		return reason_fail(err, errlen, -EINVAL, "multi-images '%s': expected NAME,NAME "
				   "(two names)", s);
	return 0;
}

int anontarget_multi_check(const char *multi_images, char *err, size_t errlen)
{
	char names[ANONTARGET_MULTI_LUNS][CATALOG_IQN_MAX + 1];

	if (!multi_images || !multi_images[0])
		return 0;
	return split_multi(multi_images, names, err, errlen);
}

/* The catalog entry of a multi-images name ("blank" or an image name), or NULL. */
static const struct catalog_entry *find_name(const struct catalog *cat, const char *name)
{
	char iqn[CATALOG_IQN_MAX + 16];

	if (!strcmp(name, BLANK_WORD))
		return catalog_find(cat, CATALOG_BLANK_IQN);
	if ((size_t)snprintf(iqn, sizeof(iqn), "%s%s", CATALOG_IMAGE_PREFIX, name) >= sizeof(iqn))
		return NULL;
	return catalog_find(cat, iqn);
}

/* multi's LUNs into out->lun. 0, -ENOENT, -EINVAL. */
static int resolve_multi(const struct catalog *cat, const char *multi, struct anontarget *out)
{
	char names[ANONTARGET_MULTI_LUNS][CATALOG_IQN_MAX + 1], err[256];
	int r;

	if (!multi || !multi[0]) {
		/* The default: the first images of the catalog (v[0] is blank). */
		if (cat->n < 1 + ANONTARGET_MULTI_LUNS)
			return -ENOENT;
		for (unsigned i = 0; i < ANONTARGET_MULTI_LUNS; i++)
			out->lun[i] = cat->v[1 + i];
		out->n_luns = ANONTARGET_MULTI_LUNS;
		return 0;
	}
	r = split_multi(multi, names, err, sizeof(err));
	if (r < 0)
		return r;
	for (unsigned i = 0; i < ANONTARGET_MULTI_LUNS; i++) {
		const struct catalog_entry *e = find_name(cat, names[i]);

		if (!e)
			return -ENOENT;
		out->lun[i] = *e;
	}
	out->n_luns = ANONTARGET_MULTI_LUNS;
	return 0;
}

int anontarget_resolve(const struct catalog *cat, const char *multi_images, const char *iqn,
		       struct anontarget *out)
{
	const struct catalog_entry *e;
	char img[CATALOG_IQN_MAX + 16];
	int r;

	memset(out, 0, sizeof(*out));
	out->kind = anontarget_kind(iqn);
	if (out->kind == ANONTARGET_NONE || strlen(iqn) > CATALOG_IQN_MAX)
		return -ENOENT;
	snprintf(out->iqn, sizeof(out->iqn), "%s", iqn);
	switch (out->kind) {
	case ANONTARGET_PRIVATE:
		e = catalog_find(cat, iqn);
		if (!e)
			return -ENOENT;
		out->lun[0] = *e;
		out->n_luns = 1;
		return 0;
	case ANONTARGET_MULTI:
		r = resolve_multi(cat, multi_images, out);
		if (r < 0)
			out->n_luns = 0;
		return r;
	case ANONTARGET_SHARED_RO:
		/* ro.<name> exports image.<name>; never blank (nothing to share). */
		snprintf(img, sizeof(img), "%s%s", CATALOG_IMAGE_PREFIX,
			 iqn + strlen(ANONTARGET_RO_PREFIX));
		e = catalog_find(cat, img);
		if (!e)
			return -ENOENT;
		out->lun[0] = *e;
		out->n_luns = 1;
		return 0;
	case ANONTARGET_ACCOUNT:   /* anontarget_resolve_account */
	case ANONTARGET_NONE:
		break;
	}
	out->n_luns = 0;
	return -ENOENT;
}

/* The directory that holds path is a directory, not a symlink to one. */
static bool real_dir_of(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct stat st;

	if (!slash || (size_t)(slash - path) >= sizeof(dir))
		return false;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	return lstat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

int anontarget_resolve_account(const char *private_dir, const char *iqn,
			       struct anontarget *out, char *err, size_t errlen)
{
	char name[IMAGEIQN_NAME_MAX + 1], path[PATH_MAX];
	struct catalog_entry *e = &out->lun[0];
	struct stat st;
	int64_t id;
	int r;

	memset(out, 0, sizeof(*out));
	if (!iqn || strlen(iqn) > CATALOG_IQN_MAX ||
	    imageiqn_parse(iqn, &id, name, sizeof(name)) < 0)
		return reason_fail(err, errlen, -ENOENT, "not a private-image name");
	r = imageiqn_path(private_dir, id, name, path, sizeof(path));
	if (r == 0 && strlen(path) > CATALOG_PATH_MAX)
		r = -ENAMETOOLONG;
	if (r < 0)
		return reason_fail(err, errlen, r, "image %s of account %" PRId64 ": path too "
				   "long under %s", name, id, private_dir);
	/* The API only ever renames a regular file into place, in a directory it made:
	 * a symlink at either (planted by whoever else runs as the service user) is no
	 * image, so the root handler is never pointed through one. */
	if (!real_dir_of(path) || lstat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size <= 0)
		return reason_fail(err, errlen, -ENOENT, "account %" PRId64 " has no ready "
				   "image %s", id, name);
	/* acctchap_read fills them only on success: "" otherwise (memset above). */
	r = acctchap_read(private_dir, id, out->chap_user, out->chap_secret, err, errlen);
	if (r < 0)
		return r == -ENOENT || r == -EINVAL ? -EACCES : r;
	snprintf(out->iqn, sizeof(out->iqn), "%s", iqn);
	out->kind = ANONTARGET_ACCOUNT;
	snprintf(e->iqn, sizeof(e->iqn), "%s", iqn);
	memcpy(e->path, path, strlen(path) + 1);   /* fits: checked above */
	e->size_bytes = ((uint64_t)st.st_size + 511) / 512 * 512;
	out->n_luns = 1;
	return 0;
}

int anontarget_each(const struct catalog *cat, const char *multi_images, anontarget_fn fn,
		    void *arg)
{
	struct anontarget t;
	char iqn[CATALOG_IQN_MAX + 16];
	size_t img = strlen(CATALOG_IMAGE_PREFIX);
	int r;

	for (size_t i = 0; i < cat->n; i++) {
		r = fn(cat->v[i].iqn, arg);
		if (r)
			return r;
	}
	if (anontarget_resolve(cat, multi_images, ANONTARGET_MULTI_IQN, &t) == 0) {
		r = fn(ANONTARGET_MULTI_IQN, arg);
		if (r)
			return r;
	}
	for (size_t i = 0; i < cat->n; i++) {
		if (strncmp(cat->v[i].iqn, CATALOG_IMAGE_PREFIX, img))
			continue;
		snprintf(iqn, sizeof(iqn), "%s%s", ANONTARGET_RO_PREFIX, cat->v[i].iqn + img);
		r = fn(iqn, arg);
		if (r)
			return r;
	}
	return 0;
}
