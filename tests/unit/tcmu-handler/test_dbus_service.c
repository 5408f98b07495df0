/*
 * test_dbus_service.c — unit tests for tcmu-handler/dbus_service.c: the CheckConfig
 * logic as a pure function, then the real service against private dbus-daemons
 * (DBUS_SYSTEM_BUS_ADDRESS points at them): the exported shape targetcli reads
 * (GetManagedObjects, ConfigDesc, CheckConfig, ChangeMedium), stop/restart, and the
 * no-bus, name-taken and policy-denied errors. The bus tests are skipped when
 * dbus-daemon is not installed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>

#include "dbus_service.h"
#include "test_tmpdir.h"

#define DBUS_DAEMON "/usr/bin/dbus-daemon"
#define HANDLER_PATH DBUS_SERVICE_PATH "/cow"
#define GOOD_CFG "cow/size=67108864;overlay=/tmp/a.ovl;bitmap=/tmp/a.bm"

/* ---- the pure config check ---- */

static void test_check_config_valid(void **state)
{
	char reason[256] = "";

	(void)state;
	assert_int_equal(dbus_service_check_config(GOOD_CFG, reason, sizeof(reason)), 1);
	assert_string_equal(reason, "success");
	assert_int_equal(dbus_service_check_config(
				 "size=512;overlay=/o;bitmap=/b;base=/srv/d.iso;limit=4096",
				 reason, sizeof(reason)), 1);
	assert_string_equal(reason, "success");
	/* reason is optional */
	assert_int_equal(dbus_service_check_config(GOOD_CFG, NULL, 0), 1);
}

static void test_check_config_invalid(void **state)
{
	char reason[256];
	char big[400];

	(void)state;
	assert_int_equal(dbus_service_check_config(NULL, reason, sizeof(reason)), 0);
	assert_string_equal(reason, "no config string");

	assert_int_equal(dbus_service_check_config("cow/size=512;overlay=/o", reason,
						   sizeof(reason)), 0);
	assert_non_null(strstr(reason, "missing key 'bitmap'"));

	assert_int_equal(dbus_service_check_config("cow/size=100;overlay=/o;bitmap=/b",
						   reason, sizeof(reason)), 0);
	assert_non_null(strstr(reason, "multiple of 512"));

	assert_int_equal(dbus_service_check_config("cow/", reason, sizeof(reason)), 0);
	assert_string_equal(reason, "empty config");

	/* another handler's config */
	assert_int_equal(dbus_service_check_config("qcow//var/lib/x.qcow2", reason,
						   sizeof(reason)), 0);
	assert_string_equal(reason, "config is for handler 'qcow', not 'cow'");
	assert_int_equal(dbus_service_check_config("file/size=512;overlay=/o;bitmap=/b",
						   reason, sizeof(reason)), 0);
	assert_string_equal(reason, "config is for handler 'file', not 'cow'");

	/* longer than the kernel's 255 bytes once "cow/" is counted */
	snprintf(big, sizeof(big), "size=512;overlay=/%0200d;bitmap=/%040d", 0, 0);
	assert_int_equal(dbus_service_check_config(big, reason, sizeof(reason)), 0);
	assert_non_null(strstr(reason, "at most 255"));

	/* a reason buffer too small is truncated, still NUL-terminated */
	memset(reason, 'x', sizeof(reason));
	assert_int_equal(dbus_service_check_config("cow/bogus=1", reason, 8), 0);
	assert_int_equal(strlen(reason), 7);
	assert_int_equal(dbus_service_check_config("cow/bogus=1", NULL, 0), 0);
}

/* ---- a private dbus-daemon ---- */

struct bus {
	pid_t pid;
	char dir[64];
	char addr[512];
};

