/*
 * cfs_pr.c — configfs side of Persistent Reservations (cfs.h, issue 4): force APTPL,
 * queue restored registrations, read PRgeneration and db_root (the explicit ACLs a
 * restore makes get their CHAP from cfs_acl_set_chap in cfs_acl.c).
 * The SCSI semantics (SPC-4 §5.12, §6.15, §6.16) stay in the kernel's PR emulation.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfs.h"
#include "cfs_priv.h"

/* "core/<hba>/<name>" of user backstore name into rel (PATH_MAX bytes). */
static int dev_rel(struct cfs *c, const char *name, char *rel)
{
	char hba[CFS_NAME_MAX + 1];
	int r;

	r = cfs_check_name(c, "backstore name", name, CFS_NAME_MAX);
	if (!r)
		r = cfs_backstore_find(c, name, true, hba, sizeof(hba));
	if (!r)
		r = cfs_rel(c, rel, PATH_MAX, "core/%s/%s", hba, name);
	return r;
}

int cfs_pr_force_aptpl(struct cfs *c, const char *backstore)
{
	char rel[PATH_MAX];
	int r = dev_rel(c, backstore, rel);

	if (r)
		return r;
	r = cfs_write(c, "1", "%s/attrib/force_pr_aptpl", rel);
	if (r)
		return cfs_fail(c, r, "backstore %s: attrib/force_pr_aptpl=1: %s (is it already "
				"exported?)", backstore, strerror(-r));
	return 0;
}

int cfs_pr_preload(struct cfs *c, const char *backstore, const char *line)
{
	char rel[PATH_MAX];
	int r = dev_rel(c, backstore, rel);

	if (r)
		return r;
	if (!line || !*line || strchr(line, '\n'))
		return cfs_fail(c, -EINVAL, "backstore %s: empty or multi-line PR metadata",
				backstore);
	r = cfs_write(c, line, "%s/pr/res_aptpl_metadata", rel);
	if (r)
		return cfs_fail(c, r, "backstore %s: pr/res_aptpl_metadata: %s (exported "
				"already, or a value the kernel rejects: '%.120s')", backstore,
				strerror(-r), line);
	return 0;
}

int cfs_pr_generation(struct cfs *c, const char *backstore, uint32_t *gen)
{
	char rel[PATH_MAX], buf[64], *end;
	unsigned long v;
	int r = dev_rel(c, backstore, rel);

	if (r)
		return r;
	r = cfs_read(c, buf, sizeof(buf), "%s/pr/res_pr_generation", rel);
	if (r)
		return r;
	errno = 0;
	v = strtoul(buf, &end, 16);
	if (errno || end == buf || *end || v > UINT32_MAX)
		return cfs_fail(c, -EINVAL, "backstore %s: pr/res_pr_generation '%.20s' is not "
				"a 32-bit hex number", backstore, buf);
	*gen = (uint32_t)v;
	return 0;
}

int cfs_dbroot(struct cfs *c, char *buf, size_t len)
{
	int r = cfs_read(c, buf, len, "dbroot");

	if (!r && buf[0] != '/')
		return cfs_fail(c, -EINVAL, "dbroot '%.60s' is not an absolute path", buf);
	return r;
}
