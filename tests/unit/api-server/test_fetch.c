/*
 * test_fetch.c — fetch_image over http:// from a source server on 127.0.0.1 serving a
 * temporary directory (raw, gzip, xz made here with the libraries, qcow2 with qemu-img
 * when installed) and from a one-shot server thread with canned answers: sha256 check,
 * size caps, padding to 512, format detection, failures leaving nothing behind. Then
 * the SSRF policy (issue 8 §2): the address classifier and --fetch-allow-net's parser,
 * URLs on loopback, private, link-local, mapped addresses and names refused before any
 * connection, a redirect from an allowed address to a refused one, the allow-list
 * letting a listed network through; the xz memory limit; budget reservations.
 * Only loopback addresses ever receive traffic: the private and link-local addresses
 * are asserted refused by the classifier before they are given to fetch_image, whose
 * check runs before a socket exists.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <lzma.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "srv_test.h"
#include "test_tmpdir.h"

#include "fetch.h"
#include "fetchunpack.h"

#define RAW_LEN 3000 /* not a multiple of 512: padded to 3072 */

struct t {
	char dir[PATH_MAX];
	char err[512];
	unsigned char raw[RAW_LEN];
	struct srv_test srv;         /* serves dir on 127.0.0.1 */
	struct fetch_nets lo;        /* 127.0.0.1/32 */
	struct fetch_policy pol;     /* allow = &lo */
};

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	size_t i;

	assert_non_null(t);
	assert_non_null(test_mkdtemp(t->dir, sizeof(t->dir), "test_fetch"));
	for (i = 0; i < RAW_LEN; i++)
		t->raw[i] = (unsigned char)(i * 7 + 3);
	assert_int_equal(srv_test_start(&t->srv, "127.0.0.1", t->dir), 0);
	assert_int_equal(fetch_nets_parse("127.0.0.1/32", &t->lo, t->err, sizeof(t->err)), 0);
	t->pol.allow = &t->lo;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;

	srv_test_stop(&t->srv);
	assert_int_equal(test_rmdir_flat(t->dir), 0);
	free(t);
	return 0;
}

static const char *P(struct t *t, const char *name)
{
	static char buf[4][PATH_MAX];
	static int slot;
	char *b = buf[slot++ % 4];

	assert_true(snprintf(b, PATH_MAX, "%s/%s", t->dir, name) < PATH_MAX);
	return b;
}

/* http://127.0.0.1:PORT/name of the test's source server. */
static const char *URL(struct t *t, const char *name)
{
	static char buf[2][300];
	static int slot;

	return srv_test_url(&t->srv, name, buf[slot++ % 2], sizeof(buf[0]));
}

static void put(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	fclose(f);
}

static bool exists(const char *p)
{
	struct stat st;

	return lstat(p, &st) == 0;
}

static void sha_hex(const void *data, size_t n, char out[65])
{
	unsigned char d[32];
	unsigned int len = 0;
	int i;

	assert_int_equal(EVP_Digest(data, n, d, &len, EVP_sha256(), NULL), 1);
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* dest holds raw[RAW_LEN] followed by zeros up to 3072 bytes. */
static void assert_image(struct t *t, const char *dest)
{
	unsigned char buf[4096];
	FILE *f = fopen(dest, "rb");
	size_t n, i;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_int_equal(n, 3072);
	assert_memory_equal(buf, t->raw, RAW_LEN);
	for (i = RAW_LEN; i < n; i++)
		assert_int_equal(buf[i], 0);
}

/* Only the named files are in the test dir (no .dl / .part leftovers). */
static void assert_only(struct t *t, int n)
{
	DIR *d = opendir(t->dir);
	struct dirent *e;
	int count = 0;

	assert_non_null(d);
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		assert_null(strstr(e->d_name, ".part"));
		assert_null(strstr(e->d_name, ".dl"));
		count++;
	}
	closedir(d);
	assert_int_equal(count, n);
}

struct prog {
	int calls;
	uint64_t last_done, last_total;
};

static void on_progress(void *arg, const struct fetch_progress *p)
{
	struct prog *g = arg;

	g->calls++;
	assert_true(p->bytes_done >= g->last_done);
	g->last_done = p->bytes_done;
	g->last_total = p->bytes_total;
}

static void test_raw(void **state)
{
	struct t *t = *state;
	char sha[65], got[65], upper[65];
	struct prog g = { 0 };
	uint64_t size = 0;
	size_t i;

	put(P(t, "disk.img"), t->raw, RAW_LEN);
	sha_hex(t->raw, RAW_LEN, sha);
	assert_int_equal(fetch_image(URL(t, "disk.img"), P(t, "out"), &t->pol, sha, 0, on_progress, &g,
				     got, &size, t->err, sizeof(t->err)), 0);
	assert_string_equal(got, sha);
	assert_int_equal(size, 3072);
	assert_image(t, P(t, "out"));
	assert_true(g.calls >= 1);
	assert_int_equal(g.last_done, RAW_LEN);
	assert_int_equal(g.last_total, RAW_LEN);
	assert_only(t, 2);

	/* Upper-case expected digest; overwrite of an existing dest; NULL outputs. */
	for (i = 0; i < 65; i++)
		upper[i] = (char)(sha[i] >= 'a' && sha[i] <= 'f' ? sha[i] - 32 : sha[i]);
	assert_int_equal(fetch_image(URL(t, "disk.img"), P(t, "out"), &t->pol, upper, 3072, NULL, NULL,
				     NULL, NULL, t->err, sizeof(t->err)), 0);
	assert_image(t, P(t, "out"));
}

