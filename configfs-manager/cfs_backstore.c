/*
 * cfs_backstore.c — user (TCMU) backstores core/user_N/<name>, one HBA each.
 *
 * Like rtslib (tcm.py _Backstore), every storage object gets its own HBA
 * core/<plugin>_<index> with the lowest free index below 1048576, chosen under an
 * flock on /var/run/rtslib_backstore.lock so we and targetcli never pick the same one
 * (lio-tcmu-facts.md §1.3). Object order per §1.5: mkdir, control, serial, enable.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfs_priv.h"

/* Take the backstore index lock; returns the fd (>= 0) or -errno. */
static int lock_take(struct cfs *c)
{
	char path[PATH_MAX];
	int fd, r;

	if (cfs_plain(c))
		r = snprintf(path, sizeof(path), "%s/%s", c->root, CFS_PLAIN_LOCK);
	else
		r = snprintf(path, sizeof(path), "%s", CFS_RTSLIB_LOCK);
	if (r < 0 || (size_t)r >= sizeof(path))
		return cfs_fail(c, -ENAMETOOLONG, "lock path under %s too long", c->root);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 && errno == ENOENT) {
		/* A minimal system (the lab's initramfs) may lack /var/run: make it. */
		char *slash = strrchr(path, '/');

		*slash = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return cfs_fail(c, -errno, "mkdir %s: %s", path, strerror(errno));
		*slash = '/';
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	}
	if (fd < 0)
		return cfs_fail(c, -errno, "open %s: %s", path, strerror(errno));
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			r = -errno;
			close(fd);
			return cfs_fail(c, r, "flock %s: %s", path, strerror(-r));
		}
	}
	return fd;
}

static void lock_drop(int fd)
{
	if (fd >= 0)
		close(fd); /* closing the only descriptor releases the flock */
}

/* dev_config goes verbatim into `control` (split on ',' and '\n' by the kernel's
 * match_token parser) and the uio name; rtslib refuses ':' in it (§1.3). */
static int check_dev_config(struct cfs *c, const char *cfg)
{
	const unsigned char *p;

	if (!cfg || !*cfg)
		return cfs_fail(c, -EINVAL, "dev_config is empty");
	if (strlen(cfg) > CFS_DEV_CONFIG_MAX)
		return cfs_fail(c, -ENAMETOOLONG, "dev_config is %zu bytes, longer than %d",
				strlen(cfg), CFS_DEV_CONFIG_MAX);
	for (p = (const unsigned char *)cfg; *p; p++) {
		if (*p == ',' || *p == ':')
			return cfs_fail(c, -EINVAL, "dev_config '%s' contains '%c'", cfg, *p);
		if (*p < 0x20 || *p == 0x7f)
			return cfs_fail(c, -EINVAL, "dev_config contains a control character");
	}
	return 0;
}

