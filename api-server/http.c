/*
 * http.c — the HTTP server, router, request validation and the /api handlers (see
 * http.h). The status pages are in http_status.c.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <openssl/crypto.h>

#include "acctchap.h"
#include "http_priv.h"
#include "https_cert.h"
#include "imageiqn.h"
#include "optable.h"
#include "prov.h"

struct http_server {
	struct MHD_Daemon *d;
	struct app *app;
	struct https_cert *hc;      /* installed by http_start_https, else NULL */
	uint16_t port;
};

/* ---- responses ------------------------------------------------------------- */

void http_text(struct http_resp *r, unsigned status, const char *ctype, char *body, size_t len)
{
	free(r->body);
	r->status = status;
	r->ctype = ctype;
	r->body = body;
	r->len = len;
}

void http_json(struct http_resp *r, unsigned status, json_object *obj)
{
	const char *s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE);
	char *b = strdup(s ? s : "{}");

	json_object_put(obj);
	if (!b) {
		http_text(r, 500, "application/json", NULL, 0);
		return;
	}
	http_text(r, status, "application/json", b, strlen(b));
}

void http_error(struct http_resp *r, unsigned status, const char *fmt, ...)
{
	char msg[600];
	json_object *o = json_object_new_object();
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_object_add(o, "error", json_object_new_string(msg));
	http_json(r, status, o);
}

/* ---- request bodies --------------------------------------------------------- */

/*
 * The body as a JSON object whose keys are all in allowed (NULL-terminated); NULL
 * with a 400 in r otherwise.
 */
static json_object *parse_body(struct http_req *q, struct http_resp *r,
			       const char *const *allowed)
{
	struct json_tokener *tok;
	json_object *o;
	size_t end;

	if (!q->body_len) {
		http_error(r, 400, "a JSON object body is required");
		return NULL;
	}
	if (strlen(q->body) != q->body_len) {
		http_error(r, 400, "bad JSON: NUL byte in the body");
		return NULL;
	}
	tok = json_tokener_new_ex(16);
	if (!tok) {
		http_error(r, 500, "out of memory");
		return NULL;
	}
	o = json_tokener_parse_ex(tok, q->body, (int)q->body_len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success) {
		enum json_tokener_error e = json_tokener_get_error(tok);

		json_object_put(o);
		json_tokener_free(tok);
		http_error(r, 400, "bad JSON: %s", e == json_tokener_continue ?
			   "unexpected end of input" : json_tokener_error_desc(e));
		return NULL;
	}
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	while (end < q->body_len && strchr(" \t\r\n", q->body[end]))
		end++;
	if (end != q->body_len) {
		json_object_put(o);
		http_error(r, 400, "bad JSON: trailing data after the object");
		return NULL;
	}
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		http_error(r, 400, "the body must be a JSON object");
		return NULL;
	}
	json_object_object_foreach(o, key, val) {
		const char *const *a;

		(void)val;
		for (a = allowed; *a && strcmp(*a, key); a++)
			;
		if (!*a) {
			http_error(r, 400, "unknown field \"%.64s\"", key);
			json_object_put(o);
			return NULL;
		}
	}
	return o;
}

/* Field key as a string (NULL when absent); false with a 400 when of another type. */
static bool get_string(json_object *o, const char *key, bool required, const char **out,
		       struct http_resp *r)
{
	json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(o, key, &v)) {
		if (required)
			http_error(r, 400, "field \"%s\" is required", key);
		return !required;
	}
	if (!json_object_is_type(v, json_type_string)) {
		http_error(r, 400, "field \"%s\" must be a string", key);
		return false;
	}
	*out = json_object_get_string(v);
	if (strlen(*out) != (size_t)json_object_get_string_len(v)) {
		http_error(r, 400, "field \"%s\" contains a NUL character", key);
		return false;
	}
	return true;
}

static bool hex64(const char *s)
{
	size_t i;

	for (i = 0; i < DB_SHA_HEX; i++)
		if (!s[i] || !strchr("0123456789abcdefABCDEF", s[i]))
			return false;
	return s[i] == '\0';
}

/* ---- /api/images ------------------------------------------------------------ */

/* "iqn": the image's private-image name (imageiqn.h), null if it has none. */
static void add_iqn(json_object *o, int64_t account_id, const char *name)
{
	char iqn[IMAGEIQN_MAX];

	json_object_object_add(o, "iqn", imageiqn_format(account_id, name, iqn, sizeof(iqn))
					 ? json_object_new_string(iqn) : NULL);
}

