/*
 * test_device.c — unit tests for tcmu-handler/device.c: uio name parsing, the sysfs
 * helpers over temporary files, device_scan over a fake /sys/class/uio, and
 * device_open/device_close over a fake uio device (a regular file holding a TCMU
 * mailbox) with a fake configfs tree.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_tmpdir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "device.h"
#include "placehint.h"
#include "ring.h"

/* ---- helpers --------------------------------------------------------------------- */

static char tmpdir[64];

static int make_tmpdir(void **state)
{
	(void)state;
	return test_mkdtemp(tmpdir, sizeof(tmpdir), "test_device") ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* mkdir -p of tmpdir/rel. */
static void mkdirs(const char *rel)
{
	char path[1024], *p;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	for (p = path + strlen(tmpdir) + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(path, 0755);
			*p = '/';
		}
	}
	mkdir(path, 0755);
}

/* Write content to tmpdir/rel (creating parent directories). */
static void put_file(const char *rel, const char *content)
{
	char path[1024], dir[1024], *slash;
	FILE *f;

	snprintf(dir, sizeof(dir), "%s", rel);
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		mkdirs(dir);
	}
	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static void get_file(const char *rel, char *buf, size_t len)
{
	char path[1024];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static const char *tpath(const char *rel)
{
	static char path[1024];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	return path;
}

/* ---- device_name_is_foreign --------------------------------------------------------- */

static void test_foreign_names(void **state)
{
	char longsub[300];

	(void)state;
	/* Ours: subtype "cow", with or without a config after it, or a newline. */
	assert_int_equal(device_name_is_foreign("tcm-user/0/t1/cow/size=4096;overlay=/o"), 0);
	assert_int_equal(device_name_is_foreign("tcm-user/0/t1/cow"), 0);
	assert_int_equal(device_name_is_foreign("tcm-user/0/t1/cow/\n"), 0);
	/* tcmu-runner's handlers and other daemons' subtypes. */
	assert_int_equal(device_name_is_foreign("tcm-user/1/q/qcow//var/lib/x.qcow2"), 1);
	assert_int_equal(device_name_is_foreign("tcm-user/2/f/file//tmp/f.img"), 1);
	assert_int_equal(device_name_is_foreign("tcm-user/3/r/rbd/pool/img"), 1);
	assert_int_equal(device_name_is_foreign("tcm-user/3/r/cowboy/x"), 1);
	assert_int_equal(device_name_is_foreign("tcm-user/3/r/co/x"), 1);
	/* No or an empty dev_config: nobody's subtype, certainly not ours. */
	assert_int_equal(device_name_is_foreign("tcm-user/3/dev"), 1);
	assert_int_equal(device_name_is_foreign("tcm-user/3/dev/"), 1);
	/* A subtype longer than struct device_name holds is still foreign. */
	memset(longsub, 'x', sizeof(longsub));
	memcpy(longsub, "tcm-user/4/d/", 13);
	longsub[sizeof(longsub) - 1] = '\0';
	assert_int_equal(device_name_is_foreign(longsub), 1);
	/* Not a tcm-user name: not foreign (answered with an error by the caller). */
	assert_int_equal(device_name_is_foreign(NULL), 0);
	assert_int_equal(device_name_is_foreign(""), 0);
	assert_int_equal(device_name_is_foreign("tcm-user/3"), 0);
	assert_int_equal(device_name_is_foreign("uio-other/0/d/qcow/x"), 0);
}

/* ---- device_parse_uio_name --------------------------------------------------------- */

static void test_parse_good(void **state)
{
	struct device_name n;

	(void)state;
	assert_int_equal(device_parse_uio_name("tcm-user/0/t1/cow/size=67108864;"
					       "overlay=/var/lib/s/t1.ovl;bitmap=/var/b", &n), 0);
	assert_int_equal(n.hba, 0);
	assert_string_equal(n.dev, "t1");
	assert_string_equal(n.config, "cow/size=67108864;overlay=/var/lib/s/t1.ovl;bitmap=/var/b");
	assert_string_equal(n.subtype, "cow");

	/* A trailing newline, as read from sysfs, is ignored. */
	assert_int_equal(device_parse_uio_name("tcm-user/12/disk-a/qcow/x/y\n", &n), 0);
	assert_int_equal(n.hba, 12);
	assert_string_equal(n.dev, "disk-a");
	assert_string_equal(n.config, "qcow/x/y");
	assert_string_equal(n.subtype, "qcow");

	/* No dev_config at all, an empty one, one without '/'. */
	assert_int_equal(device_parse_uio_name("tcm-user/3/dev", &n), 0);
	assert_string_equal(n.dev, "dev");
	assert_string_equal(n.config, "");
	assert_string_equal(n.subtype, "");
	assert_int_equal(device_parse_uio_name("tcm-user/3/dev/", &n), 0);
	assert_string_equal(n.config, "");
	assert_string_equal(n.subtype, "");
	assert_int_equal(device_parse_uio_name("tcm-user/3/dev/file", &n), 0);
	assert_string_equal(n.config, "file");
	assert_string_equal(n.subtype, "file");

	/* Largest hba. */
	assert_int_equal(device_parse_uio_name("tcm-user/4294967295/d/cow/", &n), 0);
	assert_int_equal(n.hba, 4294967295u);
	assert_string_equal(n.subtype, "cow");
	assert_string_equal(n.config, "cow/");
}

static void test_parse_bad(void **state)
{
	struct device_name n;

	(void)state;
	assert_int_equal(device_parse_uio_name(NULL, &n), -EINVAL);
	assert_int_equal(device_parse_uio_name("", &n), -EINVAL);
	assert_int_equal(device_parse_uio_name("uio_pdrv/0/t1", &n), -EINVAL);
	assert_int_equal(device_parse_uio_name("tcm-usr/0/t1/cow/x", &n), -EINVAL);
	assert_int_equal(device_parse_uio_name("tcm-user/", &n), -EINVAL);
	/* bad hba */
	assert_int_equal(device_parse_uio_name("tcm-user/x/t1/cow/x", &n), -EINVAL);
	assert_int_equal(device_parse_uio_name("tcm-user//t1/cow/x", &n), -EINVAL);
	assert_int_equal(device_parse_uio_name("tcm-user/-1/t1", &n), -EINVAL);
	assert_int_equal(device_parse_uio_name("tcm-user/1x/t1", &n), -EINVAL);
	assert_int_equal(device_parse_uio_name("tcm-user/4294967296/t1", &n), -EINVAL);
	assert_int_equal(device_parse_uio_name("tcm-user/99999999999999999999999/t1", &n),
			 -EINVAL);
	/* missing dev */
	assert_int_equal(device_parse_uio_name("tcm-user/0", &n), -EINVAL);
	assert_int_equal(device_parse_uio_name("tcm-user/0/", &n), -EINVAL);
	assert_int_equal(device_parse_uio_name("tcm-user/0/\n", &n), -EINVAL);
	assert_int_equal(device_parse_uio_name("tcm-user/0//cow/x", &n), -EINVAL);
}

static void test_parse_too_long(void **state)
{
	char name[1024], part[400];
	struct device_name n;

	(void)state;
	/* dev of 255 characters fits, 256 does not. */
	memset(part, 'd', 255);
	part[255] = '\0';
	snprintf(name, sizeof(name), "tcm-user/0/%s/cow/x", part);
	assert_int_equal(device_parse_uio_name(name, &n), 0);
	assert_int_equal(strlen(n.dev), 255);
	memset(part, 'd', 256);
	part[256] = '\0';
	snprintf(name, sizeof(name), "tcm-user/0/%s/cow/x", part);
	assert_int_equal(device_parse_uio_name(name, &n), -ENAMETOOLONG);

	/* dev_config of 255 characters (the kernel's limit) fits, 256 does not. */
	memset(part, 'c', 255);
	memcpy(part, "cow/", 4);
	part[255] = '\0';
	snprintf(name, sizeof(name), "tcm-user/0/t1/%s", part);
	assert_int_equal(device_parse_uio_name(name, &n), 0);
	assert_int_equal(strlen(n.config), 255);
	memset(part, 'c', 300);
	memcpy(part, "cow/", 4);
	part[300] = '\0';
	snprintf(name, sizeof(name), "tcm-user/0/t1/%s", part);
	assert_int_equal(device_parse_uio_name(name, &n), -ENAMETOOLONG);

	/* A subtype that does not fit its 64-byte field. */
	memset(part, 's', 64);
	part[64] = '\0';
	snprintf(name, sizeof(name), "tcm-user/0/t1/%s/cfg", part);
	assert_int_equal(device_parse_uio_name(name, &n), -ENAMETOOLONG);
	part[63] = '\0';
	snprintf(name, sizeof(name), "tcm-user/0/t1/%s/cfg", part);
	assert_int_equal(device_parse_uio_name(name, &n), 0);
	assert_int_equal(strlen(n.subtype), 63);
}

/* ---- filesystem helpers ---------------------------------------------------------- */

static void test_write_attr(void **state)
{
	char buf[64];

	(void)state;
	put_file("attr", "");
	assert_int_equal(device_write_attr(tpath("attr"), "1"), 0);
	get_file("attr", buf, sizeof(buf));
	assert_string_equal(buf, "1");
	assert_int_equal(device_write_attr(tpath("missing/attr"), "1"), -ENOENT);
	assert_int_equal(device_write_attr(tpath("nothere"), "1"), -ENOENT);
	mkdirs("adir");
	assert_int_equal(device_write_attr(tpath("adir"), "1"), -EISDIR);
}

static void test_read_uio_name(void **state)
{
	char buf[64];

	(void)state;
	put_file("uio/uio3/name", "tcm-user/0/t1/cow/x\n");
	assert_int_equal(device_read_uio_name(tpath("uio"), 3, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "tcm-user/0/t1/cow/x");
	/* Exactly fits (19 characters + NUL), one byte short. */
	assert_int_equal(device_read_uio_name(tpath("uio"), 3, buf, 20), 0);
	assert_string_equal(buf, "tcm-user/0/t1/cow/x");
	assert_int_equal(device_read_uio_name(tpath("uio"), 3, buf, 19), -ENAMETOOLONG);
	/* Without a newline. */
	put_file("uio/uio4/name", "plain");
	assert_int_equal(device_read_uio_name(tpath("uio"), 4, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "plain");
	assert_int_equal(device_read_uio_name(tpath("uio"), 5, buf, sizeof(buf)), -ENOENT);
}

/* ---- device_scan ----------------------------------------------------------------- */

struct scan_seen {
	int n;
	unsigned minor[8];
	char name[8][128];
	int stop_at;    /* return 42 on this call (1-based); 0 = never */
};

static int scan_cb(void *arg, unsigned minor, const char *name)
{
	struct scan_seen *s = arg;

	if (s->n < 8) {
		s->minor[s->n] = minor;
		snprintf(s->name[s->n], sizeof(s->name[0]), "%s", name);
	}
	s->n++;
	return s->n == s->stop_at ? 42 : 0;
}

static void test_scan(void **state)
{
	struct scan_seen s;
	int i, seen0 = 0, seen12 = 0;

	(void)state;
	put_file("sys/uio0/name", "tcm-user/0/a/cow/size=512;overlay=/o;bitmap=/b\n");
	put_file("sys/uio1/name", "uio_pci_generic\n");
	put_file("sys/uio12/name", "tcm-user/1/b\n");
	mkdirs("sys/uio3");                  /* no name: skipped */
	put_file("sys/uioX/name", "tcm-user/9/x\n"); /* not uio<N> */
	put_file("sys/other/name", "tcm-user/9/y\n");
	put_file("sys/uio", "");

	memset(&s, 0, sizeof(s));
	assert_int_equal(device_scan(tpath("sys"), scan_cb, &s), 0);
	assert_int_equal(s.n, 2);
	for (i = 0; i < 2; i++) {
		if (s.minor[i] == 0) {
			seen0 = 1;
			assert_string_equal(s.name[i],
					    "tcm-user/0/a/cow/size=512;overlay=/o;bitmap=/b");
		} else if (s.minor[i] == 12) {
			seen12 = 1;
			assert_string_equal(s.name[i], "tcm-user/1/b");
		}
	}
	assert_true(seen0 && seen12);

	/* A non-zero return stops the scan and is returned. */
	memset(&s, 0, sizeof(s));
	s.stop_at = 1;
	assert_int_equal(device_scan(tpath("sys"), scan_cb, &s), 42);
	assert_int_equal(s.n, 1);

	/* No directory: no devices. A file instead of a directory: an error. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(device_scan(tpath("nosuchdir"), scan_cb, &s), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(device_scan(tpath("sys/uio"), scan_cb, &s), -ENOTDIR);
}

/* ---- device_open / device_close over a fake uio device --------------------------- */

#define FAKE_CMDR_SIZE 4096u
#define FAKE_MAP_SIZE  (128u + FAKE_CMDR_SIZE + 4096u)

/* A fake /dev/uio<minor> (a file holding an empty mailbox) and its sysfs entries. */
static void make_fake_uio(unsigned minor, const char *name)
{
	char rel[1024], num[32];
	uint8_t *map = calloc(1, FAKE_MAP_SIZE);
	uint16_t version = TCMU_MAILBOX_VERSION;
	uint32_t off = sizeof(struct tcmu_mailbox), size = FAKE_CMDR_SIZE;
	FILE *f;

	assert_non_null(map);
	memcpy(map + offsetof(struct tcmu_mailbox, version), &version, 2);
	memcpy(map + offsetof(struct tcmu_mailbox, cmdr_off), &off, 4);
	memcpy(map + offsetof(struct tcmu_mailbox, cmdr_size), &size, 4);
	mkdirs("dev");
	snprintf(rel, sizeof(rel), "%s/dev/uio%u", tmpdir, minor);
	f = fopen(rel, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(map, 1, FAKE_MAP_SIZE, f), FAKE_MAP_SIZE);
	fclose(f);
	free(map);

	snprintf(rel, sizeof(rel), "sys/uio%u/name", minor);
	put_file(rel, name);
	snprintf(rel, sizeof(rel), "sys/uio%u/maps/map0/size", minor);
	snprintf(num, sizeof(num), "0x%x\n", FAKE_MAP_SIZE);
	put_file(rel, num);
}

static struct device_env fake_env(void)
{
	static char cfs[300], sys[300], dev[300];
	struct device_env env = { 0 };

	snprintf(cfs, sizeof(cfs), "%s/cfs", tmpdir);
	snprintf(sys, sizeof(sys), "%s/sys", tmpdir);
	snprintf(dev, sizeof(dev), "%s/dev", tmpdir);
	env.configfs_root = cfs;
	env.uio_sysfs = sys;
	env.dev_dir = dev;
	env.disk_reserve = 0;
	return env;
}

static void test_open_rejections(void **state)
{
	struct device_env env = fake_env();
	struct device *d = (void *)1;
	char err[512] = "";

	(void)state;
	make_fake_uio(0, "tcm-user/0/q/qcow/some.qcow2\n");
	assert_int_equal(device_open(&env, 0, NULL, 0, &d, err, sizeof(err)), -ENOENT);
	assert_null(d);
	assert_non_null(strstr(err, "qcow"));

	make_fake_uio(1, "tcm-user/0/b/cow/size=100;overlay=/o;bitmap=/b\n");
	assert_int_equal(device_open(&env, 1, NULL, 0, &d, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "dev_config"));

	make_fake_uio(2, "not-tcmu\n");
	assert_int_equal(device_open(&env, 2, NULL, 0, &d, err, sizeof(err)), -EINVAL);

	/* The name in the event no longer matches sysfs. */
	assert_int_equal(device_open(&env, 1, "tcm-user/0/other/cow/x", 0, &d, err,
				     sizeof(err)), -ENODEV);
	/* No such uio device at all. */
	assert_int_equal(device_open(&env, 9, NULL, 0, &d, err, sizeof(err)), -ENODEV);
}

static void test_reply_awaited(void **state)
{
	struct device_env env = fake_env();
	const char *name = "tcm-user/4/d1/cow/size=4096;overlay=/o;bitmap=/b";
	const char *attr = "cfs/core/user_4/d1/attrib/nl_reply_supported";

	(void)state;
	/* Unreadable (no such attribute, or a bad name): answer, the kernel may wait. */
	assert_int_equal(device_reply_awaited(&env, name), 1);
	assert_int_equal(device_reply_awaited(&env, "not-a-uio-name"), 1);
	put_file(attr, "-1\n"); /* opted out, as cfs_backstore_create does */
	assert_int_equal(device_reply_awaited(&env, name), 0);
	put_file(attr, "0\n");  /* no daemon turned replies on */
	assert_int_equal(device_reply_awaited(&env, name), 0);
	put_file(attr, "1\n");  /* the module-wide flag copied at enable */
	assert_int_equal(device_reply_awaited(&env, name), 1);
	put_file(attr, "x\n");
	assert_int_equal(device_reply_awaited(&env, name), 1);
}

static void test_open_close(void **state)
{
	struct device_env env = fake_env();
	struct device *d = NULL;
	char err[512] = "", name[600], buf[16];
	struct stat st;
	int i;

	(void)state;
	snprintf(name, sizeof(name), "tcm-user/7/disk1/cow/size=1048576;overlay=%s/o.ovl;"
		 "bitmap=%s/o.bm", tmpdir, tmpdir);
	make_fake_uio(5, name);
	put_file("cfs/core/user_7/disk1/attrib/hw_block_size", "512\n");
	put_file("cfs/core/user_7/disk1/attrib/hw_max_sectors", "1024\n");
	put_file("cfs/core/user_7/disk1/attrib/emulate_write_cache", "1\n");
	put_file("cfs/core/user_7/disk1/wwn/vpd_unit_serial",
		 "T10 VPD Unit Serial Number: abc\n");
	put_file("cfs/core/user_7/disk1/action/block_dev", "");
	put_file("cfs/core/user_7/disk1/action/reset_ring", "");

	assert_int_equal(device_open(&env, 5, name, 1, &d, err, sizeof(err)), 0);
	assert_non_null(d);
	assert_int_equal(device_minor(d), 5);
	assert_string_equal(device_uio_name(d), name);
	assert_string_equal(device_label(d), "user_7/disk1");
	/* The dev_config, parsed once at open, is kept with the device. */
	assert_string_equal(device_dev_config(d), name + strlen("tcm-user/7/disk1/"));
	assert_int_equal(device_config(d)->size_bytes, 1048576);
	assert_string_equal(device_config(d)->overlay, tpath("o.ovl"));
	assert_string_equal(device_config(d)->bitmap, tpath("o.bm"));
	assert_string_equal(device_config(d)->base, "");
	assert_int_equal(device_config(d)->limit_bytes, 0);
	/* The restart protocol ran: blocked, ring reset, unblocked. */
	get_file("cfs/core/user_7/disk1/action/reset_ring", buf, sizeof(buf));
	assert_string_equal(buf, "1");
	get_file("cfs/core/user_7/disk1/action/block_dev", buf, sizeof(buf));
	assert_string_equal(buf, "0");
	/* The cow store was created. */
	assert_int_equal(stat(tpath("o.ovl"), &st), 0);
	assert_int_equal(stat(tpath("o.bm"), &st), 0);
	/* The attributes read through the backstore's dir: emulate_write_cache; no
	 * nl_reply_supported, so the kernel may wait for a reply. */
	assert_int_equal(device_write_cache(d), 1);
	assert_int_equal(device_awaits_reply(d), 1);
	device_set_write_cache(d, 0);

	/*
	 * A regular file is always readable and reads hit end-of-file at last: the worker
	 * takes that as the uio device going away, like -EIO from a removed uio.
	 */
	for (i = 0; i < 500 && !device_gone(d); i++)
		usleep(10000);
	assert_int_equal(device_gone(d), 1);
	assert_string_equal(device_backstore(d), "disk1");
	/* A placement hint is only recorded for the worker (pinpolicy.h): the caller's
	 * own affinity never changes; CPUs out of range are refused. */
	{
		cpu_set_t before, after;
		int cpu = -1;

		assert_int_equal(sched_getaffinity(0, sizeof(before), &before), 0);
		for (i = 0; i < CPU_SETSIZE && cpu < 0; i++)
			if (CPU_ISSET(i, &before))
				cpu = i;
		assert_true(cpu >= 0);
		assert_int_equal(device_place(d, cpu), 1);   /* new */
		assert_int_equal(device_place(d, cpu), 0);   /* the same again */
		assert_int_equal(device_place(d, -2), -EPERM);
		assert_int_equal(device_place(d, CPU_SETSIZE), -EPERM);
		/* Withdrawn (connections on several CPUs), then withdrawn again. */
		assert_int_equal(device_place(d, PLACEHINT_NONE), 1);
		assert_int_equal(device_place(d, PLACEHINT_NONE), 0);
		assert_int_equal(device_place(d, cpu), 1);
		assert_int_equal(sched_getaffinity(0, sizeof(after), &after), 0);
		assert_true(CPU_EQUAL(&before, &after));
	}
	device_close(d);
	device_close(NULL);
}

static void test_open_rejects_block_size(void **state)
{
	struct device_env env = fake_env();
	struct device *d = NULL;
	char err[512] = "", name[600];

	(void)state;
	snprintf(name, sizeof(name), "tcm-user/8/d4k/cow/size=1048576;overlay=%s/p.ovl;"
		 "bitmap=%s/p.bm", tmpdir, tmpdir);
	make_fake_uio(6, name);
	put_file("cfs/core/user_8/d4k/attrib/hw_block_size", "4096\n");
	assert_int_equal(device_open(&env, 6, NULL, 0, &d, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "hw_block_size"));
}

static void test_open_unusable_store(void **state)
{
	struct device_env env = fake_env();
	struct device *d = NULL;
	char err[512] = "", name[600];

	(void)state;
	/* The overlay's directory does not exist: the store cannot open. */
	snprintf(name, sizeof(name), "tcm-user/3/bad/cow/size=4096;overlay=%s/no/such.ovl;"
		 "bitmap=%s/no/such.bm", tmpdir, tmpdir);
	make_fake_uio(8, name);
	/* The kernel waits for our answer (replies on): the open fails, the reply says so. */
	put_file("cfs/core/user_3/bad/attrib/nl_reply_supported", "1\n");
	assert_true(device_open(&env, 8, NULL, 0, &d, err, sizeof(err)) < 0);
	assert_null(d);
	/* Nobody waits (our opt-out): still served, every command NOT READY 04/03. */
	put_file("cfs/core/user_3/bad/attrib/nl_reply_supported", "-1\n");
	err[0] = '\0';
	assert_int_equal(device_open(&env, 8, NULL, 0, &d, err, sizeof(err)), 0);
	assert_non_null(d);
	assert_non_null(device_unusable(d));
	assert_int_equal(device_awaits_reply(d), 0);
	assert_non_null(strstr(err, "user_3/bad"));
	/* Its dev_config is known all the same (the handler logs its size). */
	assert_int_equal(device_config(d)->size_bytes, 4096);
	device_close(d);
}

static void test_close_right_after_open(void **state)
{
	struct device_env env = fake_env();
	struct device *d = NULL;
	char err[512] = "", name[600];
	int with_pool;

	(void)state;
	snprintf(name, sizeof(name), "tcm-user/2/idle/cow/size=4096;overlay=%s/i.ovl;"
		 "bitmap=%s/i.bm", tmpdir, tmpdir);
	make_fake_uio(7, name);
	/* Once with each device running its own commands, once with command threads. */
	for (with_pool = 0; with_pool < 2; with_pool++) {
		if (with_pool) {
			env.pool = device_pool_new(2, err, sizeof(err));
			assert_non_null(env.pool);
		}
		assert_int_equal(device_open(&env, 7, NULL, 0, &d, err, sizeof(err)), 0);
		/* Closing at once must stop and join the worker whatever it is doing. */
		device_close(d);
	}
	iopool_free(env.pool);
}

static void test_pool_bounds(void **state)
{
	char err[256] = "";

	(void)state;
	assert_null(device_pool_new(0, err, sizeof(err)));
	assert_non_null(strstr(err, "1..64"));
	assert_null(device_pool_new(IOPOOL_MAX_THREADS + 1, err, sizeof(err)));
	iopool_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_foreign_names),
		cmocka_unit_test(test_reply_awaited),
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_too_long),
		cmocka_unit_test(test_write_attr),
		cmocka_unit_test(test_read_uio_name),
		cmocka_unit_test(test_scan),
		cmocka_unit_test(test_open_rejections),
		cmocka_unit_test(test_open_unusable_store),
		cmocka_unit_test(test_open_close),
		cmocka_unit_test(test_open_rejects_block_size),
		cmocka_unit_test(test_close_right_after_open),
		cmocka_unit_test(test_pool_bounds),
	};

	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
