/*
 * cfgd_test.h — scsipub-cfgd in a unit test: its request handling
 * (configfs-manager/cfgd_server.h) served by a thread on a temporary Unix socket, over
 * a plain configfs tree (cfs_force_plain). Include after cmocka.h.
 */
#ifndef SCSIPUB_CFGD_TEST_H
#define SCSIPUB_CFGD_TEST_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cfgd_server.h"
#include "cfs.h"

/* The daemon's --multi-images for the next daemon_start_at (NULL = default). */
static const char *cfgd_test_multi_images;
/* The daemon's --pool for the next daemon_start_at (none by default). */
static const struct poolspec *cfgd_test_pool;
static unsigned cfgd_test_n_pool;
/* The pools' keep time (cfgd_server_cfg.pool_keep_s) for the next daemon_start_at. */
static double cfgd_test_pool_keep_s;

struct daemon {
	struct cfs *c;
	struct cfgd_server *srv;
	int lfd, stop[2];
	pthread_t th;
	char sock[100];
};

static void *serve(void *arg)
{
	struct daemon *d = arg;

	cfgd_server_serve(d->srv, d->lfd, d->stop[0]);
	return NULL;
}

/*
 * scsipub-cfgd's request handling served by a thread on socket sock (< 100 bytes) for
 * a plain configfs tree at root (made here), state directory state_dir, catalog
 * images (must exist) and private images private_dir (may be NULL).
 */
static void daemon_start_at(struct daemon *d, const char *sock, const char *root,
			    const char *state_dir, const char *images, const char *private_dir,
			    uint64_t write_limit)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct cfgd_server_cfg sc;

	snprintf(d->sock, sizeof(d->sock), "%s", sock);
	mkdir(root, 0755);
	d->c = cfs_open(root);
	assert_non_null(d->c);
	cfs_force_plain(d->c);
	memset(&sc, 0, sizeof(sc));
	sc.cfs = d->c;
	sc.images_dir = images;
	sc.multi_images = cfgd_test_multi_images;
	sc.private_dir = private_dir;
	sc.anon.state_dir = state_dir;
	sc.anon.lio_portal = "127.0.0.1:3262";
	sc.anon.write_limit = write_limit;
	sc.max_clients = 8;
	sc.max_sessions = 2;
	sc.pool = cfgd_test_pool;
	sc.n_pool = cfgd_test_n_pool;
	sc.pool_keep_s = cfgd_test_pool_keep_s;
	d->srv = cfgd_server_new(&sc);
	assert_non_null(d->srv);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", d->sock);
	d->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(d->lfd >= 0);
	assert_int_equal(bind(d->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(d->lfd, 8), 0);
	assert_int_equal(pipe(d->stop), 0);
	assert_int_equal(pthread_create(&d->th, NULL, serve, d), 0);
}

static void daemon_stop(struct daemon *d)
{
	assert_int_equal(write(d->stop[1], "x", 1), 1);
	pthread_join(d->th, NULL);
	close(d->stop[0]);
	close(d->stop[1]);
	close(d->lfd);
	cfgd_server_free(d->srv);
	cfs_close(d->c);
}

#endif
