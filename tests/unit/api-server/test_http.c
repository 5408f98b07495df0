/*
 * test_http.c — scsipub-api's HTTP layer in-process: the MHD daemon on 127.0.0.1:0
 * over a throwaway PostgreSQL cluster and a plain-directory configfs tree, driven with
 * raw sockets. The 4xx matrix (bad JSON, unknown field, wrong type, huge number, path
 * traversal, missing auth, unknown route, method not allowed, huge body), images
 * fetched over HTTP from the server itself (201 ready, 422 sha256 mismatch, 409 in
 * use), sessions with configfs objects, the watcher's lifecycle, the status pages, and
 * a fuzz run of 10 000 malformed requests (seeded PRNG) answered only with 4xx.
 */
#include <arpa/inet.h>
#include <errno.h>
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
#include <unistd.h>

#include <cmocka.h>

#include "app.h"
#include "cfs.h"
#include "db.h"
#include "http.h"
#include "pg_test.h"
#include "prov.h"

#define KEY "0123456789abcdef0123456789abcdef"
#define ADMIN "admin-key-0123456789"

static struct pg_test pg;
static struct app a;
static struct http_server *srv;
static char root[256], state[256];
static uint16_t port;
static char resp[1 << 20];

static int group_setup(void **st)
{
	struct api_options o;
	char err[512], sha[DB_SHA_HEX + 1], keyfile[300];
	char *argv[] = { "x", NULL };
	struct db *d;
	struct cfs *c;
	FILE *f;
	int v;

	(void)st;
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
	c = cfs_open(root);
	if (!c)
		return -1;
	cfs_force_plain(c);
	snprintf(keyfile, sizeof(keyfile), "%s/admin.key", state);
	f = fopen(keyfile, "w");
	if (!f)
		return -1;
	fprintf(f, "%s\n", ADMIN);
	fclose(f);
	if (apiopt_parse(1, argv, 1, &o, err, sizeof(err)) < 0)
		return -1;
	snprintf(o.state, sizeof(o.state), "%s", state);
	snprintf(o.configfs, sizeof(o.configfs), "%s", root);
	snprintf(o.admin_key_file, sizeof(o.admin_key_file), "%s", keyfile);
	snprintf(o.public_addr, sizeof(o.public_addr), "198.51.100.7:3260");
	o.fetch_wait = 60;
	if (app_init(&a, &o, d, c, err, sizeof(err)) < 0) {
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
	pg_test_stop(&pg);
	test_rmtree(root);
	test_rmtree(state);
	return 0;
}

/*
 * Send raw bytes, read the answer into resp until the server closes. Returns the
 * HTTP status, 0 when the connection closed without an answer, -1 on a socket error.
 */
static int raw(const char *req, size_t len)
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
		ssize_t n = recv(fd, resp + got, sizeof(resp) - 1 - got, 0);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	resp[got] = '\0';
	if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1)
		return 0;
	return status;
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
	assert_non_null(strstr(body(), "\"iqn\":null"));
	assert_int_equal(call("POST", "/api/images", AUTH, req), 409);
	assert_int_equal(call("GET", "/api/images/img1", AUTH, NULL), 200);
	assert_string_equal(field("state"), "ready");
	assert_string_equal(field("sha256"), sha);
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

	assert_int_equal(call("GET", "/status", NULL, NULL), 200);
	assert_non_null(strstr(resp, "text/html"));
	assert_non_null(strstr(body(), id));
	assert_non_null(strstr(body(), "<tr"));
	assert_int_equal(call("GET", "/status?format=json", NULL, NULL), 200);
	assert_non_null(strstr(body(), "\"uptime_s\""));
	assert_non_null(strstr(body(), id));
	assert_int_equal(call("GET", "/metrics", NULL, NULL), 200);
	snprintf(metrics, sizeof(metrics), "%s", body());
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
	struct timespec t0, t1;

	(void)st;
	clock_gettime(CLOCK_MONOTONIC, &t0);
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
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr, "fuzz: 10000 malformed requests, all 4xx, %ld s\n",
		(long)(t1.tv_sec - t0.tv_sec));
	assert_int_equal(counts[4], 10000);
	assert_int_equal(call("GET", "/status?format=json", NULL, NULL), 200);
	assert_int_equal(call("GET", "/api/sessions", AUTH, NULL), 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_images_sessions),
		cmocka_unit_test(test_watcher),
		cmocka_unit_test(test_fuzz),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
