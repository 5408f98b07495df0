/*
 * test_options.c — unit tests for tls-proxy/options.c: defaults, both value
 * syntaxes, --public defaulting and its requirement for wildcard listens,
 * rejection of bad addresses, numbers and unknown options, and the hardening
 * options (per-address limits, login timeout, NOP-In keepalive).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "options.h"

static char err[512];

#define PARSE(...) ({ char *argv[] = { "scsipub-portal", __VA_ARGS__, NULL }; \
	options_parse((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv, &o, err, sizeof(err)); })

static void test_defaults(void **state)
{
	struct portal_options o;

	(void)state;
	assert_int_equal(PARSE("--public", "pub.example:3260"), 0);
	assert_string_equal(o.listen, "0.0.0.0:3260");
	assert_string_equal(o.public_addr, "pub.example:3260");
	assert_string_equal(o.lio, "127.0.0.1:3262");
	assert_string_equal(o.images, "/var/lib/scsipub/images");
	assert_string_equal(o.state, "/var/lib/scsipub");
	assert_string_equal(o.configfs, "/sys/kernel/config/target");
	assert_string_equal(o.cfgd_socket, "/run/scsipub/cfgd.sock");
	assert_string_equal(o.user, "");
	assert_int_equal(o.max_pdu, 65536);
	assert_int_equal(o.max_conn_per_ip, 16);
	assert_int_equal(o.login_rate, 10);
	assert_int_equal(o.login_burst, 40);
	/* Per network (issue 8): 64 per /24 or /48, so one network holds at most 1/16 of
	 * the portal's 1024 connections; 40/s with a burst of 160. */
	assert_int_equal(o.max_conn_per_net4, 64);
	assert_int_equal(o.max_conn_per_net6, 64);
	assert_int_equal(o.net_login_rate, 40);
	assert_int_equal(o.net_login_burst, 160);
	assert_int_equal(o.login_timeout, 10);
	assert_int_equal(o.nopin_interval, 5);
	assert_int_equal(o.nopin_timeout, 5);
	assert_false(o.verbose);
	assert_false(o.relay_any_cpu);
	assert_string_equal(o.tcmu_place_socket, "/run/scsipub/tcmu-place.sock");
	/* TLS (issue 4): listener on 3261, advertised with the public host; no cert. */
	assert_string_equal(o.tls_listen, "0.0.0.0:3261");
	assert_string_equal(o.tls_public, "pub.example:3261");
	assert_string_equal(o.tls_cert, "");
	assert_string_equal(o.tls_key, "");
	assert_int_equal(o.tls_reload_interval, 60); /* the "at most once per 60 s" */
}

static void test_tls(void **state)
{
	struct portal_options o;

	(void)state;
	assert_int_equal(PARSE("--public", "[2001:db8::1]:3260", "--tls-listen=[::]:4443",
			       "--tls-cert", "/etc/p.crt", "--tls-key=/etc/p.key",
			       "--tls-reload-interval", "5"), 0);
	assert_string_equal(o.tls_listen, "[::]:4443");
	assert_string_equal(o.tls_public, "[2001:db8::1]:4443");
	assert_string_equal(o.tls_cert, "/etc/p.crt");
	assert_string_equal(o.tls_key, "/etc/p.key");
	assert_int_equal(o.tls_reload_interval, 5);
	assert_int_equal(PARSE("--public", "p:1", "--tls-public", "tls.example:443"), 0);
	assert_string_equal(o.tls_public, "tls.example:443");
	assert_int_equal(PARSE("--public", "p:1", "--tls-listen="), 0); /* off */
	assert_string_equal(o.tls_listen, "");
	assert_string_equal(o.tls_public, "");
	assert_int_equal(PARSE("--public", "p:1", "--tls-listen", ""), 0);
	assert_string_equal(o.tls_listen, "");
	assert_int_equal(PARSE("--public", "p:1", "--tls-listen", "example:3261"), -22);
	assert_non_null(strstr(err, "numeric"));
	assert_int_equal(PARSE("--public", "p:1", "--tls-listen", "1.2.3.4"), -22);
	assert_int_equal(PARSE("--public", "p:1", "--tls-reload-interval", "0"), -22);
	assert_int_equal(PARSE("--public", "p:1", "--tls-reload-interval", "86401"), -22);
	assert_int_equal(PARSE("--public", "p:1", "--tls-public", "x"), -22);
}

