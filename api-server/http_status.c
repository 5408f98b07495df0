/*
 * http_status.c — GET /status (HTML page or JSON), GET /metrics (Prometheus text
 * exposition format 0.0.4) and GET /admin (live connections from the portal's
 * <state>/portal/connections.json, with the LUN count of provisioned targets).
 *
 * What /status shows depends on who asks (http_priv.h, enum http_view):
 *   public (no key)   health, versions, uptime, the portal address, counts (sessions
 *                     live/suspended, portal connections, private images) and the
 *                     anonymous catalog — no account name, session id, private image
 *                     name or per-session row;
 *   an account's key  the same plus that account's sessions and private images;
 *   the admin key     every session and image (with account names) and the options.
 * /metrics is public: totals only, no label carries an account, session or image.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_priv.h"
#include "prov.h"
#include "statelayout.h"

/* The portal's connection table (an array), or an empty array when unreadable. */
static json_object *connections(struct app *a)
{
	char path[PATH_MAX + 64];
	json_object *o;

	snprintf(path, sizeof(path), "%.4000s/" STATE_CONNECTIONS, a->o.state);
	o = json_object_from_file(path);
	if (!o || !json_object_is_type(o, json_type_array)) {
		json_object_put(o);
		return json_object_new_array();
	}
	return o;
}

static bool want_json(struct http_req *q)
{
	const char *acc = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND,
						      MHD_HTTP_HEADER_ACCEPT);
	const char *fmt = MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, "format");

	if (fmt)
		return !strcmp(fmt, "json");
	return acc && strstr(acc, "application/json") && !strstr(acc, "text/html");
}

static void html_esc(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*s, f);
		}
	}
}

static void emit_opt(const char *line, void *arg)
{
	json_object *o = arg;
	char k[64];
	const char *eq = strchr(line, '=');

	if (!eq)
		return;
	snprintf(k, sizeof(k), "%.*s", (int)(eq - line), line);
	json_object_object_add(o, k, json_object_new_string(eq + 1));
}

/* Totals anyone may see: no names, no ids. */
struct counts {
	int sessions, live, suspended, images;
	size_t connections;
};

static const char *view_name(enum http_view v)
{
	return v == HTTP_VIEW_ADMIN ? "admin" : v == HTTP_VIEW_ACCOUNT ? "account" : "public";
}

/* Whether the caller may see a row of account_id. */
static bool visible(const struct http_req *q, int64_t account_id)
{
	return q->view == HTTP_VIEW_ADMIN ||
	       (q->view == HTTP_VIEW_ACCOUNT && q->acct.id == account_id);
}