static json_object *image_json(const struct db_image *im)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(im->name));
	json_object_object_add(o, "kind", json_object_new_string("private"));
	add_iqn(o, im->account_id, im->name);
	json_object_object_add(o, "state",
			       json_object_new_string(db_image_state_name(im->state)));
	json_object_object_add(o, "size_bytes", json_object_new_int64((int64_t)im->size_bytes));
	json_object_object_add(o, "sha256",
			       im->sha256[0] ? json_object_new_string(im->sha256) : NULL);
	json_object_object_add(o, "bytes_done", json_object_new_int64((int64_t)im->bytes_done));
	json_object_object_add(o, "bytes_total",
			       json_object_new_int64((int64_t)im->bytes_total));
	json_object_object_add(o, "url", json_object_new_string(im->url ? im->url : ""));
	json_object_object_add(o, "error", im->error ? json_object_new_string(im->error) : NULL);
	json_object_object_add(o, "created_at", json_object_new_int64(im->created_at));
	return o;
}

static void mount_hint(json_object *o, const char *name)
{
	char hint[160];

	snprintf(hint, sizeof(hint), "POST /api/sessions {\"images\":[\"%s\"]}", name);
	json_object_object_add(o, "mount", json_object_new_string(hint));
}

static void images_post(struct http_req *q, struct http_resp *r)
{
	static const char *const allowed[] = { "name", "url", "sha256", NULL };
	const char *name, *url, *sha;
	struct app_image_result res;
	json_object *o = parse_body(q, r, allowed), *out;

	if (!o)
		return;
	if (!get_string(o, "name", true, &name, r) || !get_string(o, "url", true, &url, r) ||
	    !get_string(o, "sha256", false, &sha, r))
		goto out;
	if (!app_name_valid(name)) {
		http_error(r, 400, "name must match ^[a-z0-9][a-z0-9.-]{0,62}$");
		goto out;
	}
	if (strlen(url) > 2048 || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) ||
	    strpbrk(url, " \t\r\n")) {
		http_error(r, 400, "url must be an http:// or https:// URL of at most 2048"
			   " characters");
		goto out;
	}
	if (sha && !hex64(sha)) {
		http_error(r, 400, "sha256 must be 64 hex digits");
		goto out;
	}
	app_image_create(q->app, &q->acct, name, url, sha, &res);
	if (res.status >= 400) {
		http_error(r, res.status, "%s", res.error);
		goto out;
	}
	out = json_object_new_object();
	json_object_object_add(out, "name", json_object_new_string(name));
	add_iqn(out, q->acct.id, name);
	if (res.status == 201) {
		json_object_object_add(out, "size_bytes",
				       json_object_new_int64((int64_t)res.size_bytes));
		json_object_object_add(out, "sha256", json_object_new_string(res.sha256));
		json_object_object_add(out, "state", json_object_new_string("ready"));
	} else {
		json_object_object_add(out, "state", json_object_new_string("fetching"));
		json_object_object_add(out, "progress",
				       json_object_new_string("GET /api/images/<name>"));
	}
	mount_hint(out, name);
	http_json(r, res.status, out);
out:
	json_object_put(o);
}

static void images_list(struct http_req *q, struct http_resp *r)
{
	struct db_image *v = NULL;
	struct app_catalog_item *cat = NULL;
	json_object *o, *arr, *carr;
	char err[256];
	int n, nc, i;

	n = db_image_list(q->app->db, q->acct.id, &v, err, sizeof(err));
	if (n < 0) {
		http_error(r, 500, "database: %s", err);
		return;
	}
	o = json_object_new_object();
	arr = json_object_new_array();
	for (i = 0; i < n; i++)
		json_object_array_add(arr, image_json(&v[i]));
	db_images_free(v, (size_t)n);
	json_object_object_add(o, "images", arr);
	carr = json_object_new_array();
	nc = app_catalog(q->app, &cat);
	for (i = 0; i < nc; i++) {
		json_object *c = json_object_new_object();

		json_object_object_add(c, "name", json_object_new_string(cat[i].name));
		json_object_object_add(c, "kind", json_object_new_string("catalog"));
		json_object_object_add(c, "iqn", json_object_new_string(cat[i].iqn));
		json_object_object_add(c, "state", json_object_new_string("ready"));
		json_object_object_add(c, "size_bytes",
				       json_object_new_int64((int64_t)cat[i].size_bytes));
		json_object_array_add(carr, c);
	}
	free(cat);
	json_object_object_add(o, "catalog", carr);
	http_json(r, 200, o);
}

