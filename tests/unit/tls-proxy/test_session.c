/*
 * test_session.c — the portal's anonymous sessions end to end in one process:
 * tls-proxy/session.c (the unprivileged client) -> scsipub-cfgd's request handling
 * (configfs-manager/cfgd_server.c, served on a temporary Unix socket by a thread) ->
 * a plain temporary configfs tree (cfs_force_plain). The target, backstore, TPG LUN
 * and an ACL for a fresh per-connection name with LUN 0 appear; a second connection
 * with the same InitiatorName gets a session of its own; release removes the objects
 * and the overlay files; a client connection that ends without releasing (a portal
 * that died) leaves nothing behind; an unknown target is refused with ENOENT. The new
 * kinds through the same path: multi gets two private LUNs per connection from the
 * daemon's --multi-images; ro.<name> sessions share one write-protected backstore
 * that exists exactly while a session does; both are refused while their images are
 * missing from the daemon's catalog.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "anontarget.h"
#include "catalog.h"
#include "cfgd_client.h"
#include "cfgd_server.h"
#include "cfgd_test.h"
#include "cfs.h"
#include "session.h"

#include "test_sesstree.h"

/*
 * A daemon on a plain configfs tree <tmp>/configfs<n>, state <tmp>/state<n>, catalog
 * <tmp>/images<n> (blank only), socket <tmp>/cfgd<n>.sock; root and state_dir get the
 * paths (128 bytes each).
 */
static void daemon_start(struct daemon *d, const char *n, char *root, char *state_dir,
			 uint64_t write_limit)
{
	char images[128], sock[100];

	snprintf(root, 128, "%s/configfs%s", tmp, n);
	snprintf(state_dir, 128, "%s/state%s", tmp, n);
	snprintf(images, sizeof(images), "%s/images%s", tmp, n);
	snprintf(sock, sizeof(sock), "%s/cfgd%s.sock", tmp, n);
	assert_int_equal(mkdir(images, 0755), 0);
	daemon_start_at(d, sock, root, state_dir, images, NULL, write_limit);
}

/* <root>/iscsi/<target>/tpgt_1/acls has exactly one entry, copied to name. */
static void one_acl(const char *root, char *name, size_t len)
{
	assert_int_equal(tpg_entries(root, CATALOG_BLANK_IQN, "acls", name, len, 1), 1);
}