static void test_sha_mismatch(void **state)
{
	struct t *t = *state;
	char sha[65];
	uint64_t size = 7;

	put(P(t, "disk.img"), t->raw, RAW_LEN);
	sha_hex("other", 5, sha);
	assert_int_equal(fetch_image(URL(t, "disk.img"), P(t, "out"), &t->pol, sha, 0, NULL, NULL, NULL,
				     &size, t->err, sizeof(t->err)), -EBADMSG);
	assert_non_null(strstr(t->err, "sha256"));
	assert_false(exists(P(t, "out")));
	assert_int_equal(size, 7);
	assert_only(t, 1);
}

static void test_too_big(void **state)
{
	struct t *t = *state;
	static unsigned char zeros[1 << 20];
	unsigned char gz[1 << 16];
	uLongf gzlen = sizeof(gz);
	z_stream z;

	put(P(t, "disk.img"), t->raw, RAW_LEN);
	assert_int_equal(fetch_image(URL(t, "disk.img"), P(t, "out"), &t->pol, NULL, 1024, NULL, NULL,
				     NULL, NULL, t->err, sizeof(t->err)), -EFBIG);
	assert_false(exists(P(t, "out")));
	/* 3000 bytes fit a 3000-byte cap for the download, but padded to 3072 they do not. */
	assert_int_equal(fetch_image(URL(t, "disk.img"), P(t, "out"), &t->pol, NULL, RAW_LEN, NULL, NULL,
				     NULL, NULL, t->err, sizeof(t->err)), -EFBIG);
	assert_false(exists(P(t, "out")));

	/* A small gzip of 1 MiB of zeros: the decompressed size hits the cap. */
	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = zeros;
	z.avail_in = sizeof(zeros);
	z.next_out = gz;
	z.avail_out = sizeof(gz);
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	gzlen = sizeof(gz) - z.avail_out;
	deflateEnd(&z);
	put(P(t, "zeros.img.gz"), gz, gzlen);
	assert_int_equal(fetch_image(URL(t, "zeros.img.gz"), P(t, "out"), &t->pol, NULL, 64 * 1024, NULL,
				     NULL, NULL, NULL, t->err, sizeof(t->err)), -EFBIG);
	assert_non_null(strstr(t->err, "decompressed"));
	assert_false(exists(P(t, "out")));
	assert_only(t, 2);
}

static size_t make_gz(const void *data, size_t n, unsigned char *out, size_t cap)
{
	z_stream z;
	size_t len;

	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (unsigned char *)data;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	len = cap - z.avail_out;
	deflateEnd(&z);
	return len;
}

static void test_gz(void **state)
{
	struct t *t = *state;
	unsigned char gz[8192], two[16384];
	size_t n, a, b;
	uint64_t size = 0;
	char sha[65], got[65];

	n = make_gz(t->raw, RAW_LEN, gz, sizeof(gz));
	put(P(t, "disk.img.gz"), gz, n);
	sha_hex(gz, n, sha); /* the digest is of the file as served */
	assert_int_equal(fetch_image(URL(t, "disk.img.gz"), P(t, "out"), &t->pol, sha, 0, NULL, NULL, got,
				     &size, t->err, sizeof(t->err)), 0);
	assert_string_equal(got, sha);
	assert_int_equal(size, 3072);
	assert_image(t, P(t, "out"));

	/* Two concatenated members (as `cat a.gz b.gz`). */
	a = make_gz(t->raw, 1000, two, sizeof(two));
	b = make_gz(t->raw + 1000, RAW_LEN - 1000, two + a, sizeof(two) - a);
	put(P(t, "two.gz"), two, a + b);
	assert_int_equal(fetch_image(URL(t, "two.gz"), P(t, "out"), &t->pol, NULL, 0, NULL, NULL, NULL,
				     NULL, t->err, sizeof(t->err)), 0);
	assert_image(t, P(t, "out"));

	/* Truncated and corrupt data. */
	put(P(t, "cut.gz"), gz, n / 2);
	assert_int_equal(fetch_image(URL(t, "cut.gz"), P(t, "bad"), &t->pol, NULL, 0, NULL, NULL, NULL,
				     NULL, t->err, sizeof(t->err)), -EPROTO);
	gz[n / 2] ^= 0xff;
	gz[n / 2 + 1] ^= 0xff;
	put(P(t, "corrupt.gz"), gz, n);
	assert_int_equal(fetch_image(URL(t, "corrupt.gz"), P(t, "bad"), &t->pol, NULL, 0, NULL, NULL,
				     NULL, NULL, t->err, sizeof(t->err)), -EPROTO);
	assert_false(exists(P(t, "bad")));
	assert_only(t, 5);
}