static void image_get(struct http_req *q, struct http_resp *r)
{
	struct db_image im;
	char err[256];
	json_object *o;
	int rc = db_image_get(q->app->db, q->acct.id, q->param, &im, err, sizeof(err));

	if (rc == -ENOENT) {
		http_error(r, 404, "no image %s", q->param);
		return;
	}
	if (rc < 0) {
		http_error(r, 500, "database: %s", err);
		return;
	}
	o = image_json(&im);
	if (im.state == DB_IMAGE_READY)
		mount_hint(o, im.name);
	db_image_clear(&im);
	http_json(r, 200, o);
}

static void image_delete(struct http_req *q, struct http_resp *r)
{
	char err[256];
	int rc = app_image_delete(q->app, &q->acct, q->param, err, sizeof(err));

	if (rc == -ENOENT)
		http_error(r, 404, "no image %s", q->param);
	else if (rc == -EBUSY)
		http_error(r, 409, "%s", err);
	else if (rc < 0)
		http_error(r, 500, "%s", err);
	else
		http_text(r, 204, NULL, NULL, 0);
}

/* ---- /api/account/iscsi ---------------------------------------------------- */

/* The caller's iSCSI credentials (app_account_chap), made or rotated: 200. */
static void iscsi_answer(struct http_req *q, struct http_resp *r, bool rotate)
{
	char user[ACCTCHAP_USER_MAX + 1], secret[ACCTCHAP_SECRET_MAX + 1], err[512];
	char prefix[IMAGEIQN_MAX];
	json_object *o;

	if (app_account_chap(q->app, &q->acct, rotate, user, secret, err, sizeof(err)) < 0) {
		http_error(r, 500, "iSCSI credentials: %s", err);
		return;
	}
	snprintf(prefix, sizeof(prefix), IMAGEIQN_PREFIX "%" PRId64 ".", q->acct.id);
	o = json_object_new_object();
	json_object_object_add(o, "auth", json_object_new_string("CHAP"));
	json_object_object_add(o, "chap_user", json_object_new_string(user));
	json_object_object_add(o, "chap_secret", json_object_new_string(secret));
	json_object_object_add(o, "iqn_prefix", json_object_new_string(prefix));
	json_object_object_add(o, "rotated", json_object_new_boolean(rotate));
	http_json(r, 200, o);
}

static void iscsi_get(struct http_req *q, struct http_resp *r)
{
	iscsi_answer(q, r, false);
}

/* POST {"rotate": true}: a new secret; logged-in sessions keep running. */
static void iscsi_post(struct http_req *q, struct http_resp *r)
{
	static const char *const allowed[] = { "rotate", NULL };
	json_object *o = parse_body(q, r, allowed), *v;

	if (!o)
		return;
	if (!json_object_object_get_ex(o, "rotate", &v) ||
	    !json_object_is_type(v, json_type_boolean) || !json_object_get_boolean(v))
		http_error(r, 400, "body must be {\"rotate\": true}");
	else
		iscsi_answer(q, r, true);
	json_object_put(o);
}

/* ---- /api/sessions ---------------------------------------------------------- */