static void test_provision_and_teardown(void **state)
{
	char root[128], state_dir[128], ovl[256], bmp[256], path[512], acl[256];
	const char *ini = "iqn.2025-01.test:client";
	struct session_cfg sc = { 0 };
	struct session_mgr *m;
	struct session *s1, *s2, *s3;
	struct daemon d;
	struct cfs *c;
	char err[512] = "", want[ANON_BACKSTORE_LEN + 1], name1[ANON_BACKSTORE_LEN + 1];
	const char *name, *lio1;

	(void)state;
	daemon_start(&d, "", root, state_dir, 1048576);
	c = d.c;
	sc.cfgd_socket = d.sock;
	m = session_mgr_new(&sc);
	assert_non_null(m);

	assert_int_equal(session_acquire(m, ini, CATALOG_BLANK_IQN, "192.0.2.5", &s1, err, sizeof(err)), 0);
	name = session_backstore(s1);
	lio1 = session_lio_initiator(s1);
	/* LIO knows the session by its own name, not by what the client sent. */
	assert_memory_equal(lio1, ANON_PREFIX, strlen(ANON_PREFIX));
	assert_string_not_equal(lio1, ini);
	assert_int_equal(anon_backstore_name(lio1, CATALOG_BLANK_IQN, want), 0);
	assert_string_equal(name, want);
	/* Its one disk is its own: scsipub-tcmu may be told where to serve it. */
	assert_int_equal(session_disk_count(s1), 1);
	assert_string_equal(session_disk(s1, 0), name);
	assert_null(session_disk(s1, 1));
	snprintf(name1, sizeof(name1), "%s", name);
	snprintf(ovl, sizeof(ovl), "%s/overlays/%s.ovl", state_dir, want);
	snprintf(bmp, sizeof(bmp), "%s/overlays/%s.bitmap", state_dir, want);
	assert_int_equal(session_count(m), 1);
	/* Provisioning took the configfs lock shared with the api-server (prov.h). */
	snprintf(path, sizeof(path), "%s/configfs.lock", state_dir);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(cfs_backstore_path(c, name, path, sizeof(path)), 0);
	one_acl(root, acl, sizeof(acl));
	assert_string_equal(acl, lio1);
	assert_false(exists("%s/configfs/iscsi/%s/tpgt_1/acls/%s", CATALOG_BLANK_IQN, ini));
	assert_true(exists("%s/configfs/iscsi/%s/tpgt_1/np/%s", CATALOG_BLANK_IQN, "127.0.0.1:3262"));
	assert_true(exists("%s/configfs/iscsi/%s/tpgt_1/acls/%s/lun_0", CATALOG_BLANK_IQN, lio1));
	assert_true(exists("%s/configfs/iscsi/%s/tpgt_1/lun/lun_0%s", CATALOG_BLANK_IQN, ""));
	{
		/* The dev_config written to the backstore names our overlay files. */
		char ctl[600], buf[1024] = "";
		FILE *f;

		snprintf(ctl, sizeof(ctl), "%s/control", path);
		f = fopen(ctl, "r");
		if (f) {
			size_t n = fread(buf, 1, sizeof(buf) - 1, f);

			buf[n] = '\0';
			fclose(f);
			assert_non_null(strstr(buf, "dev_size=67108864"));
			assert_non_null(strstr(buf, ovl));
			assert_non_null(strstr(buf, bmp));
			assert_non_null(strstr(buf, "limit=1048576"));
		}
	}

	/* The handler would create these; teardown must delete them. */
	touch(ovl);
	touch(bmp);

	/* A second connection with the same InitiatorName: a session of its own. */
	assert_int_equal(session_acquire(m, ini, CATALOG_BLANK_IQN, "192.0.2.5", &s2, err, sizeof(err)), 0);
	assert_ptr_not_equal(s1, s2);
	assert_string_not_equal(session_lio_initiator(s2), lio1);
	assert_string_not_equal(session_backstore(s2), name1);
	assert_int_equal(session_count(m), 2);
	assert_true(exists("%s/configfs/iscsi/%s/tpgt_1/acls/%s", CATALOG_BLANK_IQN,
			   session_lio_initiator(s2)));
	session_release(m, s2, "192.0.2.5");
	assert_int_equal(session_count(m), 1);
	/* The first one is untouched by the second one's end. */
	assert_true(exists("%s/configfs/iscsi/%s/tpgt_1/acls/%s", CATALOG_BLANK_IQN, lio1));
	assert_int_equal(access(ovl, F_OK), 0);

	/* Release: ACL, LUN, backstore and files gone; the target stays. */
	snprintf(acl, sizeof(acl), "%s", lio1);
	session_release(m, s1, "192.0.2.5");
	assert_int_equal(session_count(m), 0);
	assert_false(exists("%s/configfs/iscsi/%s/tpgt_1/acls/%s", CATALOG_BLANK_IQN, acl));
	assert_int_equal(cfs_backstore_path(c, want, path, sizeof(path)), -ENOENT);
	assert_true(exists("%s/configfs/iscsi/%s/tpgt_1%s", CATALOG_BLANK_IQN, ""));
	assert_int_not_equal(access(ovl, F_OK), 0);
	assert_int_not_equal(access(bmp, F_OK), 0);
	{
		unsigned removed = 99;

		/* Nothing leaked for a sweep to find. */
		assert_int_equal(cfs_sweep(c, ANON_BACKSTORE_PREFIX, &removed), 0);
		assert_int_equal(removed, 0);
	}

	/* Unknown targets and the daemon's session limit (2) are refused. */
	assert_int_equal(session_acquire(m, ini, "iqn.2025-01.pub.scsipub:image.nope", "p", &s3,
					 err, sizeof(err)), -ENOENT);
	assert_int_equal(session_acquire(m, ini, CATALOG_BLANK_IQN, "p", &s1, err, sizeof(err)), 0);
	assert_int_equal(session_acquire(m, ini, CATALOG_BLANK_IQN, "p", &s2, err, sizeof(err)), 0);
	assert_int_equal(session_acquire(m, ini, CATALOG_BLANK_IQN, "p", &s3, err, sizeof(err)),
			 -EMFILE);
	assert_non_null(strstr(err, "max-sessions"));
	session_release(m, s1, "p");
	session_release(m, s2, "p");

	/* A client connection that ends without anon_destroy (a portal that died): the
	 * daemon removes what it owned. */
	{
		struct cfgd_anon a;
		int fd = cfgd_connect(d.sock, err, sizeof(err));

		assert_true(fd >= 0);
		assert_int_equal(cfgd_anon_create(fd, CATALOG_BLANK_IQN, "iqn.x:\x01odd name", "p",
						  &a, err, sizeof(err)), 0);
		assert_true(exists("%s/configfs/iscsi/%s/tpgt_1/acls/%s", CATALOG_BLANK_IQN,
				   a.initiator));
		/* Another connection cannot destroy it. */
		{
			int fd2 = cfgd_connect(d.sock, err, sizeof(err));

			assert_int_equal(cfgd_anon_destroy(fd2, a.backstore, err, sizeof(err)), -ENOENT);
			close(fd2);
		}
		close(fd);
		/* The daemon's connection thread tears down when it reads the end of the
		 * stream: wait for that (at most 10 s; not a timing assertion). */
		for (int i = 0; i < 10000 && cfgd_server_sessions(d.srv); i++)
			usleep(1000);
		assert_int_equal(cfgd_server_sessions(d.srv), 0);
		assert_false(exists("%s/configfs/iscsi/%s/tpgt_1/acls/%s", CATALOG_BLANK_IQN,
				   a.initiator));
	}

	/* A session still open at shutdown is torn down by session_mgr_free. */
	assert_int_equal(session_acquire(m, ini, CATALOG_BLANK_IQN, "192.0.2.5", &s1, err, sizeof(err)), 0);
	snprintf(acl, sizeof(acl), "%s", session_lio_initiator(s1));
	assert_true(exists("%s/configfs/iscsi/%s/tpgt_1/acls/%s", CATALOG_BLANK_IQN, acl));
	session_mgr_free(m);
	assert_false(exists("%s/configfs/iscsi/%s/tpgt_1/acls/%s", CATALOG_BLANK_IQN, acl));
	daemon_stop(&d);
}

