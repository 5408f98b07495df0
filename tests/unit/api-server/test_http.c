/*
 * test_http.c — scsipub-api's HTTP layer in-process: the MHD daemon on 127.0.0.1:0
 * over a throwaway PostgreSQL cluster and scsipub-cfgd (in a thread, cfgd_test.h) on a
 * plain-directory configfs tree, driven with
 * raw sockets. The 4xx matrix (bad JSON, unknown field, wrong type, huge number, path
 * traversal, missing auth, unknown route, method not allowed, huge body), images
 * fetched over HTTP from the server itself (201 ready, 422 sha256 mismatch, 409 in
 * use), sessions with configfs objects, the watcher's lifecycle, the status pages, who
 * sees what on /status (nobody: no account, session id or private image; an account:
 * its own rows; the admin key: all), HTTPS with the portal's certificate (verified
 * against it, same fingerprint, TLS 1.1 refused, new files served within the reload
 * interval, a broken or mismatched pair keeps the old one), and a fuzz run of 10 000
 * malformed requests (seeded PRNG) answered only with 4xx.
 * Issue 8 §2: image URLs on loopback, on private addresses and behind a redirect to
 * loopback answered 422 with nothing registered, --fetch-allow-net letting a listed
 * network through, and concurrent fetches of one account kept within its budget by
 * reservations (srv_test.h serves the sources on 127.0.0.1 / 127.0.0.2 only).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "app.h"
#include "cfgd_test.h"
#include "cfs.h"
#include "db.h"
#include "fetch.h"
#include "fetchunpack.h"
#include "http.h"
#include "https_cert.h"
#include "monotime.h"
#include "pg_test.h"
#include "test_cert.h"
#include "prov.h"
#include "srv_test.h"
#include "tls.h" /* tls-proxy: the portal's certificate holder, for its fingerprint */

#define KEY "0123456789abcdef0123456789abcdef"
#define ADMIN "admin-key-0123456789"

static struct pg_test pg;
static struct app a;
static struct http_server *srv;
static char root[256], state[256];
static struct daemon cfgd;
static uint16_t port;
static char resp[1 << 20];

static int group_setup(void **st)
{
	struct api_options o;
	char err[512], sha[DB_SHA_HEX + 1], keyfile[300];
	/* image sources in the tests are this server itself, on 127.0.0.1 */
	char *argv[] = { "x", "--fetch-allow-net", "127.0.0.1/32", NULL };
	struct db *d;
	FILE *f;
	int v;

	(void)st;
	fetch_set_unpacker(SCSIPUB_UNPACKER); /* the decoder program of this build */
	if (pg_test_start(&pg))
		return -1;
	d = db_open(pg.url, 10, err, sizeof(err));
	if (!d || db_migrate(d, db_schema, db_schema_count, &v, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	app_sha256_hex(KEY, strlen(KEY), sha);
	if (db_account_create(d, "tester", 1 << 20, sha, NULL, err, sizeof(err)) < 0)
		return -1;
	if (!test_mkdtemp(root, sizeof(root), "test_http_cfs") ||
	    !test_mkdtemp(state, sizeof(state), "test_http_st"))
		return -1;
	{
		char sock[100], cat[300], priv[300];

		snprintf(sock, sizeof(sock), "%.80s/cfgd.sock", state);
		snprintf(cat, sizeof(cat), "%s/catalog", state);
		snprintf(priv, sizeof(priv), "%s/images", state);
		mkdir(cat, 0755);
		daemon_start_at(&cfgd, sock, root, state, cat, priv, 0);
	}
	snprintf(keyfile, sizeof(keyfile), "%s/admin.key", state);
	f = fopen(keyfile, "w");
	if (!f)
		return -1;
	fprintf(f, "%s\n", ADMIN);
	fclose(f);
	if (apiopt_parse(3, argv, 1, &o, err, sizeof(err)) < 0 || o.fetch_allow.n != 1)
		return -1;
	snprintf(o.state, sizeof(o.state), "%s", state);
	snprintf(o.cfgd_socket, sizeof(o.cfgd_socket), "%s", cfgd.sock);
	snprintf(o.admin_key_file, sizeof(o.admin_key_file), "%s", keyfile);
	snprintf(o.public_addr, sizeof(o.public_addr), "198.51.100.7:3260");
	o.fetch_wait = 60;
	if (app_init(&a, &o, d, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	srv = http_start(&a, "127.0.0.1:0", err, sizeof(err));
	if (!srv) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	port = http_port(srv);
	return 0;
}

static int group_teardown(void **st)
{
	(void)st;
	http_stop(srv);
	app_fini(&a);
	daemon_stop(&cfgd);
	pg_test_stop(&pg);
	test_rmtree(root);
	test_rmtree(state);
	return 0;
}

/*
 * Send raw bytes, read the answer into out (cap bytes) until the server closes.
 * Returns the HTTP status, 0 when the connection closed without an answer, -1 on a
 * socket error.
 */
static int raw_to(const char *req, size_t len, char *out, size_t cap)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { .tv_sec = 30 };
	size_t got = 0, off = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0), status = 0;

	if (fd < 0)
		return -1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	while (off < len) {
		ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);

		if (n <= 0)
			break; /* the server may answer early (413) and close */
		off += (size_t)n;
	}
	for (;;) {
		ssize_t n = recv(fd, out + got, cap - 1 - got, 0);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	out[got] = '\0';
	if (sscanf(out, "HTTP/1.%*d %d", &status) != 1)
		return 0;
	return status;
}

/* raw_to into resp. */
static int raw(const char *req, size_t len)
{
	return raw_to(req, len, resp, sizeof(resp));
}

/* The body of the last answer. */
static const char *body(void)
{
	const char *b = strstr(resp, "\r\n\r\n");

	return b ? b + 4 : "";
}

static int call(const char *method, const char *path, const char *auth, const char *json)
{
	static char req[200000];
	size_t bl = json ? strlen(json) : 0;
	int n;

	n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s%s%s"
		     "Content-Length: %zu\r\n\r\n", method, path, auth ? "Authorization: " : "",
		     auth ? auth : "", auth ? "\r\n" : "", bl);
	assert_true(n > 0 && (size_t)n + bl < sizeof(req));
	memcpy(req + n, json ? json : "", bl);
	return raw(req, (size_t)n + bl);
}

#define AUTH "Bearer " KEY

/* GET path with an Accept header (NULL: none) and an Authorization value (NULL: none). */
static int get_accept(const char *path, const char *auth, const char *accept)
{
	static char req[4096];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
			 "%s%s%s%s%s%s\r\n", path, auth ? "Authorization: " : "", auth ? auth : "",
			 auth ? "\r\n" : "", accept ? "Accept: " : "", accept ? accept : "",
			 accept ? "\r\n" : "");

	assert_true(n > 0 && (size_t)n < sizeof(req));
	return raw(req, (size_t)n);
}

