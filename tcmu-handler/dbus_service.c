/*
 * dbus_service.c — org.kernel.TCMUService1 on the system bus for targetcli
 * (contract in dbus_service.h).
 *
 * The objects are registered by hand with g_dbus_connection_register_object (no
 * generated code): the ObjectManager at DBUS_SERVICE_PATH answers GetManagedObjects
 * from the same static table the handler object serves its ConfigDesc property from.
 * The set of handlers never changes while we run, so InterfacesAdded/Removed are
 * declared but never emitted.
 *
 * We use a private connection (not the g_bus_get() singleton) so closing it in
 * dbus_service_stop() cannot disturb anyone else in the process and a lost bus never
 * terminates the daemon (exit-on-close is off for private connections).
 */
#include "dbus_service.h"

#include "cow_config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <gio/gio.h>

#define HANDLER_PATH DBUS_SERVICE_PATH "/" COW_CONFIG_SUBTYPE
#define NAME_REQUEST_TIMEOUT_MS 10000

/* RequestName flags and replies (D-Bus specification). */
#define NAME_FLAG_DO_NOT_QUEUE 4u
#define NAME_REPLY_PRIMARY_OWNER 1u
#define NAME_REPLY_ALREADY_OWNER 4u

/* What `targetcli /backstores/user:cow help create` prints under CFGSTRING FORMAT. */
static const char config_desc[] =
	"size=<bytes>;overlay=<path>;bitmap=<path>[;base=<path>][;limit=<bytes>]\n"
	"  size:    device size in bytes, a non-zero multiple of 512\n"
	"  overlay: per-session overlay file (created sparse if missing)\n"
	"  bitmap:  per-session bitmap file, 1 bit per 512-byte sector\n"
	"  base:    read-only base image; omit for a blank disk\n"
	"  limit:   write limit in bytes of overlay allocation, counted in whole\n"
	"           filesystem blocks (0 or omitted = none)\n"
	"Paths may not contain ';', ',', ':' or newlines; the whole dev_config\n"
	"(\"cow/\" + this string) must fit in 255 bytes.";

static const char introspection_xml[] =
	"<node>"
	"  <interface name='org.freedesktop.DBus.ObjectManager'>"
	"    <method name='GetManagedObjects'>"
	"      <arg type='a{oa{sa{sv}}}' name='objects' direction='out'/>"
	"    </method>"
	"    <signal name='InterfacesAdded'>"
	"      <arg type='o' name='object_path'/>"
	"      <arg type='a{sa{sv}}' name='interfaces_and_properties'/>"
	"    </signal>"
	"    <signal name='InterfacesRemoved'>"
	"      <arg type='o' name='object_path'/>"
	"      <arg type='as' name='interfaces'/>"
	"    </signal>"
	"  </interface>"
	"  <interface name='" DBUS_SERVICE_IFACE "'>"
	"    <property name='ConfigDesc' type='s' access='read'/>"
	"    <method name='CheckConfig'>"
	"      <arg type='s' name='configstr' direction='in'/>"
	"      <arg type='b' name='is_valid' direction='out'/>"
	"      <arg type='s' name='message' direction='out'/>"
	"    </method>"
	"    <method name='ChangeMedium'>"
	"      <arg type='s' name='name' direction='in'/>"
	"      <arg type='t' name='size' direction='in'/>"
	"      <arg type='s' name='configstr' direction='in'/>"
	"      <arg type='i' name='ret' direction='out'/>"
	"      <arg type='s' name='message' direction='out'/>"
	"    </method>"
	"  </interface>"
	"</node>";

/* Everything a running service owns; all NULL/0 when stopped. */
static struct {
	GMainContext *ctx;
	GMainLoop *loop;
	GThread *thread;
	GDBusConnection *conn;
	GDBusNodeInfo *node;
	guint manager_id;
	guint handler_id;
} svc;

int dbus_service_check_config(const char *cfg, char *reason, size_t len)
{
	static const char prefix[] = COW_CONFIG_SUBTYPE "/";
	struct cow_config c;
	char buf[256];
	const char *slash, *eq;
	size_t full;

	if (!reason || !len) {
		reason = buf;
		len = sizeof(buf);
	}
	if (!cfg) {
		snprintf(reason, len, "no config string");
		return 0;
	}
	/* "<subtype>/..." for another handler: the '/' comes before the first '='. */
	slash = strchr(cfg, '/');
	eq = strchr(cfg, '=');
	if (slash && (!eq || slash < eq) && strncmp(cfg, prefix, strlen(prefix))) {
		snprintf(reason, len, "config is for handler '%.*s', not '%s'",
			 (int)(slash - cfg > 32 ? 32 : slash - cfg), cfg, COW_CONFIG_SUBTYPE);
		return 0;
	}
	full = strlen(cfg);
	if (strncmp(cfg, prefix, strlen(prefix)))
		full += strlen(prefix);
	if (full > COW_CONFIG_MAX) {
		snprintf(reason, len, "dev_config is %zu bytes, the kernel accepts at most %d",
			 full, COW_CONFIG_MAX);
		return 0;
	}
	if (cow_config_parse(cfg, &c, reason, len))
		return 0;
	snprintf(reason, len, "success");
	return 1;
}