static void test_xz(void **state)
{
	struct t *t = *state;
	unsigned char xz[8192];
	size_t n = 0;
	uint64_t size = 0;

	assert_int_equal(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, NULL, t->raw, RAW_LEN, xz,
						 &n, sizeof(xz)), LZMA_OK);
	put(P(t, "disk.img.xz"), xz, n);
	assert_int_equal(fetch_image(URL(t, "disk.img.xz"), P(t, "out"), &t->pol, NULL, 0, NULL, NULL,
				     NULL, &size, t->err, sizeof(t->err)), 0);
	assert_int_equal(size, 3072);
	assert_image(t, P(t, "out"));
	/* No suffix: the magic says xz. */
	put(P(t, "blob"), xz, n);
	assert_int_equal(fetch_image(URL(t, "blob"), P(t, "out2"), &t->pol, NULL, 0, NULL, NULL, NULL,
				     NULL, t->err, sizeof(t->err)), 0);
	assert_image(t, P(t, "out2"));
	/* Truncated. */
	put(P(t, "cut.xz"), xz, n - 10);
	assert_int_equal(fetch_image(URL(t, "cut.xz"), P(t, "bad"), &t->pol, NULL, 0, NULL, NULL, NULL,
				     NULL, t->err, sizeof(t->err)), -EPROTO);
	assert_false(exists(P(t, "bad")));
	assert_only(t, 5);
}

static bool have_qemu_img(void)
{
	return system("qemu-img --version >/dev/null 2>&1") == 0;
}

static void test_qcow2(void **state)
{
	struct t *t = *state;
	char cmd[3 * PATH_MAX];
	uint64_t size = 0;

	if (!have_qemu_img()) {
		skip();
		return;
	}
	put(P(t, "src.raw"), t->raw, RAW_LEN);
	snprintf(cmd, sizeof(cmd), "qemu-img convert -q -f raw -O qcow2 '%s' '%s'",
		 P(t, "src.raw"), P(t, "disk.qcow2"));
	assert_int_equal(system(cmd), 0);
	assert_int_equal(fetch_image(URL(t, "disk.qcow2"), P(t, "out"), &t->pol, NULL, 0, NULL, NULL,
				     NULL, &size, t->err, sizeof(t->err)), 0);
	assert_int_equal(size, 3072); /* qemu-img rounds the virtual size up to 512 */
	assert_image(t, P(t, "out"));

	/* A backing file would let the image read other files of the host: refused. */
	snprintf(cmd, sizeof(cmd), "qemu-img create -q -f qcow2 -b '%s' -F raw '%s'",
		 P(t, "src.raw"), P(t, "backed.qcow2"));
	assert_int_equal(system(cmd), 0);
	assert_int_equal(fetch_image(URL(t, "backed.qcow2"), P(t, "bad"), &t->pol, NULL, 0, NULL, NULL,
				     NULL, NULL, t->err, sizeof(t->err)), -EPROTO);
	assert_non_null(strstr(t->err, "backing"));
	/* Virtual size over the cap, though the file is small. */
	snprintf(cmd, sizeof(cmd), "qemu-img create -q -f qcow2 '%s' 1G", P(t, "big.qcow2"));
	assert_int_equal(system(cmd), 0);
	assert_int_equal(fetch_image(URL(t, "big.qcow2"), P(t, "bad"), &t->pol, NULL, 1 << 20, NULL, NULL,
				     NULL, NULL, t->err, sizeof(t->err)), -EFBIG);
	/* Garbage with a .qcow2 name. */
	put(P(t, "junk.qcow2"), t->raw, RAW_LEN);
	assert_int_equal(fetch_image(URL(t, "junk.qcow2"), P(t, "bad"), &t->pol, NULL, 0, NULL, NULL,
				     NULL, NULL, t->err, sizeof(t->err)), -EPROTO);
	assert_false(exists(P(t, "bad")));
	assert_only(t, 6);
}

/* A source that stalls: the fetch gives up at its time limit, says so, leaves nothing. */
static void test_timeout(void **state)
{
	struct t *t = *state;
	struct fetch_policy pol = t->pol;

	pol.timeout_s = 1;
	t->srv.stall_len = 1 << 20;
	assert_int_equal(fetch_image(URL(t, "stall"), P(t, "out"), &pol, NULL, 0, NULL, NULL, NULL,
				     NULL, t->err, sizeof(t->err)), -EREMOTEIO);
	assert_non_null(strstr(t->err, "took longer than the server's limit of 1 s"));
	assert_false(exists(P(t, "out")));
	assert_only(t, 0);
}