static void test_errors(void **st)
{
	static const struct {
		const char *method, *path, *auth, *body;
		int status;
	} cases[] = {
		{ "GET", "/nope", AUTH, NULL, 404 },
		{ "GET", "/api", AUTH, NULL, 404 },
		{ "PUT", "/api/sessions", AUTH, "{}", 405 },
		{ "PATCH", "/api/images/x", AUTH, "{}", 405 },
		{ "POST", "/status", NULL, "{}", 405 },
		{ "GET", "/api/sessions", NULL, NULL, 401 },
		{ "GET", "/api/sessions", "Bearer wrong", NULL, 401 },
		{ "GET", "/api/sessions", "Basic Zm9vOmJhcg==", NULL, 401 },
		{ "GET", "/api/images", "Bearer " ADMIN, NULL, 401 },
		{ "GET", "/admin", AUTH, NULL, 401 },
		{ "GET", "/admin", NULL, NULL, 401 },
		{ "POST", "/api/sessions", AUTH, "{", 400 },
		{ "POST", "/api/sessions", AUTH, "", 400 },
		{ "POST", "/api/sessions", AUTH, "[1,2]", 400 },
		{ "POST", "/api/sessions", AUTH, "{\"images\":[\"blank\"]} x", 400 },
		{ "POST", "/api/sessions", AUTH, "{\"images\":[\"blank\"],\"unknown\":1}", 400 },
		{ "POST", "/api/sessions", AUTH, "{\"images\":\"blank\"}", 400 },
		{ "POST", "/api/sessions", AUTH, "{\"images\":[]}", 400 },
		{ "POST", "/api/sessions", AUTH, "{\"images\":[1]}", 400 },
		{ "POST", "/api/sessions", AUTH, "{\"images\":[\"../etc\"]}", 400 },
		{ "POST", "/api/sessions", AUTH, "{\"images\":[\"blank\"],\"persistent\":\"yes\"}", 400 },
		{ "POST", "/api/sessions", AUTH, "{\"images\":[\"blank\"],\"ttl_s\":-5}", 400 },
		{ "POST", "/api/sessions", AUTH, "{\"images\":[\"blank\"],\"ttl_s\":1e309}", 400 },
		{ "POST", "/api/sessions", AUTH, "{\"images\":[\"blank\"],\"ttl_s\":1180591620717411303424}", 400 },
		{ "POST", "/api/sessions", AUTH, "{\"images\":[\"blank\"],\"ttl_s\":9223372036854775807}", 400 },
		{ "POST", "/api/sessions", AUTH, "{\"images\":[\"blank\"],\"ttl_s\":0.5}", 400 },
		{ "POST", "/api/sessions", AUTH, "{\"images\":[\"no-such-image\"]}", 422 },
		{ "POST", "/api/images", AUTH, "{\"name\":\"a/b\",\"url\":\"http://x/\"}", 400 },
		{ "POST", "/api/images", AUTH, "{\"name\":\"..\",\"url\":\"http://x/\"}", 400 },
		{ "POST", "/api/images", AUTH, "{\"name\":\"ok\",\"url\":\"file:///etc/passwd\"}", 400 },
		{ "POST", "/api/images", AUTH, "{\"name\":\"ok\",\"url\":5}", 400 },
		/* a byte that is not printable ASCII: never stored (not UTF-8, a control) */
		{ "POST", "/api/images", AUTH, "{\"name\":\"ok\",\"url\":\"http://x/\xff\"}", 400 },
		{ "POST", "/api/images", AUTH, "{\"name\":\"ok\",\"url\":\"http://x/\\u0001\"}", 400 },
		{ "POST", "/api/images", AUTH, "{\"name\":\"ok\",\"url\":\"http://x/\\u00e9\"}", 400 },
		{ "POST", "/api/images", AUTH, "{\"name\":\"ok\"}", 400 },
		{ "POST", "/api/images", AUTH, "{\"name\":\"ok\",\"url\":\"http://x/\",\"sha256\":\"xyz\"}", 400 },
		{ "GET", "/api/images/..%2f..%2fetc%2fpasswd", AUTH, NULL, 400 },
		{ "GET", "/api/images/ok-name/../../x", AUTH, NULL, 400 },
		{ "GET", "/api/images/x%00y", AUTH, NULL, 400 },
		{ "GET", "/api/images/", AUTH, NULL, 400 },
		{ "DELETE", "/api/images/Upper", AUTH, NULL, 400 },
		{ "GET", "/api/images/nothere", AUTH, NULL, 404 },
		{ "DELETE", "/api/images/nothere", AUTH, NULL, 404 },
		{ "GET", "/api/sessions/-1", AUTH, NULL, 400 },
		{ "GET", "/api/sessions/0000000000000000000000000000000000000000000000000000000000000000", AUTH, NULL, 400 },
		{ "GET", "/api/sessions/ffffffffffffffff", AUTH, NULL, 404 },
		{ "DELETE", "/api/sessions/ffffffffffffffff", AUTH, NULL, 404 },
	};
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int s = call(cases[i].method, cases[i].path, cases[i].auth, cases[i].body);

		if (s != cases[i].status)
			fail_msg("%s %s %s -> %d, want %d: %s", cases[i].method, cases[i].path,
				 cases[i].body ? cases[i].body : "", s, cases[i].status, body());
		assert_non_null(strstr(body(), "\"error\""));
	}
	/* a body over 64 KiB: 413 (announced by Content-Length, answered early) */
	{
		char *big = malloc(100001);

		assert_non_null(big);
		memset(big, 'x', 100000);
		big[100000] = '\0';
		assert_int_equal(call("POST", "/api/sessions", AUTH, big), 413);
		free(big);
	}
	/* the server keeps serving */
	assert_int_equal(call("GET", "/api/sessions", AUTH, NULL), 200);
}

static const char *field(const char *name)
{
	static char v[256];
	char pat[64];
	const char *p;
	size_t n;

	snprintf(pat, sizeof(pat), "\"%s\":", name);
	p = strstr(body(), pat);
	if (!p)
		return "";
	p += strlen(pat);
	if (*p == '"')
		p++;
	n = strcspn(p, "\",}");
	snprintf(v, sizeof(v), "%.*s", (int)n, p);
	return v;
}