static int check_serial(struct cfs *c, const char *serial)
{
	const unsigned char *p;

	if (!*serial)
		return cfs_fail(c, -EINVAL, "serial is empty");
	if (strlen(serial) > CFS_SERIAL_MAX)
		return cfs_fail(c, -ENAMETOOLONG, "serial '%.40s...' is %zu bytes, longer than %d",
				serial, strlen(serial), CFS_SERIAL_MAX);
	for (p = (const unsigned char *)serial; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			return cfs_fail(c, -EINVAL, "serial contains a space or non-ASCII byte");
	return 0;
}

/* ---- where backstores live (struct cfs_hint) ---------------------------------- */

static struct cfs_hint *hint_of(struct cfs *c, const char *name)
{
	for (size_t i = 0; i < c->n_hints; i++)
		if (!strcmp(c->hints[i].name, name))
			return &c->hints[i];
	return NULL;
}

static void hint_drop(struct cfs *c, const char *name)
{
	struct cfs_hint *h = hint_of(c, name);

	if (h)
		*h = c->hints[--c->n_hints];
}

/* Remember name at hba (best effort: without memory the lookups just scan). */
static void hint_learn(struct cfs *c, const char *name, const char *hba, bool sole)
{
	struct cfs_hint *h = hint_of(c, name);

	if (strlen(name) >= sizeof(h->name) || strlen(hba) >= sizeof(h->hba))
		return;
	if (!h) {
		if (c->n_hints == c->cap_hints) {
			size_t cap = c->cap_hints ? 2 * c->cap_hints : 64;
			struct cfs_hint *v = realloc(c->hints, cap * sizeof(*v));

			if (!v)
				return;
			c->hints = v;
			c->cap_hints = cap;
		}
		h = &c->hints[c->n_hints++];
	}
	snprintf(h->name, sizeof(h->name), "%s", name);
	snprintf(h->hba, sizeof(h->hba), "%s", hba);
	h->sole = sole;
}

/*
 * One stat when the hint is right. Otherwise every HBA is looked into, except those
 * this context made for one other device (sole hints): with a thousand sessions that
 * scan was a thousand stats per lookup, two lookups per session made and two per
 * session removed. A device another program puts into an HBA we made is not seen;
 * our names are random and we never put two devices into one of our HBAs.
 */
/* name in one of the listed hbas (see cfs_backstore_find); -ENOENT without a reason. */
static int find_listed(struct cfs *c, const char *name, const struct cfs_names *hbas,
		       char *hba, size_t hlen)
{
	GHashTable *by_hba;
	size_t i;
	int r = -ENOENT;

	/* The hints by HBA, so the scan is O(HBAs), not O(HBAs x hints). */
	by_hba = g_hash_table_new(g_str_hash, g_str_equal);
	for (i = 0; i < c->n_hints; i++)
		g_hash_table_insert(by_hba, c->hints[i].hba, &c->hints[i]);
	for (i = 0; i < hbas->n; i++) {
		const struct cfs_hint *o = g_hash_table_lookup(by_hba, hbas->v[i]);

		/* An HBA known to hold one other backstore (ours: one per HBA) is skipped. */
		if (o && o->sole && strcmp(o->name, name))
			continue;
		if (!cfs_is_dir(c, "core/%s/%s", hbas->v[i], name))
			continue;
		if (strlen(hbas->v[i]) >= hlen)
			r = cfs_fail(c, -ENAMETOOLONG, "HBA name %s too long", hbas->v[i]);
		else {
			strcpy(hba, hbas->v[i]);
			hint_learn(c, name, hba, false);
			r = 0;
		}
		break;
	}
	g_hash_table_destroy(by_hba);
	return r;
}

int cfs_backstore_find(struct cfs *c, const char *name, bool user_only,
		       char *hba, size_t hlen)
{
	struct cfs_names hbas;
	struct cfs_hint *h = hint_of(c, name);
	int r;

	if (h && (!user_only || cfs_has_prefix(h->hba, "user_")) &&
	    cfs_is_dir(c, "core/%s/%s", h->hba, name)) {
		if (strlen(h->hba) >= hlen)
			return cfs_fail(c, -ENAMETOOLONG, "HBA name %s too long", h->hba);
		strcpy(hba, h->hba);
		return 0;
	}
	if (h)
		hint_drop(c, name);
	r = cfs_scan_hbas(c, &hbas, user_only);
	if (r)
		return r;
	r = find_listed(c, name, &hbas, hba, hlen);
	cfs_names_free(&hbas);
	if (r == -ENOENT)
		return cfs_fail(c, -ENOENT, "backstore %s not found under %s/core", name, c->root);
	return r;
}

int cfs_backstore_path(struct cfs *c, const char *name, char *path, size_t pathlen)
{
	char hba[CFS_NAME_MAX + 1];
	int r;

	r = cfs_check_name(c, "backstore name", name, CFS_NAME_MAX);
	if (!r)
		r = cfs_backstore_find(c, name, true, hba, sizeof(hba));
	if (r)
		return r;
	r = snprintf(path, pathlen, "%s/core/%s/%s", c->root, hba, name);
	if (r < 0 || (size_t)r >= pathlen)
		return cfs_fail(c, -ENAMETOOLONG, "path of backstore %s too long", name);
	return 0;
}

/* Remove the HBA dir core/<hba> if it holds no device any more (under the lock). */
static int hba_remove_if_empty(struct cfs *c, const char *hba)
{
	struct cfs_names devs;
	char rel[PATH_MAX];
	int r, fd;

	fd = lock_take(c);
	if (fd < 0)
		return fd;
	r = cfs_rel(c, rel, sizeof(rel), "core/%s", hba);
	if (!r)
		r = cfs_list(c, &devs, CFS_DIRS, rel);
	if (!r) {
		if (!devs.n)
			r = cfs_rmdir_obj(c, rel, cfs_no_groups);
		cfs_names_free(&devs);
	}
	lock_drop(fd);
	return r;
}

/*
 * For a new backstore name (under the lock): -EEXIST with a reason when name is
 * already a user backstore, else the sorted indexes of the user_ HBAs in *idx
 * (caller frees) and *n, from one listing of core/.
 */
static int list_for_create(struct cfs *c, const char *name, uint64_t **idx, size_t *n)
{
	char found[CFS_NAME_MAX + 1];
	struct cfs_names hbas;
	int r;

	*idx = NULL;
	*n = 0;
	r = cfs_scan_hbas(c, &hbas, true);
	if (r)
		return r;
	r = find_listed(c, name, &hbas, found, sizeof(found));
	if (r == 0)
		r = cfs_fail(c, -EEXIST, "backstore %s already exists in %s/core/%s", name,
			     c->root, found);
	else if (r == -ENOENT)
		r = cfs_names_indexes(c, &hbas, "user_", idx, n);
	cfs_names_free(&hbas);
	return r;
}

/* An HBA to claim (struct cfs_claim) for backstore `name`: core/user_N, N into hba. */
struct hba_claim {
	const char *name;
	char *hba;
	size_t len;
};

/* One listing of core/: the name is new, and the HBA indexes. */
static int hba_list(struct cfs *c, void *arg, uint64_t **idx, size_t *n)
{
	const struct hba_claim *a = arg;

	return list_for_create(c, a->name, idx, n);
}

static int hba_make(struct cfs *c, void *arg, uint64_t k, bool *made)
{
	const struct hba_claim *a = arg;

	snprintf(a->hba, a->len, "user_%" PRIu64, k);
	return cfs_mkdir(c, made, "core/%s", a->hba);
}

static int hba_full(struct cfs *c, void *arg)
{
	(void)arg;
	return cfs_fail(c, -ENOSPC, "no free HBA index below %u in %s/core", CFS_HBA_INDEX_MAX,
			c->root);
}

/* cfs_backstore_create(_new): new_name skips the listing while a probe finds an HBA. */
static int backstore_create(struct cfs *c, const char *name, uint64_t size_bytes,
			    const char *dev_config, const char *serial, bool new_name)
{
	char control[512], hba[32], dev[PATH_MAX];
	struct hba_claim a = { .name = name, .hba = hba, .len = sizeof(hba) };
	/* A name new by construction (new_name): the HBA index after the last one made,
	 * if free, and no listing. */
	const struct cfs_claim w = { .next = &c->hba_next, .last = CFS_HBA_INDEX_MAX - 1,
				     .probes = new_name ? CFS_HBA_PROBES : 0,
				     .list = hba_list, .make = hba_make, .full = hba_full,
				     .arg = &a };
	bool made_hba, made_dev = false;
	uint64_t k;
	int r, fd;

	r = cfs_check_name(c, "backstore name", name, CFS_NAME_MAX);
	if (!r)
		r = check_dev_config(c, dev_config);
	if (!r)
		r = check_serial(c, serial ? serial : name);
	if (r)
		return r;
	if (!size_bytes || size_bytes % 512)
		return cfs_fail(c, -EINVAL, "size %" PRIu64 " is not a positive multiple of 512",
				size_bytes);
	/*
	 * nl_reply_supported=-1: the kernel never waits for a netlink reply for this
	 * device, so whichever TCMU daemon answers ADDED_DEVICE first (tcmu-runner
	 * answers -ENOENT for subtypes it has no handler for) cannot fail our enable
	 * (README "Coexistence with tcmu-runner"; target_core_user.c).
	 */
	snprintf(control, sizeof(control),
		 "dev_size=%" PRIu64 ",dev_config=%s,hw_block_size=512,hw_max_sectors=%d,"
		 "max_data_area_mb=%d,cmd_ring_size_mb=%d,nl_reply_supported=-1",
		 size_bytes, dev_config, CFS_HW_MAX_SECTORS, CFS_MAX_DATA_AREA_MB,
		 CFS_CMD_RING_SIZE_MB);
	r = cfs_ready(c);
	if (!r)
		r = cfs_mkdir_p(c, NULL, "core");
	if (r)
		return r;

	fd = lock_take(c);
	if (fd < 0)
		return fd;
	r = cfs_claim_index(c, &w, &k);
	made_hba = !r;
	if (!r)
		r = cfs_rel(c, dev, sizeof(dev), "core/%s/%s", hba, name);
	if (!r)
		r = cfs_mkdir(c, &made_dev, "%s", dev);
	if (!r && !made_dev)
		r = cfs_fail(c, -EEXIST, "%s/%s appeared while creating it", c->root, dev);
	lock_drop(fd);

	if (!r)
		r = cfs_make_groups(c, dev, cfs_dev_groups);
	if (!r)
		r = cfs_write(c, control, "%s/control", dev);
	/* The serial before enable: the handler reads it when the device appears. */
	if (!r)
		r = cfs_write(c, serial ? serial : name, "%s/wwn/vpd_unit_serial", dev);
	/*
	 * The write cache before enable too (no RECONFIG event then): the handler reads
	 * it at ADDED_DEVICE and reports it as WCE in the caching mode page (cfs.h).
	 */
	if (!r)
		r = cfs_write(c, CFS_WRITE_CACHE ? "1" : "0", "%s/attrib/emulate_write_cache",
			      dev);
	/*
	 * The kernel's ALUA off (alua_support=0, before enable: no LU group is attached at
	 * enable, and no target port group when a TPG LUN links the device). It would only
	 * check the access state of the default group, which is always Active/Optimized
	 * here (the handler reports TPGS=0 in INQUIRY, SPC-4 §6.6.2), and linking a LUN to
	 * that group waits for an RCU grace period (K:target_attach_tg_pt_gp): 14-21 ms
	 * of each session's provisioning under TCG. A kernel without the attribute
	 * (before Linux 5.11) keeps its ALUA.
	 */
	if (!r) {
		c->err_hold++;
		r = cfs_write(c, "0", "%s/attrib/alua_support", dev);
		c->err_hold--;
		if (r == -ENOENT)
			r = 0;
		else if (r)
			r = cfs_fail(c, r, "%s/%s/attrib/alua_support: %s", c->root, dev,
				     strerror(-r));
	}
	/* No reply is awaited (nl_reply_supported=-1): the handler opens the uio device on
	 * its own when ADDED_DEVICE arrives and first drains what is already queued. */
	if (!r)
		r = cfs_write(c, "1", "%s/enable", dev);
	if (r && made_hba) {
		c->err_hold++;
		if (made_dev)
			cfs_rmdir_obj(c, dev, cfs_dev_groups);
		hba_remove_if_empty(c, hba);
		c->err_hold--;
	}
	if (!r)
		hint_learn(c, name, hba, made_hba);
	return r;
}

int cfs_backstore_create(struct cfs *c, const char *name, uint64_t size_bytes,
			 const char *dev_config, const char *serial)
{
	return backstore_create(c, name, size_bytes, dev_config, serial, false);
}

int cfs_backstore_create_new(struct cfs *c, const char *name, uint64_t size_bytes,
			     const char *dev_config, const char *serial)
{
	return backstore_create(c, name, size_bytes, dev_config, serial, true);
}

int cfs_backstore_remove(struct cfs *c, const char *name)
{
	char hba[CFS_NAME_MAX + 1], dev[PATH_MAX];
	int r;

	r = cfs_check_name(c, "backstore name", name, CFS_NAME_MAX);
	if (!r)
		r = cfs_ready(c);
	if (r)
		return r;
	r = cfs_backstore_find(c, name, true, hba, sizeof(hba));
	if (r == -ENOENT)
		return 0;
	if (!r)
		r = cfs_rel(c, dev, sizeof(dev), "core/%s/%s", hba, name);
	if (!r)
		r = cfs_rmdir_obj(c, dev, cfs_dev_groups);
	if (!r) {
		hint_drop(c, name);
		r = hba_remove_if_empty(c, hba);
	}
	return r;
}

int cfs_list_backstores(struct cfs *c, cfs_name_cb cb, void *arg)
{
	struct cfs_names hbas, devs, all = { 0 };
	char rel[PATH_MAX];
	size_t i, j;
	int r;

	r = cfs_list_hbas(c, &hbas, true);
	if (r)
		return r;
	for (i = 0; !r && i < hbas.n; i++) {
		r = cfs_rel(c, rel, sizeof(rel), "core/%s", hbas.v[i]);
		if (!r)
			r = cfs_list(c, &devs, CFS_DIRS, rel);
		if (r)
			break;
		for (j = 0; !r && j < devs.n; j++)
			if (cfs_names_add(&all, devs.v[j], false))
				r = cfs_fail(c, -ENOMEM, "listing backstores: %s", strerror(ENOMEM));
		cfs_names_free(&devs);
	}
	cfs_names_free(&hbas);
	if (!r && all.n) {
		qsort(all.v, all.n, sizeof(*all.v), cfs_names_cmp);
		for (i = 0; i < all.n; i++)
			if (cb(all.v[i], arg))
				break;
	}
	cfs_names_free(&all);
	return r;
}