static json_object *status_json(struct http_req *q, const struct counts *c,
				const struct db_session *v, int n, const struct db_image *im,
				int ni, const struct app_catalog_item *cat, int nc)
{
	struct app *a = q->app;
	json_object *o = json_object_new_object(), *ver = json_object_new_object(), *x, *arr;
	int i;
	unsigned k;

	json_object_object_add(o, "status", json_object_new_string("ok"));
	json_object_object_add(o, "view", json_object_new_string(view_name(q->view)));
	json_object_object_add(ver, "scsipub", json_object_new_string(APP_VERSION));
	json_object_object_add(ver, "libmicrohttpd", json_object_new_string(MHD_get_version()));
	json_object_object_add(ver, "postgresql", json_object_new_string(db_server_version(a->db)));
	json_object_object_add(ver, "json-c", json_object_new_string(json_c_version()));
	json_object_object_add(o, "versions", ver);
	json_object_object_add(o, "uptime_s", json_object_new_int64((int64_t)app_uptime(a)));
	json_object_object_add(o, "started_at", json_object_new_int64(a->started));
	json_object_object_add(o, "portal", json_object_new_string(a->public_addr));
	x = json_object_new_object();
	json_object_object_add(x, "sessions", json_object_new_int(c->sessions));
	json_object_object_add(x, "sessions_live", json_object_new_int(c->live));
	json_object_object_add(x, "sessions_suspended", json_object_new_int(c->suspended));
	json_object_object_add(x, "connections", json_object_new_int64((int64_t)c->connections));
	json_object_object_add(x, "private_images", json_object_new_int(c->images));
	json_object_object_add(o, "counts", x);
	arr = json_object_new_array();
	for (i = 0; i < nc; i++) {
		json_object *m = json_object_new_object();

		json_object_object_add(m, "name", json_object_new_string(cat[i].name));
		json_object_object_add(m, "iqn", json_object_new_string(cat[i].iqn));
		json_object_object_add(m, "size_bytes",
				       json_object_new_int64((int64_t)cat[i].size_bytes));
		json_object_array_add(arr, m);
	}
	json_object_object_add(o, "catalog", arr);
	if (q->view == HTTP_VIEW_PUBLIC)
		return o;
	arr = json_object_new_array();
	for (i = 0; i < n; i++) {
		json_object *s, *li;

		if (!visible(q, v[i].account_id))
			continue;
		s = json_object_new_object();
		li = json_object_new_array();
		json_object_object_add(s, "id", json_object_new_string(v[i].id));
		json_object_object_add(s, "account", json_object_new_string(v[i].account_name));
		json_object_object_add(s, "luns", json_object_new_int((int)v[i].n_luns));
		json_object_object_add(s, "state", json_object_new_string(
					       db_session_state_name(v[i].state)));
		json_object_object_add(s, "persistent", json_object_new_boolean(v[i].persistent));
		json_object_object_add(s, "connections", json_object_new_int(
					       app_session_connections(a, v[i].id)));
		json_object_object_add(s, "bytes_written", json_object_new_int64(
					       (int64_t)app_session_written(a, v[i].id)));
		json_object_object_add(s, "created_at", json_object_new_int64(v[i].created_at));
		for (k = 0; k < v[i].n_luns; k++)
			json_object_array_add(li, json_object_new_string(v[i].luns[k].image_name));
		json_object_object_add(s, "images", li);
		json_object_array_add(arr, s);
	}
	json_object_object_add(o, "sessions", arr);
	arr = json_object_new_array();
	for (i = 0; i < ni; i++) {
		json_object *m;

		if (!visible(q, im[i].account_id))
			continue;
		m = json_object_new_object();
		json_object_object_add(m, "account_id", json_object_new_int64(im[i].account_id));
		json_object_object_add(m, "name", json_object_new_string(im[i].name));
		json_object_object_add(m, "state", json_object_new_string(
					       db_image_state_name(im[i].state)));
		json_object_object_add(m, "size_bytes",
				       json_object_new_int64((int64_t)im[i].size_bytes));
		json_object_array_add(arr, m);
	}
	json_object_object_add(o, "images", arr);
	if (q->view == HTTP_VIEW_ADMIN) {
		x = json_object_new_object();
		apiopt_each(&a->o, emit_opt, x);
		json_object_object_add(o, "options", x);
	}
	return o;
}

static void emit_opt_html(const char *line, void *arg)
{
	FILE *f = arg;
	const char *eq = strchr(line, '=');

	if (!eq)
		return;
	fputs("<tr><td>", f);
	fprintf(f, "%.*s", (int)(eq - line), line);
	fputs("</td><td>", f);
	html_esc(f, eq + 1);
	fputs("</td></tr>\n", f);
}