static void test_images_sessions(void **st)
{
	char url[128], req[512], sha[DB_SHA_HEX + 1], id[64], path[PATH_MAX + 64];
	char metrics[8192];
	struct stat sb;
	int s;

	(void)st;
	/* a source served by the server itself: its /metrics page */
	assert_int_equal(call("GET", "/metrics", NULL, NULL), 200);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/nope", port);
	snprintf(req, sizeof(req), "{\"name\":\"gone\",\"url\":\"%s\"}", url);
	assert_int_equal(call("POST", "/api/images", AUTH, req), 422);
	assert_int_equal(call("GET", "/api/images/gone", AUTH, NULL), 200);
	assert_string_equal(field("state"), "failed");

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/status?format=json", port);
	snprintf(req, sizeof(req), "{\"name\":\"img1\",\"url\":\"%s\",\"sha256\":\"%064d\"}", url, 0);
	assert_int_equal(call("POST", "/api/images", AUTH, req), 422);
	assert_non_null(strstr(body(), "mismatch"));
	assert_int_equal(call("GET", "/api/images/img1", AUTH, NULL), 404);

	snprintf(req, sizeof(req), "{\"name\":\"img1\",\"url\":\"%s\"}", url);
	s = call("POST", "/api/images", AUTH, req);
	if (s != 201)
		fail_msg("POST /api/images -> %d %s", s, body());
	assert_int_equal(atoi(field("size_bytes")) % 512, 0);
	assert_true(atoi(field("size_bytes")) > 0);
	assert_int_equal(strlen(field("sha256")), 64);
	snprintf(sha, sizeof(sha), "%s", field("sha256"));
	/* issue 11: the image's own IQN, the same in POST and GET */
	assert_string_equal(field("iqn"), "iqn.2025-01.pub.scsipub:p.1.img1");
	assert_int_equal(call("POST", "/api/images", AUTH, req), 409);
	assert_int_equal(call("GET", "/api/images/img1", AUTH, NULL), 200);
	assert_string_equal(field("state"), "ready");
	assert_string_equal(field("sha256"), sha);
	assert_string_equal(field("iqn"), "iqn.2025-01.pub.scsipub:p.1.img1");
	snprintf(path, sizeof(path), "%s/images/1/img1.img", state);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(call("GET", "/api/images", AUTH, NULL), 200);
	assert_non_null(strstr(body(), "\"catalog\":[{\"name\":\"blank\""));

	/* budget: 1 MiB for this account; an image over what is left -> 413 */
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/api/images/img1", port);
	assert_int_equal(call("POST", "/api/sessions", AUTH,
			      "{\"images\":[\"img1\",\"blank\",\"img1\"],\"persistent\":false}"),
			 201);
	assert_string_equal(field("lun_count"), "3");
	assert_string_equal(field("portal"), "198.51.100.7:3260");
	assert_int_equal(strlen(field("chap_secret")), APP_CHAP_SECRET_LEN);
	snprintf(id, sizeof(id), "%s", field("id"));
	assert_int_equal(strlen(id), APP_SESSION_ID_LEN);
	snprintf(path, sizeof(path), "%s/iscsi/" PROV_IQN_PREFIX "%s/tpgt_1/lun/lun_2", root, id);
	assert_int_equal(stat(path, &sb), 0);

	assert_int_equal(call("DELETE", "/api/images/img1", AUTH, NULL), 409);
	snprintf(path, sizeof(path), "/api/sessions/%s", id);
	assert_int_equal(call("GET", path, AUTH, NULL), 200);
	assert_string_equal(field("state"), "live");
	assert_non_null(strstr(body(), "\"images\":[\"img1\",\"blank\",\"img1\"]"));

	assert_int_equal(call("GET", "/status", AUTH, NULL), 200);
	assert_non_null(strstr(resp, "text/html"));
	assert_non_null(strstr(body(), id));
	assert_non_null(strstr(body(), "<tr"));
	assert_int_equal(call("GET", "/status?format=json", AUTH, NULL), 200);
	assert_non_null(strstr(body(), "\"uptime_s\""));
	assert_non_null(strstr(body(), id));
	/* the public /metrics sums the watcher's stored figures: no scsipub-cfgd round
	 * trip per session */
	assert_int_equal(db_session_set_written(a.db, id, 12345), 0);
	assert_int_equal(call("GET", "/metrics", NULL, NULL), 200);
	snprintf(metrics, sizeof(metrics), "%s", body());
	assert_non_null(strstr(metrics, "scsipub_bytes_written_total 12345\n"));
	assert_non_null(strstr(metrics, "# TYPE scsipub_sessions gauge"));
	assert_non_null(strstr(metrics, "scsipub_sessions{state=\"live\"} 1"));
	assert_non_null(strstr(metrics, "scsipub_uptime_seconds "));
	assert_int_equal(call("GET", "/admin", "Bearer " ADMIN, NULL), 200);
	assert_non_null(strstr(body(), "\"connections\":[]"));

	assert_int_equal(call("DELETE", path, AUTH, NULL), 204);
	assert_int_equal(call("GET", path, AUTH, NULL), 404);
	snprintf(path, sizeof(path), "%s/iscsi/" PROV_IQN_PREFIX "%s", root, id);
	assert_int_equal(stat(path, &sb), -1);
	assert_int_equal(call("DELETE", "/api/images/img1", AUTH, NULL), 204);
	snprintf(path, sizeof(path), "%s/images/1/img1.img", state);
	assert_int_equal(stat(path, &sb), -1);
}