static json_object *session_json(struct app *a, const struct db_session *s, bool secrets)
{
	json_object *o = json_object_new_object(), *imgs = json_object_new_array();
	char iqn[PROV_IQN_LEN];
	unsigned i;

	json_object_object_add(o, "id", json_object_new_string(s->id));
	json_object_object_add(o, "iqn", json_object_new_string(prov_target_iqn(s->id, iqn,
									sizeof(iqn)) ? iqn : ""));
	json_object_object_add(o, "portal", json_object_new_string(a->public_addr));
	json_object_object_add(o, "lun_count", json_object_new_int((int)s->n_luns));
	if (secrets) {
		json_object_object_add(o, "chap_user", json_object_new_string(s->chap_user));
		json_object_object_add(o, "chap_secret", json_object_new_string(s->chap_secret));
	}
	json_object_object_add(o, "account", json_object_new_string(s->account_name));
	json_object_object_add(o, "persistent", json_object_new_boolean(s->persistent));
	json_object_object_add(o, "ttl_s", json_object_new_int(s->ttl_s));
	json_object_object_add(o, "state",
			       json_object_new_string(db_session_state_name(s->state)));
	json_object_object_add(o, "suspended_at",
			       s->suspended_at ? json_object_new_int64(s->suspended_at) : NULL);
	json_object_object_add(o, "created_at", json_object_new_int64(s->created_at));
	json_object_object_add(o, "connections",
			       json_object_new_int(app_session_connections(a, s->id)));
	json_object_object_add(o, "bytes_written",
			       json_object_new_int64((int64_t)app_session_written(a, s->id)));
	for (i = 0; i < s->n_luns; i++)
		json_object_array_add(imgs, json_object_new_string(s->luns[i].image_name));
	json_object_object_add(o, "images", imgs);
	return o;
}

static void sessions_post(struct http_req *q, struct http_resp *r)
{
	static const char *const allowed[] = { "images", "persistent", "ttl_s", NULL };
	const char *names[PROV_LUNS_MAX];
	struct app_session_result res;
	json_object *o = parse_body(q, r, allowed), *v, *out;
	bool persistent = false;
	int32_t ttl = (int32_t)q->app->o.default_ttl;
	size_t n, i;

	if (!o)
		return;
	if (!json_object_object_get_ex(o, "images", &v)) {
		http_error(r, 400, "field \"images\" is required");
		goto out;
	}
	if (!json_object_is_type(v, json_type_array)) {
		http_error(r, 400, "field \"images\" must be an array of image names");
		goto out;
	}
	n = json_object_array_length(v);
	if (n < 1 || n > PROV_LUNS_MAX) {
		http_error(r, 400, "field \"images\" must hold 1 to %d names", PROV_LUNS_MAX);
		goto out;
	}
	for (i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(v, i);

		if (!json_object_is_type(e, json_type_string) ||
		    !app_name_valid(json_object_get_string(e)) ||
		    strlen(json_object_get_string(e)) != (size_t)json_object_get_string_len(e)) {
			http_error(r, 400, "images[%zu] must be a name matching"
				   " ^[a-z0-9][a-z0-9.-]{0,62}$", i);
			goto out;
		}
		names[i] = json_object_get_string(e);
	}
	if (json_object_object_get_ex(o, "persistent", &v)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			http_error(r, 400, "field \"persistent\" must be true or false");
			goto out;
		}
		persistent = json_object_get_boolean(v);
	}
	if (json_object_object_get_ex(o, "ttl_s", &v)) {
		int64_t t;

		if (!json_object_is_type(v, json_type_int)) {
			http_error(r, 400, "field \"ttl_s\" must be an integer");
			goto out;
		}
		errno = 0;
		t = json_object_get_int64(v);
		if (errno || t < 1 || t > APP_TTL_MAX) {
			http_error(r, 400, "field \"ttl_s\" must be 1 to %d seconds", APP_TTL_MAX);
			goto out;
		}
		ttl = (int32_t)t;
	}
	app_session_create(q->app, &q->acct, names, (unsigned)n, persistent, ttl, &res);
	if (res.status >= 400) {
		http_error(r, res.status, "%s", res.error);
		goto out;
	}
	out = json_object_new_object();
	json_object_object_add(out, "id", json_object_new_string(res.id));
	json_object_object_add(out, "iqn", json_object_new_string(res.iqn));
	json_object_object_add(out, "portal", json_object_new_string(q->app->public_addr));
	json_object_object_add(out, "lun_count", json_object_new_int((int)res.lun_count));
	json_object_object_add(out, "chap_user", json_object_new_string(res.chap_user));
	json_object_object_add(out, "chap_secret", json_object_new_string(res.chap_secret));
	json_object_object_add(out, "persistent", json_object_new_boolean(persistent));
	json_object_object_add(out, "ttl_s", json_object_new_int(ttl));
	http_json(r, 201, out);
out:
	json_object_put(o);
}

