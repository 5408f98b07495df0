/*
 * http_priv.h — what the HTTP server (http.c) and its route handlers (http_api.c,
 * http_status.c) share.
 */
#ifndef SCSIPUB_HTTP_PRIV_H
#define SCSIPUB_HTTP_PRIV_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include "app.h"
#include "db.h"

/*
 * Who is asking, for routes whose answer depends on it (/status): nobody (no
 * Authorization header: the public view), an account (its key: its own rows) or the
 * operator (the admin key: every row).
 */
enum http_view { HTTP_VIEW_PUBLIC, HTTP_VIEW_ACCOUNT, HTTP_VIEW_ADMIN };

/* One request being answered. */
struct http_req {
	struct app *app;
	struct MHD_Connection *conn;
	const char *method;
	const char *param;          /* the <name>/<id> part of the path, or NULL */
	char *body;                 /* NUL-terminated */
	size_t body_len;
	struct db_account acct;     /* the caller, for routes under /api; HTTP_VIEW_ACCOUNT */
	enum http_view view;
};

/* A response: status, body (malloc'd, owned) and its content type. */
struct http_resp {
	unsigned status;
	char *body;
	size_t len;
	const char *ctype;
	const char *allow;          /* Allow header for 405 */
	bool www_auth;              /* WWW-Authenticate: Bearer for 401 */
};

/* r = status with JSON text of obj (obj is released). */
void http_json(struct http_resp *r, unsigned status, json_object *obj);
/* r = status with {"error": "<formatted>"}. */
void http_error(struct http_resp *r, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* r = status with a malloc'd text body (taken over) of a content type. */
void http_text(struct http_resp *r, unsigned status, const char *ctype, char *body, size_t len);

/*
 * The /api routes (http_api.c), for the caller q->acct: each answers in r, with 400
 * for a bad body or parameter, 404 for what the account does not have, and the status
 * docs/provisioned.md gives for each route.
 */
void http_images_list(struct http_req *q, struct http_resp *r);    /* GET /api/images */
void http_images_post(struct http_req *q, struct http_resp *r);    /* POST /api/images */
void http_image_get(struct http_req *q, struct http_resp *r);      /* GET /api/images/<name> */
void http_image_delete(struct http_req *q, struct http_resp *r);   /* DELETE /api/images/<name> */
void http_iscsi_get(struct http_req *q, struct http_resp *r);      /* GET /api/account/iscsi */
void http_iscsi_post(struct http_req *q, struct http_resp *r);     /* POST /api/account/iscsi */
void http_sessions_list(struct http_req *q, struct http_resp *r);  /* GET /api/sessions */
void http_sessions_post(struct http_req *q, struct http_resp *r);  /* POST /api/sessions */
void http_session_get(struct http_req *q, struct http_resp *r);    /* GET /api/sessions/<id> */
void http_session_delete(struct http_req *q, struct http_resp *r); /* DELETE /api/sessions/<id> */

/* GET /status, GET /metrics, GET /admin (http_status.c). */
void http_status(struct http_req *q, struct http_resp *r);
void http_metrics(struct http_req *q, struct http_resp *r);
void http_admin(struct http_req *q, struct http_resp *r);

#endif