static void write_sessions(const char *id, const char *text)
{
	char path[PATH_MAX + 128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/iscsi/" PROV_IQN_PREFIX "%s/tpgt_1/dynamic_sessions",
		 root, id);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_watcher(void **st)
{
	char np[64], pp[64], path[PATH_MAX + 64];
	time_t now = time(NULL);
	struct stat sb;
	unsigned removed = 9;

	(void)st;
	assert_int_equal(call("POST", "/api/sessions", AUTH, "{\"images\":[\"blank\"]}"), 201);
	snprintf(np, sizeof(np), "%s", field("id"));
	assert_int_equal(call("POST", "/api/sessions", AUTH,
			      "{\"images\":[\"blank\"],\"persistent\":true,\"ttl_s\":30}"), 201);
	snprintf(pp, sizeof(pp), "%s", field("id"));

	write_sessions(np, "iqn.1994-05.com.example:a\n");
	write_sessions(pp, "iqn.1994-05.com.example:b\n");
	app_watch_tick(&a, now);
	assert_int_equal(app_session_connections(&a, np), 1);
	write_sessions(np, "");
	write_sessions(pp, "");
	app_watch_tick(&a, now + 1);
	assert_int_equal(db_session_exists(a.db, np), 1); /* not yet a whole tick */
	app_watch_tick(&a, now + 2);
	assert_int_equal(db_session_exists(a.db, np), 0);
	snprintf(path, sizeof(path), "%s/sessions/%s", state, np);
	assert_int_equal(stat(path, &sb), -1);
	snprintf(path, sizeof(path), "/api/sessions/%s", pp);
	assert_int_equal(call("GET", path, AUTH, NULL), 200);
	assert_string_equal(field("state"), "suspended");
	/* back when connected, suspended again when not */
	write_sessions(pp, "iqn.1994-05.com.example:b\n");
	app_watch_tick(&a, now + 3);
	assert_int_equal(call("GET", path, AUTH, NULL), 200);
	assert_string_equal(field("state"), "live");
	write_sessions(pp, "");
	app_watch_tick(&a, now + 4);
	app_watch_tick(&a, now + 5);
	assert_int_equal(call("GET", path, AUTH, NULL), 200);
	assert_string_equal(field("state"), "suspended");
	app_watch_tick(&a, now + 10);
	assert_int_equal(db_session_exists(a.db, pp), 1);
	app_watch_tick(&a, now + 60);
	assert_int_equal(db_session_exists(a.db, pp), 0);
	snprintf(path, sizeof(path), "%s/iscsi/" PROV_IQN_PREFIX "%s", root, pp);
	assert_int_equal(stat(path, &sb), -1);

	/* the janitor removes an overlay directory no row knows */
	snprintf(path, sizeof(path), "%s/sessions/abcdef0123456789", state);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(app_janitor_pass(&a, &removed), 0);
	assert_int_equal(removed, 1);
	assert_int_equal(stat(path, &sb), -1);
}

/* ---- /status: what the public, an account and the operator see ---------------- */

#define KEY_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define KEY_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* A ready private image name of account id, with a 1 MiB file behind it. */
static void plant_image(int64_t id, const char *name)
{
	char path[PATH_MAX], dir[PATH_MAX], err[256];
	int fd;

	assert_int_equal(app_image_path(&a, id, name, path, sizeof(path)), 0);
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	mkdir(dir, 0755);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	assert_int_equal(db_image_begin(a.db, id, name, "http://198.51.100.9/x.img", NULL, err,
					sizeof(err)), 0);
	assert_int_equal(db_image_ready(a.db, id, name, "", 1 << 20, NULL, err, sizeof(err)), 0);
}

/* The status page (html or JSON) as the caller auth (NULL: nobody) into out. */
static void status_as(const char *auth, bool json, char *out, size_t len)
{
	int s = json ? get_accept("/status", auth, "application/json")
		     : get_accept("/status", auth, NULL);

	if (s != 200)
		fail_msg("GET /status (%s) -> %d %s", auth ? auth : "no key", s, body());
	assert_non_null(strstr(resp, json ? "application/json" : "text/html"));
	snprintf(out, len, "%s", body());
}

static void assert_has(const char *page, const char *const *words, bool want)
{
	for (; *words; words++)
		if ((strstr(page, *words) != NULL) != want)
			fail_msg("%s \"%s\" in:\n%s", want ? "missing" : "leaked", *words, page);
}

static void test_status_privacy(void **st)
{
	static char page[65536];
	char sha[DB_SHA_HEX + 1], err[256], ida[64], idb[64];
	int64_t aid, bid;
	int json;

	(void)st;
	app_sha256_hex(KEY_A, strlen(KEY_A), sha);
	assert_int_equal(db_account_create(a.db, "alice-acct", 1 << 30, sha, &aid, err,
					   sizeof(err)), 0);
	app_sha256_hex(KEY_B, strlen(KEY_B), sha);
	assert_int_equal(db_account_create(a.db, "bob-acct", 1 << 30, sha, &bid, err,
					   sizeof(err)), 0);
	plant_image(aid, "alice-secret");
	plant_image(bid, "bob-secret");
	assert_int_equal(call("POST", "/api/sessions", "Bearer " KEY_A,
			      "{\"images\":[\"alice-secret\"],\"persistent\":true}"), 201);
	snprintf(ida, sizeof(ida), "%s", field("id"));
	assert_int_equal(call("POST", "/api/sessions", "Bearer " KEY_B,
			      "{\"images\":[\"bob-secret\",\"blank\"],\"persistent\":true}"), 201);
	snprintf(idb, sizeof(idb), "%s", field("id"));
	assert_int_equal(strlen(ida), APP_SESSION_ID_LEN);
	assert_int_equal(strlen(idb), APP_SESSION_ID_LEN);
	{
		const char *const alice[] = { ida, "alice-acct", "alice-secret", NULL };
		const char *const bob[] = { idb, "bob-acct", "bob-secret", NULL };
		const char *const opts[] = { "admin-key-file", "cfgd-socket", NULL };

		for (json = 0; json < 2; json++) {
			/* nobody: health, counts and the catalog, nothing else */
			status_as(NULL, json, page, sizeof(page));
			assert_has(page, alice, false);
			assert_has(page, bob, false);
			assert_has(page, opts, false);
			assert_null(strstr(page, "tester"));
			assert_non_null(strstr(page, "blank"));
			assert_non_null(strstr(page, json ? "\"status\":\"ok\"" : "status ok"));
			assert_non_null(strstr(page, json ? "\"sessions\":2" : "sessions</th><td>2 "));
			if (json)
				assert_null(strstr(page, "\"sessions\":["));
			/* an account: its own rows only */
			status_as("Bearer " KEY_A, json, page, sizeof(page));
			assert_has(page, alice, true);
			assert_has(page, bob, false);
			assert_has(page, opts, false);
			status_as("Bearer " KEY_B, json, page, sizeof(page));
			assert_has(page, alice, false);
			assert_has(page, bob, true);
			/* the operator: everything */
			status_as("Bearer " ADMIN, json, page, sizeof(page));
			assert_has(page, alice, true);
			assert_has(page, bob, true);
			assert_has(page, opts, true);
		}
	}
	/* ?format=json is the same view */
	assert_int_equal(call("GET", "/status?format=json", NULL, NULL), 200);
	assert_null(strstr(body(), ida));
	assert_null(strstr(body(), "alice-secret"));
	/* a key that is given must be valid */
	assert_int_equal(get_accept("/status", "Bearer nosuchkey", NULL), 401);
	assert_int_equal(get_accept("/status", "Basic Zm9vOmJhcg==", NULL), 401);
	/* /metrics stays public: totals only, no account, session or image */
	assert_int_equal(call("GET", "/metrics", NULL, NULL), 200);
	assert_null(strstr(body(), ida));
	assert_null(strstr(body(), idb));
	assert_null(strstr(body(), "acct"));
	assert_null(strstr(body(), "secret"));
	assert_non_null(strstr(body(), "scsipub_sessions{state=\"live\"} 2"));
	/* /admin still needs the admin key */
	assert_int_equal(call("GET", "/admin", "Bearer " KEY_A, NULL), 401);

	snprintf(page, sizeof(page), "/api/sessions/%s", ida);
	assert_int_equal(call("DELETE", page, "Bearer " KEY_A, NULL), 204);
	snprintf(page, sizeof(page), "/api/sessions/%s", idb);
	assert_int_equal(call("DELETE", page, "Bearer " KEY_A, NULL), 404);
	assert_int_equal(call("DELETE", page, "Bearer " KEY_B, NULL), 204);
}

/* ---- HTTPS with the portal's certificate --------------------------------------- */

/* The portal's certificate and key files; cafile: a copy of the last good certificate. */
static char tlsdir[256], crt[PATH_MAX], keyf[PATH_MAX], cafile[PATH_MAX];

/*
 * A new P-256 key and a self-signed certificate for 127.0.0.1 (CN cn), written to
 * crt/keyf by rename, as provision.sh makes the portal's. keyonly: the key file only.
 */
static void new_cert(const char *cn, bool keyonly)
{
	EVP_PKEY *key;
	X509 *x;

	test_cert_make(cn, "127.0.0.1", &key, &x);
	test_pem_replace(keyf, key, NULL, NULL);
	if (!keyonly) {
		test_pem_replace(crt, NULL, x, NULL);
		test_pem_replace(cafile, NULL, x, NULL);
	}
	EVP_PKEY_free(key);
	X509_free(x);
}

/* The portal's view of the files: its holder's fingerprint (tls-proxy/tls.c). */
static void portal_fingerprint(char *out, size_t len)
{
	char err[512];
	struct tls_server *ts = tls_server_new(crt, keyf, 60, 0, err, sizeof(err));

	if (!ts)
		fail_msg("portal cannot load the certificate: %s", err);
	assert_int_equal(tls_server_fingerprint(ts, out, len), 0);
	tls_server_free(ts);
}

/*
 * One HTTPS GET of path on port p, verifying the server against cafile (the portal's
 * last good certificate as the only trust anchor, IP 127.0.0.1) like curl --cacert. max_ver: 0
 * or the highest TLS version offered. The served certificate's fingerprint goes into
 * fpr. Returns the HTTP status (answer in resp), or -1 when the handshake failed.
 */
static int https_get(uint16_t p, const char *path, int max_ver, char *fpr, size_t fprlen)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(p) };
	struct timeval tv = { .tv_sec = 30 };
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = NULL;
	X509 *peer;
	char req[512];
	size_t got = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0), status = -1, n;

	assert_non_null(ctx);
	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(SSL_CTX_load_verify_locations(ctx, cafile, NULL), 1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (max_ver) {
		SSL_CTX_set_security_level(ctx, 0); /* so OpenSSL really offers TLS 1.1 */
		SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0");
		SSL_CTX_set_min_proto_version(ctx, max_ver < TLS1_2_VERSION ? max_ver : 0);
		SSL_CTX_set_max_proto_version(ctx, max_ver);
	}
	ssl = SSL_new(ctx);
	assert_non_null(ssl);
	X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1");
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1) {
		ERR_clear_error();
		goto out;
	}
	assert_int_equal(SSL_get_verify_result(ssl), X509_V_OK);
	peer = SSL_get1_peer_certificate(ssl);
	assert_non_null(peer);
	test_cert_fingerprint(peer, fpr, fprlen);
	X509_free(peer);
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
		     "Accept: application/json\r\n\r\n", path);
	assert_int_equal(SSL_write(ssl, req, n), n);
	while ((n = SSL_read(ssl, resp + got, (int)(sizeof(resp) - 1 - got))) > 0)
		got += (size_t)n;
	resp[got] = '\0';
	if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1)
		status = 0;
out:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return status;
}


static void test_https(void **st)
{
	char err[1024], want[HTTPS_FINGERPRINT_LEN], got[HTTPS_FINGERPRINT_LEN] = "";
	char held[HTTPS_FINGERPRINT_LEN];
	struct https_cert *hc, *hc2;
	struct http_server *hs, *hs2;
	uint16_t hp, keep = port;
	int i, s;

	(void)st;
	assert_non_null(test_mkdtemp(tlsdir, sizeof(tlsdir), "test_http_tls"));
	snprintf(crt, sizeof(crt), "%s/portal.crt", tlsdir);
	snprintf(keyf, sizeof(keyf), "%s/portal.key", tlsdir);
	snprintf(cafile, sizeof(cafile), "%s/ca.pem", tlsdir);
	new_cert("cert-one", false);
	portal_fingerprint(want, sizeof(want));

	hc = https_cert_new(crt, keyf, 1, monotime_s(), err, sizeof(err));
	if (!hc)
		fail_msg("https_cert_new: %s", err);
	assert_int_equal(https_cert_fingerprint(hc, held, sizeof(held)), 0);
	assert_string_equal(held, want);
	assert_int_equal(https_cert_fingerprint(hc, held, 10), -ENOSPC);
	hs = http_start_https(&a, "127.0.0.1:0", hc, err, sizeof(err));
	if (!hs)
		fail_msg("http_start_https: %s", err);
	hp = http_port(hs);
	/* one HTTPS server per process */
	hc2 = https_cert_new(crt, keyf, 1, monotime_s(), err, sizeof(err));
	assert_non_null(hc2);
	hs2 = http_start_https(&a, "127.0.0.1:0", hc2, err, sizeof(err));
	assert_null(hs2);
	assert_non_null(strstr(err, "another HTTPS server"));
	https_cert_free(hc2);

	/* verified against the portal's certificate; the fingerprint is the portal's */
	s = https_get(hp, "/status", 0, got, sizeof(got));
	if (s != 200)
		fail_msg("HTTPS GET /status -> %d %s", s, resp);
	assert_string_equal(got, want);
	assert_non_null(strstr(body(), "\"status\":\"ok\""));
	assert_null(strstr(body(), "\"sessions\":["));
	assert_int_equal(https_get(hp, "/status", TLS1_2_VERSION, got, sizeof(got)), 200);
	assert_int_equal(https_get(hp, "/status", TLS1_1_VERSION, got, sizeof(got)), -1);
	/* plain HTTP on the HTTPS port gets no HTTP answer */
	port = hp;
	assert_true(call("GET", "/status", NULL, NULL) <= 0);
	port = keep;

	/*
	 * New files: served within the reload interval (1 s), polled with a bound (10 s).
	 * Until then the handshake fails: the client trusts only the new certificate.
	 */
	new_cert("cert-two", false);
	portal_fingerprint(want, sizeof(want));
	for (i = 0, s = -1; i < 100; i++) {
		s = https_get(hp, "/metrics", 0, got, sizeof(got));
		assert_true(s == 200 || s == -1);
		if (s == 200)
			break;
		usleep(100 * 1000);
	}
	assert_int_equal(s, 200);
	assert_string_equal(got, want);
	assert_int_equal(https_cert_fingerprint(hc, held, sizeof(held)), 0);
	assert_string_equal(held, want);

	/* a broken certificate keeps the one in service (once, and on later looks) */
	test_pem_replace(crt, NULL, NULL, "-----BEGIN CERTIFICATE-----\nbroken\n");
	assert_true(https_cert_check_now(hc) < 0);
	assert_true(https_cert_check_now(hc) < 0);
	assert_int_equal(https_get(hp, "/status", 0, got, sizeof(got)), 200);
	assert_string_equal(got, want);
	/* a key that does not match the certificate: the same */
	new_cert("cert-three", false);
	portal_fingerprint(want, sizeof(want));
	assert_int_equal(https_cert_check_now(hc), 1);
	new_cert("cert-four", true);
	assert_true(https_cert_check_now(hc) < 0);
	assert_int_equal(https_get(hp, "/status", 0, got, sizeof(got)), 200);
	assert_string_equal(got, want);
	/* a missing key file: the same */
	assert_int_equal(unlink(keyf), 0);
	assert_true(https_cert_check_now(hc) < 0);
	assert_int_equal(https_get(hp, "/status", 0, got, sizeof(got)), 200);
	assert_string_equal(got, want);

	http_stop(hs);
	https_cert_free(hc);

	/* key and certificate in one file; refusals at start */
	new_cert("cert-five", false);
	{
		char both[PATH_MAX + 8];
		FILE *f, *in;
		int c;

		snprintf(both, sizeof(both), "%s/both.pem", tlsdir);
		f = fopen(both, "w");
		assert_non_null(f);
		for (i = 0; i < 2; i++) {
			in = fopen(i ? crt : keyf, "r");
			assert_non_null(in);
			while ((c = fgetc(in)) != EOF)
				fputc(c, f);
			fclose(in);
		}
		fclose(f);
		hc = https_cert_new(both, "", 60, 0, err, sizeof(err));
		if (!hc)
			fail_msg("key in the certificate's file: %s", err);
		https_cert_free(hc);
		assert_null(https_cert_new(keyf, keyf, 60, 0, err, sizeof(err)));
		assert_null(https_cert_new(crt, crt, 60, 0, err, sizeof(err)));
		assert_null(https_cert_new(crt, keyf, 0, 0, err, sizeof(err)));
		snprintf(both, sizeof(both), "%s/missing.pem", tlsdir);
		assert_null(https_cert_new(both, keyf, 60, 0, err, sizeof(err)));
	}
	test_rmtree(tlsdir);
}

