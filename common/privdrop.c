/*
 * privdrop.c — leave root for good (see privdrop.h).
 */
#include "privdrop.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "reason.h"

/* The highest capability number this kernel knows. */
static int cap_last(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "r");
	int n = CAP_LAST_CAP;

	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = CAP_LAST_CAP;
		fclose(f);
	}
	return n;
}

int privdrop_ids(const char *user, uid_t *uid_out, gid_t *gid_out, char *err, size_t errlen)
{
	struct passwd *pw = getpwnam(user);
	unsigned long uid, gid;
	char *end;

	if (pw) {
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	} else {
		errno = 0;
		uid = strtoul(user, &end, 10);
		gid = uid;
		if (!errno && end != user && *end == ':')
			gid = strtoul(end + 1, &end, 10);
		if (errno || end == user || *end || uid > 0xfffffffeul || gid > 0xfffffffeul)
			return reason_fail(err, errlen, -ENOENT, "no user %s", user);
	}
	if (uid == 0 || gid == 0)
		return reason_fail(err, errlen, -EINVAL, "user %s is root", user);
	*uid_out = (uid_t)uid;
	*gid_out = (gid_t)gid;
	return 0;
}

int privdrop_to(const char *user, char *err, size_t errlen)
{
	struct passwd *pw = getpwnam(user);
	uid_t uid;
	gid_t gid;
	int last, r;

	r = privdrop_ids(user, &uid, &gid, err, errlen);
	if (r < 0)
		return r;
	if (geteuid() != 0)
		return reason_fail(err, errlen, -EPERM, "not running as root: cannot become %s",
				   user);
	last = cap_last();
	for (int cap = 0; cap <= last; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return reason_fail(err, errlen, -errno, "dropping capability %d: %s", cap,
					   strerror(errno));
	if ((pw ? initgroups(pw->pw_name, gid) : setgroups(0, NULL)) < 0)
		return reason_fail(err, errlen, -errno, "groups of %s: %s", user, strerror(errno));
	if (setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return reason_fail(err, errlen, -errno, "becoming %s: %s", user, strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return reason_fail(err, errlen, -errno, "no_new_privs: %s", strerror(errno));
	if (setuid(0) == 0 || seteuid(0) == 0)
		return reason_fail(err, errlen, -EPERM, "still able to become root after dropping "
				   "to %s", user);
	return 0;
}
