/*
 * http.c — the HTTP server: responses, the router, authentication and the request
 * cycle (see http.h). The /api routes are in http_api.c, the status pages in
 * http_status.c.
 */
#include "http.h"

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <openssl/crypto.h>

#include "http_priv.h"
#include "https_cert.h"
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
	{ "/api/images", P_NONE, AUTH_ACCOUNT, "GET, HEAD, POST",
	  http_images_list, http_images_post, NULL },
	{ "/api/images/", P_NAME, AUTH_ACCOUNT, "GET, HEAD, DELETE",
	  http_image_get, NULL, http_image_delete },
	{ "/api/sessions", P_NONE, AUTH_ACCOUNT, "GET, HEAD, POST",
	  http_sessions_list, http_sessions_post, NULL },
	{ "/api/sessions/", P_ID, AUTH_ACCOUNT, "GET, HEAD, DELETE",
	  http_session_get, NULL, http_session_delete },
	{ "/api/account/iscsi", P_NONE, AUTH_ACCOUNT, "GET, HEAD, POST",
	  http_iscsi_get, http_iscsi_post, NULL },
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