static void sessions_list(struct http_req *q, struct http_resp *r)
{
	struct db_session *v = NULL;
	json_object *o, *arr;
	char err[256];
	int n, i;

	n = db_session_list(q->app->db, q->acct.id, &v, err, sizeof(err));
	if (n < 0) {
		http_error(r, 500, "database: %s", err);
		return;
	}
	o = json_object_new_object();
	arr = json_object_new_array();
	for (i = 0; i < n; i++)
		json_object_array_add(arr, session_json(q->app, &v[i], true));
	db_sessions_free(v, (size_t)n);
	json_object_object_add(o, "sessions", arr);
	http_json(r, 200, o);
}

static void session_get(struct http_req *q, struct http_resp *r)
{
	struct db_session s;
	char err[256];
	int rc = db_session_get(q->app->db, q->param, q->acct.id, &s, err, sizeof(err));

	if (rc == -ENOENT) {
		http_error(r, 404, "no session %s", q->param);
		return;
	}
	if (rc < 0) {
		http_error(r, 500, "database: %s", err);
		return;
	}
	http_json(r, 200, session_json(q->app, &s, true));
	db_session_clear(&s);
}

static void session_delete(struct http_req *q, struct http_resp *r)
{
	char err[256];
	int rc = app_session_destroy(q->app, q->param, q->acct.id, err, sizeof(err));

	if (rc == -ENOENT)
		http_error(r, 404, "no session %s", q->param);
	else if (rc < 0)
		http_error(r, 500, "%s", err);
	else
		http_text(r, 204, NULL, NULL, 0);
}

/* ---- router ----------------------------------------------------------------- */

/* AUTH_VIEW: no key is the public view; a key must be valid and picks the view. */
enum auth { AUTH_NONE, AUTH_VIEW, AUTH_ACCOUNT, AUTH_ADMIN };
enum param { P_NONE, P_NAME, P_ID };
typedef void (*handler)(struct http_req *, struct http_resp *);

struct route {
	const char *path;     /* exact path, or prefix ending in '/' when param != P_NONE */
	enum param param;
	enum auth auth;
	const char *allow;
	handler get, post, del;
};

static const struct route routes[] = {
	{ "/api/images", P_NONE, AUTH_ACCOUNT, "GET, HEAD, POST", images_list, images_post, NULL },
	{ "/api/images/", P_NAME, AUTH_ACCOUNT, "GET, HEAD, DELETE", image_get, NULL, image_delete },
	{ "/api/sessions", P_NONE, AUTH_ACCOUNT, "GET, HEAD, POST", sessions_list, sessions_post,
	  NULL },
	{ "/api/sessions/", P_ID, AUTH_ACCOUNT, "GET, HEAD, DELETE", session_get, NULL,
	  session_delete },
	{ "/api/account/iscsi", P_NONE, AUTH_ACCOUNT, "GET, HEAD, POST", iscsi_get, iscsi_post,
	  NULL },
	{ "/status", P_NONE, AUTH_VIEW, "GET, HEAD", http_status, NULL, NULL },
	{ "/metrics", P_NONE, AUTH_NONE, "GET, HEAD", http_metrics, NULL, NULL },
	{ "/admin", P_NONE, AUTH_ADMIN, "GET, HEAD", http_admin, NULL, NULL },
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* Per-connection state between MHD's calls of one request. */
struct ctx {
	const struct route *route;
	handler h;
	const char *param;
	char *body;
	size_t len;
	bool too_big;
};

static const struct route *match(const char *url, const char **param)
{
	size_t i;

	*param = NULL;
	for (i = 0; i < NROUTES; i++) {
		const struct route *rt = &routes[i];
		size_t l = strlen(rt->path);

		if (rt->param == P_NONE ? !strcmp(url, rt->path) : !strncmp(url, rt->path, l)) {
			if (rt->param != P_NONE)
				*param = url + l;
			return rt;
		}
	}
	return NULL;
}

static enum MHD_Result send_resp(struct MHD_Connection *c, struct http_resp *r)
{
	struct MHD_Response *m;
	enum MHD_Result ret;

	m = MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_FREE);
	if (!m) {
		free(r->body);
		return MHD_NO;
	}
	r->body = NULL;
	if (r->ctype)
		MHD_add_response_header(m, MHD_HTTP_HEADER_CONTENT_TYPE, r->ctype);
	if (r->allow)
		MHD_add_response_header(m, MHD_HTTP_HEADER_ALLOW, r->allow);
	if (r->www_auth)
		MHD_add_response_header(m, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	MHD_add_response_header(m, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(c, r->status, m);
	MHD_destroy_response(m);
	return ret;
}

/* The bearer token of the request, or NULL. */
static const char *bearer(struct MHD_Connection *c)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_AUTHORIZATION);

	if (!h || strncasecmp(h, "Bearer ", 7))
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return *h ? h : NULL;
}