static void test_https_options(void **st)
{
	struct api_options o;
	char err[256];
	char *plain[] = { "x", NULL };
	char *https[] = { "x", "--https-listen", "0.0.0.0:8443", "--tls-cert", "/c.pem", NULL };
	char *nocert[] = { "x", "--https-listen", "0.0.0.0:8443", NULL };
	char *explicit[] = { "x", "--https-listen", "0.0.0.0:8443", "--tls-cert", "/c.pem",
			     "--listen", "0.0.0.0:8080", "--tls-reload-interval", "5", NULL };

	(void)st;
	assert_int_equal(apiopt_parse(1, plain, 1, &o, err, sizeof(err)), 0);
	assert_string_equal(o.listen, "0.0.0.0:8080");
	assert_string_equal(o.https_listen, "");
	assert_int_equal(o.tls_reload_interval, 60);
	assert_int_equal(apiopt_parse(5, https, 1, &o, err, sizeof(err)), 0);
	assert_string_equal(o.listen, "127.0.0.1:8080");
	assert_int_equal(apiopt_parse(3, nocert, 1, &o, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--tls-cert"));
	assert_int_equal(apiopt_parse(9, explicit, 1, &o, err, sizeof(err)), 0);
	assert_string_equal(o.listen, "0.0.0.0:8080");
	assert_int_equal(o.tls_reload_interval, 5);
}

/* ---- fuzz ------------------------------------------------------------------- */

static uint64_t rng = 20261123;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

/* One mutation of s (len *n, capacity cap): flip, delete or insert a non-blank byte. */
static void mutate(char *s, size_t *n, size_t cap, bool printable)
{
	size_t at = *n ? rnd((uint32_t)*n) : 0;
	char c;

	do
		c = printable ? (char)(33 + rnd(94)) : (char)rnd(256);
	while (c == ' ' || c == '\t' || c == '\r' || c == '\n');
	switch (rnd(3)) {
	case 0:
		if (*n && s[at] != c) {
			s[at] = c;
			break;
		}
		/* fall through */
	case 1:
		if (*n > 1) {
			memmove(s + at, s + at + 1, *n - at - 1);
			(*n)--;
			break;
		}
		/* fall through */
	default:
		if (*n + 1 < cap) {
			memmove(s + at + 1, s + at, *n - at);
			s[at] = c;
			(*n)++;
		}
	}
	s[*n] = '\0';
}

static void test_fuzz(void **st)
{
	/* each template is malformed or refers to something missing, and no single edit
	 * (without whitespace) can turn it into a valid request */
	static const struct {
		const char *method, *path, *body;
	} t[] = {
		{ "POST", "/api/sessions", "{\"images\":[\"nosuchimage\"],\"ttl_s\":60}" },
		{ "POST", "/api/sessions", "{\"images\":[\"blank\"],\"persistent\":\"no\"}" },
		{ "POST", "/api/sessions", "{\"images\":[\"blank\"],\"ttl_s\":9999999999}" },
		{ "POST", "/api/images", "{\"name\":\"fz\",\"url\":\"ftp://127.0.0.1/a.img\"}" },
		{ "POST", "/api/images", "{\"name\":\"../../etc\",\"url\":\"http://127.0.0.1:1/a\"}" },
		{ "GET", "/api/images/nosuchimage", NULL },
		{ "DELETE", "/api/sessions/ffffffffffffffff", NULL },
		{ "GET", "/api/sessions/nosuchsession", NULL },
	};
	static char req[8192];
	char bodybuf[1024], pathbuf[256], authbuf[128];
	unsigned counts[6] = { 0 }, i;
	int64_t t0, t1;

	(void)st;
	t0 = monotime_s();
	for (i = 0; i < 10000; i++) {
		unsigned k = rnd(sizeof(t) / sizeof(t[0])), m, what = rnd(8);
		size_t bl = 0, pl, al;
		int n, s;

		snprintf(bodybuf, sizeof(bodybuf), "%s", t[k].body ? t[k].body : "");
		snprintf(pathbuf, sizeof(pathbuf), "%s", t[k].path);
		snprintf(authbuf, sizeof(authbuf), "%s", AUTH);
		bl = strlen(bodybuf);
		pl = strlen(pathbuf);
		al = strlen(authbuf);
		for (m = 1 + rnd(3); m; m--) {
			if (what < 5 && t[k].body)
				mutate(bodybuf, &bl, sizeof(bodybuf), false);
			else if (what < 7)
				mutate(pathbuf + 1, &pl, sizeof(pathbuf) - 1, true);
			else
				mutate(authbuf + 7, &al, sizeof(authbuf) - 7, true);
		}
		n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: f\r\nConnection: close\r\n"
			     "%s%s%sContent-Length: %zu\r\n\r\n", t[k].method, pathbuf,
			     what == 7 && rnd(4) == 0 ? "" : "Authorization: ",
			     what == 7 && rnd(4) == 0 ? "" : authbuf, "\r\n", bl);
		assert_true(n > 0 && (size_t)n + bl < sizeof(req));
		memcpy(req + n, bodybuf, bl);
		s = raw(req, (size_t)n + bl);
		if (s < 400 || s > 499)
			fail_msg("request %u -> %d: %s %s body %s\n%s", i, s, t[k].method, pathbuf,
				 bodybuf, resp);
		counts[s / 100]++;
	}
	t1 = monotime_s();
	fprintf(stderr, "fuzz: 10000 malformed requests, all 4xx, %ld s\n", (long)(t1 - t0));
	assert_int_equal(counts[4], 10000);
	assert_int_equal(call("GET", "/status?format=json", NULL, NULL), 200);
	assert_int_equal(call("GET", "/api/sessions", AUTH, NULL), 200);
}

/* ---- image fetch: SSRF and budget (issue 8 §2) ----------------------------- */

/* Nothing of image name is registered or left on disk (no row, no .img/.dl/.part). */
static void assert_unregistered(const char *name)
{
	static const char *const sfx[] = { ".img", ".img.dl", ".img.part" };
	char path[PATH_MAX + 64];
	struct stat sb;
	size_t i;

	snprintf(path, sizeof(path), "/api/images/%s", name);
	assert_int_equal(call("GET", path, AUTH, NULL), 404);
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/images/1/%s%s", state, name, sfx[i]);
		assert_int_equal(stat(path, &sb), -1);
	}
}

