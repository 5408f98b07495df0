/*
 * test_cfs.c — the configfs manager on a plain temporary directory (cfs_force_plain):
 * object layout, attribute values, index choice, link targets, teardown order (with
 * configfs's -EBUSY for a linked item emulated), sweep, listings, name checks, ls.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_tmpdir.h"

#include "cfs.h"
#include "cfs_priv.h"
#include "cowstore.h"

#define IQN "iqn.2025-01.pub.scsipub:blank"
#define INI "iqn.1993-08.org.debian:01:abc"
#define INI2 "iqn.1993-08.org.debian:01:def"
#define TPG "iscsi/" IQN "/tpgt_1"
#define MIB (1024ull * 1024)

struct t {
	char root[PATH_MAX];
	struct cfs *c;
};

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	assert_non_null(test_mkdtemp(t->root, sizeof(t->root), "test_cfs"));
	t->c = cfs_open(t->root);
	assert_non_null(t->c);
	cfs_force_plain(t->c);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;

	cfs_close(t->c);
	test_rmtree(t->root);
	free(t);
	return 0;
}

/* root-relative path helpers */
static const char *P(struct t *t, const char *fmt, ...)
{
	static char buf[4][PATH_MAX];
	static int slot;
	va_list ap;
	char *b = buf[slot++ % 4];
	size_t n = strlen(t->root);

	memcpy(b, t->root, n);
	b[n++] = '/';
	va_start(ap, fmt);
	vsnprintf(b + n, PATH_MAX - n, fmt, ap);
	va_end(ap);
	return b;
}

