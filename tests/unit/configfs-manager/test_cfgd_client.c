/*
 * test_cfgd_client.c — how the client side of scsipub-cfgd's socket
 * (configfs-manager/cfgd_client.c) reads anon_create's answer: the names and the
 * session's own disks ("disks", cfgd_proto.h); a daemon that sends no "disks" (built
 * before the key) means none; a malformed list (not an array, too many, a name empty,
 * too long or not a string) or a missing name is -EPROTO; the daemon's refusal is its
 * errno and message. The daemon's side is a socketpair whose answer is queued before
 * the call.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cfgd_client.h"

#define INI "\"initiator\":\"iqn.2025-01.pub.scsipub:anon.1\""
#define BS  "\"backstore\":\"sp0123456789abcdef\""

/* cfgd_anon_create against a daemon that answers `answer`; the request it sent must be
 * an anon_create. */
static int create(const char *answer, struct cfgd_anon *a, char *err, size_t errlen)
{
	char req[4096];
	int sv[2], r;
	ssize_t n;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_int_equal(send(sv[1], answer, strlen(answer), 0), (ssize_t)strlen(answer));
	r = cfgd_anon_create(sv[0], "iqn.2025-01.pub.scsipub:multi", "iqn.x:y", "192.0.2.1:1",
			     a, err, errlen);
	n = recv(sv[1], req, sizeof(req) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	req[n] = '\0';
	assert_non_null(strstr(req, "\"op\":\"anon_create\""));
	close(sv[0]);
	close(sv[1]);
	return r;
}

static void test_disks(void **state)
{
	struct cfgd_anon a;
	char err[256] = "";

	(void)state;
	/* multi: two disks of its own, in LUN order. */
	assert_int_equal(create("{\"ok\":true," INI "," BS ",\"disks\":[\"sp0123456789abcdef\","
				"\"sp00000000000000ff\"]}", &a, err, sizeof(err)), 0);
	assert_string_equal(a.initiator, "iqn.2025-01.pub.scsipub:anon.1");
	assert_string_equal(a.backstore, "sp0123456789abcdef");
	assert_int_equal(a.n_disks, 2);
	assert_string_equal(a.disks[0], "sp0123456789abcdef");
	assert_string_equal(a.disks[1], "sp00000000000000ff");

	/* ro.<name>: none of its own. */
	assert_int_equal(create("{\"ok\":true," INI "," BS ",\"disks\":[]}", &a, err,
				sizeof(err)), 0);
	assert_int_equal(a.n_disks, 0);

	/* A daemon from before "disks": none, the rest as before. */
	assert_int_equal(create("{\"ok\":true," INI "," BS ",\"lun\":0}", &a, err, sizeof(err)),
			 0);
	assert_int_equal(a.n_disks, 0);
	assert_string_equal(a.backstore, "sp0123456789abcdef");
}

static void test_malformed(void **state)
{
	static const char *const bad[] = {
		"{\"ok\":true," INI "," BS ",\"disks\":\"sp0123456789abcdef\"}",
		"{\"ok\":true," INI "," BS ",\"disks\":[\"a\",\"b\",\"c\"]}",
		"{\"ok\":true," INI "," BS ",\"disks\":[\"\"]}",
		"{\"ok\":true," INI "," BS ",\"disks\":[\"a\",7]}",
		"{\"ok\":true," INI "," BS ",\"disks\":[null]}",
		"{\"ok\":true," INI "," BS ",\"disks\":[\"0123456789abcdef0123456789abcdef\"]}",
		"{\"ok\":true," INI ",\"disks\":[]}",
		"{\"ok\":true," BS ",\"disks\":[]}",
		"{\"ok\":true," INI ",\"backstore\":\"0123456789abcdef0123456789abcdef\"}",
		"not json",
	};
	struct cfgd_anon a;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (create(bad[i], &a, err, sizeof(err)) != -EPROTO)
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(strstr(err, "malformed"));
	}
	/* The longest name that fits is taken whole. */
	assert_int_equal(create("{\"ok\":true," INI "," BS ",\"disks\":[\"0123456789abcdef"
				"0123456789abcde\"]}", &a, err, sizeof(err)), 0);
	assert_int_equal(strlen(a.disks[0]), CFGD_BACKSTORE_MAX);
}

static void test_refused(void **state)
{
	struct cfgd_anon a;
	char err[256] = "";

	(void)state;
	assert_int_equal(create("{\"ok\":false,\"errno\":24,\"error\":\"2 anonymous sessions "
				"exist (--max-sessions)\"}", &a, err, sizeof(err)), -EMFILE);
	assert_string_equal(err, "2 anonymous sessions exist (--max-sessions)");
	assert_int_equal(a.n_disks, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disks),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