/* The entries of <root>/iscsi/<target>/tpgt_1/<sub> (not '.'-names). */
static int count_dir(const char *root, const char *target, const char *sub)
{
	return tpg_entries(root, target, sub, NULL, 0, 0);
}

struct bs_count {
	const char *prefix;
	int n;
};

static int bs_cb(const char *name, void *arg)
{
	struct bs_count *b = arg;

	b->n += !strncmp(name, b->prefix, strlen(b->prefix));
	return 0;
}

/* Backstores named prefix* in configfs. */
static int count_backstores(struct cfs *c, const char *prefix)
{
	struct bs_count b = { prefix, 0 };

	assert_int_equal(cfs_list_backstores(c, bs_cb, &b), 0);
	return b.n;
}

static void test_multi_and_ro(void **state)
{
	const char *ini = "iqn.2025-01.test:client", *ro = ANONTARGET_RO_PREFIX "disk";
	char root[128], state_dir[128], images[128], img[256], err[512] = "";
	char wp[512], acl1[CFGD_NAME_MAX + 1];
	struct session_cfg sc = { 0 };
	struct session_mgr *m;
	struct session *a, *b;
	struct daemon d;
	FILE *f;

	(void)state;
	cfgd_test_multi_images = "disk,blank";
	daemon_start(&d, "m", root, state_dir, 1048576);
	cfgd_test_multi_images = NULL;
	sc.cfgd_socket = d.sock;
	m = session_mgr_new(&sc);
	assert_non_null(m);
	/* No image "disk" yet: neither multi nor ro.disk exists. */
	assert_int_equal(session_acquire(m, ini, ANONTARGET_MULTI_IQN, "p", &a, err, sizeof(err)),
			 -ENOENT);
	assert_int_equal(session_acquire(m, ini, ro, "p", &a, err, sizeof(err)), -ENOENT);
	snprintf(images, sizeof(images), "%s/imagesm", tmp);
	snprintf(img, sizeof(img), "%s/disk.img", images);
	f = fopen(img, "w");
	assert_non_null(f);
	assert_int_equal(fputs("data", f) >= 0, 1);
	fclose(f);

	/* multi: two private LUNs per connection, LUN 0 over disk, LUN 1 blank. */
	assert_int_equal(session_acquire(m, ini, ANONTARGET_MULTI_IQN, "p", &a, err, sizeof(err)), 0);
	assert_int_equal(session_acquire(m, ini, ANONTARGET_MULTI_IQN, "p", &b, err, sizeof(err)), 0);
	assert_int_equal(count_dir(root, ANONTARGET_MULTI_IQN, "lun"), 4);
	assert_int_equal(count_dir(root, ANONTARGET_MULTI_IQN, "acls"), 2);
	assert_true(exists("%s/configfsm/iscsi/" ANONTARGET_MULTI_IQN "/tpgt_1/acls/%s/lun_1%s",
			   session_lio_initiator(a), ""));
	assert_int_equal(count_backstores(d.c, ANON_BACKSTORE_PREFIX), 4);
	/* Both LUNs' backstores are the connection's own, LUN 0's first. */
	assert_int_equal(session_disk_count(a), 2);
	assert_string_equal(session_disk(a, 0), session_backstore(a));
	assert_string_not_equal(session_disk(a, 1), session_disk(a, 0));
	assert_string_not_equal(session_disk(a, 1), session_disk(b, 1));
	assert_int_equal(cfs_backstore_path(d.c, session_disk(a, 1), wp, sizeof(wp)), 0);
	session_release(m, a, "p");
	session_release(m, b, "p");
	assert_int_equal(count_dir(root, ANONTARGET_MULTI_IQN, "lun"), 0);
	assert_int_equal(count_backstores(d.c, ANON_BACKSTORE_PREFIX), 0);

	/* ro.disk: two connections, one shared backstore, each its own write-protected
	 * ACL; the backstore goes with the last session. */
	assert_int_equal(session_acquire(m, ini, ro, "p", &a, err, sizeof(err)), 0);
	assert_int_equal(session_acquire(m, ini, ro, "p", &b, err, sizeof(err)), 0);
	assert_string_not_equal(session_backstore(a), session_backstore(b));
	assert_int_equal(session_disk_count(a), 0);   /* the shared backstore is nobody's */
	assert_null(session_disk(a, 0));
	assert_int_equal(count_backstores(d.c, ANON_SHARED_PREFIX), 1);
	assert_int_equal(count_backstores(d.c, ANON_BACKSTORE_PREFIX), 1);
	assert_int_equal(count_dir(root, ro, "lun"), 1);
	assert_int_equal(count_dir(root, ro, "acls"), 2);
	snprintf(wp, sizeof(wp), "%s/iscsi/%s/tpgt_1/acls/%s/lun_0/write_protect", root, ro,
		 session_lio_initiator(b));
	{
		char v[8] = "";

		f = fopen(wp, "r");
		assert_non_null(f);
		assert_non_null(fgets(v, sizeof(v), f));
		fclose(f);
		assert_int_equal(v[0], '1');
	}
	snprintf(acl1, sizeof(acl1), "%s", session_lio_initiator(a));
	session_release(m, a, "p");
	assert_false(exists("%s/configfsm/iscsi/%s/tpgt_1/acls/%s", ro, acl1));
	assert_int_equal(count_backstores(d.c, ANON_SHARED_PREFIX), 1);
	session_release(m, b, "p");
	assert_int_equal(count_backstores(d.c, ANON_BACKSTORE_PREFIX), 0);
	assert_int_equal(count_dir(root, ro, "lun"), 0);
	assert_int_equal(count_dir(root, ro, "acls"), 0);
	/* ro of blank is no target. */
	assert_int_equal(session_acquire(m, ini, ANONTARGET_RO_PREFIX "blank", "p", &a, err,
					 sizeof(err)), -ENOENT);
	session_mgr_free(m);
	daemon_stop(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_provision_and_teardown),
		cmocka_unit_test(test_multi_and_ro),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
