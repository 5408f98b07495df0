/*
 * prov.c — provisioned sessions (docs/provisioned.md): a demo-mode target with CHAP
 * and one COW backstore per image, restored idempotently, destroyed and swept by id.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aptpl.h"
#include "cfs.h"
#include "cowstore.h"
#include "prov.h"
#include "reason.h"

int prov_id_valid(const char *id)
{
	size_t n;

	if (!id)
		return 0;
	for (n = 0; id[n]; n++)
		if (!((id[n] >= 'a' && id[n] <= 'z') || (id[n] >= '0' && id[n] <= '9')))
			return 0;
	return n >= 1 && n <= PROV_ID_MAX;
}

const char *prov_target_iqn(const char *id, char *buf, size_t len)
{
	int n;

	if (!prov_id_valid(id) || !buf)
		return NULL;
	n = snprintf(buf, len, "%s%s", PROV_IQN_PREFIX, id);
	if (n < 0 || (size_t)n >= len)
		return NULL;
	return buf;
}

int prov_lock(const char *state_dir)
{
	char path[PATH_MAX];
	int fd, n;

	if (!state_dir || !*state_dir)
		return -EINVAL;
	n = snprintf(path, sizeof(path), "%s/%s", state_dir, PROV_LOCK_FILE);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX) < 0) {
		int e = errno;

		if (e == EINTR)
			continue;
		close(fd);
		return -e;
	}
	return fd;
}

void prov_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* closing the only fd of the open file releases the flock */
}

