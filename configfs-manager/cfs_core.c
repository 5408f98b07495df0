/*
 * cfs_core.c — the manager object, failure reasons, mode detection and the checks
 * of names and CHAP credentials every other module relies on.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cfs_priv.h"

/*
 * Default groups the kernel creates under each object (K:target_core_fabric_configfs.c
 * tpg/nacl item types, K:target_core_configfs.c device groups). Only those we touch
 * are listed: plain mode makes them by mkdir and removes them before the object.
 */
const char *const cfs_tpg_groups[] = { "attrib", "auth", "param", "np", "lun", "acls", NULL };
const char *const cfs_acl_groups[] = { "attrib", "auth", "param", NULL };
const char *const cfs_dev_groups[] = { "attrib", "pr", "wwn", "alua", NULL };
const char *const cfs_no_groups[] = { NULL };

struct cfs *cfs_open(const char *root)
{
	struct cfs *c;
	char cwd[PATH_MAX];
	size_t n;
	int r;

	if (!root)
		root = CFS_DEFAULT_ROOT;
	if (!*root) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	if (root[0] == '/') {
		r = snprintf(c->root, sizeof(c->root), "%s", root);
	} else {
		if (!getcwd(cwd, sizeof(cwd))) {
			free(c);
			return NULL;
		}
		r = snprintf(c->root, sizeof(c->root), "%s/%s", cwd, root);
	}
	if (r < 0 || (size_t)r >= sizeof(c->root)) {
		free(c);
		errno = ENAMETOOLONG;
		return NULL;
	}
	n = strlen(c->root);
	while (n > 1 && c->root[n - 1] == '/')
		c->root[--n] = '\0';
	c->mode = CFS_MODE_UNKNOWN;
	c->ensure_ttl_ms = CFS_ENSURE_TTL_MS;
	return c;
}

void cfs_close(struct cfs *c)
{
	if (c)
		free(c->hints);
	free(c);
}

const char *cfs_error(const struct cfs *c)
{
	if (!c)
		return "no manager";
	return c->err[0] ? c->err : "no error";
}

void cfs_force_plain(struct cfs *c)
{
	c->mode = CFS_MODE_PLAIN;
}

int cfs_fail(struct cfs *c, int err, const char *fmt, ...)
{
	va_list ap;

	if (c->err_hold > 0)
		return err;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return err;
}

int cfs_ready(struct cfs *c)
{
	struct statfs sf;

	if (c->mode != CFS_MODE_UNKNOWN)
		return 0;
	if (statfs(c->root, &sf) < 0)
		return cfs_fail(c, -errno, "statfs %s: %s", c->root, strerror(errno));
	c->mode = (sf.f_type == CFS_CONFIGFS_MAGIC) ? CFS_MODE_REAL : CFS_MODE_PLAIN;
	return 0;
}

bool cfs_plain(const struct cfs *c)
{
	return c->mode == CFS_MODE_PLAIN;
}

int cfs_check_name(struct cfs *c, const char *what, const char *s, size_t max)
{
	size_t n;
	const unsigned char *p;

	if (!s || !*s)
		return cfs_fail(c, -EINVAL, "%s is empty", what);
	n = strlen(s);
	if (n > max)
		return cfs_fail(c, -ENAMETOOLONG, "%s '%.40s...' is %zu bytes, longer than %zu",
				what, s, n, max);
	if (!strcmp(s, ".") || !strcmp(s, ".."))
		return cfs_fail(c, -EINVAL, "%s '%s' is not a valid name", what, s);
	if (strchr(s, '/'))
		return cfs_fail(c, -EINVAL, "%s '%s' contains '/'", what, s);
	for (p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return cfs_fail(c, -EINVAL, "%s contains a control character (0x%02x)",
					what, *p);
	return 0;
}

/* CHAP user name or secret: min..max printable ASCII characters, no spaces. */
static int check_chap(struct cfs *c, const char *what, const char *s, size_t min, size_t max)
{
	size_t n;

	if (!s)
		return cfs_fail(c, -EINVAL, "CHAP %s is missing", what);
	n = strlen(s);
	if (n < min || n > max)
		return cfs_fail(c, -EINVAL, "CHAP %s must be %zu-%zu characters (got %zu)", what,
				min, max, n);
	for (; *s; s++)
		if (*s <= ' ' || *s > '~')
			return cfs_fail(c, -EINVAL, "CHAP %s: only printable ASCII without spaces",
					what);
	return 0;
}

int cfs_check_chap(struct cfs *c, const char *user, const char *secret)
{
	int r = check_chap(c, "user", user, 1, CFS_CHAP_USER_MAX);

	return r ? r : check_chap(c, "secret", secret, CFS_CHAP_SECRET_MIN, CFS_CHAP_SECRET_MAX);
}

int cfs_rel(struct cfs *c, char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= len)
		return cfs_fail(c, -ENAMETOOLONG, "path under %s too long (%.60s...)", c->root,
				buf);
	return 0;
}

int cfs_abs(struct cfs *c, char *buf, const char *rel)
{
	int r;

	if (!*rel)
		r = snprintf(buf, PATH_MAX, "%s", c->root);
	else
		r = snprintf(buf, PATH_MAX, "%s/%s", c->root, rel);
	if (r < 0 || r >= PATH_MAX)
		return cfs_fail(c, -ENAMETOOLONG, "path %s/%.60s... too long", c->root, rel);
	return 0;
}

/* FNV-1a, 64 bits; the low 40 bits give ten hex digits, like rtslib's 10-char aliases. */
void cfs_alias(const char *s, char *out)
{
	uint64_t h = 0xcbf29ce484222325ull;
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ull;
	}
	snprintf(out, CFS_ALIAS_LEN + 1, "%010llx",
		 (unsigned long long)(h & 0xffffffffffull));
}

int cfs_parse_index(const char *name, const char *prefix, uint64_t *n)
{
	size_t pl = strlen(prefix);
	const char *p;
	uint64_t v = 0;

	if (strncmp(name, prefix, pl))
		return -EINVAL;
	p = name + pl;
	if (!*p || (p[0] == '0' && p[1]))
		return -EINVAL;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*n = v;
	return 0;
}

bool cfs_hba_index(const char *name, uint64_t *index)
{
	const char *us = strrchr(name, '_');
	char prefix[CFS_NAME_MAX + 1];
	size_t pl;
	uint64_t v;

	if (!us || us == name)
		return false;
	pl = (size_t)(us - name) + 1;
	if (pl >= sizeof(prefix))
		return false;
	memcpy(prefix, name, pl);
	prefix[pl] = '\0';
	if (cfs_parse_index(name, prefix, &v))
		return false;
	if (index)
		*index = v;
	return true;
}

bool cfs_has_prefix(const char *name, const char *prefix)
{
	return !strncmp(name, prefix, strlen(prefix));
}