/* Replace the running app's --fetch-allow-net (no fetch is in progress). */
static void set_allow(const char *list)
{
	char err[256];

	assert_int_equal(fetch_nets_parse(list, &a.o.fetch_allow, err, sizeof(err)), 0);
}

static int post_image(const char *name, const char *url, const char *sha)
{
	char req[1024];

	snprintf(req, sizeof(req), "{\"name\":\"%s\",\"url\":\"%s\"%s%s%s}", name, url,
		 sha ? ",\"sha256\":\"" : "", sha ? sha : "", sha ? "\"" : "");
	return call("POST", "/api/images", AUTH, req);
}

static void test_images_ssrf(void **st)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct srv_test red;
	char url[300], target[300];
	int s;

	(void)st;
	set_allow(""); /* the default: public addresses only */

	/* a URL on 127.0.0.1 (this very API), by address and by name */
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", port);
	assert_int_equal(post_image("lo", url, NULL), 422);
	assert_non_null(strstr(body(), "url: the address of 127.0.0.1 is not a public address"));
	assert_unregistered("lo");
	snprintf(url, sizeof(url), "http://localhost:%u/metrics", port);
	assert_int_equal(post_image("lo", url, NULL), 422);
	assert_unregistered("lo");

	/* private addresses: the classifier refuses them, so fetch_image never opens a
	 * socket to them (no packet leaves this host) */
	sin.sin_addr.s_addr = htonl(0x0a000001); /* 10.0.0.1 */
	assert_false(fetch_addr_allowed((struct sockaddr *)&sin, &a.o.fetch_allow));
	assert_int_equal(post_image("priv", "http://10.0.0.1/disk.img", NULL), 422);
	assert_non_null(strstr(body(), "url: the address of 10.0.0.1 is not a public address"));
	assert_unregistered("priv");
	sin.sin_addr.s_addr = htonl(0xc0a80101); /* 192.168.1.1 */
	assert_false(fetch_addr_allowed((struct sockaddr *)&sin, &a.o.fetch_allow));
	assert_int_equal(post_image("priv", "http://192.168.1.1:8080/disk.img", NULL), 422);
	assert_unregistered("priv");
	sin.sin_addr.s_addr = htonl(0xa9fea9fe); /* 169.254.169.254 */
	assert_false(fetch_addr_allowed((struct sockaddr *)&sin, &a.o.fetch_allow));
	assert_int_equal(post_image("meta", "http://169.254.169.254/latest/meta-data/", NULL),
			 422);
	assert_unregistered("meta");

	/* a "public" host (the only allowed address, 127.0.0.2) that 302-redirects to
	 * 127.0.0.1 */
	assert_int_equal(srv_test_start(&red, "127.0.0.2", NULL), 0);
	snprintf(target, sizeof(target), "http://127.0.0.1:%u/metrics", port);
	red.redirect = target;
	set_allow("127.0.0.2/32");
	assert_int_equal(post_image("redir", srv_test_url(&red, "disk.img", url, sizeof(url)),
				    NULL), 422);
	assert_non_null(strstr(body(), "url: the address of 127.0.0.1 is not a public address"));
	assert_unregistered("redir");
	assert_int_equal(srv_test_accepted(&red), 1);

	/* the allow-list lets a listed network through: the same redirect now works */
	set_allow("127.0.0.2/32,127.0.0.0/8");
	s = post_image("redir", url, NULL);
	if (s != 201)
		fail_msg("POST redir with 127.0.0.0/8 allowed -> %d %s", s, body());
	assert_int_equal(srv_test_accepted(&red), 2);
	assert_int_equal(call("GET", "/api/images/redir", AUTH, NULL), 200);
	assert_string_equal(field("state"), "ready");
	assert_int_equal(call("DELETE", "/api/images/redir", AUTH, NULL), 204);
	srv_test_stop(&red);
	set_allow("127.0.0.1/32");
}

/* POST /api/images from another thread (own buffers). */
struct bg_post {
	const char *json;
	int status;
	char out[8192];
};

static void *bg_post_main(void *arg)
{
	struct bg_post *b = arg;
	char req[2048];
	int n = snprintf(req, sizeof(req), "POST /api/images HTTP/1.1\r\nHost: t\r\n"
			 "Connection: close\r\nAuthorization: " AUTH "\r\nContent-Length: %zu"
			 "\r\n\r\n%s", strlen(b->json), b->json);

	b->status = n > 0 && (size_t)n < sizeof(req) ?
		    raw_to(req, (size_t)n, b->out, sizeof(b->out)) : -1;
	return NULL;
}