bool prov_parse_backstore(const char *name, char *id, uint64_t *lun)
{
	const char *l, *p;
	size_t n;
	uint64_t v = 0;

	if (strncmp(name, PROV_BACKSTORE_PREFIX, 2))
		return false;
	l = strrchr(name + 2, 'l');
	if (!l || !l[1] || (l[1] == '0' && l[2]))
		return false;
	for (p = l + 1; *p; p++) {
		if (*p < '0' || *p > '9' || v > 65535)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	n = (size_t)(l - name - 2);
	if (n < 1 || n > PROV_ID_MAX)
		return false;
	memcpy(id, name + 2, n);
	id[n] = '\0';
	if (!prov_id_valid(id))
		return false;
	if (lun)
		*lun = v;
	return true;
}

static int session_dir(char *buf, size_t len, const char *state_dir, const char *id)
{
	int n = snprintf(buf, len, "%s/%s/%s", state_dir, PROV_SESSIONS_SUBDIR, id);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* <dir>/lun<i>.<ext> into buf; -ENAMETOOLONG when it does not fit. */
static int lun_file(char *buf, size_t len, const char *dir, unsigned i, const char *ext)
{
	int n = snprintf(buf, len, "%s/lun%u.%s", dir, i, ext);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static bool file_exists(const char *p)
{
	struct stat st;

	return lstat(p, &st) == 0;
}

struct find_name {
	const char *want;
	bool found;
};

static int find_cb(const char *name, void *arg)
{
	struct find_name *f = arg;

	if (!strcmp(name, f->want))
		f->found = true;
	return f->found;
}

/* What one prov_session_create call made, for its rollback. */
struct made {
	bool dir;            /* the session dir */
	bool target;         /* the target */
	bool *bs;            /* backstore i */
	bool *luns;          /* TPG LUN i (linked to a backstore this call made) */
	bool *files;         /* lun<i>.ovl / .bitmap were absent before */
};

static void rollback(struct cfs *c, const char *dir, const char *iqn,
		     const struct prov_session *s, const struct made *m)
{
	char name[64], path[PATH_MAX];
	unsigned i;

	if (m->target)
		cfs_target_remove(c, iqn);
	for (i = 0; i < s->n_luns; i++) {
		if (!m->bs[i])
			continue;
		snprintf(name, sizeof(name), PROV_BACKSTORE_PREFIX "%sl%u", s->id, i);
		if (!m->target && m->luns[i])
			cfs_lun_remove(c, iqn, i);
		cfs_backstore_remove(c, name);
	}
	for (i = 0; i < s->n_luns; i++) {
		if (!m->files[i])
			continue;
		if (!lun_file(path, sizeof(path), dir, i, "ovl"))
			unlink(path);
		if (!lun_file(path, sizeof(path), dir, i, "bitmap"))
			unlink(path);
	}
	if (m->dir)
		rmdir(dir);
}

static int check_session(struct cfs *c, const struct prov_session *s, char *err,
			 size_t errlen)
{
	unsigned i;

	if (!s || !prov_id_valid(s->id))
		return reason_fail(err, errlen, -EINVAL, "session id must be 1-%d of [a-z0-9]",
			    PROV_ID_MAX);
	if (!s->luns || s->n_luns < 1 || s->n_luns > PROV_LUNS_MAX)
		return reason_fail(err, errlen, -EINVAL, "session %s: 1-%d LUNs required", s->id,
			    PROV_LUNS_MAX);
	for (i = 0; i < s->n_luns; i++)
		if (!s->luns[i].size_bytes || s->luns[i].size_bytes % 512)
			return reason_fail(err, errlen, -EINVAL,
				    "session %s: LUN %u size %" PRIu64
				    " is not a positive multiple of 512", s->id, i,
				    s->luns[i].size_bytes);
	/* Checked before anything is created, so a bad secret costs no backstore. */
	if (cfs_check_chap(c, s->chap_user, s->chap_secret))
		return reason_fail(err, errlen, -EINVAL, "session %s: %s", s->id, cfs_error(c));
	return 0;
}

/* True when st holds anything to restore (registrations or a generation). */
static bool pr_has_state(const struct aptpl_state *st)
{
	return st && (st->n || st->generation);
}

/* Placeholder registrations that would bring PRgeneration back to st->generation. */
static uint64_t pr_pad_wanted(const struct aptpl_state *st)
{
	return st && st->generation > st->n ? st->generation - st->n : 0;
}

unsigned prov_pr_pad_count(const struct prov_session *s, unsigned lun)
{
	uint64_t used = 0, want = pr_pad_wanted(s->luns[lun].pr);
	unsigned i;

	for (i = 0; i < lun && used < PROV_PR_PAD_MAX; i++)
		used += pr_pad_wanted(s->luns[i].pr);
	if (used >= PROV_PR_PAD_MAX)
		return 0;
	return want > PROV_PR_PAD_MAX - used ? (unsigned)(PROV_PR_PAD_MAX - used) : (unsigned)want;
}

/*
 * Queue LUN i's PR state in the new, not yet exported backstore `name`: the generation
 * placeholders first, then the registrations in the kernel's order (SPC-4 §5.12.1:
 * registrations and the reservation persist through a restart).
 */
static int pr_preload(struct cfs *c, const char *name, const char *iqn,
		      const struct prov_session *s, unsigned lun, char *err, size_t errlen)
{
	const struct aptpl_state *st = s->luns[lun].pr;
	struct aptpl_reg pad;
	char line[APTPL_LINE_MAX];
	unsigned k, npad = prov_pr_pad_count(s, lun);
	size_t j;
	int r;

	if (!pr_has_state(st))
		return 0;
	memset(&pad, 0, sizeof(pad));
	snprintf(pad.initiator, sizeof(pad.initiator), "%s", PROV_PR_PAD_INITIATOR);
	pad.mapped_lun = lun;
	pad.target_lun = lun;
	pad.tpgt = 1;
	snprintf(pad.target, sizeof(pad.target), "%s", iqn);
	for (k = 0; k < npad; k++) {
		pad.key = (uint64_t)k + 1;
		r = aptpl_format_reg(&pad, line, sizeof(line));
		if (r >= 0)
			r = cfs_pr_preload(c, name, line);
		if (r < 0)
			return reason_fail(err, errlen, r, "restoring PRgeneration of %s: %s", name,
				    cfs_error(c));
	}
	for (j = 0; j < st->n; j++) {
		r = aptpl_format_reg(&st->regs[j], line, sizeof(line));
		if (r >= 0)
			r = cfs_pr_preload(c, name, line);
		if (r < 0)
			return reason_fail(err, errlen, r, "restoring PR registration %zu of %s (%s): %s",
				    j, name, st->regs[j].initiator, cfs_error(c));
	}
	return 0;
}

/* Create the backstore of LUN i unless it exists; *made says whether it was made. */
static int ensure_backstore(struct cfs *c, const char *dir, const struct prov_session *s,
			    unsigned i, bool *made, char *err, size_t errlen)
{
	char name[64], path[PATH_MAX], ovl[PATH_MAX], bmp[PATH_MAX], iqn[PROV_IQN_LEN];
	struct cowstore b = { .name = name, .overlay = ovl, .bitmap = bmp,
			      .base = s->luns[i].base_path, .size_bytes = s->luns[i].size_bytes,
			      .limit_bytes = s->write_limit_bytes };
	int r;

	*made = false;
	snprintf(name, sizeof(name), PROV_BACKSTORE_PREFIX "%sl%u", s->id, i);
	if (cfs_backstore_path(c, name, path, sizeof(path)) == 0)
		return 0;
	if (lun_file(ovl, sizeof(ovl), dir, i, "ovl") || lun_file(bmp, sizeof(bmp), dir, i, "bitmap"))
		return reason_fail(err, errlen, -ENAMETOOLONG, "overlay paths in %s are too long", dir);
	r = cowstore_create(c, &b, err, errlen);
	if (r)
		return r;
	r = cfs_pr_force_aptpl(c, name);
	if (r)
		reason_fail(err, errlen, r, "backstore %s: %s", name, cfs_error(c));
	else
		r = pr_preload(c, name, prov_target_iqn(s->id, iqn, sizeof(iqn)), s, i, err,
			       errlen);
	if (r) {
		cfs_backstore_remove(c, name); /* a half-made one (e.g. handler refused) */
		return r;
	}
	*made = true;
	return 0;
}

/* Whether initiator already got its ACL in an earlier registration (regs before j). */
static bool seen_before(const struct prov_session *s, unsigned lun, size_t j,
			const char *initiator)
{
	unsigned i;
	size_t k;

	for (i = 0; i <= lun; i++) {
		const struct aptpl_state *st = s->luns[i].pr;

		for (k = 0; st && k < st->n && (i < lun || k < j); k++)
			if (!strcmp(st->regs[k].initiator, initiator))
				return true;
	}
	return false;
}

/*
 * Make the queued PR state of a freshly created target live (prov.h): pad each LUN's
 * PRgeneration with placeholders on a transient ACL, then give every registered
 * initiator an explicit ACL mapping all LUNs, with the session's CHAP credentials.
 */
static int pr_activate(struct cfs *c, const char *iqn, const struct prov_session *s,
		       char *err, size_t errlen)
{
	bool pad = false;
	unsigned i, k;
	size_t j;
	int r;

	for (i = 0; i < s->n_luns; i++) {
		if (!prov_pr_pad_count(s, i))
			continue;
		r = cfs_acl_map(c, iqn, PROV_PR_PAD_INITIATOR, i, i);
		if (r)
			return reason_fail(err, errlen, r, "PRgeneration of LUN %u: %s", i, cfs_error(c));
		pad = true;
	}
	/* Removing the ACL frees its registrations; PRgeneration keeps its count. */
	if (pad && (r = cfs_acl_remove(c, iqn, PROV_PR_PAD_INITIATOR)))
		return reason_fail(err, errlen, r, "PRgeneration placeholders: %s", cfs_error(c));
	for (i = 0; i < s->n_luns; i++) {
		const struct aptpl_state *st = s->luns[i].pr;

		for (j = 0; st && j < st->n; j++) {
			const struct aptpl_reg *g = &st->regs[j];

			if (strcmp(g->target, iqn) || g->tpgt != 1 || g->target_lun != i ||
			    g->mapped_lun != i)
				return reason_fail(err, errlen, -EINVAL, "PR registration of %s on LUN %u "
					    "names %s tpgt %u LUN %" PRIu64 "->%" PRIu64 ", not "
					    "this session's target", g->initiator, i, g->target,
					    g->tpgt, g->mapped_lun, g->target_lun);
			if (seen_before(s, i, j, g->initiator))
				continue;
			for (k = 0; k < s->n_luns; k++) {
				r = cfs_acl_map(c, iqn, g->initiator, k, k);
				if (r)
					return reason_fail(err, errlen, r, "ACL %s (PR restore): %s",
						    g->initiator, cfs_error(c));
			}
			r = cfs_acl_set_chap(c, iqn, g->initiator, s->chap_user, s->chap_secret);
			if (r)
				return reason_fail(err, errlen, r, "ACL %s CHAP: %s", g->initiator,
					    cfs_error(c));
			/* Explicit ACLs take a short NOP-In keepalive (issue 4). */
			r = cfs_acl_set_nopin(c, iqn, g->initiator, CFS_NOPIN_INTERVAL_S,
					      CFS_NOPIN_TIMEOUT_S);
			if (r)
				return reason_fail(err, errlen, r, "ACL %s NOP-In: %s", g->initiator,
					    cfs_error(c));
		}
	}
	return 0;
}

static int create_locked(struct cfs *c, const char *state_dir, const char *lio_portal,
			 const struct prov_session *s, char *err, size_t errlen)
{
	char dir[PATH_MAX], path[PATH_MAX], iqn[PROV_IQN_LEN];
	char name[64];
	struct find_name f;
	struct made m = { 0 };
	unsigned i;
	int r;

	prov_target_iqn(s->id, iqn, sizeof(iqn));
	r = snprintf(path, sizeof(path), "%s/%s", state_dir, PROV_SESSIONS_SUBDIR);
	if (r < 0 || (size_t)r >= sizeof(path) || session_dir(dir, sizeof(dir), state_dir, s->id))
		return reason_fail(err, errlen, -ENAMETOOLONG, "state directory %s is too long",
			    state_dir);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return reason_fail(err, errlen, -errno, "mkdir %s: %s", path, strerror(errno));
	if (mkdir(dir, 0700) == 0)
		m.dir = true;
	else if (errno != EEXIST)
		return reason_fail(err, errlen, -errno, "mkdir %s: %s", dir, strerror(errno));
	m.bs = calloc(s->n_luns, sizeof(*m.bs));
	m.files = calloc(s->n_luns, sizeof(*m.files));
	m.luns = calloc(s->n_luns, sizeof(*m.luns));
	if (!m.bs || !m.files || !m.luns) {
		/* nothing made but maybe the directory: rollback would index these */
		free(m.bs);
		free(m.files);
		free(m.luns);
		if (m.dir)
			rmdir(dir);
		return reason_fail(err, errlen, -ENOMEM, "out of memory");
	}
	for (i = 0; i < s->n_luns; i++) {
		m.files[i] = !lun_file(path, sizeof(path), dir, i, "ovl") && !file_exists(path);
	}

	f.want = iqn;
	f.found = false;
	r = cfs_list_targets(c, find_cb, &f);
	if (r) {
		reason_fail(err, errlen, r, "listing targets: %s", cfs_error(c));
		goto out;
	}
	/* A restore needs backstores that were never exported; one that outlived its
	 * target is re-created (its overlay files stay). */
	for (i = 0; !f.found && i < s->n_luns; i++) {
		if (!pr_has_state(s->luns[i].pr))
			continue;
		snprintf(name, sizeof(name), PROV_BACKSTORE_PREFIX "%sl%u", s->id, i);
		if (cfs_backstore_path(c, name, path, sizeof(path)) == 0 &&
		    (r = cfs_backstore_remove(c, name))) {
			reason_fail(err, errlen, r, "re-creating backstore %s for the PR restore: %s",
			     name, cfs_error(c));
			goto out;
		}
	}
	for (i = 0; !r && i < s->n_luns; i++)
		r = ensure_backstore(c, dir, s, i, &m.bs[i], err, errlen);
	if (r)
		goto out;
	r = cfs_target_ensure_demo(c, iqn, lio_portal, s->chap_user, s->chap_secret);
	if (r) {
		reason_fail(err, errlen, r, "target %s: %s", iqn, cfs_error(c));
		goto out;
	}
	m.target = !f.found;
	for (i = 0; !r && i < s->n_luns; i++) {
		snprintf(name, sizeof(name), PROV_BACKSTORE_PREFIX "%sl%u", s->id, i);
		r = cfs_lun_add_at(c, iqn, name, i);
		if (r)
			reason_fail(err, errlen, r, "LUN %u of %s: %s", i, iqn, cfs_error(c));
		else
			m.luns[i] = m.bs[i]; /* a new backstore's LUN is new too */
	}
	if (!r && m.target)
		r = pr_activate(c, iqn, s, err, errlen);
out:
	if (r)
		rollback(c, dir, iqn, s, &m);
	free(m.bs);
	free(m.files);
	free(m.luns);
	return r;
}

int prov_session_create(struct cfs *c, const char *state_dir, const char *lio_portal,
			const struct prov_session *s, char *err, size_t errlen)
{
	int r, fd;

	if (!c || !state_dir || !*state_dir || !lio_portal)
		return reason_fail(err, errlen, -EINVAL, "missing configfs, state directory or portal");
	r = check_session(c, s, err, errlen);
	if (r)
		return r;
	fd = prov_lock(state_dir);
	if (fd < 0)
		return reason_fail(err, errlen, fd, "lock %s/%s: %s", state_dir, PROV_LOCK_FILE,
			    strerror(-fd));
	r = create_locked(c, state_dir, lio_portal, s, err, errlen);
	prov_unlock(fd);
	return r;
}

/* Remove the regular files in dir, then dir (missing is success). */
static int remove_dir(const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d = opendir(dir);
	int r = 0;

	if (!d)
		return errno == ENOENT ? 0 : reason_fail(err, errlen, -errno, "opendir %s: %s", dir,
						  strerror(errno));
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (unlink(path) < 0 && errno != ENOENT && !r)
			r = reason_fail(err, errlen, -errno, "unlink %s: %s", path, strerror(errno));
	}
	closedir(d);
	if (rmdir(dir) < 0 && errno != ENOENT && !r)
		r = reason_fail(err, errlen, -errno, "rmdir %s: %s", dir, strerror(errno));
	return r;
}

struct bs_list {
	const char *id;      /* only this id (NULL: every pv* name) */
	struct cfs_names names;
};

static int bs_cb(const char *name, void *arg)
{
	struct bs_list *l = arg;
	char id[PROV_ID_MAX + 1];

	if (!prov_parse_backstore(name, id, NULL) || (l->id && strcmp(id, l->id)))
		return 0;
	return cfs_names_collect(name, &l->names);
}

static int destroy_locked(struct cfs *c, const char *state_dir, const char *id, char *err,
			  size_t errlen)
{
	char iqn[PROV_IQN_LEN], dir[PATH_MAX], dbroot[PATH_MAX], path[PATH_MAX + 64];
	struct bs_list l = { .id = id };
	bool have_dbroot;
	int r, first = 0;
	size_t i;

	prov_target_iqn(id, iqn, sizeof(iqn));
	r = cfs_target_remove(c, iqn);
	if (r)
		first = reason_fail(err, errlen, r, "target %s: %s", iqn, cfs_error(c));
	r = cfs_list_backstores(c, bs_cb, &l);
	if (!r)
		r = l.names.err;
	if (r && !first)
		first = reason_fail(err, errlen, r, "listing backstores: %s",
			     r == -ENOMEM ? "out of memory" : cfs_error(c));
	have_dbroot = cfs_dbroot(c, dbroot, sizeof(dbroot)) == 0; /* err already copied */
	for (i = 0; i < l.names.n; i++) {
		r = cfs_backstore_remove(c, l.names.v[i]);
		if (r && !first)
			first = reason_fail(err, errlen, r, "backstore %s: %s", l.names.v[i], cfs_error(c));
		/* Its PR state goes with it (pr-store drops the rows with the session). */
		if (!r && have_dbroot &&
		    snprintf(path, sizeof(path), "%s/pr/aptpl_%s", dbroot, l.names.v[i]) <
			    (int)sizeof(path))
			unlink(path);
	}
	cfs_names_free(&l.names);
	if (session_dir(dir, sizeof(dir), state_dir, id)) {
		if (!first)
			first = reason_fail(err, errlen, -ENAMETOOLONG, "state directory is too long");
	} else {
		r = first ? remove_dir(dir, NULL, 0) : remove_dir(dir, err, errlen);
		if (r && !first)
			first = r;
	}
	return first;
}

int prov_session_destroy(struct cfs *c, const char *state_dir, const char *id, char *err,
			 size_t errlen)
{
	int r, fd;

	if (!c || !state_dir || !*state_dir)
		return reason_fail(err, errlen, -EINVAL, "missing configfs or state directory");
	if (!prov_id_valid(id))
		return reason_fail(err, errlen, -EINVAL, "session id must be 1-%d of [a-z0-9]",
			    PROV_ID_MAX);
	fd = prov_lock(state_dir);
	if (fd < 0)
		return reason_fail(err, errlen, fd, "lock %s/%s: %s", state_dir, PROV_LOCK_FILE,
			    strerror(-fd));
	r = destroy_locked(c, state_dir, id, err, errlen);
	prov_unlock(fd);
	return r;
}

struct acl_active {
	struct cfs *c;
	const char *iqn;
	int n;
};

/* acls/<initiator>/info reads "No active iSCSI Session ..." unless logged in
 * (K:lio_target_nacl_info_show). */
static int acl_active_cb(const char *name, void *arg)
{
	struct acl_active *a = arg;

	if (cfs_acl_logged_in(a->c, a->iqn, name) == 1)
		a->n++;
	return 0;
}

int prov_session_connections(struct cfs *c, const char *id)
{
	struct acl_active acl_ctx;
	char iqn[PROV_IQN_LEN];
	unsigned n = 0;
	int r;

	if (!c || !prov_target_iqn(id, iqn, sizeof(iqn)))
		return -EINVAL;
	r = cfs_target_sessions(c, iqn, cfs_names_count, &n);
	if (r)
		return r;
	/* Initiators with an explicit ACL (made by a PR restore) are not in
	 * dynamic_sessions: count those whose ACL reports an active session. */
	acl_ctx.c = c;
	acl_ctx.iqn = iqn;
	acl_ctx.n = 0;
	r = cfs_list_acls(c, iqn, acl_active_cb, &acl_ctx);
	return (int)n + (r ? 0 : acl_ctx.n);
}

int prov_session_logins(struct cfs *c, const char *id, uint64_t *accepts)
{
	char iqn[PROV_IQN_LEN];

	if (!c || !accepts || !prov_target_iqn(id, iqn, sizeof(iqn)))
		return -EINVAL;
	return cfs_target_login_accepts(c, iqn, accepts);
}

/* Session ids as a set (cfs_names_add unique: small, a linear search is fine for the
 * janitor's tick). */
static int target_id_cb(const char *name, void *arg)
{
	size_t n = strlen(PROV_IQN_PREFIX);

	if (!strncmp(name, PROV_IQN_PREFIX, n) && prov_id_valid(name + n))
		cfs_names_add(arg, name + n, true);
	return 0;
}

static int bs_id_cb(const char *name, void *arg)
{
	char id[PROV_ID_MAX + 1];

	if (prov_parse_backstore(name, id, NULL))
		cfs_names_add(arg, id, true);
	return 0;
}

/* The ids of every provisioned session found in configfs or under state_dir, unsorted,
 * into *ids (caller frees ids->v). Caller holds the lock. */
static int collect_ids(struct cfs *c, const char *state_dir, struct cfs_names *ids, char *err,
		       size_t errlen)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int r;

	r = cfs_list_targets(c, target_id_cb, ids);
	if (!r)
		r = cfs_list_backstores(c, bs_id_cb, ids);
	if (r)
		return reason_fail(err, errlen, r, "listing configfs: %s", cfs_error(c));
	snprintf(path, sizeof(path), "%s/%s", state_dir, PROV_SESSIONS_SUBDIR);
	d = opendir(path);
	if (d) {
		while ((e = readdir(d)))
			if (prov_id_valid(e->d_name))
				cfs_names_add(ids, e->d_name, true);
		closedir(d);
	} else if (errno != ENOENT) {
		return reason_fail(err, errlen, -errno, "opendir %s: %s", path, strerror(errno));
	}
	if (ids->err)
		return reason_fail(err, errlen, ids->err, "out of memory");
	return 0;
}

static int janitor_locked(struct cfs *c, const char *state_dir, prov_known_fn known,
			  void *arg, unsigned *removed, char *err, size_t errlen)
{
	struct cfs_names ids = { 0 };
	size_t i;
	int r, first;

	first = collect_ids(c, state_dir, &ids, err, errlen);
	if (first)
		ids.n = 0;
	for (i = 0; i < ids.n; i++) {
		if (known(arg, ids.v[i]) != 0)
			continue;
		r = first ? destroy_locked(c, state_dir, ids.v[i], NULL, 0)
			  : destroy_locked(c, state_dir, ids.v[i], err, errlen);
		if (r && !first)
			first = r;
		if (!r && removed)
			(*removed)++;
	}
	cfs_names_free(&ids);
	return first;
}

static int id_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int prov_session_ids(struct cfs *c, const char *state_dir, struct cfs_names *ids, char *err,
		     size_t errlen)
{
	int r, fd;

	fd = prov_lock(state_dir);
	if (fd < 0)
		return reason_fail(err, errlen, fd, "lock %s/%s: %s", state_dir, PROV_LOCK_FILE,
				   strerror(-fd));
	r = collect_ids(c, state_dir, ids, err, errlen);
	prov_unlock(fd);
	if (r) {
		cfs_names_free(ids);
		return r;
	}
	if (ids->n)
		qsort(ids->v, ids->n, sizeof(ids->v[0]), id_cmp);
	return 0;
}

int prov_janitor(struct cfs *c, const char *state_dir, prov_known_fn known, void *arg,
		 unsigned *removed, char *err, size_t errlen)
{
	int r, fd;

	if (removed)
		*removed = 0;
	if (!c || !state_dir || !*state_dir || !known)
		return reason_fail(err, errlen, -EINVAL, "missing configfs, state directory or callback");
	fd = prov_lock(state_dir);
	if (fd < 0)
		return reason_fail(err, errlen, fd, "lock %s/%s: %s", state_dir, PROV_LOCK_FILE,
			    strerror(-fd));
	r = janitor_locked(c, state_dir, known, arg, removed, err, errlen);
	prov_unlock(fd);
	return r;
}

uint64_t prov_session_written(const char *state_dir, const char *id)
{
	char dir[PATH_MAX];
	uint64_t sum = 0;
	struct dirent *e;
	DIR *d;

	if (!prov_id_valid(id) || session_dir(dir, sizeof(dir), state_dir, id) < 0)
		return 0;
	d = opendir(dir);
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		struct stat st;

		if (l < 5 || strcmp(e->d_name + l - 4, ".ovl"))
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode))
			sum += (uint64_t)st.st_blocks * 512;
	}
	closedir(d);
	return sum;
}
