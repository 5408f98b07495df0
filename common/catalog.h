/*
 * catalog.h — the targets the portal offers: "blank" (a 64 MiB empty disk) plus one
 * target per image file under the images directory.
 *
 * Every regular file named *.img or *.iso (extension case-insensitive) under the
 * directory, recursively, becomes iqn.2025-01.pub.scsipub:image.<suffix>, where the
 * suffix is the path relative to the directory without the extension, '/' replaced
 * by '.', lowercased, and every character outside [a-z0-9.-] replaced by '-'.
 * Skipped: names starting with '.', symlinked directories, empty files, paths that
 * cannot go into a TCMU dev_config (';', ',', ':' or newline, longer than 200 bytes;
 * see tcmu-handler/cow_config.h), IQNs over 223 bytes, and a suffix already taken
 * (files are visited in sorted order, the first one wins). The scan is cheap and is
 * redone on every discovery and login, so the directory is the only configuration.
 * Image files are only stat'ed here; the handler opens them read-only.
 */
#ifndef SCSIPUB_CATALOG_H
#define SCSIPUB_CATALOG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define CATALOG_IQN_PREFIX "iqn.2025-01.pub.scsipub:"
#define CATALOG_IMAGE_PREFIX CATALOG_IQN_PREFIX "image."
#define CATALOG_BLANK_IQN CATALOG_IQN_PREFIX "blank"
#define CATALOG_BLANK_SIZE 67108864ull  /* bytes (64 MiB) */
#define CATALOG_IQN_MAX 223
#define CATALOG_PATH_MAX 200            /* leaves room in the 255-byte dev_config */
#define CATALOG_MAX_ENTRIES 4096
#define CATALOG_MAX_DEPTH 8

struct catalog_entry {
	char iqn[CATALOG_IQN_MAX + 1];
	char path[CATALOG_PATH_MAX + 1];  /* absolute image path; "" for blank */
	uint64_t size_bytes;              /* device size: file size rounded up to 512 */
};

struct catalog {
	struct catalog_entry *v;  /* malloc'd; v[0] is blank, images follow sorted by iqn */
	size_t n;
};

/*
 * Scan dir into *out (caller frees with catalog_free). A missing or unreadable
 * directory yields only blank (returns 0). -ENOMEM on allocation failure.
 */
int catalog_scan(const char *dir, struct catalog *out);
/*
 * The catalog a login to target iqn needs: for blank, blank alone without reading dir
 * (blank is in every catalog: a login to it costs no directory walk, however large the
 * catalog); for any other name catalog_scan(dir, out). Same ownership and errors.
 */
int catalog_scan_for(const char *dir, const char *iqn, struct catalog *out);
void catalog_free(struct catalog *c);
/* The entry with exactly this IQN, or NULL. */
const struct catalog_entry *catalog_find(const struct catalog *c, const char *iqn);

/*
 * The target suffix of an image at relpath (relative to the images directory, with
 * extension), into out (outlen bytes). 0, -EINVAL when relpath has no .img/.iso
 * extension or an empty stem, -ENAMETOOLONG when out is too small.
 */
int catalog_suffix(const char *relpath, char *out, size_t outlen);

#endif