static void test_bad_args(void **state)
{
	struct t *t = *state;

	char url[PATH_MAX + 16];

	assert_int_equal(fetch_image("ftp://example.com/x.img", P(t, "out"), NULL, NULL, 0, NULL,
				     NULL, NULL, NULL, t->err, sizeof(t->err)), -EINVAL);
	assert_int_equal(fetch_image("/etc/passwd", P(t, "out"), NULL, NULL, 0, NULL, NULL, NULL,
				     NULL, t->err, sizeof(t->err)), -EINVAL);
	/* file:// is no longer a source (only http and https) */
	put(P(t, "disk.img"), t->raw, RAW_LEN);
	snprintf(url, sizeof(url), "file://%s", P(t, "disk.img"));
	assert_int_equal(fetch_image(url, P(t, "out"), &t->pol, NULL, 0, NULL, NULL, NULL, NULL,
				     t->err, sizeof(t->err)), -EINVAL);
	assert_int_equal(unlink(P(t, "disk.img")), 0);
	assert_int_equal(fetch_image(URL(t, "x"), P(t, "out"), &t->pol, "abc", 0, NULL, NULL, NULL, NULL,
				     t->err, sizeof(t->err)), -EINVAL);
	assert_int_equal(fetch_image(NULL, P(t, "out"), NULL, NULL, 0, NULL, NULL, NULL, NULL,
				     t->err, sizeof(t->err)), -EINVAL);
	assert_int_equal(fetch_image(URL(t, "missing.img"), P(t, "out"), &t->pol, NULL, 0, NULL, NULL,
				     NULL, NULL, t->err, sizeof(t->err)), -EREMOTEIO);
	/* An empty file is no image. */
	put(P(t, "empty.img"), "", 0);
	assert_int_equal(fetch_image(URL(t, "empty.img"), P(t, "out"), &t->pol, NULL, 0, NULL, NULL, NULL,
				     NULL, t->err, sizeof(t->err)), -EPROTO);
	/* Destination directory missing: a local failure, not the source's. */
	put(P(t, "disk.img"), t->raw, RAW_LEN);
	assert_true(fetch_image(URL(t, "disk.img"), P(t, "nodir/out"), &t->pol, NULL, 0, NULL, NULL, NULL,
				NULL, t->err, sizeof(t->err)) == -ENOENT);
	assert_only(t, 2);
}

/* ---- HTTP: a one-shot server thread answering one canned response ---- */

struct srv {
	int lfd;
	const char *head;        /* status line + headers */
	const void *body;
	size_t body_len;
};

static void *serve(void *arg)
{
	struct srv *s = arg;
	char req[4096];
	int fd = accept(s->lfd, NULL, NULL);
	ssize_t n;

	if (fd < 0)
		return NULL;
	n = read(fd, req, sizeof(req)); /* the request fits one read on loopback */
	(void)n;
	if (write(fd, s->head, strlen(s->head)) < 0 ||
	    (s->body_len && write(fd, s->body, s->body_len) < 0))
		perror("serve");
	close(fd);
	return NULL;
}

static int http_fetch(struct t *t, const char *head, const void *body, size_t len,
		      const char *path, uint64_t max)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	struct srv s = { .head = head, .body = body, .body_len = len };
	pthread_t th;
	char url[128];
	int r;

	s.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s.lfd >= 0);
	assert_int_equal(bind(s.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s.lfd, 1), 0);
	assert_int_equal(getsockname(s.lfd, (struct sockaddr *)&a, &alen), 0);
	assert_int_equal(pthread_create(&th, NULL, serve, &s), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/%s", ntohs(a.sin_port), path);
	r = fetch_image(url, P(t, "out"), &t->pol, NULL, max, NULL, NULL, NULL, NULL, t->err,
			sizeof(t->err));
	pthread_join(th, NULL);
	close(s.lfd);
	return r;
}

static void test_http(void **state)
{
	struct t *t = *state;
	char head[256];

	snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
		 "Connection: close\r\n\r\n", RAW_LEN);
	assert_int_equal(http_fetch(t, head, t->raw, RAW_LEN, "disk.img", 0), 0);
	assert_image(t, P(t, "out"));
	assert_int_equal(unlink(P(t, "out")), 0);
	/* The announced length is over the cap: refused before the body. */
	assert_int_equal(http_fetch(t, head, t->raw, RAW_LEN, "disk.img", 2048), -EFBIG);
	assert_int_equal(http_fetch(t, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
				       "Connection: close\r\n\r\n", NULL, 0, "x.img", 0), -EREMOTEIO);
	assert_non_null(strstr(t->err, "404"));
	assert_int_equal(http_fetch(t, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n"
				       "Connection: close\r\n\r\n", NULL, 0, "x.img", 0), -EREMOTEIO);
	assert_int_equal(http_fetch(t, "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n"
				       "Connection: close\r\n\r\n", NULL, 0, "x.img", 0), -EREMOTEIO);
	assert_non_null(strstr(t->err, "HTTP 500"));
	/* A redirect to file:// is not followed. */
	assert_int_equal(http_fetch(t, "HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd\r\n"
				       "Content-Length: 0\r\nConnection: close\r\n\r\n", NULL, 0,
				    "x.img", 0) < 0, 1);
	assert_false(exists(P(t, "out")));
	assert_only(t, 0);
}

/* ---- SSRF policy (issue 8 §2) ----------------------------------------------- */

/* addr (IPv4 or IPv6 text, with an optional port for the sockaddr) into ss. */
static const struct sockaddr *SA(const char *addr, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(80);
	} else {
		assert_int_equal(inet_pton(AF_INET6, addr, &in6->sin6_addr), 1);
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(80);
	}
	return (const struct sockaddr *)ss;
}

