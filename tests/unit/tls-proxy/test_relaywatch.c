/*
 * test_relaywatch.c — the relay's watch (relaywatch.h): the connection table's byte
 * counts follow the relay's rounds; nothing is learnt before Full Feature Phase, and
 * after it LIO's CPU is read once, from the first PDU LIO sends in it; a provisioned
 * target's hint goes to scsipub-tcmu's socket once per disk; a watch that never
 * entered the placer's table leaves nothing behind.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_tcp.h"
#include "test_tmpdir.h"

#include "conntab.h"
#include "log.h"
#include "monotime.h"
#include "placement.h"
#include "placehint.h"
#include "provplace.h"
#include "relaywatch.h"
#include "unixsock.h"

#define TGT "iqn.2025-01.pub.scsipub:s.abc"
#define INI "iqn.1993-08.org.debian:01:abc"

static const struct login_req req = { .initiator = INI, .target = TGT };
static const struct login_times times;

/* The counters of the only connection in t's JSON: "bytes_in" and "bytes_out". */
static void counters(struct conntab *t, long long *in, long long *out)
{
	char *j = conntab_json(t), *p;

	assert_non_null(j);
	p = strstr(j, "\"bytes_in\":");
	assert_non_null(p);
	*in = strtoll(p + strlen("\"bytes_in\":"), NULL, 10);
	p = strstr(j, "\"bytes_out\":");
	assert_non_null(p);
	*out = strtoll(p + strlen("\"bytes_out\":"), NULL, 10);
	free(j);
}

/* What each watch test relays through: a connection table, an anonymous session's
 * PDU filter, the portal's settings (no hints sent, the relay thread never bound). */
struct fix {
	struct conntab *tab;
	struct pdufilter *f;
	struct relaywatch_cfg cfg;
};

static int setup(void **state)
{
	struct pdufilter_cfg fc = { .target = TGT, .public_addr = "192.0.2.1:3260",
				    .peer = "198.51.100.7" };
	struct fix *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	x->tab = conntab_new(NULL);
	x->f = pdufilter_new(&fc);
	assert_non_null(x->tab);
	assert_non_null(x->f);
	x->cfg = (struct relaywatch_cfg){ .tcmu_place_socket = "", .configfs = "/nonexistent",
					  .tab = x->tab, .relay_any_cpu = true };
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fix *x = *state;

	pdufilter_free(x->f);
	conntab_free(x->tab);
	free(x);
	return 0;
}

static void test_bytes_before_ffp(void **state)
{
	struct fix *x = *state;
	struct conntab *tab = x->tab;
	struct relay_watch w;
	struct relay_stats st = { .to_lio = 48, .to_client = 0 };
	long long in, out;

	relaywatch_init(&w, &x->cfg, "198.51.100.7", &times, &req, x->f, NULL, true);
	assert_false(w.pin);          /* relay_any_cpu */
	assert_int_equal(w.lio_cpu, -1);
	assert_int_equal(w.lio_fd, -1);
	w.id = conntab_add(tab, "198.51.100.7:40000", INI, NULL, TGT, CONNTAB_PROVISIONED, 0);
	assert_true(w.id != 0);

	relaywatch_bytes(&w, &st);
	counters(tab, &in, &out);
	assert_int_equal(in, 48);
	assert_int_equal(out, 0);
	st.to_client = 48;
	relaywatch_bytes(&w, &st);
	st.to_lio = 1048624;
	st.to_client = 96;
	relaywatch_bytes(&w, &st);
	counters(tab, &in, &out);
	assert_int_equal(in, 1048624);
	assert_int_equal(out, 96);
	/* The login is not in Full Feature Phase: LIO's CPU is not asked for. */
	assert_false(w.ffp_logged);
	assert_false(w.learnt);
	assert_int_equal(w.lio_cpu, -1);

	relaywatch_end(&w); /* never entered: no placer needed */
	assert_false(w.entered);
	conntab_remove(tab, w.id);
	assert_int_equal(conntab_count(tab), 0);
}

