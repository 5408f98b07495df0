/*
 * test_cfgd_policy.c — who may ask scsipub-cfgd for what (cfgd_server.h, peer
 * credentials): root and cfg.allow_uids may make every request; a uid in
 * cfg.portal_uids only the portal's (hello, anon_create, anon_destroy, acl_sweep),
 * every other one refused with EPERM before it touches anything; an unknown uid may
 * not talk to the daemon at all. Driven through cfgd_server_handle with clients of
 * chosen uids, over a plain configfs tree.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cfgd_proto.h"
#include "cfgd_server.h"
#include "cfs.h"
#include "test_tmpdir.h"

#define PORTAL_UID 4242
#define API_UID 4343

/* The {"ok": ...} answer to msg from client c, and its errno (0 when ok). */
static int ask(struct cfgd_server *s, struct cfgd_client *c, const char *msg)
{
	char out[CFGD_MSG_MAX];
	size_t n = cfgd_server_handle(s, c, msg, strlen(msg), out, sizeof(out));
	const char *e;

	assert_true(n > 0 && n < sizeof(out));
	out[n] = '\0';
	if (strstr(out, "\"ok\":true"))
		return 0;
	e = strstr(out, "\"errno\":");
	assert_non_null(e);
	return atoi(e + 8);
}

static void test_portal_only(void **state)
{
	static const char *const not_portal[] = {
		"{\"v\":1,\"op\":\"list\"}",
		"{\"v\":1,\"op\":\"prov_list\"}",
		"{\"v\":1,\"op\":\"prov_destroy\",\"id\":\"abc\"}",
		"{\"v\":1,\"op\":\"prov_status\",\"id\":\"abc\"}",
		"{\"v\":1,\"op\":\"anon_count\",\"target\":\"iqn.2025-01.pub.scsipub:blank\"}",
		"{\"v\":1,\"op\":\"prov_create\",\"id\":\"abc\",\"chap_user\":\"u\","
		"\"chap_secret\":\"secretsecret12\",\"write_limit\":0,\"luns\":[{\"base\":\"\","
		"\"size\":1048576,\"generation\":0,\"pr\":[]}]}",
	};
	char tmp[PATH_MAX], root[PATH_MAX + 8], images[PATH_MAX + 8];
	struct cfgd_server_cfg sc;
	struct cfgd_client *portal, *api, *rootc;
	struct cfgd_server *s;
	struct cfs *c;

	(void)state;
	assert_non_null(test_mkdtemp(tmp, sizeof(tmp), "test_cfgd_policy"));
	snprintf(root, sizeof(root), "%s/cfs", tmp);
	snprintf(images, sizeof(images), "%s/images", tmp);
	assert_int_equal(mkdir(root, 0755), 0);
	assert_int_equal(mkdir(images, 0755), 0);
	c = cfs_open(root);
	assert_non_null(c);
	cfs_force_plain(c);
	memset(&sc, 0, sizeof(sc));
	sc.cfs = c;
	sc.images_dir = images;
	sc.anon.state_dir = tmp;
	sc.anon.lio_portal = "127.0.0.1:3262";
	sc.max_clients = 8;
	sc.max_sessions = 2;
	sc.allow_uids[sc.n_allow_uids++] = API_UID;
	sc.portal_uids[sc.n_portal_uids++] = PORTAL_UID;
	s = cfgd_server_new(&sc);
	assert_non_null(s);

	assert_true(cfgd_server_uid_allowed(s, 0));
	assert_true(cfgd_server_uid_allowed(s, API_UID));
	assert_true(cfgd_server_uid_allowed(s, PORTAL_UID));
	assert_false(cfgd_server_uid_allowed(s, 5));
	assert_false(cfgd_server_uid_portal_only(s, 0));
	assert_false(cfgd_server_uid_portal_only(s, API_UID));
	assert_true(cfgd_server_uid_portal_only(s, PORTAL_UID));

	portal = cfgd_server_client_new(s, 100, PORTAL_UID);
	api = cfgd_server_client_new(s, 101, API_UID);
	rootc = cfgd_server_client_new(s, 102, 0);
	assert_non_null(portal);
	assert_non_null(api);
	assert_non_null(rootc);
	/* The portal's own requests are served... */
	assert_int_equal(ask(s, portal, "{\"v\":1,\"op\":\"hello\"}"), 0);
	assert_int_equal(ask(s, portal, "{\"v\":1,\"op\":\"anon_create\",\"target\":"
			     "\"iqn.2025-01.pub.scsipub:blank\",\"client\":\"iqn.X:Y\","
			     "\"peer\":\"192.0.2.1:1\"}"), 0);
	/* ...every other one is refused, and the others' are still served. */
	for (size_t i = 0; i < sizeof(not_portal) / sizeof(not_portal[0]); i++)
		assert_int_equal(ask(s, portal, not_portal[i]), EPERM);
	assert_int_equal(ask(s, api, "{\"v\":1,\"op\":\"list\"}"), 0);
	assert_int_equal(ask(s, rootc, "{\"v\":1,\"op\":\"prov_list\"}"), 0);
	assert_int_equal(cfgd_server_sessions(s), 1);

	cfgd_server_client_end(s, portal); /* its session goes with it */
	cfgd_server_client_end(s, api);
	cfgd_server_client_end(s, rootc);
	assert_int_equal(cfgd_server_sessions(s), 0);
	cfgd_server_free(s);
	cfs_close(c);
	assert_int_equal(test_rmtree(tmp), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_portal_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