/* The a{sa{sv}} of the handler object, as GetManagedObjects reports it. */
static GVariant *handler_interfaces(void)
{
	GVariantBuilder props, ifaces;

	g_variant_builder_init(&props, G_VARIANT_TYPE("a{sv}"));
	g_variant_builder_add(&props, "{sv}", "ConfigDesc", g_variant_new_string(config_desc));
	g_variant_builder_init(&ifaces, G_VARIANT_TYPE("a{sa{sv}}"));
	g_variant_builder_add(&ifaces, "{sa{sv}}", DBUS_SERVICE_IFACE, &props);
	return g_variant_builder_end(&ifaces);
}

static void manager_method(GDBusConnection *conn, const gchar *sender, const gchar *path,
			   const gchar *iface, const gchar *method, GVariant *params,
			   GDBusMethodInvocation *inv, gpointer data)
{
	GVariantBuilder objs;

	(void)conn; (void)sender; (void)path; (void)iface; (void)params; (void)data;
	if (strcmp(method, "GetManagedObjects")) {
		g_dbus_method_invocation_return_error(inv, G_DBUS_ERROR,
						      G_DBUS_ERROR_UNKNOWN_METHOD,
						      "no method %s", method);
		return;
	}
	g_variant_builder_init(&objs, G_VARIANT_TYPE("a{oa{sa{sv}}}"));
	g_variant_builder_add(&objs, "{o@a{sa{sv}}}", HANDLER_PATH, handler_interfaces());
	g_dbus_method_invocation_return_value(inv, g_variant_new("(a{oa{sa{sv}}})", &objs));
}

static void handler_method(GDBusConnection *conn, const gchar *sender, const gchar *path,
			   const gchar *iface, const gchar *method, GVariant *params,
			   GDBusMethodInvocation *inv, gpointer data)
{
	char reason[256];
	const gchar *cfg;
	int ok;

	(void)conn; (void)sender; (void)path; (void)iface; (void)data;
	if (!strcmp(method, "CheckConfig")) {
		g_variant_get(params, "(&s)", &cfg);
		ok = dbus_service_check_config(cfg, reason, sizeof(reason));
		g_dbus_method_invocation_return_value(inv, g_variant_new("(bs)", ok, reason));
	} else if (!strcmp(method, "ChangeMedium")) {
		g_dbus_method_invocation_return_value(
			inv, g_variant_new("(is)", -EOPNOTSUPP,
					   "cow devices have no removable medium"));
	} else {
		g_dbus_method_invocation_return_error(inv, G_DBUS_ERROR,
						      G_DBUS_ERROR_UNKNOWN_METHOD,
						      "no method %s", method);
	}
}

static GVariant *handler_get_property(GDBusConnection *conn, const gchar *sender,
				      const gchar *path, const gchar *iface,
				      const gchar *prop, GError **error, gpointer data)
{
	(void)conn; (void)sender; (void)path; (void)iface; (void)data;
	if (!strcmp(prop, "ConfigDesc"))
		return g_variant_new_string(config_desc);
	g_set_error(error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_PROPERTY, "no property %s", prop);
	return NULL;
}

static const GDBusInterfaceVTable manager_vtable = { .method_call = manager_method };
static const GDBusInterfaceVTable handler_vtable = {
	.method_call = handler_method,
	.get_property = handler_get_property,
};

static gpointer serve(gpointer data)
{
	(void)data;
	g_main_context_push_thread_default(svc.ctx);
	g_main_loop_run(svc.loop);
	g_main_context_pop_thread_default(svc.ctx);
	return NULL;
}

static gboolean quit_loop(gpointer data)
{
	g_main_loop_quit(data);
	return G_SOURCE_REMOVE;
}

/* Unregister, close and free whatever of svc exists; runs with svc.ctx not served. */
static void teardown(void)
{
	if (svc.conn) {
		if (svc.handler_id)
			g_dbus_connection_unregister_object(svc.conn, svc.handler_id);
		if (svc.manager_id)
			g_dbus_connection_unregister_object(svc.conn, svc.manager_id);
		/* Closing drops the bus name too. */
		g_dbus_connection_close_sync(svc.conn, NULL, NULL);
	}
	if (svc.ctx) {
		/* Run what the connection queued on our context (pending calls, "closed"),
		 * so every reference it holds is released before we free. */
		g_main_context_push_thread_default(svc.ctx);
		while (g_main_context_iteration(svc.ctx, FALSE))
			;
		g_main_context_pop_thread_default(svc.ctx);
	}
	g_clear_object(&svc.conn);
	g_clear_pointer(&svc.node, g_dbus_node_info_unref);
	g_clear_pointer(&svc.loop, g_main_loop_unref);
	g_clear_pointer(&svc.ctx, g_main_context_unref);
	svc.manager_id = svc.handler_id = 0;
}

static int fail(int rc, char *err, size_t errlen, const char *what, const GError *e)
{
	if (err && errlen)
		snprintf(err, errlen, "%s%s%s", what, e ? ": " : "", e ? e->message : "");
	return rc;
}