static void test_cpu_learnt_once_in_ffp(void **state)
{
	struct fix *x = *state;
	struct conntab *tab = x->tab;
	int64_t now = monotime_ns();
	struct login_times t = { .accept = now - 5000000, .lio_sent = now - 2000000 };
	struct relay_watch w;
	struct relay_stats st = { .to_lio = 48 };
	struct pf_buf out = { 0 };
	uint8_t rsp[48] = { 0x23, 0x87 }; /* final Login Response: T, CSG 1, NSG 3 */
	char byte = 'x';
	int lio, fd, cpu, verbose = plog_verbose;

	assert_int_equal(test_tcp_pair(&lio, &fd), 0); /* LIO's end, the portal's */
	assert_int_equal(write(lio, &byte, 1), 1);
	assert_int_equal(read(fd, &byte, 1), 1);
	cpu = placement_socket_cpu(fd);
	assert_true(cpu >= 0);

	relaywatch_init(&w, &x->cfg, "198.51.100.7", &t, &req, x->f, NULL, false);
	w.lio_fd = fd;
	w.id = conntab_add(tab, "198.51.100.7:40000", INI, NULL, TGT, CONNTAB_ANONYMOUS, 0);
	plog_verbose = 1; /* the login-time line is written (stderr) */
	/* LIO's final Login Response passes: Full Feature Phase, its bytes the mark */
	assert_int_equal(pdufilter_feed(x->f, PF_TO_INITIATOR, rsp, sizeof(rsp), &out), 0);
	assert_true(pdufilter_in_ffp(x->f));
	st.to_client = 48;
	relaywatch_bytes(&w, &st);
	assert_true(w.ffp_logged);
	assert_int_equal(w.ffp_to_client, 48);
	assert_false(w.learnt);       /* the Login Response is not a PDU of the session */
	st.to_lio = 96;
	relaywatch_bytes(&w, &st);    /* nothing from LIO since */
	assert_false(w.learnt);
	st.to_client = 96;            /* LIO's first PDU in the session */
	relaywatch_bytes(&w, &st);
	assert_true(w.learnt);
	assert_int_equal(w.lio_cpu, cpu);
	/* asked once: a closed socket later changes nothing */
	close(fd);
	st.to_client = 144;
	relaywatch_bytes(&w, &st);
	assert_int_equal(w.lio_cpu, cpu);
	plog_verbose = verbose;

	relaywatch_end(&w);
	conntab_remove(tab, w.id);
	close(lio);
	pf_buf_free(&out);
}

static void test_tell_prov(void **state)
{
	char dir[PATH_MAX], sock[PATH_MAX + 16], err[256], name[PLACEHINT_NAME_MAX + 1];
	const char disks[2][PROVTARGET_DISK_LEN] = { "pvabcl0", "pvabcl1" };
	struct relaywatch_cfg cfg = { .configfs = "/nonexistent" };
	int fd, cpu;

	(void)state;
	assert_non_null(test_mkdtemp(dir, sizeof(dir), "test_relaywatch"));
	snprintf(sock, sizeof(sock), "%s/place.sock", dir);
	fd = unixsock_listen(sock, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NULL, err,
			     sizeof(err));
	assert_true(fd >= 0);
	cfg.tcmu_place_socket = sock;

	relaywatch_tell_prov(&cfg, TGT, 1, disks, 2, 1);
	assert_int_equal(placehint_recv(fd, name, sizeof(name), &cpu), 1);
	assert_string_equal(name, "pvabcl0");
	assert_int_equal(cpu, 1);
	assert_int_equal(placehint_recv(fd, name, sizeof(name), &cpu), 1);
	assert_string_equal(name, "pvabcl1");
	assert_int_equal(cpu, 1);
	assert_int_equal(placehint_recv(fd, name, sizeof(name), &cpu), 0);

	/* Withdrawn (connections on several CPUs): "-" for each disk. */
	relaywatch_tell_prov(&cfg, TGT, PLACEHINT_NONE, disks, 2, 2);
	assert_int_equal(placehint_recv(fd, name, sizeof(name), &cpu), 1);
	assert_string_equal(name, "pvabcl0");
	assert_int_equal(cpu, PLACEHINT_NONE);
	assert_int_equal(placehint_recv(fd, name, sizeof(name), &cpu), 1);
	assert_string_equal(name, "pvabcl1");
	assert_int_equal(cpu, PLACEHINT_NONE);

	/* No handler listening: nothing sent, nothing fails. */
	close(fd);
	unlink(sock);
	relaywatch_tell_prov(&cfg, TGT, 0, disks, 2, 1);
	test_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bytes_before_ffp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cpu_learnt_once_in_ffp, setup, teardown),
		cmocka_unit_test(test_tell_prov),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
