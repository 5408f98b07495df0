/*
 * test_fetch.c — fetch_image with file:// URLs to temporary files (raw, gzip, xz made
 * here with the libraries, qcow2 with qemu-img when installed) and http:// URLs to a
 * one-shot server thread: sha256 check, size caps, padding to 512, format detection,
 * failures leaving nothing behind.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <lzma.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "test_tmpdir.h"

#include "fetch.h"

#define RAW_LEN 3000 /* not a multiple of 512: padded to 3072 */

struct t {
	char dir[PATH_MAX];
	char err[512];
	unsigned char raw[RAW_LEN];
};

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	size_t i;

	assert_non_null(t);
	assert_non_null(test_mkdtemp(t->dir, sizeof(t->dir), "test_fetch"));
	for (i = 0; i < RAW_LEN; i++)
		t->raw[i] = (unsigned char)(i * 7 + 3);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;

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

static const char *URL(struct t *t, const char *name)
{
	static char buf[2][PATH_MAX + 8];
	static int slot;
	char *b = buf[slot++ % 2];

	assert_true(snprintf(b, sizeof(buf[0]), "file://%s/%s", t->dir, name) <
		    (int)sizeof(buf[0]));
	return b;
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
	assert_int_equal(fetch_image(URL(t, "disk.img"), P(t, "out"), sha, 0, on_progress, &g,
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
	assert_int_equal(fetch_image(URL(t, "disk.img"), P(t, "out"), upper, 3072, NULL, NULL,
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
	assert_int_equal(fetch_image(URL(t, "disk.img"), P(t, "out"), sha, 0, NULL, NULL, NULL,
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
	assert_int_equal(fetch_image(URL(t, "disk.img"), P(t, "out"), NULL, 1024, NULL, NULL,
				     NULL, NULL, t->err, sizeof(t->err)), -EFBIG);
	assert_false(exists(P(t, "out")));
	/* 3000 bytes fit a 3000-byte cap for the download, but padded to 3072 they do not. */
	assert_int_equal(fetch_image(URL(t, "disk.img"), P(t, "out"), NULL, RAW_LEN, NULL, NULL,
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
	assert_int_equal(fetch_image(URL(t, "zeros.img.gz"), P(t, "out"), NULL, 64 * 1024, NULL,
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
	assert_int_equal(fetch_image(URL(t, "disk.img.gz"), P(t, "out"), sha, 0, NULL, NULL, got,
				     &size, t->err, sizeof(t->err)), 0);
	assert_string_equal(got, sha);
	assert_int_equal(size, 3072);
	assert_image(t, P(t, "out"));

	/* Two concatenated members (as `cat a.gz b.gz`). */
	a = make_gz(t->raw, 1000, two, sizeof(two));
	b = make_gz(t->raw + 1000, RAW_LEN - 1000, two + a, sizeof(two) - a);
	put(P(t, "two.gz"), two, a + b);
	assert_int_equal(fetch_image(URL(t, "two.gz"), P(t, "out"), NULL, 0, NULL, NULL, NULL,
				     NULL, t->err, sizeof(t->err)), 0);
	assert_image(t, P(t, "out"));

	/* Truncated and corrupt data. */
	put(P(t, "cut.gz"), gz, n / 2);
	assert_int_equal(fetch_image(URL(t, "cut.gz"), P(t, "bad"), NULL, 0, NULL, NULL, NULL,
				     NULL, t->err, sizeof(t->err)), -EPROTO);
	gz[n / 2] ^= 0xff;
	gz[n / 2 + 1] ^= 0xff;
	put(P(t, "corrupt.gz"), gz, n);
	assert_int_equal(fetch_image(URL(t, "corrupt.gz"), P(t, "bad"), NULL, 0, NULL, NULL,
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
	assert_int_equal(fetch_image(URL(t, "disk.img.xz"), P(t, "out"), NULL, 0, NULL, NULL,
				     NULL, &size, t->err, sizeof(t->err)), 0);
	assert_int_equal(size, 3072);
	assert_image(t, P(t, "out"));
	/* No suffix: the magic says xz. */
	put(P(t, "blob"), xz, n);
	assert_int_equal(fetch_image(URL(t, "blob"), P(t, "out2"), NULL, 0, NULL, NULL, NULL,
				     NULL, t->err, sizeof(t->err)), 0);
	assert_image(t, P(t, "out2"));
	/* Truncated. */
	put(P(t, "cut.xz"), xz, n - 10);
	assert_int_equal(fetch_image(URL(t, "cut.xz"), P(t, "bad"), NULL, 0, NULL, NULL, NULL,
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
	assert_int_equal(fetch_image(URL(t, "disk.qcow2"), P(t, "out"), NULL, 0, NULL, NULL,
				     NULL, &size, t->err, sizeof(t->err)), 0);
	assert_int_equal(size, 3072); /* qemu-img rounds the virtual size up to 512 */
	assert_image(t, P(t, "out"));

	/* A backing file would let the image read other files of the host: refused. */
	snprintf(cmd, sizeof(cmd), "qemu-img create -q -f qcow2 -b '%s' -F raw '%s'",
		 P(t, "src.raw"), P(t, "backed.qcow2"));
	assert_int_equal(system(cmd), 0);
	assert_int_equal(fetch_image(URL(t, "backed.qcow2"), P(t, "bad"), NULL, 0, NULL, NULL,
				     NULL, NULL, t->err, sizeof(t->err)), -EPROTO);
	assert_non_null(strstr(t->err, "backing"));
	/* Virtual size over the cap, though the file is small. */
	snprintf(cmd, sizeof(cmd), "qemu-img create -q -f qcow2 '%s' 1G", P(t, "big.qcow2"));
	assert_int_equal(system(cmd), 0);
	assert_int_equal(fetch_image(URL(t, "big.qcow2"), P(t, "bad"), NULL, 1 << 20, NULL, NULL,
				     NULL, NULL, t->err, sizeof(t->err)), -EFBIG);
	/* Garbage with a .qcow2 name. */
	put(P(t, "junk.qcow2"), t->raw, RAW_LEN);
	assert_int_equal(fetch_image(URL(t, "junk.qcow2"), P(t, "bad"), NULL, 0, NULL, NULL,
				     NULL, NULL, t->err, sizeof(t->err)), -EPROTO);
	assert_false(exists(P(t, "bad")));
	assert_only(t, 6);
}

static void test_bad_args(void **state)
{
	struct t *t = *state;

	assert_int_equal(fetch_image("ftp://example.com/x.img", P(t, "out"), NULL, 0, NULL, NULL,
				     NULL, NULL, t->err, sizeof(t->err)), -EINVAL);
	assert_int_equal(fetch_image("/etc/passwd", P(t, "out"), NULL, 0, NULL, NULL, NULL, NULL,
				     t->err, sizeof(t->err)), -EINVAL);
	assert_int_equal(fetch_image(URL(t, "x"), P(t, "out"), "abc", 0, NULL, NULL, NULL, NULL,
				     t->err, sizeof(t->err)), -EINVAL);
	assert_int_equal(fetch_image(NULL, P(t, "out"), NULL, 0, NULL, NULL, NULL, NULL, t->err,
				     sizeof(t->err)), -EINVAL);
	assert_int_equal(fetch_image(URL(t, "missing.img"), P(t, "out"), NULL, 0, NULL, NULL,
				     NULL, NULL, t->err, sizeof(t->err)), -ENOENT);
	/* An empty file is no image. */
	put(P(t, "empty.img"), "", 0);
	assert_int_equal(fetch_image(URL(t, "empty.img"), P(t, "out"), NULL, 0, NULL, NULL, NULL,
				     NULL, t->err, sizeof(t->err)), -EPROTO);
	/* Destination directory missing. */
	put(P(t, "disk.img"), t->raw, RAW_LEN);
	assert_true(fetch_image(URL(t, "disk.img"), P(t, "nodir/out"), NULL, 0, NULL, NULL, NULL,
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
	r = fetch_image(url, P(t, "out"), NULL, max, NULL, NULL, NULL, NULL, t->err,
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
				       "Connection: close\r\n\r\n", NULL, 0, "x.img", 0), -ENOENT);
	assert_non_null(strstr(t->err, "404"));
	assert_int_equal(http_fetch(t, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n"
				       "Connection: close\r\n\r\n", NULL, 0, "x.img", 0), -EACCES);
	assert_int_equal(http_fetch(t, "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n"
				       "Connection: close\r\n\r\n", NULL, 0, "x.img", 0), -EIO);
	/* A redirect to file:// is not followed. */
	assert_int_equal(http_fetch(t, "HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd\r\n"
				       "Content-Length: 0\r\nConnection: close\r\n\r\n", NULL, 0,
				    "x.img", 0) < 0, 1);
	assert_false(exists(P(t, "out")));
	assert_only(t, 0);
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
	};

	assert_int_equal(fetch_init(), 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