/*
 * Start dbus-daemon on a socket in a fresh directory and point DBUS_SYSTEM_BUS_ADDRESS
 * at it; deny_own forbids owning our name. The daemon gets /dev/null for stdio (so it
 * never holds a test runner's pipe open) and dies with us (PR_SET_PDEATHSIG) even if
 * the test binary crashes; teardown_bus stops it after a failed assertion.
 */
static int bus_start(struct bus *b, int deny_own)
{
	char conf[128];
	int fds[2];
	FILE *f;
	ssize_t n;
	size_t got = 0;

	memset(b, 0, sizeof(*b));
	if (!test_mkdtemp(b->dir, sizeof(b->dir), "test-dbus"))
		return -1;
	snprintf(conf, sizeof(conf), "%s/bus.conf", b->dir);
	f = fopen(conf, "w");
	if (!f)
		return -1;
	fprintf(f,
		"<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
		" \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
		"<busconfig>\n"
		"  <listen>unix:path=%s/bus</listen>\n"
		"  <auth>EXTERNAL</auth>\n"
		"  <policy context=\"default\">\n"
		"    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
		"    <allow eavesdrop=\"true\"/>\n"
		"    <allow own=\"*\"/>\n"
		"    %s\n"
		"  </policy>\n"
		"</busconfig>\n",
		b->dir, deny_own ? "<deny own=\"" DBUS_SERVICE_NAME "\"/>" : "");
	fclose(f);
	if (pipe(fds))
		return -1;
	b->pid = fork();
	if (b->pid < 0)
		return -1;
	if (!b->pid) {
		char cf[160], pa[32];

		int null = open("/dev/null", O_RDWR);

		close(fds[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO); /* "Failed to set fd limit" in containers */
			close(null);
		}
		snprintf(cf, sizeof(cf), "--config-file=%s", conf);
		snprintf(pa, sizeof(pa), "--print-address=%d", fds[1]);
		execl(DBUS_DAEMON, DBUS_DAEMON, cf, "--nofork", pa, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	while (got < sizeof(b->addr) - 1 &&
	       (n = read(fds[0], b->addr + got, sizeof(b->addr) - 1 - got)) > 0) {
		got += (size_t)n;
		if (memchr(b->addr, '\n', got))
			break;
	}
	close(fds[0]);
	b->addr[got] = '\0';
	b->addr[strcspn(b->addr, "\n")] = '\0';
	if (!b->addr[0])
		return -1;
	setenv("DBUS_SYSTEM_BUS_ADDRESS", b->addr, 1);
	return 0;
}

static void bus_stop(struct bus *b)
{
	char p[128];

	if (b->pid > 0) {
		kill(b->pid, SIGTERM);
		waitpid(b->pid, NULL, 0);
		b->pid = 0;
	}
	snprintf(p, sizeof(p), "%s/bus", b->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/bus.conf", b->dir);
	unlink(p);
	rmdir(b->dir);
	unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
}

/* The bus of the running test; torn down by teardown_bus even after a failure. */
static struct bus the_bus;

static int teardown_bus(void **state)
{
	(void)state;
	dbus_service_stop();
	if (the_bus.pid > 0)
		bus_stop(&the_bus);
	memset(&the_bus, 0, sizeof(the_bus));
	return 0;
}

static GDBusConnection *client(const struct bus *b)
{
	GError *e = NULL;
	GDBusConnection *c = g_dbus_connection_new_for_address_sync(
		b->addr, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
			 G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL, NULL, &e);

	if (!c)
		fail_msg("client connect: %s", e->message);
	return c;
}

static GVariant *call(GDBusConnection *c, const char *dest, const char *path,
		      const char *iface, const char *method, GVariant *args, const char *type)
{
	GError *e = NULL;
	GVariant *r = g_dbus_connection_call_sync(c, dest, path, iface, method, args,
						  G_VARIANT_TYPE(type), G_DBUS_CALL_FLAGS_NONE,
						  5000, NULL, &e);

	if (!r)
		fail_msg("%s: %s", method, e->message);
	return r;
}

static int name_has_owner(GDBusConnection *c)
{
	gboolean has;
	GVariant *r = call(c, "org.freedesktop.DBus", "/org/freedesktop/DBus",
			   "org.freedesktop.DBus", "NameHasOwner",
			   g_variant_new("(s)", DBUS_SERVICE_NAME), "(b)");

	g_variant_get(r, "(b)", &has);
	g_variant_unref(r);
	return has;
}

static void close_client(GDBusConnection *c)
{
	g_dbus_connection_close_sync(c, NULL, NULL);
	g_object_unref(c);
	/* the client's "closed" notification is queued on the global default context */
	while (g_main_context_iteration(NULL, FALSE))
		;
}

/* Whether the thread named comm blocks SIGTERM (SigBlk in /proc); -1 if not found. */
static int thread_blocks_sigterm(const char *comm)
{
	char path[300], line[256];
	unsigned long long blk;
	int found = -1;
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	FILE *f;

	assert_non_null(d);
	while (found < 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		fclose(f);
		line[strcspn(line, "\n")] = '\0';
		if (strcmp(line, comm))
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/status", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "SigBlk: %llx", &blk) == 1)
				found = !!(blk & (1ull << (SIGTERM - 1)));
		fclose(f);
	}
	closedir(d);
	return found;
}

static int have_dbus_daemon(void)
{
	return access(DBUS_DAEMON, X_OK) == 0;
}

/* ---- the service on a bus ---- */

static void test_no_bus(void **state)
{
	char err[256] = "";

	(void)state;
	setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/scsipub-test-bus", 1);
	assert_int_equal(dbus_service_start(err, sizeof(err)), -ENOTCONN);
	assert_non_null(strstr(err, "cannot connect to the system bus"));
	/* nothing left behind: the same failure again, and stop is a no-op */
	assert_int_equal(dbus_service_start(NULL, 0), -ENOTCONN);
	dbus_service_stop();
	unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
}

static void test_exported_shape(void **state)
{
	GDBusConnection *c;
	GVariant *r, *objs, *ifaces, *props, *v;
	GVariantIter it;
	const char *path, *s;
	gboolean ok;
	gint32 ret;
	char err[256] = "";

	(void)state;
	if (!have_dbus_daemon())
		skip();
	assert_int_equal(bus_start(&the_bus, 0), 0);
	assert_int_equal(dbus_service_start(err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(dbus_service_start(err, sizeof(err)), -EALREADY);
	c = client(&the_bus);
	assert_true(name_has_owner(c));
	/* our threads leave signals to the daemon; the caller's mask is unchanged */
	for (int i = 0; i < 200 && thread_blocks_sigterm("scsipub-dbus") < 0; i++)
		usleep(10000); /* GLib names the thread once it runs */
	assert_int_equal(thread_blocks_sigterm("scsipub-dbus"), 1);
	assert_int_equal(thread_blocks_sigterm("gdbus"), 1);
	{
		sigset_t cur;

		pthread_sigmask(SIG_BLOCK, NULL, &cur);
		assert_false(sigismember(&cur, SIGTERM));
	}

	/* what targetcli's _user_backstores reads: one object, named by its last element */
	r = call(c, DBUS_SERVICE_NAME, DBUS_SERVICE_PATH, "org.freedesktop.DBus.ObjectManager",
		 "GetManagedObjects", NULL, "(a{oa{sa{sv}}})");
	objs = g_variant_get_child_value(r, 0);
	assert_int_equal(g_variant_n_children(objs), 1);
	g_variant_iter_init(&it, objs);
	assert_true(g_variant_iter_next(&it, "{&o@a{sa{sv}}}", &path, &ifaces));
	assert_string_equal(path, HANDLER_PATH);
	assert_true(g_variant_lookup(ifaces, DBUS_SERVICE_IFACE, "@a{sv}", &props));
	assert_true(g_variant_lookup(props, "ConfigDesc", "&s", &s));
	assert_non_null(strstr(s, "size=<bytes>;overlay=<path>;bitmap=<path>"));
	g_variant_unref(props);
	g_variant_unref(ifaces);
	g_variant_unref(objs);
	g_variant_unref(r);

	/* the same property through org.freedesktop.DBus.Properties */
	r = call(c, DBUS_SERVICE_NAME, HANDLER_PATH, "org.freedesktop.DBus.Properties", "Get",
		 g_variant_new("(ss)", DBUS_SERVICE_IFACE, "ConfigDesc"), "(v)");
	g_variant_get(r, "(v)", &v);
	assert_non_null(strstr(g_variant_get_string(v, NULL), "limit=<bytes>"));
	g_variant_unref(v);
	g_variant_unref(r);

	/* CheckConfig gets the full dev_config, as targetcli's create sends it */
	r = call(c, DBUS_SERVICE_NAME, HANDLER_PATH, DBUS_SERVICE_IFACE, "CheckConfig",
		 g_variant_new("(s)", GOOD_CFG), "(bs)");
	g_variant_get(r, "(b&s)", &ok, &s);
	assert_true(ok);
	assert_string_equal(s, "success");
	g_variant_unref(r);
	r = call(c, DBUS_SERVICE_NAME, HANDLER_PATH, DBUS_SERVICE_IFACE, "CheckConfig",
		 g_variant_new("(s)", "cow/size=512;bitmap=/b"), "(bs)");
	g_variant_get(r, "(b&s)", &ok, &s);
	assert_false(ok);
	assert_string_equal(s, "missing key 'overlay'");
	g_variant_unref(r);

	r = call(c, DBUS_SERVICE_NAME, HANDLER_PATH, DBUS_SERVICE_IFACE, "ChangeMedium",
		 g_variant_new("(sts)", "sp0", (guint64)512, GOOD_CFG), "(is)");
	g_variant_get(r, "(i&s)", &ret, &s);
	assert_int_equal(ret, -EOPNOTSUPP);
	g_variant_unref(r);

	/* stop releases the name; start/stop again works */
	dbus_service_stop();
	assert_false(name_has_owner(c));
	assert_int_equal(dbus_service_start(err, sizeof(err)), 0);
	assert_true(name_has_owner(c));
	dbus_service_stop();
	dbus_service_stop();
	assert_false(name_has_owner(c));

	close_client(c);
	bus_stop(&the_bus);
}

static void test_name_taken(void **state)
{
	GDBusConnection *c;
	GVariant *r;
	guint32 code;
	char err[256] = "";

	(void)state;
	if (!have_dbus_daemon())
		skip();
	assert_int_equal(bus_start(&the_bus, 0), 0);
	c = client(&the_bus);
	r = call(c, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
		 "RequestName", g_variant_new("(su)", DBUS_SERVICE_NAME, 4u), "(u)");
	g_variant_get(r, "(u)", &code);
	g_variant_unref(r);
	assert_int_equal(code, 1);
	assert_int_equal(dbus_service_start(err, sizeof(err)), -EBUSY);
	assert_non_null(strstr(err, "owned by another process"));
	close_client(c);
	bus_stop(&the_bus);
}

static void test_policy_denied(void **state)
{
	char err[256] = "";

	(void)state;
	if (!have_dbus_daemon())
		skip();
	assert_int_equal(bus_start(&the_bus, 1), 0);
	assert_int_equal(dbus_service_start(err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, "bus policy forbids"));
	bus_stop(&the_bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_config_valid),
		cmocka_unit_test(test_check_config_invalid),
		cmocka_unit_test(test_no_bus),
		cmocka_unit_test_teardown(test_exported_shape, teardown_bus),
		cmocka_unit_test_teardown(test_name_taken, teardown_bus),
		cmocka_unit_test_teardown(test_policy_denied, teardown_bus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