/* Authenticate per the route: true (view set), or false with a 401/500 in r. */
static bool authenticate(struct app *a, const struct route *rt, struct MHD_Connection *c,
			 struct db_account *acct, enum http_view *view, struct http_resp *r)
{
	const char *tok = bearer(c);
	char sha[DB_SHA_HEX + 1], err[256];
	size_t n = tok ? strlen(tok) : 0, kl = strlen(a->admin_key);
	int rc;

	*view = HTTP_VIEW_PUBLIC;
	if (rt->auth == AUTH_NONE)
		return true;
	if (rt->auth == AUTH_VIEW && !MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						MHD_HTTP_HEADER_AUTHORIZATION))
		return true;
	r->www_auth = true;
	if (!tok || n > 128) {
		http_error(r, 401, "missing or malformed Authorization: Bearer <key>");
		return false;
	}
	if (rt->auth != AUTH_ACCOUNT && kl && n == kl && !CRYPTO_memcmp(tok, a->admin_key, kl)) {
		r->www_auth = false;
		*view = HTTP_VIEW_ADMIN;
		return true;
	}
	if (rt->auth == AUTH_ADMIN) {
		http_error(r, 401, "the admin key is required");
		return false;
	}
	app_sha256_hex(tok, n, sha);
	rc = db_account_by_key(a->db, sha, acct, err, sizeof(err));
	if (rc == -ENOENT) {
		http_error(r, 401, "unknown API key");
		return false;
	}
	if (rc < 0) {
		r->www_auth = false;
		http_error(r, 500, "database: %s", err);
		return false;
	}
	r->www_auth = false;
	*view = HTTP_VIEW_ACCOUNT;
	return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload, size_t *upload_size, void **con_cls)
{
	struct http_server *srv = cls;
	struct ctx *x = *con_cls;
	struct http_resp r = { 0 };
	struct http_req q = { 0 };

	(void)version;
	if (!x) {
		const char *cl;

		x = calloc(1, sizeof(*x));
		if (!x)
			return MHD_NO;
		*con_cls = x;
		x->route = match(url, &x->param);
		if (!x->route) {
			http_error(&r, 404, "no such resource");
			return send_resp(c, &r);
		}
		if (!strcmp(method, "GET") || !strcmp(method, "HEAD"))
			x->h = x->route->get;
		else if (!strcmp(method, "POST"))
			x->h = x->route->post;
		else if (!strcmp(method, "DELETE"))
			x->h = x->route->del;
		if (!x->h) {
			http_error(&r, 405, "method %.16s not allowed here", method);
			r.allow = x->route->allow;
			return send_resp(c, &r);
		}
		cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > HTTP_BODY_MAX) {
			http_error(&r, 413, "request body over %d bytes", HTTP_BODY_MAX);
			return send_resp(c, &r);
		}
		return MHD_YES;
	}
	if (*upload_size) {
		if (!x->too_big && x->len + *upload_size <= HTTP_BODY_MAX) {
			char *b = realloc(x->body, x->len + *upload_size + 1);

			if (!b)
				return MHD_NO;
			memcpy(b + x->len, upload, *upload_size);
			x->body = b;
			x->len += *upload_size;
			b[x->len] = '\0';
		} else {
			x->too_big = true;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (x->too_big) {
		http_error(&r, 413, "request body over %d bytes", HTTP_BODY_MAX);
		return send_resp(c, &r);
	}
	q.app = srv->app;
	q.conn = c;
	q.method = method;
	q.body = x->body ? x->body : (char *)"";
	q.body_len = x->len;
	if (!authenticate(srv->app, x->route, c, &q.acct, &q.view, &r))
		return send_resp(c, &r);
	if (x->route->param != P_NONE) {
		q.param = x->param;
		if (x->route->param == P_NAME ? !app_name_valid(q.param) : !prov_id_valid(q.param)) {
			http_error(&r, 400, "bad %s in the path", x->route->param == P_NAME ?
				   "image name (^[a-z0-9][a-z0-9.-]{0,62}$)" : "session id");
			return send_resp(c, &r);
		}
	}
	x->h(&q, &r);
	if (!r.status)
		http_error(&r, 500, "no answer");
	return send_resp(c, &r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct ctx *x = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (x) {
		free(x->body);
		free(x);
		*con_cls = NULL;
	}
}

/* Percent-decoding that leaves "%00" (and malformed escapes) as they are. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
	char *w = s;
	const char *p = s;

	(void)cls;
	(void)c;
	while (*p) {
		unsigned v;

		if (p[0] == '%' && p[1] && p[2] && sscanf(p + 1, "%2x", &v) == 1 && v &&
		    strchr("0123456789abcdefABCDEF", p[1]) && strchr("0123456789abcdefABCDEF", p[2])) {
			*w++ = (char)v;
			p += 3;
		} else {
			*w++ = *p++;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

/* The options both daemons take (after the port and handler arguments). */
#define COMMON_OPTIONS(ai, s)                                                         \
	MHD_OPTION_SOCK_ADDR, (ai)->ai_addr,                                           \
	MHD_OPTION_NOTIFY_COMPLETED, on_completed, (s),                                \
	MHD_OPTION_UNESCAPE_CALLBACK, unescape, (s),                                   \
	MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONN_MAX,                          \
	MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)HTTP_CONN_PER_IP,                \
	MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_TIMEOUT_S,                  \
	MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536,                             \
	MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1

/* http_start (hc NULL) or http_start_https. */
static struct http_server *start(struct app *a, const char *listen, struct https_cert *hc,
				 char *err, size_t errlen)
{
	char host[300];
	uint16_t port = 0;
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
				  .ai_socktype = SOCK_STREAM }, *ai = NULL;
	char ps[8];
	struct http_server *s;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_AUTO; /* no MHD error log: malformed requests would spam it */
	const char *colon = strrchr(listen, ':');

	/* port 0 (tests) is not accepted by optable_split_hostport */
	if (colon && !strcmp(colon, ":0")) {
		snprintf(host, sizeof(host), "%.*s", (int)(colon - listen), listen);
		if (host[0] == '[') {
			memmove(host, host + 1, strlen(host));
			host[strcspn(host, "]")] = '\0';
		}
	} else if (optable_split_hostport(listen, host, sizeof(host), &port) < 0) {
		snprintf(err, errlen, "bad listen address %s", listen);
		return NULL;
	}
	snprintf(ps, sizeof(ps), "%u", port);
	if (getaddrinfo(host, ps, &hints, &ai) || !ai) {
		snprintf(err, errlen, "bad listen address %s", listen);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		freeaddrinfo(ai);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->app = a;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (hc && https_cert_install(hc) < 0) {
		freeaddrinfo(ai);
		free(s);
		snprintf(err, errlen, "another HTTPS server runs in this process");
		return NULL;
	}
	errno = 0;
	if (hc)
		s->d = MHD_start_daemon(flags | MHD_USE_TLS, port, NULL, NULL, on_request, s,
					COMMON_OPTIONS(ai, s),
					MHD_OPTION_HTTPS_CERT_CALLBACK, https_cert_retrieve,
					MHD_OPTION_HTTPS_PRIORITIES, HTTPS_PRIORITIES,
					MHD_OPTION_END);
	else
		s->d = MHD_start_daemon(flags, port, NULL, NULL, on_request, s,
					COMMON_OPTIONS(ai, s), MHD_OPTION_END);
	freeaddrinfo(ai);
	if (!s->d) {
		snprintf(err, errlen, "cannot listen on %s%s: %s", listen, hc ? " (HTTPS)" : "",
			 errno ? strerror(errno) : "libmicrohttpd refused the options");
		if (hc)
			https_cert_install(NULL);
		free(s);
		return NULL;
	}
	s->hc = hc;
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : port;
	return s;
}

struct http_server *http_start(struct app *a, const char *listen, char *err, size_t errlen)
{
	return start(a, listen, NULL, err, errlen);
}

struct http_server *http_start_https(struct app *a, const char *listen, struct https_cert *hc,
				     char *err, size_t errlen)
{
	if (!hc) {
		snprintf(err, errlen, "HTTPS needs a certificate");
		return NULL;
	}
	return start(a, listen, hc, err, errlen);
}

uint16_t http_port(const struct http_server *s)
{
	return s->port;
}

void http_stop(struct http_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);
	if (s->hc)
		https_cert_install(NULL);
	free(s);
}
