/*
 * test_connlist.c — the portal's connection list (connlist.h): admission stops at its
 * bound and resumes when a connection leaves; a login deadline is reaped once, shutting
 * the initiator socket down, not while the login waits on our own provisioning and
 * never once the login is done; shutdown shuts down the initiator and LIO sockets,
 * waits for the threads to leave the list, and refuses a LIO socket recorded after it.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "connlist.h"

/* c with the local end of a new socketpair as its fd; the far end into *far. */
static void conn_init(struct conn *c, const char *peer, int *far)
{
	int sv[2];

	memset(c, 0, sizeof(*c));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	c->fd = sv[0];
	c->lio_fd = -1;
	*far = sv[1];
	strcpy(c->peer, peer);
}

/* Whether fd's peer shut its socket down: a read sees end of file at once. */
static int is_shut(int far)
{
	char b;

	return recv(far, &b, 1, MSG_DONTWAIT) == 0;
}

static void conn_close(struct conn *c, int far)
{
	close(c->fd);
	close(far);
}

static void test_bounded(void **state)
{
	struct connlist *cl = connlist_new(2);
	struct conn a, b, c;
	int fa, fb, fc;

	(void)state;
	assert_non_null(cl);
	conn_init(&a, "192.0.2.1", &fa);
	conn_init(&b, "192.0.2.2", &fb);
	conn_init(&c, "192.0.2.3", &fc);
	assert_int_equal(connlist_add(cl, &a), 0);
	assert_ptr_equal(a.list, cl);
	assert_int_equal(connlist_add(cl, &b), 0);
	assert_int_equal(connlist_add(cl, &c), -EMFILE);
	connlist_remove(&a);
	assert_int_equal(connlist_add(cl, &c), 0);
	connlist_remove(&b);
	connlist_remove(&c);
	assert_int_equal(connlist_shutdown(cl, 0), 0);
	connlist_free(cl);
	conn_close(&a, fa);
	conn_close(&b, fb);
	conn_close(&c, fc);
}

struct expiries {
	int n;
	char peer[64];
	int64_t now_ms;
};

static void expired(const char *peer, int64_t now_ms, void *arg)
{
	struct expiries *e = arg;

	e->n++;
	strcpy(e->peer, peer);
	e->now_ms = now_ms;
}

static void test_deadlines(void **state)
{
	struct connlist *cl = connlist_new(4);
	struct expiries e = { 0 };
	struct conn a, b;
	int fa, fb;

	(void)state;
	conn_init(&a, "192.0.2.1", &fa);
	conn_init(&b, "2001:db8::2", &fb);
	a.login_deadline_ms = 1000;
	b.login_deadline_ms = 1000;
	assert_int_equal(connlist_add(cl, &a), 0);
	assert_int_equal(connlist_add(cl, &b), 0);
	connlist_login_done(&b);  /* b's login went to LIO: its deadline is gone */
	assert_int_equal(b.login_deadline_ms, 0);

	connlist_reap(cl, 999, expired, &e);
	assert_int_equal(e.n, 0);
	assert_false(is_shut(fa));

	/* While a waits on scsipub-cfgd, its deadline does not pass; after, it moved on
	 * by the time it waited. */
	connlist_login_pause(&a);
	connlist_reap(cl, 5000, expired, &e);
	assert_int_equal(e.n, 0);
	connlist_login_resume(&a);
	assert_int_equal(a.login_paused_ms, 0);
	assert_true(a.login_deadline_ms >= 1000);

	connlist_reap(cl, a.login_deadline_ms, expired, &e);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.peer, "192.0.2.1");
	assert_int_equal(a.login_deadline_ms, 0);
	assert_true(is_shut(fa));
	assert_false(is_shut(fb));
	connlist_reap(cl, INT64_MAX, expired, &e);  /* once only; b never */
	assert_int_equal(e.n, 1);

	connlist_remove(&a);
	connlist_remove(&b);
	connlist_free(cl);
	conn_close(&a, fa);
	conn_close(&b, fb);
}

struct stopper {
	struct connlist *cl;
	unsigned left;
};

static void *stop_thread(void *arg)
{
	struct stopper *s = arg;

	s->left = connlist_shutdown(s->cl, 30);
	return NULL;
}

static void test_shutdown(void **state)
{
	struct connlist *cl = connlist_new(4);
	struct stopper s = { .cl = cl };
	struct conn a;
	int fa, lio[2], lio2[2];
	pthread_t th;

	(void)state;
	conn_init(&a, "192.0.2.1", &fa);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, lio), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, lio2), 0);
	assert_int_equal(connlist_add(cl, &a), 0);
	assert_true(connlist_set_lio(&a, lio[0]));
	assert_int_equal(a.lio_fd, lio[0]);

	/* A connection that does not leave: shutdown gives up and says so. */
	assert_int_equal(connlist_shutdown(cl, 0), 1);
	assert_true(is_shut(fa));
	assert_true(is_shut(lio[1]));
	/* Stopping: no new LIO socket is recorded, forgetting one still is. */
	assert_false(connlist_set_lio(&a, lio2[0]));
	assert_int_equal(a.lio_fd, lio[0]);
	assert_true(connlist_set_lio(&a, -1));
	assert_int_equal(a.lio_fd, -1);

	/* Shutdown waits until the connection's thread (here: this one) has left. */
	assert_int_equal(pthread_create(&th, NULL, stop_thread, &s), 0);
	connlist_remove(&a);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(s.left, 0);

	connlist_free(cl);
	conn_close(&a, fa);
	close(lio[0]);
	close(lio[1]);
	close(lio2[0]);
	close(lio2[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_deadlines),
		cmocka_unit_test(test_shutdown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