/* The HTML page into f: the same content as status_json. */
static void status_html(FILE *f, struct http_req *q, const struct counts *c,
			const struct db_session *v, int n, const struct db_image *im, int ni,
			const struct app_catalog_item *cat, int nc)
{
	struct app *a = q->app;
	char ts[64];
	time_t now = time(NULL);
	int i, shown;
	unsigned k;

	strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
	fprintf(f, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
		"<title>scsipub status</title><style>"
		"body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
		"td,th{border:1px solid #999;padding:4px 8px;text-align:left}"
		"th{background:#eee}</style></head><body>\n<h1>scsipub status</h1>\n"
		"<p id=\"health\">status ok &middot; %s &middot; uptime %" PRIu64 " s &middot; "
		"portal ", ts, app_uptime(a));
	html_esc(f, a->public_addr);
	fprintf(f, " &middot; view %s</p>\n<p>versions: scsipub %s, libmicrohttpd %s, "
		"PostgreSQL ", view_name(q->view), APP_VERSION, MHD_get_version());
	html_esc(f, db_server_version(a->db));
	fprintf(f, "</p>\n<h2>Counts</h2>\n<table id=\"counts\"><tbody>\n"
		"<tr><th>sessions</th><td>%d (%d live, %d suspended)</td></tr>\n"
		"<tr><th>connections</th><td>%zu</td></tr>\n"
		"<tr><th>private images</th><td>%d</td></tr>\n</tbody></table>\n"
		"<h2>Catalog (%d)</h2>\n<table id=\"catalog\"><thead><tr><th>name</th>"
		"<th>target</th><th>size</th></tr></thead><tbody>\n", c->sessions, c->live,
		c->suspended, c->connections, c->images, nc);
	for (i = 0; i < nc; i++) {
		fputs("<tr><td>", f);
		html_esc(f, cat[i].name);
		fputs("</td><td>", f);
		html_esc(f, cat[i].iqn);
		fprintf(f, "</td><td>%" PRIu64 "</td></tr>\n", cat[i].size_bytes);
	}
	fputs("</tbody></table>\n", f);
	if (q->view == HTTP_VIEW_PUBLIC) {
		fputs("<p>Sessions and private images are shown with their account's API key "
		      "(Authorization: Bearer); all of them with the admin key.</p>\n"
		      "</body></html>\n", f);
		return;
	}
	for (i = shown = 0; i < n; i++)
		shown += visible(q, v[i].account_id);
	fprintf(f, "<h2>Sessions (%d)</h2>\n<table id=\"sessions\"><thead><tr>"
		"<th>id</th><th>account</th><th>LUNs</th><th>state</th><th>connections</th>"
		"<th>bytes written</th><th>images</th></tr></thead><tbody>\n", shown);
	for (i = 0; i < n; i++) {
		if (!visible(q, v[i].account_id))
			continue;
		fprintf(f, "<tr id=\"s-%s\"><td>%s</td><td>", v[i].id, v[i].id);
		html_esc(f, v[i].account_name);
		fprintf(f, "</td><td>%u</td><td>%s%s</td><td>%d</td><td>%" PRIu64
			"</td><td>", v[i].n_luns, db_session_state_name(v[i].state),
			v[i].persistent ? " (persistent)" : "",
			app_session_connections(a, v[i].id), app_session_written(a, v[i].id));
		for (k = 0; k < v[i].n_luns; k++) {
			fputs(k ? ", " : "", f);
			html_esc(f, v[i].luns[k].image_name);
		}
		fputs("</td></tr>\n", f);
	}
	for (i = shown = 0; i < ni; i++)
		shown += visible(q, im[i].account_id);
	fprintf(f, "</tbody></table>\n<h2>Private images (%d)</h2>\n<table id=\"images\">"
		"<thead><tr><th>account</th><th>name</th><th>state</th><th>size</th>"
		"</tr></thead><tbody>\n", shown);
	for (i = 0; i < ni; i++) {
		if (!visible(q, im[i].account_id))
			continue;
		fprintf(f, "<tr><td>%" PRId64 "</td><td>", im[i].account_id);
		html_esc(f, im[i].name);
		fprintf(f, "</td><td>%s</td><td>%" PRIu64 "</td></tr>\n",
			db_image_state_name(im[i].state), im[i].size_bytes);
	}
	fputs("</tbody></table>\n", f);
	if (q->view == HTTP_VIEW_ADMIN) {
		fputs("<h2>Options</h2>\n<table id=\"options\"><tbody>\n", f);
		apiopt_each(&a->o, emit_opt_html, f);
		fputs("</tbody></table>\n", f);
	}
	fputs("</body></html>\n", f);
}

void http_status(struct http_req *q, struct http_resp *r)
{
	struct app *a = q->app;
	struct db_session *v = NULL;
	struct db_image *im = NULL;
	struct app_catalog_item *cat = NULL;
	struct counts c = { 0 };
	json_object *conns;
	char err[256];
	int n, ni, nc, i;

	n = db_session_list(a->db, -1, &v, err, sizeof(err));
	if (n < 0) {
		http_error(r, 500, "database: %s", err);
		return;
	}
	ni = db_image_list(a->db, -1, &im, err, sizeof(err));
	if (ni < 0)
		ni = 0;
	nc = app_catalog(a, &cat);
	if (nc < 0)
		nc = 0;
	c.sessions = n;
	for (i = 0; i < n; i++) {
		if (v[i].state == DB_SESSION_LIVE)
			c.live++;
		else
			c.suspended++;
	}
	c.images = ni;
	conns = connections(a);
	c.connections = json_object_array_length(conns);
	json_object_put(conns);
	if (want_json(q)) {
		http_json(r, 200, status_json(q, &c, v, n, im, ni, cat, nc));
	} else {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		if (!f) {
			http_error(r, 500, "out of memory");
		} else {
			status_html(f, q, &c, v, n, im, ni, cat, nc);
			fclose(f);
			http_text(r, 200, "text/html; charset=utf-8", buf, len);
		}
	}
	free(cat);
	db_sessions_free(v, (size_t)n);
	db_images_free(im, (size_t)ni);
}