static void put_file(const char *dir, const char *name, size_t len, unsigned char fill)
{
	char path[PATH_MAX + 64];
	unsigned char *buf = malloc(len);
	FILE *f;

	assert_non_null(buf);
	memset(buf, fill, len);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	fclose(f);
	free(buf);
}

/* A failure on the server's side (here: the download file cannot be made) is a 500
 * that names no server path, not the source's 422; nothing is registered. */
static void test_images_local_failure(void **st)
{
	char dir[PATH_MAX], url[300], dl[PATH_MAX + 32];
	struct srv_test src;

	(void)st;
	assert_non_null(test_mkdtemp(dir, sizeof(dir), "test_http_src"));
	put_file(dir, "c300.img", 300 << 10, 0xc3);
	assert_int_equal(srv_test_start(&src, "127.0.0.1", dir), 0);
	snprintf(dl, sizeof(dl), "%s/images", state);
	assert_true(mkdir(dl, 0755) == 0 || errno == EEXIST);
	snprintf(dl, sizeof(dl), "%s/images/1", state);
	assert_true(mkdir(dl, 0755) == 0 || errno == EEXIST);
	snprintf(dl, sizeof(dl), "%s/images/1/loc.img.dl", state);
	assert_int_equal(mkdir(dl, 0700), 0); /* open(O_RDWR) of it: EISDIR */
	if (post_image("loc", srv_test_url(&src, "c300.img", url, sizeof(url)), NULL) != 500)
		fail_msg("POST loc with a local failure -> %s", body());
	assert_non_null(strstr(body(), "storing the image failed on the server"));
	assert_null(strstr(body(), state));
	assert_int_equal(rmdir(dl), 0);
	assert_unregistered("loc");
	srv_test_stop(&src);
	test_rmtree(dir);
}

static void test_images_budget_concurrent(void **st)
{
	/* account 1 ("tester") has a 1 MiB budget (group_setup) and no image now */
	char dir[PATH_MAX], url[300], json[512], err[256];
	uint64_t used = 1;
	struct srv_test src;
	struct bg_post big = { .json = json };
	pthread_t th;
	int i, s;

	(void)st;
	assert_int_equal(db_image_used(a.db, 1, &used, err, sizeof(err)), 0);
	assert_int_equal(used, 0);
	assert_non_null(test_mkdtemp(dir, sizeof(dir), "test_http_src"));
	put_file(dir, "b400.img", 400 << 10, 0xb4);
	put_file(dir, "c300.img", 300 << 10, 0xc3);
	assert_int_equal(srv_test_start(&src, "127.0.0.1", dir), 0);
	src.stall_len = 700 << 10;

	/* A: 700 KiB announced, 1 KiB sent, then the source stalls */
	snprintf(json, sizeof(json), "{\"name\":\"big\",\"url\":\"%s\"}",
		 srv_test_url(&src, "stall", url, sizeof(url)));
	assert_int_equal(pthread_create(&th, NULL, bg_post_main, &big), 0);
	/* wait (bounded) until A's first bytes are stored: its reservation came before */
	for (i = 0; i < 3000; i++) {
		if (call("GET", "/api/images/big", AUTH, NULL) == 200 &&
		    atoi(field("bytes_done")) > 0)
			break;
		nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
	}
	assert_true(atoi(field("bytes_done")) > 0);
	assert_string_equal(field("state"), "fetching");
	/* Its fetch still writes big's files: a DELETE now is refused, so no second
	 * fetch of the name can share them; the fetch goes on. */
	assert_int_equal(call("DELETE", "/api/images/big", AUTH, NULL), 409);
	assert_non_null(strstr(body(), "still being fetched"));
	assert_int_equal(call("GET", "/api/images/big", AUTH, NULL), 200);
	assert_string_equal(field("state"), "fetching");

	/* How many fetches run is bounded: with A running, the account's limit of 1 gives
	 * 429, the server's limit of 1 gives 503; nothing is registered either way. */
	budget_set_limits(&a.budget, 16, 1);
	s = post_image("c", srv_test_url(&src, "c300.img", url, sizeof(url)), NULL);
	if (s != 429)
		fail_msg("POST c over the account's fetch limit -> %d %s", s, body());
	assert_non_null(strstr(body(), "the account runs 1 image fetches"));
	assert_unregistered("c");
	budget_set_limits(&a.budget, 1, 0);
	assert_int_equal(post_image("c", url, NULL), 503);
	assert_unregistered("c");
	budget_set_limits(&a.budget, a.o.max_fetches, a.o.max_account_fetches);

	/* B: 400 KiB do not fit next to A's 700 KiB: 413 at once, nothing registered */
	s = post_image("b", srv_test_url(&src, "b400.img", url, sizeof(url)), NULL);
	if (s != 413)
		fail_msg("POST b while big is fetching -> %d %s", s, body());
	assert_non_null(strstr(body(), "image budget exceeded"));
	assert_unregistered("b");
	/* C with a wrong sha256: its 300 KiB fit, are reserved, then given back */
	srv_test_url(&src, "c300.img", url, sizeof(url));
	assert_int_equal(post_image("c", url, "00000000000000000000000000000000"
				    "00000000000000000000000000000000"), 422);
	assert_unregistered("c");
	/* C again: fits only because the failed fetch gave its reservation back */
	s = post_image("c", url, NULL);
	if (s != 201)
		fail_msg("POST c while big is fetching -> %d %s", s, body());

	/* A completes */
	srv_test_go(&src);
	pthread_join(th, NULL);
	if (big.status != 201)
		fail_msg("POST big -> %d %s", big.status, big.out);
	assert_int_equal(budget_accounts(&a.budget), 0); /* no fetch holds anything */
	/* 700 + 300 KiB used: B still does not fit */
	assert_int_equal(post_image("b", srv_test_url(&src, "b400.img", url, sizeof(url)), NULL),
			 413);
	assert_unregistered("b");

	assert_int_equal(call("DELETE", "/api/images/big", AUTH, NULL), 204);
	assert_int_equal(call("DELETE", "/api/images/c", AUTH, NULL), 204);
	srv_test_stop(&src);
	test_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_images_sessions),
		cmocka_unit_test(test_images_ssrf),
		cmocka_unit_test(test_images_budget_concurrent),
		cmocka_unit_test(test_images_local_failure),
		cmocka_unit_test(test_watcher),
		cmocka_unit_test(test_status_privacy),
		cmocka_unit_test(test_https),
		cmocka_unit_test(test_https_options),
		cmocka_unit_test(test_fuzz),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