static bool isdir(const char *p)
{
	struct stat st;

	return lstat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool exists(const char *p)
{
	struct stat st;

	return lstat(p, &st) == 0;
}

static const char *slurp(const char *p)
{
	static char buf[1024];
	FILE *f = fopen(p, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* The target of the only symlink in directory p (fails the test otherwise). */
static const char *only_link(const char *p)
{
	static char tgt[PATH_MAX];
	char l[PATH_MAX];
	struct dirent *de;
	int links = 0;
	ssize_t n;
	DIR *d = opendir(p);

	assert_non_null(d);
	while ((de = readdir(d))) {
		snprintf(l, sizeof(l), "%s/%s", p, de->d_name);
		struct stat st;

		if (lstat(l, &st) == 0 && S_ISLNK(st.st_mode)) {
			links++;
			n = readlink(l, tgt, sizeof(tgt) - 1);
			assert_true(n > 0);
			tgt[n] = '\0';
			assert_int_equal(strlen(de->d_name), CFS_ALIAS_LEN);
		}
	}
	closedir(d);
	assert_int_equal(links, 1);
	return tgt;
}

static void make_target(struct t *t)
{
	assert_int_equal(cfs_target_ensure(t->c, IQN, "127.0.0.1:3262"), 0);
}

static void make_bs(struct t *t, const char *name)
{
	assert_int_equal(cfs_backstore_create(t->c, name, 64 * MIB, "cow/size=67108864", NULL), 0);
}

/* ---- targets ---- */

static void test_target_ensure(void **state)
{
	struct t *t = *state;
	static const char *const attrs[][2] = {
		{ "generate_node_acls", "0" },  { "demo_mode_discovery", "0" },
		{ "authentication", "0" },      { "cache_dynamic_acls", "0" },
		{ "demo_mode_write_protect", "1" }, { "prod_mode_write_protect", "0" },
		{ "default_cmdsn_depth", "32" },
	};
	size_t i;
	int pass;

	for (pass = 0; pass < 2; pass++) { /* the second call must change nothing */
		make_target(t);
		assert_true(isdir(P(t, "%s/np/127.0.0.1:3262", TPG)));
		for (i = 0; cfs_tpg_groups[i]; i++)
			assert_true(isdir(P(t, "%s/%s", TPG, cfs_tpg_groups[i])));
		for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
			const char *v = slurp(P(t, "%s/attrib/%s", TPG, attrs[i][0]));

			assert_non_null(v);
			assert_string_equal(v, attrs[i][1]);
		}
		/* CRC32C digests offered (issue 4). */
		assert_string_equal(slurp(P(t, "%s/param/HeaderDigest", TPG)), "CRC32C,None");
		assert_string_equal(slurp(P(t, "%s/param/DataDigest", TPG)), "CRC32C,None");
		assert_string_equal(slurp(P(t, "%s/param/MaxConnections", TPG)), "1");
		/* Write bursts: at most one R2T for a 1 MiB write. */
		assert_string_equal(slurp(P(t, "%s/param/InitialR2T", TPG)), "No");
		assert_string_equal(slurp(P(t, "%s/param/MaxBurstLength", TPG)), "1048576");
		assert_string_equal(slurp(P(t, "%s/param/FirstBurstLength", TPG)), "1048576");
		/* Data segments of 256 KiB from the initiator, not LIO's 8 KiB. */
		assert_string_equal(slurp(P(t, "%s/param/MaxRecvDataSegmentLength", TPG)), "262144");
		assert_string_equal(slurp(P(t, "%s/enable", TPG)), "1");
	}
	/* A second portal, IPv6 in brackets, joins the first. */
	assert_int_equal(cfs_target_ensure(t->c, IQN, "[::1]:3260"), 0);
	assert_true(isdir(P(t, "%s/np/[::1]:3260", TPG)));
	assert_true(isdir(P(t, "%s/np/127.0.0.1:3262", TPG)));
}

/* A target verified lately is taken as it is while its TPG exists
 * (CFS_ENSURE_TTL_MS); with the interval at 0 every call verifies and repairs. */
static void test_target_ensure_remembered(void **state)
{
	struct t *t = *state;
	FILE *f;

	cfs_set_ensure_ttl_ms(t->c, UINT_MAX);
	make_target(t);
	f = fopen(P(t, "%s/attrib/generate_node_acls", TPG), "w");
	assert_non_null(f);
	fputs("1", f);
	fclose(f);
	make_target(t); /* remembered: not read again */
	assert_string_equal(slurp(P(t, "%s/attrib/generate_node_acls", TPG)), "1");
	/* A read-only ensure of the same target is another verification. */
	assert_int_equal(cfs_target_ensure_ro(t->c, IQN, "127.0.0.1:3262"), 0);
	assert_string_equal(slurp(P(t, "%s/attrib/generate_node_acls", TPG)), "0");
	assert_string_equal(slurp(P(t, "%s/attrib/prod_mode_write_protect", TPG)), "1");
	/* ...which replaces what was remembered of the plain one: back to writable. */
	make_target(t);
	assert_string_equal(slurp(P(t, "%s/attrib/prod_mode_write_protect", TPG)), "0");
	/* Gone (a removal elsewhere): made again, whatever was remembered. */
	assert_int_equal(cfs_target_remove(t->c, IQN), 0);
	make_target(t);
	assert_true(isdir(P(t, "%s/np/127.0.0.1:3262", TPG)));
	assert_string_equal(slurp(P(t, "%s/attrib/prod_mode_write_protect", TPG)), "0");
	cfs_set_ensure_ttl_ms(t->c, 0);
	f = fopen(P(t, "%s/attrib/generate_node_acls", TPG), "w");
	assert_non_null(f);
	fputs("1", f);
	fclose(f);
	make_target(t);
	assert_string_equal(slurp(P(t, "%s/attrib/generate_node_acls", TPG)), "0");
}

static void test_target_bad_portal(void **state)
{
	struct t *t = *state;
	static const char *const bad[] = { "1.2.3:80", "127.0.0.1", "127.0.0.1:0",
					   "127.0.0.1:65536", "[::1:80", "[zz]:80",
					   "127.0.0.1:08", "" };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(cfs_target_ensure(t->c, IQN, bad[i]), -EINVAL);
		assert_non_null(strstr(cfs_error(t->c), "portal"));
	}
	assert_false(exists(P(t, "iscsi/%s", IQN)));
}

static void test_target_remove_full(void **state)
{
	struct t *t = *state;
	uint64_t lun;

	make_target(t);
	assert_int_equal(cfs_target_ensure(t->c, IQN, "[::1]:3260"), 0);
	make_bs(t, "sp1");
	assert_int_equal(cfs_lun_add(t->c, IQN, "sp1", &lun), 0);
	assert_int_equal(cfs_acl_map(t->c, IQN, INI, 0, lun), 0);
	assert_int_equal(cfs_target_remove(t->c, IQN), 0);
	assert_false(exists(P(t, "iscsi/%s", IQN)));
	assert_true(isdir(P(t, "iscsi")));
	assert_int_equal(cfs_target_remove(t->c, IQN), 0);
	/* The backstore is no longer linked: it can go now. */
	assert_int_equal(cfs_backstore_remove(t->c, "sp1"), 0);
	assert_false(exists(P(t, "core/user_0")));
}

/* ---- backstores ---- */

/* The 64 MiB device dir (relative to the root) as cfs_backstore_create(_new) makes it. */
static void assert_device_made(struct t *t, const char *dir, const char *dev_config,
			       const char *serial)
{
	char control[512];

	snprintf(control, sizeof(control),
		 "dev_size=67108864,dev_config=%s,hw_block_size=512,hw_max_sectors=2048,"
		 "max_data_area_mb=16,cmd_ring_size_mb=1,nl_reply_supported=-1", dev_config);
	assert_true(isdir(P(t, "%s", dir)));
	assert_string_equal(slurp(P(t, "%s/control", dir)), control);
	assert_string_equal(slurp(P(t, "%s/wwn/vpd_unit_serial", dir)), serial);
	/* WCE = 1 reported by the handler (README "Write caching"), set before enable. */
	assert_string_equal(slurp(P(t, "%s/attrib/emulate_write_cache", dir)), "1");
	/* The kernel's ALUA off before enable (no RCU wait when a TPG LUN links it). */
	assert_string_equal(slurp(P(t, "%s/attrib/alua_support", dir)), "0");
	assert_string_equal(slurp(P(t, "%s/enable", dir)), "1");
}

static void test_backstore_create(void **state)
{
	struct t *t = *state;
	char path[PATH_MAX];

	assert_int_equal(mkdir(P(t, "core"), 0755), 0);
	assert_int_equal(mkdir(P(t, "core/user_0"), 0755), 0); /* targetcli's HBA */
	assert_int_equal(cfs_backstore_create(t->c, "sp1", 64 * MIB,
					      "cow/size=67108864;overlay=/o;bitmap=/b", "SER-1"), 0);
	assert_device_made(t, "core/user_1/sp1", "cow/size=67108864;overlay=/o;bitmap=/b",
			   "SER-1");

	/* NULL serial = the name; next free HBA. */
	make_bs(t, "sp2");
	assert_string_equal(slurp(P(t, "core/user_2/sp2/wwn/vpd_unit_serial")), "sp2");

	assert_int_equal(cfs_backstore_path(t->c, "sp2", path, sizeof(path)), 0);
	assert_string_equal(path, P(t, "core/user_2/sp2"));
	assert_int_equal(cfs_backstore_path(t->c, "nope", path, sizeof(path)), -ENOENT);
	assert_non_null(strstr(cfs_error(t->c), "nope"));

	/* create is not ensure */
	assert_int_equal(cfs_backstore_create(t->c, "sp1", MIB, "cow/x", NULL), -EEXIST);
	assert_non_null(strstr(cfs_error(t->c), "user_1"));
	/* A name another program holds, never looked up through us: refused from the
	 * same listing that finds the HBA index, and no HBA made for it. */
	assert_int_equal(mkdir(P(t, "core/user_0/sp9"), 0755), 0);
	assert_int_equal(cfs_backstore_create(t->c, "sp9", MIB, "cow/x", NULL), -EEXIST);
	assert_non_null(strstr(cfs_error(t->c), "core/user_0"));
	assert_false(exists(P(t, "core/user_3")));
	assert_int_equal(rmdir(P(t, "core/user_0/sp9")), 0);

	/* Removing frees the HBA; the lowest free index is reused. */
	assert_int_equal(cfs_backstore_remove(t->c, "sp1"), 0);
	assert_false(exists(P(t, "core/user_1")));
	assert_true(isdir(P(t, "core/user_0")));
	make_bs(t, "sp3");
	assert_true(isdir(P(t, "core/user_1/sp3")));
	assert_int_equal(cfs_backstore_remove(t->c, "sp1"), 0); /* already gone */
}

/*
 * A name new by construction (anon.c's random session names): the HBA after the last
 * one made, by mkdir alone, taken ones stepped over; every probe taken -> the listing
 * (lowest free, the name looked for), then past the highest. The device is made as by
 * cfs_backstore_create, and found and removed the same way.
 */
static void test_backstore_create_new(void **state)
{
	struct t *t = *state;
	char path[PATH_MAX];

	assert_int_equal(mkdir(P(t, "core"), 0755), 0);
	assert_int_equal(mkdir(P(t, "core/user_0"), 0755), 0); /* targetcli's HBA */
	assert_int_equal(cfs_backstore_create_new(t->c, "sn1", 64 * MIB, "cow/size=67108864",
						  "SER-1"), 0);
	assert_device_made(t, "core/user_1/sn1", "cow/size=67108864", "SER-1");
	assert_int_equal(cfs_backstore_create_new(t->c, "sn2", MIB, "cow/x", NULL), 0);
	assert_true(isdir(P(t, "core/user_2/sn2")));
	/* A freed index is not reused at once. */
	assert_int_equal(cfs_backstore_remove(t->c, "sn1"), 0);
	assert_false(exists(P(t, "core/user_1")));
	assert_int_equal(cfs_backstore_create_new(t->c, "sn3", MIB, "cow/x", NULL), 0);
	assert_true(isdir(P(t, "core/user_3/sn3")));
	/* Every probe taken (user_4..7): the lowest free, then past the highest. */
	for (int i = 4; i <= 7; i++)
		assert_int_equal(mkdir(P(t, "core/user_%d", i), 0755), 0);
	assert_int_equal(cfs_backstore_create_new(t->c, "sn4", MIB, "cow/x", NULL), 0);
	assert_true(isdir(P(t, "core/user_1/sn4")));
	assert_int_equal(cfs_backstore_create_new(t->c, "sn5", MIB, "cow/x", NULL), 0);
	assert_true(isdir(P(t, "core/user_8/sn5")));
	/* Found where they are; the listing path still refuses a name that exists. */
	assert_int_equal(cfs_backstore_path(t->c, "sn3", path, sizeof(path)), 0);
	assert_string_equal(path, P(t, "core/user_3/sn3"));
	for (int i = 9; i <= 12; i++)
		assert_int_equal(mkdir(P(t, "core/user_%d", i), 0755), 0);
	assert_int_equal(cfs_backstore_create_new(t->c, "sn3", MIB, "cow/x", NULL), -EEXIST);
	assert_non_null(strstr(cfs_error(t->c), "core/user_3"));
	assert_false(exists(P(t, "core/user_13")));
	assert_int_equal(cfs_backstore_remove(t->c, "sn5"), 0);
	assert_false(exists(P(t, "core/user_8")));
}

/* cowstore_create: b->new_name picks cfs_backstore_create_new; a refused name that
 * exists (-EEXIST) is another's and stays, a half-made one goes. */
static void test_cowstore_create(void **state)
{
	struct t *t = *state;
	struct cowstore b = { .name = "sc1", .overlay = "/s/sc1.ovl", .bitmap = "/s/sc1.bmp",
			      .size_bytes = MIB, .serial = "sc1", .new_name = true };
	char err[256];

	assert_int_equal(cowstore_create(t->c, &b, err, sizeof(err)), 0);
	assert_true(isdir(P(t, "core/user_0/sc1")));
	b.new_name = false;
	assert_int_equal(cowstore_create(t->c, &b, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "sc1"));
	assert_true(isdir(P(t, "core/user_0/sc1")));
	assert_string_equal(slurp(P(t, "core/user_0/sc1/enable")), "1");
	/* Bad size: refused before anything is made. */
	b.name = "sc2";
	b.size_bytes = 1000;
	assert_true(cowstore_create(t->c, &b, err, sizeof(err)) < 0);
	assert_false(exists(P(t, "core/user_1")));
}

/*
 * Lookups by a remembered location (issue 10: no scan of every HBA per session), and
 * what they must still see: a backstore another program made, one removed behind our
 * back, a name taken in a foreign HBA.
 */
static void test_backstore_lookup(void **state)
{
	struct t *t = *state;
	char path[PATH_MAX];

	make_bs(t, "sp1");
	make_bs(t, "sp2");
	make_bs(t, "sp3");
	assert_int_equal(cfs_backstore_path(t->c, "sp2", path, sizeof(path)), 0);
	assert_string_equal(path, P(t, "core/user_1/sp2"));
	/* Made by another program (targetcli) in an HBA of its own: found, and taken. */
	assert_int_equal(mkdir(P(t, "core/user_7"), 0755), 0);
	assert_int_equal(mkdir(P(t, "core/user_7/tx"), 0755), 0);
	assert_int_equal(cfs_backstore_path(t->c, "tx", path, sizeof(path)), 0);
	assert_string_equal(path, P(t, "core/user_7/tx"));
	assert_int_equal(cfs_backstore_create(t->c, "tx", MIB, "cow/x", NULL), -EEXIST);
	assert_non_null(strstr(cfs_error(t->c), "user_7"));
	/* Removed behind our back: not found, and its name can be made again. */
	assert_int_equal(rmdir(P(t, "core/user_7/tx")), 0);
	assert_int_equal(cfs_backstore_path(t->c, "tx", path, sizeof(path)), -ENOENT);
	make_bs(t, "tx");
	assert_int_equal(cfs_backstore_path(t->c, "tx", path, sizeof(path)), 0);
	assert_string_equal(path, P(t, "core/user_3/tx"));
	/* Removed through us: gone; the others still found where they are. */
	assert_int_equal(cfs_backstore_remove(t->c, "sp2"), 0);
	assert_int_equal(cfs_backstore_path(t->c, "sp2", path, sizeof(path)), -ENOENT);
	assert_int_equal(cfs_backstore_path(t->c, "sp3", path, sizeof(path)), 0);
	assert_string_equal(path, P(t, "core/user_2/sp3"));
	/* The freed HBA index is reused for the next one, and found there. */
	make_bs(t, "sp4");
	assert_int_equal(cfs_backstore_path(t->c, "sp4", path, sizeof(path)), 0);
	assert_string_equal(path, P(t, "core/user_1/sp4"));
}

static void test_backstore_bad_args(void **state)
{
	struct t *t = *state;
	char big[300];

	assert_int_equal(cfs_backstore_create(t->c, "sp1", 1000, "cow/x", NULL), -EINVAL);
	assert_non_null(strstr(cfs_error(t->c), "512"));
	assert_int_equal(cfs_backstore_create(t->c, "sp1", 0, "cow/x", NULL), -EINVAL);
	assert_int_equal(cfs_backstore_create(t->c, "sp1", MIB, "cow/a,b", NULL), -EINVAL);
	assert_non_null(strstr(cfs_error(t->c), "','"));
	assert_int_equal(cfs_backstore_create(t->c, "sp1", MIB, "cow/a:b", NULL), -EINVAL);
	assert_int_equal(cfs_backstore_create(t->c, "sp1", MIB, "", NULL), -EINVAL);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(cfs_backstore_create(t->c, "sp1", MIB, big, NULL), -ENAMETOOLONG);
	assert_non_null(strstr(cfs_error(t->c), "dev_config"));
	big[254] = '\0'; /* 254 bytes: a valid name, one byte too long for a serial */
	assert_int_equal(cfs_backstore_create(t->c, big, MIB, "cow/x", NULL), -ENAMETOOLONG);
	assert_non_null(strstr(cfs_error(t->c), "serial"));
	assert_int_equal(cfs_backstore_create(t->c, "sp1", MIB, "cow/x", "has space"), -EINVAL);
	assert_false(exists(P(t, "core/user_0")));
}

/* ---- LUNs ---- */

static void test_lun_add(void **state)
{
	struct t *t = *state;
	uint64_t lun = 99;

	make_target(t);
	make_bs(t, "sp1");
	make_bs(t, "sp2");
	assert_int_equal(cfs_lun_add(t->c, IQN, "sp1", &lun), 0);
	assert_int_equal(lun, 0);
	assert_string_equal(only_link(P(t, "%s/lun/lun_0", TPG)), P(t, "core/user_0/sp1"));
	assert_int_equal(cfs_lun_add(t->c, IQN, "sp2", &lun), 0);
	assert_int_equal(lun, 1);
	assert_string_equal(only_link(P(t, "%s/lun/lun_1", TPG)), P(t, "core/user_1/sp2"));

	/* The lowest free number is reused. */
	assert_int_equal(cfs_lun_remove(t->c, IQN, 0), 0);
	assert_false(exists(P(t, "%s/lun/lun_0", TPG)));
	assert_int_equal(cfs_lun_remove(t->c, IQN, 0), 0);
	assert_int_equal(cfs_lun_add(t->c, IQN, "sp1", &lun), 0);
	assert_int_equal(lun, 0);
	assert_int_equal(cfs_lun_add(t->c, IQN, "sp1", &lun), 0); /* a second LUN, same dev */
	assert_int_equal(lun, 2);

	assert_int_equal(cfs_lun_add(t->c, IQN, "missing", &lun), -ENOENT);
	assert_non_null(strstr(cfs_error(t->c), "missing"));
	assert_false(exists(P(t, "%s/lun/lun_3", TPG)));
	assert_int_equal(cfs_lun_add(t->c, "iqn.2025-01.x:none", "sp1", &lun), -ENOENT);
	assert_non_null(strstr(cfs_error(t->c), "iqn.2025-01.x:none"));
	assert_int_equal(cfs_lun_remove(t->c, "iqn.2025-01.x:none", 0), 0);
}

/* add (cfs_lun_add or cfs_lun_add_any) gives backstore bs LUN number want, linked to
 * dev (a path under the root). */
static void lun_added(struct t *t, int (*add)(struct cfs *, const char *, const char *,
					      uint64_t *),
		      const char *bs, uint64_t want, const char *dev)
{
	uint64_t lun = 99;

	assert_int_equal(add(t->c, IQN, bs, &lun), 0);
	assert_int_equal(lun, want);
	assert_string_equal(only_link(P(t, "%s/lun/lun_%" PRIu64, TPG, want)), P(t, "%s", dev));
}

/*
 * Any free LUN number (anon.c: each session's ACL maps its own LUN numbers): the one
 * after the last it gave, by mkdir alone; taken numbers are stepped over; when every
 * probe is taken, the lowest free from a listing, and then past the highest.
 */
static void test_lun_add_any(void **state)
{
	struct t *t = *state;
	const char *dev = "core/user_0/sp1";
	uint64_t lun;

	make_target(t);
	make_bs(t, "sp1");
	lun_added(t, cfs_lun_add_any, "sp1", 0, dev);
	lun_added(t, cfs_lun_add_any, "sp1", 1, dev);
	/* A freed number is not reused at once: the next one after the last. */
	assert_int_equal(cfs_lun_remove(t->c, IQN, 0), 0);
	lun_added(t, cfs_lun_add_any, "sp1", 2, dev);
	/* lun_3 made by someone else: stepped over. */
	assert_int_equal(mkdir(P(t, "%s/lun/lun_3", TPG), 0755), 0);
	lun_added(t, cfs_lun_add_any, "sp1", 4, dev);
	/* Every probe taken (5..8): the lowest free (0), then on past the highest (9). */
	for (int i = 5; i <= 8; i++)
		assert_int_equal(mkdir(P(t, "%s/lun/lun_%d", TPG, i), 0755), 0);
	lun_added(t, cfs_lun_add_any, "sp1", 0, dev);
	lun_added(t, cfs_lun_add_any, "sp1", 9, dev);
	/* cfs_lun_add still takes the lowest free. */
	assert_int_equal(cfs_lun_remove(t->c, IQN, 1), 0);
	lun_added(t, cfs_lun_add, "sp1", 1, dev);
	/* Errors as cfs_lun_add, nothing made. */
	assert_int_equal(cfs_lun_add_any(t->c, IQN, "missing", &lun), -ENOENT);
	assert_false(exists(P(t, "%s/lun/lun_10", TPG)));
	assert_int_equal(cfs_lun_add_any(t->c, "iqn.2025-01.x:none", "sp1", &lun), -ENOENT);
}

/* What cfs_list_lun_backstores reported, one "<lun>=<hba>/<dev>" each. */
struct lun_seen {
	char v[8][64];
	unsigned n, stop_at;
};

static int see_lun(void *arg, uint64_t lun, const char *hba, const char *dev)
{
	struct lun_seen *s = arg;

	assert_true(s->n < 8);
	snprintf(s->v[s->n++], sizeof(s->v[0]), "%" PRIu64 "=%s/%s", lun, hba, dev);
	return s->n == s->stop_at;
}

static void test_lun_backstores(void **state)
{
	struct t *t = *state;
	struct lun_seen s = { .n = 0 };
	uint64_t lun;

	make_target(t);
	assert_int_equal(cfs_list_lun_backstores(t->c, IQN, see_lun, &s), 0);
	assert_int_equal(s.n, 0);  /* no LUNs yet */
	make_bs(t, "sp1");
	make_bs(t, "sp2");
	assert_int_equal(cfs_lun_add(t->c, IQN, "sp1", &lun), 0);
	assert_int_equal(cfs_lun_add(t->c, IQN, "sp2", &lun), 0);
	/* A lun_N without its link, and a directory that is no LUN: skipped. */
	assert_int_equal(mkdir(P(t, "%s/lun/lun_7", TPG), 0755), 0);
	assert_int_equal(mkdir(P(t, "%s/lun/other", TPG), 0755), 0);
	assert_int_equal(cfs_list_lun_backstores(t->c, IQN, see_lun, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.v[0], "0=user_0/sp1");
	assert_string_equal(s.v[1], "1=user_1/sp2");
	/* The callback stops it. */
	s = (struct lun_seen){ .stop_at = 1 };
	assert_int_equal(cfs_list_lun_backstores(t->c, IQN, see_lun, &s), 0);
	assert_int_equal(s.n, 1);
	/* A missing target lists nothing; a bad IQN is refused. */
	s = (struct lun_seen){ .n = 0 };
	assert_int_equal(cfs_list_lun_backstores(t->c, "iqn.2025-01.x:none", see_lun, &s), 0);
	assert_int_equal(s.n, 0);
	assert_true(cfs_list_lun_backstores(t->c, "bad/iqn", see_lun, &s) < 0);
	assert_int_equal(s.n, 0);
}

/* ---- ACLs ---- */

static void test_acl_map(void **state)
{
	struct t *t = *state;
	uint64_t l0, l1;
	char m0[PATH_MAX];

	make_target(t);
	make_bs(t, "sp1");
	make_bs(t, "sp2");
	assert_int_equal(cfs_lun_add(t->c, IQN, "sp1", &l0), 0);
	assert_int_equal(cfs_lun_add(t->c, IQN, "sp2", &l1), 0);

	assert_int_equal(cfs_acl_map(t->c, IQN, INI, 0, l0), 0);
	snprintf(m0, sizeof(m0), "%s", P(t, "%s/acls/%s/lun_0", TPG, INI));
	assert_string_equal(only_link(m0), P(t, "%s/lun/lun_0", TPG));
	assert_true(isdir(P(t, "%s/acls/%s/attrib", TPG, INI)));
	assert_int_equal(cfs_acl_map(t->c, IQN, INI, 0, l0), 0); /* idempotent */
	assert_string_equal(only_link(m0), P(t, "%s/lun/lun_0", TPG));

	/* Remap: the link is replaced, still exactly one. */
	assert_int_equal(cfs_acl_map(t->c, IQN, INI, 0, l1), 0);
	assert_string_equal(only_link(m0), P(t, "%s/lun/lun_1", TPG));

	/* Another initiator sees TPG lun_0 as its LUN 0 (per-initiator mapping). */
	assert_int_equal(cfs_acl_map(t->c, IQN, INI2, 0, l0), 0);
	assert_string_equal(only_link(P(t, "%s/acls/%s/lun_0", TPG, INI2)),
			    P(t, "%s/lun/lun_0", TPG));

	/* Missing TPG LUN: -ENOENT, nothing created. */
	assert_int_equal(cfs_acl_map(t->c, IQN, "iqn.x:new", 0, 5), -ENOENT);
	assert_non_null(strstr(cfs_error(t->c), "lun_5"));
	assert_false(exists(P(t, "%s/acls/iqn.x:new", TPG)));
	assert_int_equal(cfs_acl_map(t->c, IQN, INI, 3, 5), -ENOENT);
	assert_false(exists(P(t, "%s/acls/%s/lun_3", TPG, INI)));
	assert_int_equal(cfs_acl_map(t->c, "iqn.2025-01.x:none", INI, 0, 0), -ENOENT);
}

/* NOP-In keepalive on an explicit ACL (issue 4). */
static void test_acl_nopin(void **state)
{
	struct t *t = *state;
	uint64_t l0;

	make_target(t);
	make_bs(t, "sp1");
	assert_int_equal(cfs_lun_add(t->c, IQN, "sp1", &l0), 0);
	/* No ACL yet: -ENOENT, nothing created. */
	assert_int_equal(cfs_acl_set_nopin(t->c, IQN, INI, 5, 5), -ENOENT);
	assert_false(exists(P(t, "%s/acls/%s", TPG, INI)));
	assert_int_equal(cfs_acl_map(t->c, IQN, INI, 0, l0), 0);
	assert_int_equal(cfs_acl_set_nopin(t->c, IQN, INI, 5, 7), 0);
	assert_string_equal(slurp(P(t, "%s/acls/%s/attrib/nopin_timeout", TPG, INI)), "5");
	assert_string_equal(slurp(P(t, "%s/acls/%s/attrib/nopin_response_timeout", TPG, INI)),
			    "7");
	/* Idempotent: values already right are not rewritten (read-only is fine). */
	assert_int_equal(chmod(P(t, "%s/acls/%s/attrib/nopin_timeout", TPG, INI), 0444), 0);
	if (geteuid() != 0)
		assert_int_equal(cfs_acl_set_nopin(t->c, IQN, INI, 5, 7), 0);
	assert_int_equal(chmod(P(t, "%s/acls/%s/attrib/nopin_timeout", TPG, INI), 0644), 0);
	assert_int_equal(cfs_acl_set_nopin(t->c, IQN, INI, 60, 3), 0);
	assert_string_equal(slurp(P(t, "%s/acls/%s/attrib/nopin_timeout", TPG, INI)), "60");
	/* LIO's range is 3..60 s for both. */
	assert_int_equal(cfs_acl_set_nopin(t->c, IQN, INI, 2, 5), -EINVAL);
	assert_non_null(strstr(cfs_error(t->c), "3..60"));
	assert_int_equal(cfs_acl_set_nopin(t->c, IQN, INI, 5, 61), -EINVAL);
	assert_int_equal(cfs_acl_set_nopin(t->c, IQN, INI, 0, 5), -EINVAL);
	assert_string_equal(slurp(P(t, "%s/acls/%s/attrib/nopin_timeout", TPG, INI)), "60");
	/* Unknown target: -ENOENT. */
	assert_int_equal(cfs_acl_set_nopin(t->c, "iqn.x:none", INI, 5, 5), -ENOENT);
}

static void test_removal_order(void **state)
{
	struct t *t = *state;
	uint64_t lun;

	make_target(t);
	make_bs(t, "sp1");
	assert_int_equal(cfs_lun_add(t->c, IQN, "sp1", &lun), 0);
	assert_int_equal(cfs_acl_map(t->c, IQN, INI, 0, lun), 0);

	/* A backstore linked by a LUN: -EBUSY, as configfs (s_links), nothing lost. */
	assert_int_equal(cfs_backstore_remove(t->c, "sp1"), -EBUSY);
	assert_non_null(strstr(cfs_error(t->c), "core/user_0/sp1"));
	assert_string_equal(slurp(P(t, "core/user_0/sp1/enable")), "1");
	assert_string_equal(slurp(P(t, "core/user_0/sp1/wwn/vpd_unit_serial")), "sp1");

	/* A TPG LUN mapped by an ACL: -EBUSY, its link kept. */
	assert_int_equal(cfs_lun_remove(t->c, IQN, lun), -EBUSY);
	assert_non_null(strstr(cfs_error(t->c), INI));
	assert_string_equal(only_link(P(t, "%s/lun/lun_0", TPG)), P(t, "core/user_0/sp1"));

	/* Nor the TPG dir, which still has children. */
	assert_int_equal(cfs_rmdir_obj(t->c, TPG, cfs_tpg_groups), -ENOTEMPTY);
	assert_non_null(strstr(cfs_error(t->c), "is left"));

	assert_int_equal(cfs_acl_remove(t->c, IQN, INI), 0);
	assert_false(exists(P(t, "%s/acls/%s", TPG, INI)));
	assert_int_equal(cfs_acl_remove(t->c, IQN, INI), 0);
	assert_int_equal(cfs_rmdir_obj(t->c, TPG, cfs_tpg_groups), -ENOTEMPTY);
	assert_non_null(strstr(cfs_error(t->c), "lun_0"));
	assert_int_equal(cfs_lun_remove(t->c, IQN, lun), 0);
	assert_int_equal(cfs_lun_remove(t->c, IQN, lun), 0);
	assert_int_equal(cfs_backstore_remove(t->c, "sp1"), 0);
	assert_false(exists(P(t, "core/user_0")));
	assert_int_equal(cfs_backstore_remove(t->c, "sp1"), 0);

	/* After its only ACL went: removed without looking at the other ACLs. */
	make_bs(t, "sp2");
	assert_int_equal(cfs_lun_add(t->c, IQN, "sp2", &lun), 0);
	assert_int_equal(cfs_acl_map(t->c, IQN, INI, 0, lun), 0);
	assert_int_equal(cfs_acl_remove(t->c, IQN, INI), 0);
	assert_int_equal(cfs_lun_remove_unmapped(t->c, IQN, lun), 0);
	assert_false(exists(P(t, "%s/lun/lun_%llu", TPG, (unsigned long long)lun)));
	assert_int_equal(cfs_lun_remove_unmapped(t->c, IQN, lun), 0); /* absent: 0 */
	assert_int_equal(cfs_backstore_remove(t->c, "sp2"), 0);
	assert_int_equal(cfs_target_remove(t->c, IQN), 0);
	assert_false(exists(P(t, "iscsi/%s", IQN)));
}

/* ---- sweep ---- */

static void test_sweep(void **state)
{
	struct t *t = *state;
	uint64_t lo, l1, l2;
	unsigned removed = 99;
	char path[PATH_MAX];

	make_target(t);
	make_bs(t, "other");                 /* user_0: not ours (targetcli) */
	make_bs(t, "sp1");                   /* user_1 */
	make_bs(t, "sp2");                   /* user_2 */
	/* A targetcli fileio object in an HBA of another plugin. */
	assert_int_equal(mkdir(P(t, "core/fileio_0"), 0755), 0);
	assert_int_equal(mkdir(P(t, "core/fileio_0/sp9"), 0755), 0);
	assert_int_equal(cfs_lun_add(t->c, IQN, "other", &lo), 0);
	assert_int_equal(cfs_lun_add(t->c, IQN, "sp1", &l1), 0);
	assert_int_equal(cfs_lun_add(t->c, IQN, "sp2", &l2), 0);
	assert_int_equal(cfs_acl_map(t->c, IQN, "iqn.x:keep", 0, lo), 0);
	assert_int_equal(cfs_acl_map(t->c, IQN, "iqn.x:mixed", 0, lo), 0);
	assert_int_equal(cfs_acl_map(t->c, IQN, "iqn.x:mixed", 1, l1), 0);
	assert_int_equal(cfs_acl_map(t->c, IQN, "iqn.x:gone", 0, l1), 0);
	assert_int_equal(cfs_acl_map(t->c, IQN, "iqn.x:gone", 1, l2), 0);
	assert_int_equal(mkdir(P(t, "%s/acls/iqn.x:empty", TPG), 0755), 0);

	assert_int_equal(cfs_sweep(t->c, "", &removed), -EINVAL);
	assert_int_equal(removed, 0);
	assert_int_equal(cfs_sweep(t->c, "sp", &removed), 0);
	/* gone: 2 mapped + ACL; mixed: 1 mapped; 2 TPG LUNs; 2 backstores */
	assert_int_equal(removed, 8);
	assert_false(exists(P(t, "%s/acls/iqn.x:gone", TPG)));
	assert_false(exists(P(t, "%s/acls/iqn.x:mixed/lun_1", TPG)));
	assert_string_equal(only_link(P(t, "%s/acls/iqn.x:mixed/lun_0", TPG)),
			    P(t, "%s/lun/lun_0", TPG));
	assert_true(isdir(P(t, "%s/acls/iqn.x:keep/lun_0", TPG)));
	assert_true(isdir(P(t, "%s/acls/iqn.x:empty", TPG)));
	assert_true(isdir(P(t, "%s/lun/lun_0", TPG)));
	assert_false(exists(P(t, "%s/lun/lun_1", TPG)));
	assert_false(exists(P(t, "%s/lun/lun_2", TPG)));
	assert_int_equal(cfs_backstore_path(t->c, "other", path, sizeof(path)), 0);
	assert_false(exists(P(t, "core/user_1")));
	assert_false(exists(P(t, "core/user_2")));
	assert_true(isdir(P(t, "core/fileio_0/sp9")));
	assert_true(isdir(P(t, "%s/np/127.0.0.1:3262", TPG)));

	assert_int_equal(cfs_sweep(t->c, "sp", &removed), 0); /* nothing left */
	assert_int_equal(removed, 0);
}

/* ---- listings ---- */

struct names {
	char v[8][64];
	int n, stop_at;
};

static int collect(const char *name, void *arg)
{
	struct names *ns = arg;

	assert_true(ns->n < 8);
	snprintf(ns->v[ns->n++], sizeof(ns->v[0]), "%s", name);
	return ns->stop_at && ns->n >= ns->stop_at;
}

static void test_lists(void **state)
{
	struct t *t = *state;
	struct names ns;
	uint64_t lun;

	memset(&ns, 0, sizeof(ns));
	assert_int_equal(cfs_list_targets(t->c, collect, &ns), 0); /* no iscsi/ yet */
	assert_int_equal(ns.n, 0);
	assert_int_equal(cfs_list_acls(t->c, IQN, collect, &ns), -ENOENT);

	make_target(t);
	assert_int_equal(cfs_target_ensure(t->c, "iqn.2025-01.pub.scsipub:image.a", "127.0.0.1:3262"), 0);
	assert_int_equal(mkdir(P(t, "iscsi/discovery_auth"), 0755), 0);
	assert_int_equal(cfs_list_targets(t->c, collect, &ns), 0);
	assert_int_equal(ns.n, 2);
	assert_string_equal(ns.v[0], IQN);
	assert_string_equal(ns.v[1], "iqn.2025-01.pub.scsipub:image.a");

	make_bs(t, "sp10");
	make_bs(t, "sp2");
	make_bs(t, "sp1");
	memset(&ns, 0, sizeof(ns));
	assert_int_equal(cfs_list_backstores(t->c, collect, &ns), 0);
	assert_int_equal(ns.n, 3);
	assert_string_equal(ns.v[0], "sp1"); /* version order across HBAs */
	assert_string_equal(ns.v[1], "sp2");
	assert_string_equal(ns.v[2], "sp10");
	memset(&ns, 0, sizeof(ns));
	ns.stop_at = 2;
	assert_int_equal(cfs_list_backstores(t->c, collect, &ns), 0);
	assert_int_equal(ns.n, 2);

	assert_int_equal(cfs_lun_add(t->c, IQN, "sp1", &lun), 0);
	assert_int_equal(cfs_acl_map(t->c, IQN, INI2, 0, lun), 0);
	assert_int_equal(cfs_acl_map(t->c, IQN, INI, 0, lun), 0);
	memset(&ns, 0, sizeof(ns));
	assert_int_equal(cfs_list_acls(t->c, IQN, collect, &ns), 0);
	assert_int_equal(ns.n, 2);
	assert_string_equal(ns.v[0], INI);
	assert_string_equal(ns.v[1], INI2);
}

/* ---- names ---- */

static void test_bad_names(void **state)
{
	struct t *t = *state;
	char big[300];
	uint64_t lun;

	assert_int_equal(cfs_target_ensure(t->c, "iqn.a/b", "127.0.0.1:3262"), -EINVAL);
	assert_non_null(strstr(cfs_error(t->c), "'/'"));
	assert_int_equal(cfs_target_ensure(t->c, "..", "127.0.0.1:3262"), -EINVAL);
	assert_non_null(strstr(cfs_error(t->c), "target IQN"));
	assert_int_equal(cfs_target_ensure(t->c, "", "127.0.0.1:3262"), -EINVAL);
	assert_non_null(strstr(cfs_error(t->c), "empty"));
	assert_int_equal(cfs_target_ensure(t->c, "iqn.a\nb", "127.0.0.1:3262"), -EINVAL);
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[CFS_IQN_MAX + 1] = '\0'; /* 224 bytes: one too many for an IQN */
	assert_int_equal(cfs_target_ensure(t->c, big, "127.0.0.1:3262"), -ENAMETOOLONG);
	assert_non_null(strstr(cfs_error(t->c), "longer than 223"));
	assert_int_equal(cfs_target_remove(t->c, "../x"), -EINVAL);

	big[CFS_IQN_MAX + 1] = 'q';
	assert_int_equal(cfs_backstore_create(t->c, big, MIB, "cow/x", "s"), -ENAMETOOLONG);
	assert_non_null(strstr(cfs_error(t->c), "backstore name"));
	assert_int_equal(cfs_backstore_create(t->c, "sp/1", MIB, "cow/x", NULL), -EINVAL);
	assert_int_equal(cfs_backstore_remove(t->c, ".."), -EINVAL);
	assert_int_equal(cfs_backstore_remove(t->c, "a/b"), -EINVAL);

	make_target(t);
	make_bs(t, "sp1");
	assert_int_equal(cfs_lun_add(t->c, IQN, "../sp1", &lun), -EINVAL);
	assert_int_equal(cfs_lun_add(t->c, IQN, "sp1", &lun), 0);
	assert_int_equal(cfs_acl_map(t->c, IQN, "iqn.x/../../y", 0, lun), -EINVAL);
	assert_non_null(strstr(cfs_error(t->c), "initiator IQN"));
	assert_int_equal(cfs_acl_map(t->c, IQN, big, 0, lun), -ENAMETOOLONG);
	assert_int_equal(cfs_acl_remove(t->c, IQN, "."), -EINVAL);
	/* Nothing escaped the tree. */
	assert_false(exists(P(t, "iscsi/iqn.a")));
	assert_false(exists(P(t, "core/user_1")));
	assert_false(exists(P(t, "%s/acls/iqn.x", TPG)));
}

static void test_missing_root(void **state)
{
	struct t *t = *state;
	struct cfs *c = cfs_open(P(t, "nonexistent"));

	assert_non_null(c);
	assert_int_equal(cfs_target_ensure(c, IQN, "127.0.0.1:3262"), -ENOENT);
	assert_non_null(strstr(cfs_error(c), "nonexistent"));
	assert_non_null(strstr(cfs_error(c), strerror(ENOENT)));
	cfs_close(c);
}

/* ---- ls ---- */

static void test_ls(void **state)
{
	struct t *t = *state;
	char *buf = NULL;
	size_t len = 0;
	uint64_t lun;
	FILE *f;

	make_target(t);
	assert_int_equal(cfs_backstore_create(t->c, "sp1", MIB, "cow/x", "SER-77"), 0);
	assert_int_equal(cfs_lun_add(t->c, IQN, "sp1", &lun), 0);
	assert_int_equal(cfs_acl_map(t->c, IQN, INI, 0, lun), 0);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(cfs_ls(t->c, f), 0);
	fclose(f);
	assert_non_null(strstr(buf, "  " IQN "\n"));
	assert_non_null(strstr(buf, "tpgt_1 enable=1\n"));
	assert_non_null(strstr(buf, "portal 127.0.0.1:3262\n"));
	assert_non_null(strstr(buf, "      lun_0 -> user_0/sp1\n"));
	assert_non_null(strstr(buf, "      acl " INI "\n        lun_0 -> lun_0\n"));
	assert_non_null(strstr(buf, "  sp1 hba=user_0 enable=1 serial=SER-77\n"));
	free(buf);
}

/* ---- helpers ---- */

static void test_helpers(void **state)
{
	struct t *t = *state;
	uint64_t v, idx[] = { 0, 1, 3 }, none[1];
	char a[CFS_ALIAS_LEN + 1], b[CFS_ALIAS_LEN + 1];

	assert_int_equal(cfs_parse_index("lun_12", "lun_", &v), 0);
	assert_int_equal(v, 12);
	assert_int_equal(cfs_parse_index("lun_012", "lun_", &v), -EINVAL);
	assert_int_equal(cfs_parse_index("lun_", "lun_", &v), -EINVAL);
	assert_int_equal(cfs_parse_index("lun_1x", "lun_", &v), -EINVAL);
	assert_int_equal(cfs_parse_index("lun_-1", "lun_", &v), -EINVAL);
	assert_int_equal(cfs_parse_index("lun_99999999999999999999", "lun_", &v), -EINVAL);
	assert_true(cfs_hba_index("rd_mcp_4", &v));
	assert_int_equal(v, 4);
	assert_false(cfs_hba_index("alua", &v));
	assert_false(cfs_hba_index("_3", &v));
	assert_int_equal(cfs_lowest_free(idx, 3), 2);
	assert_int_equal(cfs_lowest_free(none, 0), 0);
	cfs_alias("core/user_0/sp1", a);
	cfs_alias("core/user_0/sp1", b);
	assert_string_equal(a, b);
	assert_int_equal(strspn(a, "0123456789abcdef"), CFS_ALIAS_LEN);
	cfs_alias("core/user_0/sp2", b);
	assert_string_not_equal(a, b);
	assert_string_equal(cfs_error(t->c), "no error");
}

/* ---- demo-mode targets, dynamic sessions, LUN at a number (issue 3) ---- */

#define DIQN "iqn.2025-01.pub.scsipub:s.abc123"
#define DTPG "iscsi/" DIQN "/tpgt_1"
#define SECRET "secret-123456"

static void test_target_ensure_demo(void **state)
{
	struct t *t = *state;
	static const char *const attrs[][2] = {
		{ "generate_node_acls", "1" },      { "cache_dynamic_acls", "1" },
		{ "demo_mode_write_protect", "0" }, { "prod_mode_write_protect", "0" },
		{ "demo_mode_discovery", "0" },     { "authentication", "1" },
	};
	size_t i;

	assert_int_equal(cfs_target_ensure_demo(t->c, DIQN, "127.0.0.1:3262", "u1", SECRET), 0);
	for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
		assert_string_equal(slurp(P(t, "%s/attrib/%s", DTPG, attrs[i][0])), attrs[i][1]);
	assert_string_equal(slurp(P(t, "%s/auth/userid", DTPG)), "u1");
	assert_string_equal(slurp(P(t, "%s/auth/password", DTPG)), SECRET);
	assert_string_equal(slurp(P(t, "%s/param/HeaderDigest", DTPG)), "CRC32C,None");
	assert_string_equal(slurp(P(t, "%s/param/DataDigest", DTPG)), "CRC32C,None");
	assert_string_equal(slurp(P(t, "%s/enable", DTPG)), "1");
	assert_true(isdir(P(t, "%s/np/127.0.0.1:3262", DTPG)));

	/* Idempotent, and values already right are not rewritten: a read-only enable
	 * (as the kernel refusing enable=1 twice) does not fail the call. */
	assert_int_equal(chmod(P(t, "%s/enable", DTPG), 0444), 0);
	assert_int_equal(chmod(P(t, "%s/attrib/authentication", DTPG), 0444), 0);
	if (geteuid() != 0)
		assert_int_equal(cfs_target_ensure_demo(t->c, DIQN, "127.0.0.1:3262", "u1", SECRET),
				 0);
	assert_int_equal(chmod(P(t, "%s/enable", DTPG), 0644), 0);
	assert_int_equal(chmod(P(t, "%s/attrib/authentication", DTPG), 0644), 0);
	/* A new secret is written in place. */
	assert_int_equal(cfs_target_ensure_demo(t->c, DIQN, "127.0.0.1:3262", "u1",
						"another-secret"), 0);
	assert_string_equal(slurp(P(t, "%s/auth/password", DTPG)), "another-secret");

	/* Credential checks, nothing created. */
	assert_int_equal(cfs_target_ensure_demo(t->c, "iqn.x:new", "127.0.0.1:3262", "u1",
						"short"), -EINVAL);
	assert_non_null(strstr(cfs_error(t->c), "secret"));
	assert_int_equal(cfs_target_ensure_demo(t->c, "iqn.x:new", "127.0.0.1:3262", "u1",
						"has a space!!"), -EINVAL);
	assert_int_equal(cfs_target_ensure_demo(t->c, "iqn.x:new", "127.0.0.1:3262", "",
						SECRET), -EINVAL);
	assert_int_equal(cfs_target_ensure_demo(t->c, "iqn.x:new", "127.0.0.1:3262", NULL,
						SECRET), -EINVAL);
	assert_int_equal(cfs_target_ensure_demo(t->c, "iqn.x:new", "127.0.0.1:3262", "u\x01",
						SECRET), -EINVAL);
	assert_int_equal(cfs_target_ensure_demo(t->c, "iqn.x:new", "bad", "u1", SECRET),
			 -EINVAL);
	assert_false(exists(P(t, "iscsi/iqn.x:new")));
	{
		char big[CFS_CHAP_SECRET_MAX + 2];

		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		assert_int_equal(cfs_target_ensure_demo(t->c, "iqn.x:new", "127.0.0.1:3262", "u1",
							big), -EINVAL);
		big[CFS_CHAP_SECRET_MAX] = '\0';
		assert_int_equal(cfs_target_ensure_demo(t->c, "iqn.x:new", "127.0.0.1:3262", "u1",
							big), 0);
	}
	assert_int_equal(cfs_target_remove(t->c, DIQN), 0);
	assert_false(exists(P(t, "iscsi/" DIQN)));
}

static void write_file(const char *p, const void *data, size_t n)
{
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	fclose(f);
}

/* A fake index space for cfs_claim_index: taken[k] marks index k (0..7) as made. */
struct fake_space {
	bool taken[8];
	bool appear;     /* index 1 appears between the listing and its mkdir */
	unsigned lists, makes, fulls;
};

static int fake_list(struct cfs *c, void *arg, uint64_t **idx, size_t *n)
{
	struct fake_space *f = arg;

	(void)c;
	f->lists++;
	*idx = calloc(8, sizeof(**idx));
	assert_non_null(*idx);
	*n = 0;
	for (uint64_t k = 0; k < 8; k++)
		if (f->taken[k])
			(*idx)[(*n)++] = k;
	if (f->appear)
		f->taken[1] = true;
	return 0;
}

static int fake_make(struct cfs *c, void *arg, uint64_t k, bool *made)
{
	struct fake_space *f = arg;

	(void)c;
	assert_true(k < 8);
	f->makes++;
	*made = !f->taken[k];
	f->taken[k] = true;
	return 0;
}

static int fake_full(struct cfs *c, void *arg)
{
	((struct fake_space *)arg)->fulls++;
	return cfs_fail(c, -ENOSPC, "full");
}

/* cfs_claim_index: probes first, then the lowest free index after one listing. */
static void test_claim_index(void **state)
{
	struct t *t = *state;
	struct fake_space f = { .taken = { [0] = true, [2] = true } };
	uint64_t next = 2, got = 99;
	struct cfs_claim w = { .next = &next, .last = 3, .probes = 2, .list = fake_list,
			       .make = fake_make, .full = fake_full, .arg = &f };

	/* Probes: 2 is taken, 3 is free; no listing. */
	assert_int_equal(cfs_claim_index(t->c, &w, &got), 0);
	assert_int_equal(got, 3);
	assert_int_equal(f.lists, 0);
	assert_int_equal(next, 0); /* past the last index: back to 0 */
	/* Probes at 0 and 1: 1 is free. */
	assert_int_equal(cfs_claim_index(t->c, &w, &got), 0);
	assert_int_equal(got, 1);
	/* No probes: one listing, the lowest free index, next past the highest listed. */
	f = (struct fake_space){ .taken = { [0] = true, [3] = true } };
	w.probes = 0;
	assert_int_equal(cfs_claim_index(t->c, &w, &got), 0);
	assert_int_equal(got, 1);
	assert_int_equal(f.lists, 1);
	assert_int_equal(next, 0);
	/* An index made between the listing and its mkdir is skipped. */
	f = (struct fake_space){ .taken = { [0] = true }, .appear = true };
	assert_int_equal(cfs_claim_index(t->c, &w, &got), 0);
	assert_int_equal(got, 2);
	/* Every index up to last taken: the caller's refusal, nothing made. */
	f = (struct fake_space){ .taken = { true, true, true, true } };
	w.probes = 1;
	next = 0;
	assert_int_equal(cfs_claim_index(t->c, &w, &got), -ENOSPC);
	assert_int_equal(f.fulls, 1);
	assert_int_equal(f.makes, 1); /* the probe only */
	assert_false(f.taken[4]);
}

/* The mtime of p, seconds. */
static time_t mtime_of(const char *p)
{
	struct stat st;

	assert_int_equal(stat(p, &st), 0);
	return st.st_mtim.tv_sec;
}

/* 2000-01-01 in seconds: age() sets it, so a write shows as a new mtime. */
#define AGED_S 946684800

/* Set p's times to AGED_S. */
static void age(const char *p)
{
	const struct timespec old[2] = { { AGED_S, 0 }, { AGED_S, 0 } };

	assert_int_equal(utimensat(AT_FDCWD, p, old, 0), 0);
}

/* cfs_ensure: a value already there is not written; another replaces it whole. */
static void test_ensure(void **state)
{
	struct t *t = *state;
	char f[PATH_MAX], big[CFS_ENSURE_READ_MAX + 8];

	snprintf(f, sizeof(f), "%s", P(t, "grp/attr"));
	assert_int_equal(mkdir(P(t, "grp"), 0755), 0);
	/* Missing (plain mode's file not made yet): written. */
	assert_int_equal(cfs_ensure(t->c, "5", "grp/attr"), 0);
	assert_string_equal(slurp(f), "5");
	/* The same value, shown with a newline as configfs does: left alone. */
	write_file(f, "5\n", 2);
	age(f);
	assert_int_equal(cfs_ensure(t->c, "5", "grp/attr"), 0);
	assert_int_equal(mtime_of(f), AGED_S);
	assert_string_equal(slurp(f), "5\n");
	/* Another value, shorter than the one there: replaces it whole. */
	write_file(f, "12345\n", 6);
	age(f);
	assert_int_equal(cfs_ensure(t->c, "7", "grp/attr"), 0);
	assert_string_equal(slurp(f), "7");
	assert_true(mtime_of(f) != AGED_S);
	/* A text that fills the read buffer may go on: counted as different, written. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	write_file(f, big, sizeof(big) - 1);
	big[CFS_ENSURE_READ_MAX] = '\0';
	age(f);
	assert_int_equal(cfs_ensure(t->c, big, "grp/attr"), 0);
	assert_string_equal(slurp(f), big);
}

static void test_target_sessions(void **state)
{
	struct t *t = *state;
	struct names ns = { .n = 0 };
	static const char two[] = "iqn.1993-08.org.debian:01:a\n\0iqn.1993-08.org.debian:01:b\n\0";

	assert_int_equal(cfs_target_sessions(t->c, DIQN, collect, &ns), -ENOENT);
	assert_non_null(strstr(cfs_error(t->c), DIQN));
	assert_int_equal(cfs_target_ensure_demo(t->c, DIQN, "127.0.0.1:3262", "u1", SECRET), 0);
	/* No file (plain mode) and an empty file: no calls. */
	assert_int_equal(cfs_target_sessions(t->c, DIQN, collect, &ns), 0);
	assert_int_equal(ns.n, 0);
	write_file(P(t, "%s/dynamic_sessions", DTPG), "", 0);
	assert_int_equal(cfs_target_sessions(t->c, DIQN, collect, &ns), 0);
	assert_int_equal(ns.n, 0);
	/* The kernel's "\n\0" separators (sizeof - 1: the literal's own NUL excluded). */
	write_file(P(t, "%s/dynamic_sessions", DTPG), two, sizeof(two) - 1);
	assert_int_equal(cfs_target_sessions(t->c, DIQN, collect, &ns), 0);
	assert_int_equal(ns.n, 2);
	assert_string_equal(ns.v[0], "iqn.1993-08.org.debian:01:a");
	assert_string_equal(ns.v[1], "iqn.1993-08.org.debian:01:b");
	/* Stop early. */
	ns.n = 0;
	ns.stop_at = 1;
	assert_int_equal(cfs_target_sessions(t->c, DIQN, collect, &ns), 0);
	assert_int_equal(ns.n, 1);
	/* A plain newline list (no NULs) parses the same. */
	ns.n = 0;
	ns.stop_at = 0;
	write_file(P(t, "%s/dynamic_sessions", DTPG), "iqn.x:1\niqn.x:2\n", 16);
	assert_int_equal(cfs_target_sessions(t->c, DIQN, collect, &ns), 0);
	assert_int_equal(ns.n, 2);
	assert_string_equal(ns.v[1], "iqn.x:2");
}

/* Issue 8 §4: a demo-mode TPG's dynamic ACL of a name with no session, no explicit ACL
 * and no PR registration is swept (mkdir + rmdir of acls/<name>); anything else is
 * left alone, and nothing is ever left behind in acls/. */
static void test_acl_sweep_dynamic(void **state)
{
	struct t *t = *state;
	static const char sess[] = "iqn.x:live\n\0";
	static const char regs[] = "iSCSI Node: iqn.x:registered,i,0x23d000001 Key: "
				   "0x0000000000000abc PRgen: 0x00000001\n";

	/* No target: -ENOENT. Not demo mode (anonymous target): left alone. */
	assert_int_equal(cfs_acl_sweep_dynamic(t->c, DIQN, "iqn.x:a"), -ENOENT);
	make_target(t);
	assert_int_equal(cfs_acl_sweep_dynamic(t->c, IQN, "iqn.x:a"), 0);
	assert_int_equal(cfs_target_ensure_demo(t->c, DIQN, "127.0.0.1:3262", "u1", SECRET), 0);
	make_bs(t, "pvabc123l0");
	make_bs(t, "pvabc123l1");
	assert_int_equal(cfs_lun_add_at(t->c, DIQN, "pvabc123l0", 0), 0);
	assert_int_equal(cfs_lun_add_at(t->c, DIQN, "pvabc123l1", 1), 0);
	/* A failed login's name: swept, acls/ stays empty. */
	assert_int_equal(cfs_acl_sweep_dynamic(t->c, DIQN, "iqn.x:failed"), 1);
	assert_false(exists(P(t, "%s/acls/iqn.x:failed", DTPG)));
	/* A name with a live session (dynamic_sessions, any letter case): left alone. */
	write_file(P(t, "%s/dynamic_sessions", DTPG), sess, sizeof(sess) - 1);
	assert_int_equal(cfs_acl_sweep_dynamic(t->c, DIQN, "iqn.x:live"), 0);
	assert_int_equal(cfs_acl_sweep_dynamic(t->c, DIQN, "IQN.X:LIVE"), 0);
	assert_false(exists(P(t, "%s/acls/iqn.x:live", DTPG)));
	assert_int_equal(cfs_acl_sweep_dynamic(t->c, DIQN, "iqn.x:liv"), 1);
	/* A name holding a PR registration on LUN 1's device: left alone; a name that only
	 * starts like it is not. */
	write_file(P(t, "core/user_1/pvabc123l1/pr/res_pr_registered_i_pts"), regs,
		   sizeof(regs) - 1);
	assert_int_equal(cfs_acl_sweep_dynamic(t->c, DIQN, "iqn.x:registered"), 0);
	assert_int_equal(cfs_acl_sweep_dynamic(t->c, DIQN, "iqn.x:register"), 1);
	/* An explicit ACL (PR restore) is never touched. */
	assert_int_equal(cfs_acl_map(t->c, DIQN, "iqn.x:explicit", 0, 0), 0);
	assert_int_equal(cfs_acl_sweep_dynamic(t->c, DIQN, "iqn.x:explicit"), 0);
	assert_true(isdir(P(t, "%s/acls/iqn.x:explicit/lun_0", DTPG)));
	/* A name that cannot be a configfs directory. */
	assert_int_equal(cfs_acl_sweep_dynamic(t->c, DIQN, "../x"), -EINVAL);
	assert_int_equal(cfs_target_remove(t->c, DIQN), 0);
	assert_int_equal(cfs_target_remove(t->c, IQN), 0);
}

static void test_lun_add_at(void **state)
{
	struct t *t = *state;

	assert_int_equal(cfs_target_ensure_demo(t->c, DIQN, "127.0.0.1:3262", "u1", SECRET), 0);
	make_bs(t, "pvabc123l0");
	make_bs(t, "pvabc123l1");
	assert_int_equal(cfs_lun_add_at(t->c, DIQN, "pvabc123l1", 1), 0);
	assert_string_equal(only_link(P(t, "%s/lun/lun_1", DTPG)), P(t, "core/user_1/pvabc123l1"));
	assert_false(exists(P(t, "%s/lun/lun_0", DTPG)));
	/* Already linked to this backstore: success, unchanged. */
	assert_int_equal(cfs_lun_add_at(t->c, DIQN, "pvabc123l1", 1), 0);
	assert_string_equal(only_link(P(t, "%s/lun/lun_1", DTPG)), P(t, "core/user_1/pvabc123l1"));
	/* Taken by another backstore. */
	assert_int_equal(cfs_lun_add_at(t->c, DIQN, "pvabc123l0", 1), -EEXIST);
	assert_non_null(strstr(cfs_error(t->c), "pvabc123l1"));
	assert_string_equal(only_link(P(t, "%s/lun/lun_1", DTPG)), P(t, "core/user_1/pvabc123l1"));
	assert_int_equal(cfs_lun_add_at(t->c, DIQN, "pvabc123l0", 0), 0);
	assert_string_equal(only_link(P(t, "%s/lun/lun_0", DTPG)), P(t, "core/user_0/pvabc123l0"));
	/* A lun dir without a link is not ours to reuse. */
	assert_int_equal(mkdir(P(t, "%s/lun/lun_7", DTPG), 0755), 0);
	assert_int_equal(cfs_lun_add_at(t->c, DIQN, "pvabc123l0", 7), -EEXIST);
	/* Errors: missing backstore, missing target, out of range; nothing left behind. */
	assert_int_equal(cfs_lun_add_at(t->c, DIQN, "missing", 3), -ENOENT);
	assert_false(exists(P(t, "%s/lun/lun_3", DTPG)));
	assert_int_equal(cfs_lun_add_at(t->c, "iqn.x:none", "pvabc123l0", 0), -ENOENT);
	assert_int_equal(cfs_lun_add_at(t->c, DIQN, "pvabc123l0", 65536), -EINVAL);
	/* The target goes with its LUNs, then the backstores can go. */
	assert_int_equal(cfs_target_remove(t->c, DIQN), 0);
	assert_int_equal(cfs_backstore_remove(t->c, "pvabc123l0"), 0);
	assert_int_equal(cfs_backstore_remove(t->c, "pvabc123l1"), 0);
}

/* The portal's sweep "sp" never touches provisioned "pv" objects, and the reverse. */
static void test_sweep_prefixes(void **state)
{
	struct t *t = *state;
	unsigned removed = 99;
	uint64_t l;
	char path[PATH_MAX];

	make_target(t);
	make_bs(t, "sp0123456789abcdef");
	assert_int_equal(cfs_lun_add(t->c, IQN, "sp0123456789abcdef", &l), 0);
	assert_int_equal(cfs_acl_map(t->c, IQN, INI, 0, l), 0);
	assert_int_equal(cfs_target_ensure_demo(t->c, DIQN, "127.0.0.1:3262", "u1", SECRET), 0);
	make_bs(t, "pvabc123l0");
	make_bs(t, "pvabc123l1");
	assert_int_equal(cfs_lun_add_at(t->c, DIQN, "pvabc123l0", 0), 0);
	assert_int_equal(cfs_lun_add_at(t->c, DIQN, "pvabc123l1", 1), 0);

	assert_int_equal(cfs_sweep(t->c, "sp", &removed), 0);
	assert_int_equal(removed, 4); /* mapped LUN, ACL, TPG LUN, backstore */
	assert_int_equal(cfs_backstore_path(t->c, "sp0123456789abcdef", path, sizeof(path)),
			 -ENOENT);
	assert_int_equal(cfs_backstore_path(t->c, "pvabc123l0", path, sizeof(path)), 0);
	assert_int_equal(cfs_backstore_path(t->c, "pvabc123l1", path, sizeof(path)), 0);
	assert_true(isdir(P(t, "%s/lun/lun_0", DTPG)));
	assert_true(isdir(P(t, "%s/lun/lun_1", DTPG)));
	assert_string_equal(slurp(P(t, "%s/enable", DTPG)), "1");

	make_bs(t, "sp0123456789abcdef");
	assert_int_equal(cfs_lun_add(t->c, IQN, "sp0123456789abcdef", &l), 0);
	assert_int_equal(cfs_sweep(t->c, "pv", &removed), 0);
	assert_int_equal(removed, 4); /* 2 TPG LUNs, 2 backstores */
	assert_int_equal(cfs_backstore_path(t->c, "sp0123456789abcdef", path, sizeof(path)), 0);
	assert_true(isdir(P(t, "%s/lun/lun_%llu", TPG, (unsigned long long)l)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_target_ensure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_target_ensure_remembered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_target_bad_portal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_target_remove_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backstore_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backstore_create_new, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cowstore_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backstore_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backstore_bad_args, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lun_backstores, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lun_add, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lun_add_any, setup, teardown),
		cmocka_unit_test_setup_teardown(test_acl_map, setup, teardown),
		cmocka_unit_test_setup_teardown(test_acl_nopin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ensure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_removal_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_root, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_helpers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_target_ensure_demo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_target_sessions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lun_add_at, setup, teardown),
		cmocka_unit_test_setup_teardown(test_acl_sweep_dynamic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep_prefixes, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