static void test_addr_policy(void **state)
{
	static const struct {
		const char *addr;
		bool ok;
	} cases[] = {
		/* global unicast */
		{ "1.1.1.1", true }, { "8.8.8.8", true }, { "93.184.216.34", true },
		{ "100.63.255.255", true }, { "100.128.0.0", true }, { "172.15.255.255", true },
		{ "172.32.0.0", true }, { "192.0.1.255", true }, { "198.17.255.255", true },
		{ "198.20.0.0", true }, { "223.255.255.255", true }, { "11.0.0.0", true },
		{ "2606:4700:4700::1111", true }, { "2a00:1450:4001:80b::200e", true },
		{ "::ffff:8.8.8.8", true }, { "64:ff9b::808:808", true }, { "2002:808:808::1", true },
		/* IPv4 special purpose */
		{ "0.0.0.0", false }, { "0.1.2.3", false }, { "10.0.0.1", false },
		{ "10.255.255.255", false }, { "100.64.0.1", false }, { "100.127.255.254", false },
		{ "127.0.0.1", false }, { "127.255.255.254", false }, { "169.254.169.254", false },
		{ "169.254.0.1", false }, { "172.16.0.1", false }, { "172.31.255.255", false },
		{ "192.0.0.8", false }, { "192.0.0.170", false }, { "192.0.2.1", false },
		{ "192.88.99.1", false }, { "192.168.0.1", false }, { "192.168.255.255", false },
		{ "198.18.0.1", false }, { "198.19.255.255", false }, { "198.51.100.7", false },
		{ "203.0.113.9", false }, { "224.0.0.1", false }, { "239.255.255.250", false },
		{ "240.0.0.1", false }, { "255.255.255.255", false },
		/* IPv6 special purpose */
		{ "::", false }, { "::1", false }, { "fc00::1", false }, { "fd12:3456::1", false },
		{ "fe80::1", false }, { "febf::1", false }, { "fec0::1", false }, { "ff02::1", false },
		{ "ff0e::1", false }, { "100::1", false }, { "2001::1", false },
		{ "2001:1ff::1", false }, { "2001:db8::1", false }, { "3fff::1", false },
		{ "3fff:fff::1", false }, { "64:ff9b:1::1", false }, { "::7f00:1", false },
		/* IPv4 forms inside IPv6 */
		{ "::ffff:127.0.0.1", false }, { "::ffff:10.0.0.1", false },
		{ "::ffff:169.254.169.254", false }, { "64:ff9b::7f00:1", false },
		{ "64:ff9b::a9fe:a9fe", false }, { "64:ff9b::c0a8:101", false },
		{ "2002:7f00:1::1", false }, { "2002:a00:1::", false },
	};
	struct fetch_nets nets;
	struct sockaddr_storage ss;
	struct sockaddr_un { sa_family_t f; char p[108]; } un = { AF_UNIX, "/x" };
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (fetch_addr_allowed(SA(cases[i].addr, &ss), NULL) != cases[i].ok)
			fail_msg("%s: want %s", cases[i].addr, cases[i].ok ? "allowed" : "refused");
	assert_false(fetch_addr_allowed((const struct sockaddr *)&un, NULL));
	assert_false(fetch_addr_allowed(NULL, NULL));

	/* the allow-list lets exactly its networks through */
	assert_int_equal(fetch_nets_parse(" 10.0.2.0/24, 127.0.0.0/8 ,fd00::/8,169.254.169.254",
					  &nets, err, sizeof(err)), 0);
	assert_int_equal(nets.n, 4);
	assert_true(fetch_addr_allowed(SA("10.0.2.2", &ss), &nets));
	assert_true(fetch_addr_allowed(SA("10.0.2.255", &ss), &nets));
	assert_false(fetch_addr_allowed(SA("10.0.3.1", &ss), &nets));
	assert_false(fetch_addr_allowed(SA("10.0.1.255", &ss), &nets));
	assert_true(fetch_addr_allowed(SA("127.1.2.3", &ss), &nets));
	assert_true(fetch_addr_allowed(SA("::ffff:10.0.2.7", &ss), &nets));
	assert_true(fetch_addr_allowed(SA("fd99::1", &ss), &nets));
	assert_false(fetch_addr_allowed(SA("fc00::1", &ss), &nets));
	assert_false(fetch_addr_allowed(SA("::1", &ss), &nets));
	assert_true(fetch_addr_allowed(SA("169.254.169.254", &ss), &nets));
	assert_false(fetch_addr_allowed(SA("169.254.169.253", &ss), &nets));
	assert_true(fetch_addr_allowed(SA("8.8.8.8", &ss), &nets)); /* global stays allowed */
	assert_int_equal(fetch_nets_parse("0.0.0.0/0", &nets, err, sizeof(err)), 0);
	assert_true(fetch_addr_allowed(SA("192.168.1.1", &ss), &nets));
	assert_false(fetch_addr_allowed(SA("fe80::1", &ss), &nets));
	assert_int_equal(fetch_nets_parse("127.0.0.1/31", &nets, err, sizeof(err)), -EINVAL);
	assert_int_equal(fetch_nets_parse("126.0.0.0/7", &nets, err, sizeof(err)), 0);
	assert_true(fetch_addr_allowed(SA("127.0.0.1", &ss), &nets));
	assert_int_equal(fetch_nets_parse("", &nets, err, sizeof(err)), 0);
	assert_int_equal(nets.n, 0);
	assert_int_equal(fetch_nets_parse(NULL, &nets, err, sizeof(err)), 0);
	assert_int_equal(nets.n, 0);

	/* refused lists name the bad item */
	assert_int_equal(fetch_nets_parse("10.0.2.1/24", &nets, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "host bits"));
	assert_int_equal(fetch_nets_parse("10.0.2.0/33", &nets, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "/33"));
	assert_int_equal(fetch_nets_parse("example.com", &nets, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "example.com"));
	assert_int_equal(fetch_nets_parse("10.0.0.0/8,", &nets, err, sizeof(err)), -EINVAL);
	assert_int_equal(fetch_nets_parse("10.0.0.0/8,,fd00::/8", &nets, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(fetch_nets_parse("10.0.0.0/", &nets, err, sizeof(err)), -EINVAL);
	assert_int_equal(fetch_nets_parse("10.0.0.0/-1", &nets, err, sizeof(err)), -EINVAL);
	assert_int_equal(fetch_nets_parse("fd00::/129", &nets, err, sizeof(err)), -EINVAL);
	assert_int_equal(fetch_nets_parse("fd00::1/8", &nets, err, sizeof(err)), -EINVAL);
	{
		char many[FETCH_NETS_MAX * 16 + 32] = "";

		for (i = 0; i <= FETCH_NETS_MAX; i++)
			snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s10.%zu.0.0/16",
				 i ? "," : "", i);
		assert_int_equal(fetch_nets_parse(many, &nets, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "more than"));
	}
}

/* fetch_image(url) without an allow-list is refused with -EPERM and the fixed reason. */
static void assert_refused(struct t *t, const char *url, const char *host)
{
	char want[256];
	int r;

	r = fetch_image(url, P(t, "out"), NULL, NULL, 0, NULL, NULL, NULL, NULL, t->err,
			sizeof(t->err));
	if (r != -EPERM)
		fail_msg("%s -> %d (%s), want -EPERM", url, r, t->err);
	snprintf(want, sizeof(want), "url: the address of %s is not a public address", host);
	assert_string_equal(t->err, want);
	assert_false(exists(P(t, "out")));
}

static void test_refused(void **state)
{
	struct t *t = *state;
	struct sockaddr_storage ss;
	char url[300];
	static const char *const priv[] = { "10.0.0.1", "192.168.1.1", "172.16.5.4",
					    "169.254.169.254", "100.64.0.1", "fd00::1", "fe80::1" };
	size_t i;

	put(P(t, "disk.img"), t->raw, RAW_LEN);
	/* loopback: the server on 127.0.0.1 never even sees a connection */
	assert_refused(t, URL(t, "disk.img"), "127.0.0.1");
	snprintf(url, sizeof(url), "http://localhost:%u/disk.img", t->srv.port);
	assert_refused(t, url, "localhost");
	snprintf(url, sizeof(url), "http://[::ffff:127.0.0.1]:%u/disk.img", t->srv.port);
	assert_refused(t, url, "[::ffff:127.0.0.1]");
	snprintf(url, sizeof(url), "http://2130706433:%u/disk.img", t->srv.port); /* 127.0.0.1 */
	assert_refused(t, url, "127.0.0.1");
	snprintf(url, sizeof(url), "http://0.0.0.0:%u/disk.img", t->srv.port); /* = this host */
	assert_refused(t, url, "0.0.0.0");
	snprintf(url, sizeof(url), "http://[::1]:%u/disk.img", t->srv.port);
	assert_refused(t, url, "[::1]");
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/disk.img", t->srv.port);
	assert_refused(t, url, "127.0.0.1");
	assert_int_equal(srv_test_accepted(&t->srv), 0);
	/* another loopback address than the one allowed */
	snprintf(url, sizeof(url), "http://127.0.0.2:%u/disk.img", t->srv.port);
	assert_int_equal(fetch_image(url, P(t, "out"), &t->pol, NULL, 0, NULL, NULL, NULL, NULL,
				     t->err, sizeof(t->err)), -EPERM);

	/* private and link-local addresses: refused by the classifier, hence before any
	 * socket exists (no packet leaves; they are never reached from a test) */
	for (i = 0; i < sizeof(priv) / sizeof(priv[0]); i++) {
		bool v6 = strchr(priv[i], ':') != NULL;
		char host[64];

		assert_false(fetch_addr_allowed(SA(priv[i], &ss), &t->lo));
		snprintf(host, sizeof(host), v6 ? "[%s]" : "%s", priv[i]);
		snprintf(url, sizeof(url), "http://%s/latest/meta-data/disk.img", host);
		assert_refused(t, url, host);
	}
	assert_only(t, 1);
}

static void test_redirect(void **state)
{
	struct t *t = *state;
	struct srv_test red;
	struct fetch_nets only2;
	struct fetch_policy pol = { .allow = &only2 };
	char target[300], url[300];

	put(P(t, "disk.img"), t->raw, RAW_LEN);
	/* A "public" source (the only allowed address, 127.0.0.2) redirects to 127.0.0.1,
	 * which is not allowed: refused at the second hop, 127.0.0.1 never connected to. */
	assert_int_equal(fetch_nets_parse("127.0.0.2/32", &only2, t->err, sizeof(t->err)), 0);
	assert_int_equal(srv_test_start(&red, "127.0.0.2", t->dir), 0);
	red.redirect = srv_test_url(&t->srv, "disk.img", target, sizeof(target));
	assert_int_equal(fetch_image(srv_test_url(&red, "x.img", url, sizeof(url)), P(t, "out"),
				     &pol, NULL, 0, NULL, NULL, NULL, NULL, t->err,
				     sizeof(t->err)), -EPERM);
	assert_string_equal(t->err, "url: the address of 127.0.0.1 is not a public address");
	assert_int_equal(srv_test_accepted(&red), 1);
	assert_int_equal(srv_test_accepted(&t->srv), 0);
	assert_false(exists(P(t, "out")));
	/* the allow-list lets the listed networks through: both hops allowed */
	assert_int_equal(fetch_nets_parse("127.0.0.2/32,127.0.0.1/32", &only2, t->err,
					  sizeof(t->err)), 0);
	assert_int_equal(fetch_image(url, P(t, "out"), &pol, NULL, 0, NULL, NULL, NULL, NULL,
				     t->err, sizeof(t->err)), 0);
	assert_image(t, P(t, "out"));
	assert_int_equal(srv_test_accepted(&t->srv), 1);
	assert_int_equal(unlink(P(t, "out")), 0);
	/* a redirect to another scheme is not followed */
	red.redirect = "ftp://127.0.0.1/disk.img";
	assert_int_equal(fetch_image(url, P(t, "out"), &pol, NULL, 0, NULL, NULL, NULL, NULL,
				     t->err, sizeof(t->err)), -EINVAL);
	/* a redirect loop ends after FETCH_MAX_REDIRS hops */
	red.redirect = url;
	assert_int_equal(fetch_image(url, P(t, "out"), &pol, NULL, 0, NULL, NULL, NULL, NULL,
				     t->err, sizeof(t->err)), -EREMOTEIO);
	assert_non_null(strstr(t->err, "redirects"));
	srv_test_stop(&red);
	assert_false(exists(P(t, "out")));
	assert_only(t, 1);
}

/* An .xz of raw whose block header asks for a dictionary of dict bytes. */
static size_t xz_with_dict(struct t *t, uint32_t dict, unsigned char *xz, size_t cap)
{
	lzma_filter filters[LZMA_FILTERS_MAX + 1];
	lzma_block block = { 0 };
	lzma_stream_flags flags;
	size_t n = 0, i;
	uint32_t hsize;

	assert_int_equal(lzma_easy_buffer_encode(0, LZMA_CHECK_CRC64, NULL, t->raw, RAW_LEN, xz,
						 &n, cap), LZMA_OK);
	assert_int_equal(lzma_stream_header_decode(&flags, xz), LZMA_OK);
	block.version = 0;
	block.check = flags.check;
	block.filters = filters;
	block.header_size = lzma_block_header_size_decode(xz[LZMA_STREAM_HEADER_SIZE]);
	hsize = block.header_size;
	assert_int_equal(lzma_block_header_decode(&block, NULL, xz + LZMA_STREAM_HEADER_SIZE),
			 LZMA_OK);
	assert_int_equal(filters[0].id, LZMA_FILTER_LZMA2);
	((lzma_options_lzma *)filters[0].options)->dict_size = dict;
	assert_int_equal(lzma_block_header_size(&block), LZMA_OK);
	assert_int_equal(block.header_size, hsize); /* one property byte either way */
	assert_int_equal(lzma_block_header_encode(&block, xz + LZMA_STREAM_HEADER_SIZE), LZMA_OK);
	for (i = 0; filters[i].id != LZMA_VLI_UNKNOWN; i++)
		free(filters[i].options);
	return n;
}

static void test_xz_memlimit(void **state)
{
	struct t *t = *state;
	unsigned char xz[8192];
	size_t n;

	/* xz -9's 64 MiB dictionary (65 MiB to decode) is within the limit */
	n = xz_with_dict(t, 64u << 20, xz, sizeof(xz));
	put(P(t, "d64.img.xz"), xz, n);
	assert_int_equal(fetch_image(URL(t, "d64.img.xz"), P(t, "out"), &t->pol, NULL, 0, NULL,
				     NULL, NULL, NULL, t->err, sizeof(t->err)), 0);
	assert_image(t, P(t, "out"));
	/* a 1 GiB dictionary is refused before it is allocated, with a clear reason */
	n = xz_with_dict(t, 1u << 30, xz, sizeof(xz));
	put(P(t, "d1g.img.xz"), xz, n);
	assert_int_equal(fetch_image(URL(t, "d1g.img.xz"), P(t, "bad"), &t->pol, NULL, 0, NULL,
				     NULL, NULL, NULL, t->err, sizeof(t->err)), -EPROTO);
	assert_non_null(strstr(t->err, "the xz stream needs 1025 MiB of memory to decode, more "
				       "than the limit of 80 MiB"));
	/* just over the limit: 96 MiB */
	n = xz_with_dict(t, 96u << 20, xz, sizeof(xz));
	put(P(t, "d96.img.xz"), xz, n);
	assert_int_equal(fetch_image(URL(t, "d96.img.xz"), P(t, "bad"), &t->pol, NULL, 0, NULL,
				     NULL, NULL, NULL, t->err, sizeof(t->err)), -EPROTO);
	assert_non_null(strstr(t->err, "limit of 80 MiB"));
	assert_false(exists(P(t, "bad")));
	assert_only(t, 4);
}

/* A reserve callback granting up to limit bytes; records every call. */
struct resv {
	uint64_t limit, last, first;
	unsigned calls;
	bool monotonic;
};

static int reserve(void *arg, uint64_t bytes, char *err, size_t errlen)
{
	struct resv *r = arg;

	if (!r->calls++)
		r->first = bytes;
	if (bytes <= r->last)
		r->monotonic = false;
	if (bytes > r->limit) {
		snprintf(err, errlen, "budget: %" PRIu64 " bytes wanted", bytes);
		return -EDQUOT;
	}
	r->last = bytes;
	return 0;
}

static void test_reserve(void **state)
{
	struct t *t = *state;
	static unsigned char zeros[1 << 20];
	struct resv r = { .limit = UINT64_MAX, .monotonic = true };
	struct fetch_policy pol = { .allow = &t->lo, .reserve = reserve, .reserve_arg = &r };
	unsigned char gz[1 << 16];
	size_t n;

	put(P(t, "disk.img"), t->raw, RAW_LEN);
	/* the announced length is reserved at once, then the padded size */
	assert_int_equal(fetch_image(URL(t, "disk.img"), P(t, "out"), &pol, NULL, 0, NULL, NULL,
				     NULL, NULL, t->err, sizeof(t->err)), 0);
	assert_int_equal(r.first, RAW_LEN);
	assert_int_equal(r.last, 3072);
	assert_true(r.monotonic);
	assert_int_equal(r.calls, 2);
	/* decompressed bytes grow the reservation past the download's size */
	n = make_gz(zeros, sizeof(zeros), gz, sizeof(gz));
	put(P(t, "z.img.gz"), gz, n);
	memset(&r, 0, sizeof(r));
	r.limit = UINT64_MAX;
	r.monotonic = true;
	assert_int_equal(fetch_image(URL(t, "z.img.gz"), P(t, "out"), &pol, NULL, 0, NULL, NULL,
				     NULL, NULL, t->err, sizeof(t->err)), 0);
	assert_int_equal(r.first, n);
	assert_int_equal(r.last, sizeof(zeros));
	assert_true(r.monotonic);
	/* a refused reservation stops the fetch with the callback's errno and reason */
	memset(&r, 0, sizeof(r));
	r.limit = 64 * 1024;
	r.monotonic = true;
	assert_int_equal(fetch_image(URL(t, "z.img.gz"), P(t, "bad"), &pol, NULL, 0, NULL, NULL,
				     NULL, NULL, t->err, sizeof(t->err)), -EDQUOT);
	assert_non_null(strstr(t->err, "budget: "));
	assert_true(r.last <= 64 * 1024);
	memset(&r, 0, sizeof(r));
	r.limit = 1000; /* below the announced length: refused at the first chunk */
	assert_int_equal(fetch_image(URL(t, "disk.img"), P(t, "bad"), &pol, NULL, 0, NULL, NULL,
				     NULL, NULL, t->err, sizeof(t->err)), -EDQUOT);
	assert_int_equal(r.first, RAW_LEN);
	assert_false(exists(P(t, "bad")));
	assert_only(t, 3);
}

/*
 * The decoders' sandbox (fetch_sandbox_enter), in a child: a TCP listener of the
 * parent on 127.0.0.1 is unreachable (own network namespace), a write past the file
 * size limit fails with EFBIG, and no_new_privs is set.
 */
static void test_sandbox(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int lfd, st;
	pid_t pid;

	(void)state;
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char buf[8192] = { 0 };
		unsigned applied = 0;
		int fd = open("/tmp", O_TMPFILE | O_RDWR, 0600), c, bad = 0;

		if (fd < 0)
			_exit(10);
		if (fetch_sandbox_enter(4096, &applied) != 0)
			bad |= 1;
		if ((applied & (FETCH_SANDBOX_NO_NEW_PRIVS | FETCH_SANDBOX_NO_NETWORK |
				FETCH_SANDBOX_FSIZE | FETCH_SANDBOX_CPU | FETCH_SANDBOX_NOFILE)) !=
		    (FETCH_SANDBOX_NO_NEW_PRIVS | FETCH_SANDBOX_NO_NETWORK | FETCH_SANDBOX_FSIZE |
		     FETCH_SANDBOX_CPU | FETCH_SANDBOX_NOFILE))
			bad |= 2;
		c = socket(AF_INET, SOCK_STREAM, 0);
		if (c >= 0 && connect(c, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			bad |= 4;
		if (write(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf) ||
		    (write(fd, buf, sizeof(buf)) >= 0 || errno != EFBIG))
			bad |= 8;
		if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
			bad |= 16;
		_exit(bad);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	close(lfd);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_raw, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sha_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_big, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gz, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xz, setup, teardown),
		cmocka_unit_test_setup_teardown(test_qcow2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http, setup, teardown),
		cmocka_unit_test(test_addr_policy),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redirect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xz_memlimit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reserve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test(test_sandbox),
	};

	assert_int_equal(fetch_init(), 0);
	fetch_set_unpacker(SCSIPUB_UNPACKER); /* the decoder program of this build */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