/* Connect, register and own the name; called with svc.ctx the thread default. */
static int connect_and_export(char *err, size_t errlen)
{
	GError *e = NULL;
	GVariant *reply;
	gchar *addr;
	guint32 code;
	int rc;

	addr = g_dbus_address_get_for_bus_sync(G_BUS_TYPE_SYSTEM, NULL, &e);
	if (!addr) {
		rc = fail(-ENOTCONN, err, errlen, "no system bus address", e);
		g_error_free(e);
		return rc;
	}
	svc.conn = g_dbus_connection_new_for_address_sync(
		addr, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
		      G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL, NULL, &e);
	g_free(addr);
	if (!svc.conn) {
		rc = fail(-ENOTCONN, err, errlen, "cannot connect to the system bus", e);
		g_error_free(e);
		return rc;
	}
	svc.node = g_dbus_node_info_new_for_xml(introspection_xml, &e);
	if (!svc.node) {
		rc = fail(-EIO, err, errlen, "introspection data", e);
		g_error_free(e);
		return rc;
	}
	svc.manager_id = g_dbus_connection_register_object(
		svc.conn, DBUS_SERVICE_PATH, svc.node->interfaces[0], &manager_vtable,
		NULL, NULL, &e);
	if (svc.manager_id)
		svc.handler_id = g_dbus_connection_register_object(
			svc.conn, HANDLER_PATH, svc.node->interfaces[1], &handler_vtable,
			NULL, NULL, &e);
	if (!svc.handler_id) {
		rc = fail(-EIO, err, errlen, "cannot export objects", e);
		g_error_free(e);
		return rc;
	}
	reply = g_dbus_connection_call_sync(
		svc.conn, "org.freedesktop.DBus", "/org/freedesktop/DBus",
		"org.freedesktop.DBus", "RequestName",
		g_variant_new("(su)", DBUS_SERVICE_NAME, NAME_FLAG_DO_NOT_QUEUE),
		G_VARIANT_TYPE("(u)"), G_DBUS_CALL_FLAGS_NONE, NAME_REQUEST_TIMEOUT_MS,
		NULL, &e);
	if (!reply) {
		if (g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED))
			rc = fail(-EACCES, err, errlen,
				  "bus policy forbids owning " DBUS_SERVICE_NAME, e);
		else
			rc = fail(-EIO, err, errlen, "cannot own " DBUS_SERVICE_NAME, e);
		g_error_free(e);
		return rc;
	}
	g_variant_get(reply, "(u)", &code);
	g_variant_unref(reply);
	if (code != NAME_REPLY_PRIMARY_OWNER && code != NAME_REPLY_ALREADY_OWNER)
		return fail(-EBUSY, err, errlen,
			    DBUS_SERVICE_NAME " is owned by another process (tcmu-runner?)", NULL);
	return 0;
}

/*
 * Block every asynchronous signal in the calling thread (old mask in *old), so the
 * threads created meanwhile (ours and GDBus's worker) inherit a mask that leaves
 * SIGTERM & co. to the daemon's own threads, e.g. its signalfd. Faults stay
 * unblocked so a crash in those threads is still reported.
 */
static void block_signals(sigset_t *old)
{
	static const int faults[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS };
	sigset_t all;

	sigfillset(&all);
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
		sigdelset(&all, faults[i]);
	pthread_sigmask(SIG_BLOCK, &all, old);
}

/* dbus_service_start() once checked, with signals blocked. */
static int start_blocked(char *err, size_t errlen)
{
	GError *e = NULL;
	int rc;

	svc.ctx = g_main_context_new();
	svc.loop = g_main_loop_new(svc.ctx, FALSE);
	/* The connection dispatches method calls to the context that is the thread
	 * default while it is created and while the objects are registered. */
	g_main_context_push_thread_default(svc.ctx);
	rc = connect_and_export(err, errlen);
	g_main_context_pop_thread_default(svc.ctx);
	if (rc) {
		teardown();
		return rc;
	}
	svc.thread = g_thread_try_new("scsipub-dbus", serve, NULL, &e);
	if (!svc.thread) {
		rc = fail(-EAGAIN, err, errlen, "cannot create the D-Bus thread", e);
		g_error_free(e);
		teardown();
		return rc;
	}
	return 0;
}

int dbus_service_start(char *err, size_t errlen)
{
	sigset_t old;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (svc.thread)
		return fail(-EALREADY, err, errlen, "D-Bus service already started", NULL);
	block_signals(&old);
	rc = start_blocked(err, errlen);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

void dbus_service_stop(void)
{
	GSource *s;

	if (!svc.thread)
		return;
	/* Quit from inside the loop: a g_main_loop_quit() before the thread has
	 * entered g_main_loop_run() would be lost. */
	s = g_idle_source_new();
	g_source_set_callback(s, quit_loop, svc.loop, NULL);
	g_source_attach(s, svc.ctx);
	g_source_unref(s);
	g_thread_join(svc.thread);
	svc.thread = NULL;
	teardown();
}