static void test_values(void **state)
{
	struct portal_options o;

	(void)state;
	assert_int_equal(PARSE("--listen=192.0.2.1:3261", "--user", "scsipub",
			       "--max-pdu=8192", "--cfgd-socket=/tmp/c.sock", "--verbose",
			       "--relay-any-cpu", "--lio", "[::1]:3262", "--images", "/srv/img",
			       "--tcmu-place-socket="),
			 0);
	assert_string_equal(o.tcmu_place_socket, "");  /* "" = do not tell the handler */
	assert_string_equal(o.public_addr, "192.0.2.1:3261"); /* defaults to --listen */
	assert_string_equal(o.user, "scsipub");
	assert_int_equal(o.max_pdu, 8192);
	assert_string_equal(o.cfgd_socket, "/tmp/c.sock");
	assert_true(o.verbose);
	assert_true(o.relay_any_cpu);
	assert_string_equal(o.lio, "[::1]:3262");
	assert_string_equal(o.images, "/srv/img");
	/* The anonymous-session policy moved to scsipub-cfgd. */
	assert_int_equal(PARSE("--public", "p:1", "--anon-write-limit=0"), -22);
	assert_int_equal(PARSE("--public", "p:1", "--keep-overlays"), -22);
	assert_int_equal(PARSE("--public", "p:1", "--max-conn-per-ip=0", "--login-rate", "0",
			       "--login-burst=1", "--login-timeout", "3", "--nopin-interval=60",
			       "--nopin-timeout", "3"), 0);
	assert_int_equal(o.max_conn_per_ip, 0);
	assert_int_equal(o.login_rate, 0);
	assert_int_equal(o.login_burst, 1);
	assert_int_equal(o.login_timeout, 3);
	assert_int_equal(o.nopin_interval, 60);
	assert_int_equal(o.nopin_timeout, 3);
	assert_int_equal(PARSE("--public", "p:1", "--max-conn-per-net4=0", "--max-conn-per-net6",
			       "256", "--net-login-rate", "0", "--net-login-burst=5"), 0);
	assert_int_equal(o.max_conn_per_net4, 0);
	assert_int_equal(o.max_conn_per_net6, 256);
	assert_int_equal(o.net_login_rate, 0);
	assert_int_equal(o.net_login_burst, 5);
}

static void test_errors(void **state)
{
	struct portal_options o;

	(void)state;
	assert_int_equal(PARSE("--verbose"), -22); /* wildcard listen needs --public */
	assert_non_null(strstr(err, "--public"));
	assert_int_equal(PARSE("--listen", "[::]:3260"), -22);
	assert_int_equal(PARSE("--public", "x:0"), -22);
	assert_int_equal(PARSE("--public", "x:65536"), -22);
	assert_int_equal(PARSE("--public", "x"), -22);
	assert_int_equal(PARSE("--public", "a,b:3260"), -22);
	assert_int_equal(PARSE("--public", "p:1", "--lio", "localhost:3262"), -22);
	assert_non_null(strstr(err, "numeric"));
	assert_int_equal(PARSE("--public", "p:1", "--max-pdu", "100"), -22);
	assert_int_equal(PARSE("--public", "p:1", "--max-pdu", "16777216"), -22);
	assert_int_equal(PARSE("--public", "p:1", "--write-limit", "-1"), -22);
	assert_int_equal(PARSE("--public", "p:1", "--write-limit", "12k"), -22);
	assert_int_equal(PARSE("--public", "p:1", "--anon-write-limit", "-1"), -22);
	assert_non_null(strstr(err, "--anon-write-limit"));
	assert_int_equal(PARSE("--public", "p:1", "--keep-overlays=1"), -22);
	assert_int_equal(PARSE("--public", "p:1", "--bogus"), -22);
	assert_non_null(strstr(err, "unknown option"));
	assert_int_equal(PARSE("--public", "p:1", "stray"), -22);
	assert_int_equal(PARSE("--public"), -22);
	assert_non_null(strstr(err, "needs a value"));
	/* LIO's NOP-In range is 3..60 s; a login needs at least a second. */
	assert_int_equal(PARSE("--public", "p:1", "--nopin-interval", "2"), -22);
	assert_non_null(strstr(err, "3..60"));
	assert_int_equal(PARSE("--public", "p:1", "--nopin-timeout", "61"), -22);
	assert_int_equal(PARSE("--public", "p:1", "--login-timeout", "0"), -22);
	assert_int_equal(PARSE("--public", "p:1", "--login-burst", "0"), -22);
	assert_int_equal(PARSE("--public", "p:1", "--max-conn-per-ip", "65536"), -22);
	assert_int_equal(PARSE("--public", "p:1", "--max-conn-per-net4", "65536"), -22);
	assert_int_equal(PARSE("--public", "p:1", "--net-login-burst", "0"), -22);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_tls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
