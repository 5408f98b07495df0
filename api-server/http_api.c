/*
 * http_api.c — the /api routes of the provisioned tier: private images, the account's
 * iSCSI credentials and sessions, each request body checked before it is used (see
 * http_priv.h; the server and its router are in http.c).
 */
#include "http_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acctchap.h"
#include "imageiqn.h"
#include "prov.h"

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

/* Every byte of url is printable ASCII other than space (RFC 3986 §2: anything else
 * is percent-encoded); a control byte or a non-UTF-8 one never reaches the database. */
static bool url_chars_ok(const char *url)
{
	for (; *url; url++)
		if ((unsigned char)*url <= 0x20 || (unsigned char)*url >= 0x7f)
			return false;
	return true;
}

void http_images_post(struct http_req *q, struct http_resp *r)
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
	    !url_chars_ok(url)) {
		http_error(r, 400, "url must be an http:// or https:// URL of at most 2048"
			   " characters, printable ASCII without spaces (percent-encode the"
			   " rest, RFC 3986)");
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

void http_images_list(struct http_req *q, struct http_resp *r)
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

void http_image_get(struct http_req *q, struct http_resp *r)
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

void http_image_delete(struct http_req *q, struct http_resp *r)
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

void http_iscsi_get(struct http_req *q, struct http_resp *r)
{
	iscsi_answer(q, r, false);
}

/* POST {"rotate": true}: a new secret; logged-in sessions keep running. */
void http_iscsi_post(struct http_req *q, struct http_resp *r)
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

void http_sessions_post(struct http_req *q, struct http_resp *r)
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

void http_sessions_list(struct http_req *q, struct http_resp *r)
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

void http_session_get(struct http_req *q, struct http_resp *r)
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

void http_session_delete(struct http_req *q, struct http_resp *r)
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
