/*
 * test_provtarget.c — provisioned target names (iqn...:s.<id>) and their presence in
 * a plain configfs tree; the relay's live byte counts (relay_run_progress) that feed
 * the connection table.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_tmpdir.h"

#include "pio.h"
#include "provtarget.h"
#include "relay.h"

#define SIQN "iqn.2025-01.pub.scsipub:s.abc123"

static void test_names(void **state)
{
	(void)state;
	assert_true(provtarget_name(SIQN));
	assert_true(provtarget_name("iqn.2025-01.pub.scsipub:s.0"));
	assert_false(provtarget_name("iqn.2025-01.pub.scsipub:s."));
	assert_false(provtarget_name("iqn.2025-01.pub.scsipub:s.ABC"));
	assert_false(provtarget_name("iqn.2025-01.pub.scsipub:s.a/b"));
	assert_false(provtarget_name("iqn.2025-01.pub.scsipub:s.0123456789abcdef0123456789abcdef0"));
	assert_false(provtarget_name("iqn.2025-01.pub.scsipub:blank"));
	assert_false(provtarget_name("iqn.2025-01.pub.scsipub:image.s.abc"));
	assert_false(provtarget_name(NULL));
}

static void test_exists(void **state)
{
	char root[PATH_MAX], p[PATH_MAX + 128];

	(void)state;
	assert_non_null(test_mkdtemp(root, sizeof(root), "test_provtarget"));
	assert_int_equal(provtarget_exists(root, SIQN), 0);
	snprintf(p, sizeof(p), "%s/iscsi", root);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/iscsi/%s", root, SIQN);
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(provtarget_exists(root, SIQN), 0); /* no TPG yet */
	snprintf(p, sizeof(p), "%s/iscsi/%s/tpgt_1", root, SIQN);
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(provtarget_exists(root, SIQN), 1);
	assert_int_equal(provtarget_exists(root, "iqn.2025-01.pub.scsipub:blank"), -EINVAL);
	assert_int_equal(provtarget_exists(root, "iqn.2025-01.pub.scsipub:s.../x"), -EINVAL);
	assert_int_equal(provtarget_exists(NULL, SIQN), -EINVAL);
	assert_int_equal(rmdir(p), 0);
	snprintf(p, sizeof(p), "%s/iscsi/%s", root, SIQN);
	assert_int_equal(rmdir(p), 0);
	snprintf(p, sizeof(p), "%s/iscsi", root);
	assert_int_equal(rmdir(p), 0);
	assert_int_equal(rmdir(root), 0);
}

/* LUN dir lun_<n> of SIQN under root, linked to `to` (NULL: no link). */
static void make_lun(const char *root, int n, const char *to)
{
	char p[PATH_MAX + 128];

	snprintf(p, sizeof(p), "%s/iscsi/%s/tpgt_1/lun/lun_%d", root, SIQN, n);
	assert_int_equal(mkdir(p, 0755), 0);
	if (!to)
		return;
	snprintf(p, sizeof(p), "%s/iscsi/%s/tpgt_1/lun/lun_%d/5f3c1a2b9e", root, SIQN, n);
	assert_int_equal(symlink(to, p), 0);
}

static int has(char (*disk)[PROVTARGET_DISK_LEN], int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(disk[i], name))
			return 1;
	return 0;
}

#define NAME63 "pv0123456789abcdef0123456789abcdefl0123456789abcdef0123456789ab"

