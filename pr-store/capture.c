/*
 * capture.c — LIO APTPL file + PRgeneration → pr_state rows (capture.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aptpl.h"
#include "capture.h"
#include "cfs.h"
#include "prdb.h"
#include "prov.h"
#include "reason.h"

#define APTPL_FILE_PREFIX "aptpl_"
/* bytes: a registration block is under 1 KiB even with two 223-byte IQNs, so this holds
 * the APTPL_REGS_MAX registrations aptpl_parse accepts */
#define APTPL_FILE_MAX ((size_t)APTPL_REGS_MAX * 1024)
#define CAPTURE_TRIES 5            /* generation moved under us: read again */

struct seen {
	char name[64];
	uint32_t generation;
	char *text;
};

struct prcap {
	struct cfs *cfs;
	char pr_dir[PATH_MAX];
	PGconn *db;
	struct seen *v;
	size_t n, cap;
};

struct prcap *prcap_new(struct cfs *c, const char *pr_dir, PGconn *db)
{
	struct prcap *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->cfs = c;
	p->db = db;
	snprintf(p->pr_dir, sizeof(p->pr_dir), "%s", pr_dir);
	return p;
}

void prcap_free(struct prcap *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->n; i++)
		free(p->v[i].text);
	free(p->v);
	free(p);
}

static struct seen *seen_get(struct prcap *p, const char *name, bool add)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (!strcmp(p->v[i].name, name))
			return &p->v[i];
	if (!add)
		return NULL;
	if (p->n == p->cap) {
		size_t nc = p->cap ? 2 * p->cap : 16;
		struct seen *v = realloc(p->v, nc * sizeof(*v));

		if (!v)
			return NULL;
		p->v = v;
		p->cap = nc;
	}
	memset(&p->v[p->n], 0, sizeof(p->v[0]));
	snprintf(p->v[p->n].name, sizeof(p->v[0].name), "%s", name);
	return &p->v[p->n++];
}

/* Whole file into a malloc'd NUL-terminated string (the kernel writes a trailing NUL
 * too; it ends the string). NULL with errno set: EFBIG for a file over APTPL_FILE_MAX
 * bytes (read one byte past the bound to tell), so it is never parsed cut short. */
static char *slurp(const char *path)
{
	char *buf = malloc(APTPL_FILE_MAX + 2);
	size_t got = 0;
	ssize_t k;
	int fd;

	if (!buf)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(buf);
		return NULL;
	}
	while (got <= APTPL_FILE_MAX &&
	       (k = read(fd, buf + got, APTPL_FILE_MAX + 1 - got)) != 0) {
		if (k < 0) {
			if (errno == EINTR)
				continue;
			k = errno;
			close(fd);
			free(buf);
			errno = (int)k;
			return NULL;
		}
		got += (size_t)k;
	}
	close(fd);
	if (got > APTPL_FILE_MAX) {
		free(buf);
		errno = EFBIG;
		return NULL;
	}
	buf[got] = '\0';
	return buf;
}

int prcap_capture(struct prcap *p, const char *name, char *err, size_t errlen)
{
	char id[PROV_ID_MAX + 1], path[PATH_MAX + 80], why[256];
	struct aptpl_state st;
	struct seen *s;
	uint32_t g1 = 0, g2 = 0;
	uint64_t lun;
	char *text = NULL;
	int r, tries;

	if (!strncmp(name, APTPL_FILE_PREFIX, strlen(APTPL_FILE_PREFIX)))
		name += strlen(APTPL_FILE_PREFIX);
	if (strlen(name) >= sizeof(s->name) || !prov_parse_backstore(name, id, &lun))
		return 0;
	snprintf(path, sizeof(path), "%s/" APTPL_FILE_PREFIX "%s", p->pr_dir, name);
	for (tries = 0; tries < CAPTURE_TRIES; tries++) {
		free(text);
		text = NULL;
		if (cfs_pr_generation(p->cfs, name, &g1) < 0)
			return 0; /* backstore gone: the file is stale */
		text = slurp(path);
		if (!text && errno == ENOENT)
			return 0;
		if (!text && errno == EFBIG)
			return reason_fail(err, errlen, -EFBIG,
					   "%s: over %zu bytes, more than the %d registrations "
					   "kept; stored state left as it was", path,
					   APTPL_FILE_MAX, APTPL_REGS_MAX);
		if (!text)
			return reason_fail(err, errlen, -errno, "reading %s: %s", path,
					   strerror(errno));
		if (cfs_pr_generation(p->cfs, name, &g2) < 0) {
			free(text);
			return 0;
		}
		if (g1 == g2)
			break;
	}
	r = aptpl_parse(text, &st, why, sizeof(why));
	if (r < 0) {
		free(text);
		return reason_fail(err, errlen, r, "%s: %s", path, why);
	}
	aptpl_state_free(&st);
	s = seen_get(p, name, false);
	if (s && s->generation == g2 && s->text && !strcmp(s->text, text)) {
		free(text);
		return 0;
	}
	r = prdb_save(p->db, id, (unsigned)lun, g2, text, err, errlen);
	if (r == -ENOENT) {
		free(text);
		return 0;
	}
	if (r < 0) {
		free(text);
		return r;
	}
	s = seen_get(p, name, true);
	if (!s) {
		free(text);
		return 1; /* saved; without memory the next capture saves again */
	}
	free(s->text);
	s->text = text;
	s->generation = g2;
	return 1;
}

int prcap_scan(struct prcap *p, unsigned *saved, char *err, size_t errlen)
{
	DIR *d = opendir(p->pr_dir);
	struct dirent *e;
	int r, first = 0;
	unsigned n = 0;

	if (saved)
		*saved = 0;
	if (!d)
		return errno == ENOENT ? 0 : reason_fail(err, errlen, -errno, "opendir %s: %s",
						    p->pr_dir, strerror(errno));
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, APTPL_FILE_PREFIX PROV_BACKSTORE_PREFIX,
			    strlen(APTPL_FILE_PREFIX PROV_BACKSTORE_PREFIX)))
			continue;
		r = first ? prcap_capture(p, e->d_name, NULL, 0)
			  : prcap_capture(p, e->d_name, err, errlen);
		if (r > 0)
			n++;
		else if (r < 0 && !first)
			first = r;
	}
	closedir(d);
	if (saved)
		*saved = n;
	return first;
}
