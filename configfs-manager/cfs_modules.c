/*
 * cfs_modules.c — load LIO's kernel modules with libkmod and mount configfs.
 *
 * Order (lab-recipe.md, lio-tcmu-facts.md §2): /etc/target/pr must exist before
 * target_core_mod loads, because db_root switches to /etc/target only at load time
 * (K:target_core_configfs.c:target_init_dbroot) and PR OUT fails NOT READY without
 * the pr/ directory. crc32c is needed by iSCSI logins (iscsi_login_setup_crypto).
 */
#include <errno.h>
#include <libkmod.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "cfs_priv.h"
#include "reason.h"

#define CONFIGFS_MNT "/sys/kernel/config"
#define TARGET_DBROOT "/etc/target"

static int mkdir_p(const char *path, char *err, size_t errlen)
{
	char p[PATH_MAX];
	char *s;

	if (snprintf(p, sizeof(p), "%s", path) >= (int)sizeof(p))
		return reason_fail(err, errlen, -ENAMETOOLONG, "path %s too long", path);
	for (s = p + 1;; s++) {
		if (*s != '/' && *s)
			continue;
		char save = *s;

		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return reason_fail(err, errlen, -errno, "mkdir %s: %s", p, strerror(errno));
		*s = save;
		if (!save)
			break;
	}
	return 0;
}

/* Resolve name (module name or alias) and insert it with its dependencies. */
static int probe(struct kmod_ctx *ctx, const char *name, char *err, size_t errlen)
{
	struct kmod_list *list = NULL, *it;
	int r, n = 0;

	r = kmod_module_new_from_lookup(ctx, name, &list);
	if (r < 0)
		return reason_fail(err, errlen, r, "module %s: lookup failed: %s", name, strerror(-r));
	if (!list) {
		/* Not in modules.alias/dep: maybe built in or already loaded under its name. */
		struct kmod_module *mod;

		r = kmod_module_new_from_name(ctx, name, &mod);
		if (r < 0)
			return reason_fail(err, errlen, r, "module %s: %s", name, strerror(-r));
		r = kmod_module_probe_insert_module(mod, KMOD_PROBE_APPLY_BLACKLIST, NULL, NULL,
						    NULL, NULL);
		kmod_module_unref(mod);
		if (r < 0)
			return reason_fail(err, errlen, r, "module %s: not found (%s)", name,
				     strerror(-r));
		return 0;
	}
	kmod_list_foreach(it, list) {
		struct kmod_module *mod = kmod_module_get_module(it);

		r = kmod_module_probe_insert_module(mod, KMOD_PROBE_APPLY_BLACKLIST, NULL, NULL,
						    NULL, NULL);
		if (r < 0)
			reason_fail(err, errlen, r, "insert module %s (for %s): %s",
			      kmod_module_get_name(mod), name, strerror(-r));
		else
			n++;
		kmod_module_unref(mod);
	}
	kmod_module_unref_list(list);
	return n ? 0 : r;
}

int cfs_load_modules(char *err, size_t errlen)
{
	static const char *const required[] = { "configfs", "target_core_mod",
						"target_core_user", "iscsi_target_mod" };
	static const char *const optional[] = { "crc32c_generic", "crc32c" };
	struct kmod_ctx *ctx;
	struct statfs sf;
	size_t i;
	int r;

	if (err && errlen)
		err[0] = '\0';
	r = mkdir_p(TARGET_DBROOT "/pr", err, errlen);
	if (r)
		return r;
	ctx = kmod_new(NULL, NULL);
	if (!ctx)
		return reason_fail(err, errlen, -ENOMEM, "kmod_new failed (no /lib/modules?)");
	r = probe(ctx, required[0], err, errlen);
	if (!r) {
		/* configfs registers its mount point /sys/kernel/config at init. */
		if (statfs(CONFIGFS_MNT, &sf) < 0)
			r = reason_fail(err, errlen, -errno, "statfs %s: %s", CONFIGFS_MNT,
				  strerror(errno));
		else if (sf.f_type != CFS_CONFIGFS_MAGIC &&
			 mount("none", CONFIGFS_MNT, "configfs", 0, NULL) < 0 && errno != EBUSY)
			r = reason_fail(err, errlen, -errno, "mount configfs on %s: %s", CONFIGFS_MNT,
				  strerror(errno));
	}
	for (i = 1; !r && i < sizeof(required) / sizeof(required[0]); i++)
		r = probe(ctx, required[i], err, errlen);
	if (!r) {
		/* Best effort: one of the two names is enough, and a kernel with crc32c
		 * built in has neither as a module. */
		char ignored[256];

		for (i = 0; i < sizeof(optional) / sizeof(optional[0]); i++)
			if (probe(ctx, optional[i], ignored, sizeof(ignored)) == 0)
				break;
		/*
		 * Best effort: kernel TLS for the portal's TLS listener. The portal has
		 * no capabilities, so the kernel would not load it on its behalf;
		 * without it OpenSSL stays in user space.
		 */
		(void)probe(ctx, "tls", ignored, sizeof(ignored));
	}
	kmod_unref(ctx);
	return r;
}