static void test_disks(void **state)
{
	char root[PATH_MAX], p[PATH_MAX + 128];
	char (*disk)[PROVTARGET_DISK_LEN] = calloc(8, PROVTARGET_DISK_LEN);
	const char *up = "../../../../../../target/core";

	(void)state;
	assert_non_null(disk);
	assert_int_equal(strlen(NAME63), PROVTARGET_DISK_LEN - 1);
	assert_non_null(test_mkdtemp(root, sizeof(root), "test_provtarget"));
	assert_int_equal(provtarget_disks(root, SIQN, disk, 8), 0);  /* no target */
	snprintf(p, sizeof(p), "%s/iscsi", root);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/iscsi/%s", root, SIQN);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/iscsi/%s/tpgt_1", root, SIQN);
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(provtarget_disks(root, SIQN, disk, 8), 0);  /* no lun/ yet */
	snprintf(p, sizeof(p), "%s/iscsi/%s/tpgt_1/lun", root, SIQN);
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(provtarget_disks(root, SIQN, disk, 8), 0);  /* no LUNs */

	snprintf(p, sizeof(p), "%s/user_3/pvabc123l0", up);
	make_lun(root, 0, p);
	snprintf(p, sizeof(p), "%s/user_4/pvabc123l1/", up);        /* trailing '/' */
	make_lun(root, 1, p);
	snprintf(p, sizeof(p), "%s/fileio_1/fbs", up);               /* not TCMU: skipped */
	make_lun(root, 2, p);
	make_lun(root, 3, NULL);                                      /* no link: skipped */
	snprintf(p, sizeof(p), "%s/user_5/Bad.Name", up);            /* skipped */
	make_lun(root, 4, p);
	snprintf(p, sizeof(p), "%s/user_6/%sc", up, NAME63);         /* too long: skipped */
	make_lun(root, 5, p);
	snprintf(p, sizeof(p), "%s/user_7/%s", up, NAME63);          /* longest taken */
	make_lun(root, 6, p);
	make_lun(root, 7, "pvabc123l7");                             /* no parent: skipped */
	snprintf(p, sizeof(p), "%s/iscsi/%s/tpgt_1/lun/other", root, SIQN);
	assert_int_equal(mkdir(p, 0755), 0);                         /* not lun_N */

	memset(disk, 0, 8 * PROVTARGET_DISK_LEN);
	assert_int_equal(provtarget_disks(root, SIQN, disk, 8), 3);
	assert_true(has(disk, 3, "pvabc123l0"));
	assert_true(has(disk, 3, "pvabc123l1"));
	assert_true(has(disk, 3, NAME63));
	/* The caller's count bounds it. */
	memset(disk, 0, 8 * PROVTARGET_DISK_LEN);
	assert_int_equal(provtarget_disks(root, SIQN, disk, 1), 1);
	assert_int_equal(disk[1][0], '\0');
	assert_int_equal(provtarget_disks(root, "iqn.2025-01.pub.scsipub:blank", disk, 8),
			 -EINVAL);
	assert_int_equal(provtarget_disks(NULL, SIQN, disk, 8), -EINVAL);
	assert_int_equal(test_rmtree(root), 0);
	free(disk);
}

struct relay_arg {
	int client, lio;
	struct relay_stats st, last;
	int calls, r;
};

static void on_bytes(void *arg, const struct relay_stats *st)
{
	struct relay_arg *a = arg;

	assert_true(st->to_lio >= a->last.to_lio && st->to_client >= a->last.to_client);
	a->last = *st;
	a->calls++;
}

static void *relay_thread(void *arg)
{
	struct relay_arg *a = arg;
	struct pio_fd c, l;

	pio_fd_init(&c, a->client);
	pio_fd_init(&l, a->lio);
	pio_fd_set_nonblock(&c, 1);
	pio_fd_set_nonblock(&l, 1);
	a->r = relay_run_progress(&c.io, &l.io, &a->st, on_bytes, a);
	return NULL;
}

static void read_exact(int fd, char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);

		assert_true(r > 0);
		got += (size_t)r;
	}
}

static void test_relay_progress(void **state)
{
	int a[2], b[2];
	struct relay_arg ra = { 0 };
	pthread_t th;
	char buf[16];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
	ra.client = a[1];
	ra.lio = b[0];
	assert_int_equal(pthread_create(&th, NULL, relay_thread, &ra), 0);
	assert_int_equal(write(a[0], "hello", 5), 5);        /* initiator → LIO */
	read_exact(b[1], buf, 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(write(b[1], "world!", 6), 6);       /* LIO → initiator */
	read_exact(a[0], buf, 6);
	assert_memory_equal(buf, "world!", 6);
	shutdown(a[0], SHUT_WR);
	shutdown(b[1], SHUT_WR);
	pthread_join(th, NULL);
	assert_int_equal(ra.r, 0);
	assert_int_equal(ra.st.to_lio, 5);
	assert_int_equal(ra.st.to_client, 6);
	/*
	 * Both directions may move in one poll round, so only "at least once" is certain;
	 * the last report must carry the final totals.
	 */
	assert_true(ra.calls >= 1);
	assert_int_equal(ra.last.to_lio, 5);
	assert_int_equal(ra.last.to_client, 6);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_exists),
		cmocka_unit_test(test_disks),
		cmocka_unit_test(test_relay_progress),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