void http_metrics(struct http_req *q, struct http_resp *r)
{
	struct app *a = q->app;
	struct db_session *v = NULL;
	struct db_image *im = NULL;
	json_object *conns;
	unsigned live = 0, susp = 0, st[3] = { 0 };
	uint64_t written = 0;
	char err[256], *buf = NULL;
	size_t len = 0;
	int n, ni, i;
	FILE *f;

	n = db_session_list(a->db, -1, &v, err, sizeof(err));
	if (n < 0) {
		http_error(r, 500, "database: %s", err);
		return;
	}
	for (i = 0; i < n; i++) {
		if (v[i].state == DB_SESSION_LIVE)
			live++;
		else
			susp++;
		/* the watcher's stored figure (every 10 s): this page is public, so it
		 * costs scsipub-cfgd nothing per session */
		written += v[i].bytes_written_hint;
	}
	db_sessions_free(v, (size_t)n);
	ni = db_image_list(a->db, -1, &im, err, sizeof(err));
	for (i = 0; i < ni; i++)
		st[im[i].state]++;
	if (ni >= 0)
		db_images_free(im, (size_t)ni);
	conns = connections(a);
	f = open_memstream(&buf, &len);
	if (!f) {
		json_object_put(conns);
		http_error(r, 500, "out of memory");
		return;
	}
	fprintf(f,
		"# HELP scsipub_sessions Provisioned sessions by state.\n"
		"# TYPE scsipub_sessions gauge\n"
		"scsipub_sessions{state=\"live\"} %u\n"
		"scsipub_sessions{state=\"suspended\"} %u\n"
		"# HELP scsipub_images Private images by state.\n"
		"# TYPE scsipub_images gauge\n"
		"scsipub_images{state=\"fetching\"} %u\n"
		"scsipub_images{state=\"ready\"} %u\n"
		"scsipub_images{state=\"failed\"} %u\n"
		"# HELP scsipub_connections Live iSCSI connections relayed by the portal.\n"
		"# TYPE scsipub_connections gauge\n"
		"scsipub_connections %zu\n"
		"# HELP scsipub_bytes_written_total Bytes of overlay data held by provisioned"
		" sessions, as the session watcher last stored them (every 10 s).\n"
		"# TYPE scsipub_bytes_written_total gauge\n"
		"scsipub_bytes_written_total %" PRIu64 "\n"
		"# HELP scsipub_uptime_seconds Seconds since scsipub-api started.\n"
		"# TYPE scsipub_uptime_seconds gauge\n"
		"scsipub_uptime_seconds %" PRIu64 "\n",
		live, susp, st[DB_IMAGE_FETCHING], st[DB_IMAGE_READY], st[DB_IMAGE_FAILED],
		json_object_array_length(conns), written, app_uptime(a));
	fclose(f);
	json_object_put(conns);
	http_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", buf, len);
}

void http_admin(struct http_req *q, struct http_resp *r)
{
	struct app *a = q->app;
	json_object *conns = connections(a), *o;
	size_t i, n = json_object_array_length(conns);
	size_t plen = strlen(PROV_IQN_PREFIX);

	for (i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(conns, i), *t;
		const char *target;
		struct db_session s;
		int luns = 1;

		if (!json_object_is_type(c, json_type_object))
			continue;
		target = json_object_object_get_ex(c, "target", &t) ? json_object_get_string(t) : "";
		if (target && !strncmp(target, PROV_IQN_PREFIX, plen) &&
		    prov_id_valid(target + plen)) {
			luns = 0;
			if (db_session_get(a->db, target + plen, -1, &s, NULL, 0) == 0) {
				luns = (int)s.n_luns;
				json_object_object_add(c, "session", json_object_new_string(s.id));
				json_object_object_add(c, "account",
						       json_object_new_string(s.account_name));
				db_session_clear(&s);
			}
		}
		json_object_object_add(c, "luns", json_object_new_int(luns));
	}
	o = json_object_new_object();
	json_object_object_add(o, "connections", conns);
	json_object_object_add(o, "count", json_object_new_int64((int64_t)n));
	http_json(r, 200, o);
}
