/*
 * fetch.c — image download (libcurl) with a running SHA-256 (OpenSSL EVP), then
 * decompression (.xz liblzma, .gz zlib, .qcow2 qemu-img) to a raw image written
 * atomically (temporary file, fsync, rename). Every address libcurl connects to passes
 * fetch_addr_allowed first (CURLOPT_OPENSOCKETFUNCTION); decoding runs in a separate
 * program without network and with resource limits (fetch_unpack). See fetch.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <lzma.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "fetch.h"
#include "reason.h"
#include "monotime.h"

extern char **environ;

#define FETCH_BUF (256 * 1024)
#define PROGRESS_NS 200000000LL      /* at most 5 progress calls a second */
#define QCOW2_MAGIC "QFI\xfb"

enum fmt { FMT_RAW, FMT_XZ, FMT_GZ, FMT_QCOW2 };

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static CURLcode init_rc;

static void do_init(void)
{
	init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int fetch_init(void)
{
	pthread_once(&init_once, do_init);
	return init_rc == CURLE_OK ? 0 : -EIO;
}

/* ---- budget reservation --------------------------------------------------------- */

/* What the reserve callback has granted so far. In the unpack child (fetch_unpack)
 * the callback lives in the parent: requests go over fd (-1: call it here). */
struct budget {
	const struct fetch_policy *pol;
	uint64_t held;
	int fd;
};

/* One request of the unpack child to its parent, and the answer. */
struct unpack_msg {
	char kind;            /* 'N' need bytes (answer: r + err), 'R' result (final) */
	int r;
	uint64_t bytes;
	char err[512];
};

static int remote_need(struct budget *b, uint64_t n, char *err, size_t errlen)
{
	struct unpack_msg m = { .kind = 'N', .bytes = n };

	if (write(b->fd, &m, sizeof(m)) != (ssize_t)sizeof(m) ||
	    read(b->fd, &m, sizeof(m)) != (ssize_t)sizeof(m))
		return reason_fail(err, errlen, -EIO, "the unpack process lost its parent");
	if (m.r)
		reason_fail(err, errlen, m.r, "%s", m.err);
	return m.r;
}

/* The fetch needs n bytes in total: ask the callback when n exceeds what it granted. */
static int budget_need(struct budget *b, uint64_t n, char *err, size_t errlen)
{
	int r;

	if (!b || n <= b->held || (b->fd < 0 && (!b->pol || !b->pol->reserve)))
		return 0;
	if (b->fd >= 0)
		r = remote_need(b, n, err, errlen);
	else
		r = b->pol->reserve(b->pol->reserve_arg, n, err, errlen);
	if (r)
		return r < 0 ? r : reason_fail(err, errlen, -EDQUOT, "over the image budget");
	b->held = n;
	return 0;
}

/* ---- download ------------------------------------------------------------------ */

struct dl {
	int fd;
	CURL *h;
	EVP_MD_CTX *md;
	uint64_t done, total, max;
	bool too_big, write_err;
	int werrno;
	fetch_progress_fn fn;
	void *arg;
	int64_t last;
	const struct fetch_nets *allow;
	bool refused;            /* an address was refused in on_open */
	struct budget *budget;
	int rerr;                /* the reserve callback's errno (reason already in err) */
	char *err;
	size_t errlen;
};

static void progress(struct dl *d, bool force)
{
	struct fetch_progress p;
	int64_t t;

	if (!d->fn)
		return;
	t = monotime_ns();
	if (!force && t - d->last < PROGRESS_NS)
		return;
	d->last = t;
	p.bytes_done = d->done;
	p.bytes_total = d->total;
	d->fn(d->arg, &p);
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct dl *d = arg;
	size_t n = size * nmemb, off = 0;
	uint64_t need = d->done + n;
	curl_off_t cl = -1;

	if (d->max && d->done + n > d->max) {
		d->too_big = true;
		return 0; /* aborts the transfer (CURLE_WRITE_ERROR) */
	}
	/* The announced length is reserved at the first chunk, the rest as it arrives. */
	if (curl_easy_getinfo(d->h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK &&
	    cl > 0 && (uint64_t)cl > need)
		need = (uint64_t)cl;
	d->rerr = budget_need(d->budget, need, d->err, d->errlen);
	if (d->rerr)
		return 0;
	if (EVP_DigestUpdate(d->md, ptr, n) != 1) {
		d->write_err = true;
		d->werrno = EIO;
		return 0;
	}
	while (off < n) {
		ssize_t w = write(d->fd, ptr + off, n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			d->write_err = true;
			d->werrno = errno;
			return 0;
		}
		off += (size_t)w;
	}
	d->done += n;
	progress(d, false);
	return n;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct dl *d = arg;

	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	if (dltotal > 0)
		d->total = (uint64_t)dltotal;
	if (d->max && d->total > d->max) {
		d->too_big = true;
		return 1; /* aborts (CURLE_ABORTED_BY_CALLBACK) */
	}
	return 0;
}

/*
 * CURLOPT_OPENSOCKETFUNCTION: libcurl is about to connect to a->addr (each address of
 * each hop). Refused addresses get no socket, so no packet: libcurl then tries the
 * next address or fails with CURLE_COULDNT_CONNECT.
 */
static curl_socket_t on_open(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct dl *d = arg;
	struct sockaddr_storage ss;
	int fd;

	(void)purpose;
	memset(&ss, 0, sizeof(ss));
	if (a->addrlen > sizeof(ss) ||
	    (a->family == AF_INET && a->addrlen < sizeof(struct sockaddr_in)) ||
	    (a->family == AF_INET6 && a->addrlen < sizeof(struct sockaddr_in6))) {
		d->refused = true;
		return CURL_SOCKET_BAD;
	}
	memcpy(&ss, &a->addr, a->addrlen); /* libcurl's storage holds addrlen bytes */
	if (!fetch_addr_allowed((const struct sockaddr *)&ss, d->allow)) {
		d->refused = true;
		return CURL_SOCKET_BAD;
	}
	fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
	return fd < 0 ? CURL_SOCKET_BAD : fd;
}

/* The host part of url into out ("?" when it has none). */
static void url_host(const char *url, char *out, size_t len)
{
	CURLU *u = curl_url();
	char *host = NULL;

	snprintf(out, len, "?");
	if (u && url && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host)
		snprintf(out, len, "%s", host);
	curl_free(host);
	curl_url_cleanup(u);
}

/* http:// or https:// (any case). */
static bool scheme_ok(const char *url)
{
	static const char *const ok[] = { "http://", "https://" };
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!strncasecmp(url, ok[i], strlen(ok[i])))
			return true;
	return false;
}

static int download(const char *url, int fd, struct budget *b, uint64_t max,
		    fetch_progress_fn fn, void *arg, unsigned char digest[32], uint64_t *got,
		    char *err, size_t errlen)
{
	struct dl d = { .fd = fd, .max = max, .fn = fn, .arg = arg, .budget = b, .err = err,
			.errlen = errlen, .allow = b->pol ? b->pol->allow : NULL };
	char host[256];
	char *eff = NULL;
	unsigned int dlen = 0;
	long code = 0;
	CURLcode rc;
	CURL *h;
	int r = 0;

	d.md = EVP_MD_CTX_new();
	if (!d.md || EVP_DigestInit_ex(d.md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(d.md);
		return reason_fail(err, errlen, -ENOMEM, "cannot set up SHA-256");
	}
	h = curl_easy_init();
	if (!h) {
		EVP_MD_CTX_free(d.md);
		return reason_fail(err, errlen, -ENOMEM, "cannot set up libcurl");
	}
	d.h = h;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, (long)FETCH_MAX_REDIRS);
	curl_easy_setopt(h, CURLOPT_PROXY, "");   /* no proxy, whatever the environment says */
	curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, on_open);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &d);
	curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);   /* < 1 byte/s ... */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);   /* ... for 60 s: give up */
	curl_easy_setopt(h, CURLOPT_USERAGENT, "scsipub-api/1");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &d);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, &d);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	if (max)
		curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	/* the URL of the last hop tried (a redirect's target when it failed there) */
	if (curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &eff) != CURLE_OK)
		eff = NULL;
	url_host(eff ? eff : url, host, sizeof(host));
	/* reasons name the host and libcurl's fixed error text only, never its error
	 * buffer (that holds the addresses and ports it tried) */
	if (d.rerr)
		r = d.rerr;
	else if (d.too_big || rc == CURLE_FILESIZE_EXCEEDED)
		r = reason_fail(err, errlen, -EFBIG, "%.200s: the image is larger than the limit of %"
				PRIu64 " bytes", host, max);
	else if (d.write_err)
		r = reason_fail(err, errlen, -d.werrno, "writing the download: %s", strerror(d.werrno));
	else if (rc == CURLE_COULDNT_CONNECT && d.refused)
		r = reason_fail(err, errlen, -EPERM, "url: the address of %.200s is not a public "
				"address", host);
	else if (rc == CURLE_HTTP_RETURNED_ERROR)
		r = reason_fail(err, errlen, code == 404 || code == 410 ? -ENOENT
				      : code == 401 || code == 403 ? -EACCES : -EIO,
			 "%.200s: HTTP %ld", host, code);
	else if (rc == CURLE_UNSUPPORTED_PROTOCOL)
		r = reason_fail(err, errlen, -EINVAL, "%.200s: only http and https URLs are "
				"accepted (also for redirects)", host);
	else if (rc == CURLE_TOO_MANY_REDIRECTS)
		r = reason_fail(err, errlen, -EIO, "%.200s: more than %d redirects", host,
				FETCH_MAX_REDIRS);
	else if (rc != CURLE_OK)
		r = reason_fail(err, errlen, -EIO, "%.200s: %s", host, curl_easy_strerror(rc));
	curl_easy_cleanup(h);
	if (!r && EVP_DigestFinal_ex(d.md, digest, &dlen) != 1)
		r = reason_fail(err, errlen, -EIO, "SHA-256 failed");
	EVP_MD_CTX_free(d.md);
	if (!r) {
		if (!d.total)
			d.total = d.done;
		progress(&d, true);
		*got = d.done;
	}
	return r;
}

/* The URL's path suffix decides; then the file's magic. */
static enum fmt detect(const char *url, int fd)
{
	unsigned char m[6] = { 0 };
	size_t n = strcspn(url, "?#");
	char path[PATH_MAX];
	ssize_t got;

	if (n < sizeof(path)) {
		memcpy(path, url, n);
		path[n] = '\0';
		if (n >= 3 && !strcasecmp(path + n - 3, ".xz"))
			return FMT_XZ;
		if (n >= 3 && !strcasecmp(path + n - 3, ".gz"))
			return FMT_GZ;
		if (n >= 6 && !strcasecmp(path + n - 6, ".qcow2"))
			return FMT_QCOW2;
	}
	got = pread(fd, m, sizeof(m), 0);
	if (got >= 6 && !memcmp(m, "\xfd" "7zXZ\0", 6))
		return FMT_XZ;
	if (got >= 2 && m[0] == 0x1f && m[1] == 0x8b)
		return FMT_GZ;
	if (got >= 4 && !memcmp(m, QCOW2_MAGIC, 4))
		return FMT_QCOW2;
	return FMT_RAW;
}

static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_some(int fd, void *buf, size_t n, size_t *got)
{
	ssize_t r;

	do
		r = read(fd, buf, n);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	*got = (size_t)r;
	return 0;
}

/* Decompressed output of either decoder: write, counting against max and the budget. */
static int emit(int out, const void *buf, size_t n, uint64_t *total, uint64_t max,
		struct budget *b, char *err, size_t errlen)
{
	int r;

	if (max && *total + n > max)
		return reason_fail(err, errlen, -EFBIG, "the decompressed image is larger than the limit "
			    "of %" PRIu64 " bytes", max);
	r = budget_need(b, *total + n, err, errlen);
	if (r)
		return r;
	r = write_all(out, buf, n);
	if (r)
		return reason_fail(err, errlen, r, "writing the image: %s", strerror(-r));
	*total += n;
	return 0;
}

static int unxz(int in, int out, uint64_t max, struct budget *b, char *err, size_t errlen)
{
	lzma_stream s = LZMA_STREAM_INIT;
	unsigned char *ib = malloc(FETCH_BUF), *ob = malloc(FETCH_BUF);
	uint64_t total = 0;
	lzma_action act = LZMA_RUN;
	lzma_ret lr;
	int r = 0;

	if (!ib || !ob) {
		r = reason_fail(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	if (lzma_stream_decoder(&s, FETCH_XZ_MEMLIMIT, LZMA_CONCATENATED) != LZMA_OK) {
		r = reason_fail(err, errlen, -ENOMEM, "cannot set up the xz decoder");
		goto out;
	}
	s.next_out = ob;
	s.avail_out = FETCH_BUF;
	for (;;) {
		if (!s.avail_in && act == LZMA_RUN) {
			size_t got = 0;

			r = read_some(in, ib, FETCH_BUF, &got);
			if (r) {
				reason_fail(err, errlen, r, "reading the download: %s", strerror(-r));
				break;
			}
			s.next_in = ib;
			s.avail_in = got;
			if (!got)
				act = LZMA_FINISH;
		}
		lr = lzma_code(&s, act);
		if (!s.avail_out || lr == LZMA_STREAM_END) {
			r = emit(out, ob, FETCH_BUF - s.avail_out, &total, max, b, err, errlen);
			if (r)
				break;
			s.next_out = ob;
			s.avail_out = FETCH_BUF;
		}
		if (lr == LZMA_STREAM_END)
			break;
		if (lr == LZMA_MEMLIMIT_ERROR) {
			r = reason_fail(err, errlen, -EPROTO, "the xz stream needs %" PRIu64 " MiB of "
					"memory to decode, more than the limit of %llu MiB (compress "
					"with xz -9 or a lower level)",
					((uint64_t)lzma_memusage(&s) + (1 << 20) - 1) >> 20,
					FETCH_XZ_MEMLIMIT >> 20);
			break;
		}
		if (lr != LZMA_OK) {
			r = reason_fail(err, errlen, -EPROTO, "corrupt or truncated xz data (liblzma %d)",
				 (int)lr);
			break;
		}
	}
out:
	lzma_end(&s);
	free(ib);
	free(ob);
	return r;
}

static int ungz(int in, int out, uint64_t max, struct budget *b, char *err, size_t errlen)
{
	z_stream z;
	unsigned char *ib = malloc(FETCH_BUF), *ob = malloc(FETCH_BUF);
	uint64_t total = 0;
	bool ended = false, eof = false;
	int r = 0, zr;

	memset(&z, 0, sizeof(z));
	if (!ib || !ob || inflateInit2(&z, 15 + 32) != Z_OK) {
		free(ib);
		free(ob);
		return reason_fail(err, errlen, -ENOMEM, "cannot set up the gzip decoder");
	}
	for (;;) {
		if (!z.avail_in && !eof) {
			size_t got = 0;

			r = read_some(in, ib, FETCH_BUF, &got);
			if (r) {
				reason_fail(err, errlen, r, "reading the download: %s", strerror(-r));
				break;
			}
			z.next_in = ib;
			z.avail_in = (uInt)got;
			eof = !got;
		}
		if (!z.avail_in && eof) {
			if (!ended)
				r = reason_fail(err, errlen, -EPROTO, "truncated gzip data");
			break;
		}
		z.next_out = ob;
		z.avail_out = FETCH_BUF;
		zr = inflate(&z, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END && !(zr == Z_BUF_ERROR && !z.avail_in)) {
			r = reason_fail(err, errlen, -EPROTO, "corrupt gzip data (%s)",
				 z.msg ? z.msg : "zlib error");
			break;
		}
		r = emit(out, ob, FETCH_BUF - z.avail_out, &total, max, b, err, errlen);
		if (r)
			break;
		ended = zr == Z_STREAM_END;
		if (ended && inflateReset(&z) != Z_OK) { /* next member of a concatenation */
			r = reason_fail(err, errlen, -EPROTO, "gzip reset failed");
			break;
		}
	}
	inflateEnd(&z);
	free(ib);
	free(ob);
	return r;
}

static uint64_t be64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/*
 * Check a qcow2 header before handing the file to qemu-img: no backing file and no
 * external data file (either would make qemu-img read other files of this host
 * into the image), and a virtual size within max.
 */
static int qcow2_check(int fd, uint64_t max, struct budget *b, char *err, size_t errlen)
{
	unsigned char h[104];
	ssize_t n = pread(fd, h, sizeof(h), 0);
	uint32_t version;
	uint64_t vsize;

	if (n < 72 || memcmp(h, QCOW2_MAGIC, 4))
		return reason_fail(err, errlen, -EPROTO, "not a qcow2 image");
	version = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];
	if (version < 2 || version > 3)
		return reason_fail(err, errlen, -EPROTO, "qcow2 version %u is not supported", version);
	if (be64(h + 8))
		return reason_fail(err, errlen, -EPROTO, "qcow2 images with a backing file are refused");
	if (version == 3 && (n < 80 || (be64(h + 72) & 4)))
		return reason_fail(err, errlen, -EPROTO,
			    "qcow2 images with an external data file are refused");
	vsize = be64(h + 24);
	if (max && vsize > max)
		return reason_fail(err, errlen, -EFBIG, "the qcow2 image's virtual size %" PRIu64
			    " is larger than the limit of %" PRIu64 " bytes", vsize, max);
	return budget_need(b, vsize, err, errlen);
}

/* qemu-img convert -f qcow2 -O raw in out, without a shell; stderr kept for the reason. */
static int qemu_img_convert(const char *in, const char *out, char *err, size_t errlen)
{
	char *argv[] = { "qemu-img", "convert", "-q", "-f", "qcow2", "-O", "raw",
			 (char *)in, (char *)out, NULL };
	posix_spawn_file_actions_t fa;
	char msg[512];
	size_t len = 0;
	int pfd[2], st, r;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return reason_fail(err, errlen, -errno, "pipe: %s", strerror(errno));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
	r = posix_spawnp(&pid, "qemu-img", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	if (r) {
		close(pfd[0]);
		return reason_fail(err, errlen, -r, "cannot run qemu-img: %s", strerror(r));
	}
	for (;;) {
		char buf[256];
		ssize_t n = read(pfd[0], buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (len < sizeof(msg) - 1) {
			size_t k = (size_t)n < sizeof(msg) - 1 - len ? (size_t)n : sizeof(msg) - 1 - len;

			memcpy(msg + len, buf, k);
			len += k;
		}
	}
	close(pfd[0]);
	msg[len] = '\0';
	while (len && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
		msg[--len] = '\0';
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return reason_fail(err, errlen, -errno, "waitpid: %s", strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return reason_fail(err, errlen, -EPROTO, "qemu-img convert failed: %s",
			    len ? msg : "no message");
	return 0;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static bool sha_hex_ok(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (hexval(s[i]) < 0)
			return false;
	return s[64] == '\0';
}

/* Pad fd to a multiple of 512 with zeros, fsync; its final size in *size. */
static int finish(int fd, const char *path, uint64_t max, struct budget *b, uint64_t *size,
		  char *err, size_t errlen)
{
	int r;

	struct stat st;
	uint64_t sz;

	if (fstat(fd, &st) < 0)
		return reason_fail(err, errlen, -errno, "stat %s: %s", path, strerror(errno));
	sz = ((uint64_t)st.st_size + 511) / 512 * 512;
	if (max && sz > max)
		return reason_fail(err, errlen, -EFBIG, "the image (%" PRIu64 " bytes) is larger than "
			    "the limit of %" PRIu64 " bytes", sz, max);
	if (!sz)
		return reason_fail(err, errlen, -EPROTO, "the image is empty");
	r = budget_need(b, sz, err, errlen);
	if (r)
		return r;
	if (sz != (uint64_t)st.st_size && ftruncate(fd, (off_t)sz) < 0)
		return reason_fail(err, errlen, -errno, "extend %s: %s", path, strerror(errno));
	if (fsync(fd) < 0)
		return reason_fail(err, errlen, -errno, "fsync %s: %s", path, strerror(errno));
	*size = sz;
	return 0;
}

/* ---- the unpack child ------------------------------------------------------------ */

/* Decode dl (open as dfd) into part: the work fetch_unpack runs in its child. */
static int unpack_here(enum fmt f, int dfd, const char *dl, const char *part, uint64_t max,
		       struct budget *b, char *err, size_t errlen)
{
	int pfd, r;

	if (f == FMT_QCOW2) {
		r = qcow2_check(dfd, max, b, err, errlen);
		return r ? r : qemu_img_convert(dl, part, err, errlen);
	}
	pfd = open(part, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (pfd < 0)
		return reason_fail(err, errlen, -errno, "create %s: %s", part, strerror(errno));
	if (lseek(dfd, 0, SEEK_SET) < 0)
		r = reason_fail(err, errlen, -errno, "seek %s: %s", dl, strerror(errno));
	else if (f == FMT_XZ)
		r = unxz(dfd, pfd, max, b, err, errlen);
	else
		r = ungz(dfd, pfd, max, b, err, errlen);
	if (close(pfd) < 0 && !r)
		r = reason_fail(err, errlen, -errno, "close %s: %s", part, strerror(errno));
	return r;
}

int fetch_sandbox_enter(uint64_t max_file_bytes, unsigned *applied)
{
	struct rlimit rl;
	unsigned a = 0;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0)
		a |= FETCH_SANDBOX_NO_NEW_PRIVS;
	signal(SIGXFSZ, SIG_IGN); /* over RLIMIT_FSIZE: EFBIG, not death (also in qemu-img) */
	/* No network: a namespace of our own (as an unprivileged user through a user
	 * namespace; as root directly). */
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0 || unshare(CLONE_NEWNET) == 0)
		a |= FETCH_SANDBOX_NO_NETWORK;
	rl.rlim_cur = rl.rlim_max = max_file_bytes ? max_file_bytes + 512 : RLIM_INFINITY;
	if (setrlimit(RLIMIT_FSIZE, &rl) == 0)
		a |= FETCH_SANDBOX_FSIZE;
	rl.rlim_cur = rl.rlim_max = FETCH_SANDBOX_CPU_S;
	if (setrlimit(RLIMIT_CPU, &rl) == 0)
		a |= FETCH_SANDBOX_CPU;
	rl.rlim_cur = rl.rlim_max = 64;
	if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
		a |= FETCH_SANDBOX_NOFILE;
	rl.rlim_cur = rl.rlim_max = 0;
	setrlimit(RLIMIT_CORE, &rl);
#ifndef __SANITIZE_ADDRESS__ /* ASan reserves terabytes of address space */
	rl.rlim_cur = rl.rlim_max = FETCH_SANDBOX_AS;
	if (setrlimit(RLIMIT_AS, &rl) == 0)
		a |= FETCH_SANDBOX_AS_LIMIT;
#endif
	if (applied)
		*applied = a;
	return (a & FETCH_SANDBOX_NO_NETWORK) ? 0 : -EPERM;
}

/* The decoder program fetch_unpack runs (fetch_set_unpacker). */
static char unpacker[PATH_MAX] = FETCH_UNPACKER_DEFAULT;

void fetch_set_unpacker(const char *path)
{
	snprintf(unpacker, sizeof(unpacker), "%s", path);
}

static const char *fmt_name(enum fmt f)
{
	return f == FMT_XZ ? "xz" : f == FMT_GZ ? "gz" : f == FMT_QCOW2 ? "qcow2" : "raw";
}

int fetch_unpack_main(int argc, char **argv)
{
	struct unpack_msg m = { .kind = 'R' };
	struct budget cb = { .fd = FETCH_UNPACK_FD }; /* budget_need asks the parent */
	enum fmt f;
	uint64_t max;
	char *end;
	int dfd;

	/* argv: FORMAT DOWNLOAD PART MAX_BYTES HELD_BYTES; fd FETCH_UNPACK_FD: the parent */
	if (argc != 6)
		return 2;
	f = !strcmp(argv[1], "xz") ? FMT_XZ : !strcmp(argv[1], "gz") ? FMT_GZ
		: !strcmp(argv[1], "qcow2") ? FMT_QCOW2 : FMT_RAW;
	max = strtoull(argv[4], &end, 10);
	cb.held = strtoull(argv[5], NULL, 10);
	fetch_sandbox_enter(max, NULL);
	dfd = open(argv[2], O_RDONLY | O_CLOEXEC);
	if (f == FMT_RAW || *end)
		m.r = reason_fail(m.err, sizeof(m.err), -EINVAL, "unpack: bad arguments");
	else if (dfd < 0)
		m.r = reason_fail(m.err, sizeof(m.err), -errno, "open %s: %s", argv[2],
				  strerror(errno));
	else
		m.r = unpack_here(f, dfd, argv[2], argv[3], max, &cb, m.err, sizeof(m.err));
	m.bytes = cb.held;
	return write(FETCH_UNPACK_FD, &m, sizeof(m)) == (ssize_t)sizeof(m) ? 0 : 1;
}

/*
 * Decode in a separate program (fetch.h: fetch_unpack_main, FETCH_SANDBOX_*): the
 * decoders and qemu-img parse what a client's URL served, so they run in a fresh
 * process (posix_spawn: nothing of this multithreaded process's state but the
 * arguments) without network and with resource limits. The budget stays here: the
 * child asks for bytes over a socketpair.
 */
static int fetch_unpack(enum fmt f, int dfd, const char *dl, const char *part, uint64_t max,
			struct budget *b, char *err, size_t errlen)
{
	char smax[24], sheld[24], *argv[7];
	posix_spawn_file_actions_t fa;
	struct unpack_msg m;
	int sv[2], st, r = 0;
	pid_t pid;

	(void)dfd;
	snprintf(smax, sizeof(smax), "%" PRIu64, max);
	snprintf(sheld, sizeof(sheld), "%" PRIu64, b->held);
	argv[0] = unpacker;
	argv[1] = (char *)fmt_name(f);
	argv[2] = (char *)dl;
	argv[3] = (char *)part;
	argv[4] = smax;
	argv[5] = sheld;
	argv[6] = NULL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return reason_fail(err, errlen, -errno, "socketpair: %s", strerror(errno));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, sv[1], FETCH_UNPACK_FD);
	r = posix_spawn(&pid, unpacker, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(sv[1]);
	if (r) {
		close(sv[0]);
		return reason_fail(err, errlen, -r, "cannot run the image decoder %s: %s", unpacker,
				   strerror(r));
	}
	for (;;) {
		ssize_t n = read(sv[0], &m, sizeof(m));

		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(m)) {
			r = reason_fail(err, errlen, -EPROTO, "the image decoder ended without a "
					"result (stopped by a resource limit?)");
			break;
		}
		m.err[sizeof(m.err) - 1] = '\0';
		if (m.kind == 'R') {
			r = m.r;
			if (r)
				reason_fail(err, errlen, r, "%s", m.err);
			if (m.bytes > b->held)
				b->held = m.bytes;
			break;
		}
		/* 'N': the child needs m.bytes of the budget */
		m.r = budget_need(b, m.bytes, m.err, sizeof(m.err));
		if (write(sv[0], &m, sizeof(m)) != (ssize_t)sizeof(m)) {
			r = reason_fail(err, errlen, -EIO, "answering the image decoder: %s",
					strerror(errno));
			break;
		}
	}
	close(sv[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return r;
}

int fetch_image(const char *url, const char *dest_path, const struct fetch_policy *pol,
		const char *sha256_hex, uint64_t max_bytes, fetch_progress_fn fn, void *arg,
		char out_sha256[65], uint64_t *size_bytes, char *err, size_t errlen)
{
	struct budget b = { .pol = pol, .fd = -1 };
	char dl[PATH_MAX], part[PATH_MAX], hex[65];
	unsigned char digest[32];
	uint64_t got = 0, size = 0;
	int dfd = -1, pfd = -1, r, n1, n2;
	enum fmt f;
	size_t i;

	if (!url || !dest_path || !*dest_path)
		return reason_fail(err, errlen, -EINVAL, "missing URL or destination");
	if (!scheme_ok(url))
		return reason_fail(err, errlen, -EINVAL, "only http and https URLs are accepted");
	if (sha256_hex && !sha_hex_ok(sha256_hex))
		return reason_fail(err, errlen, -EINVAL, "sha256 must be 64 hex digits");
	n1 = snprintf(dl, sizeof(dl), "%s.dl", dest_path);
	n2 = snprintf(part, sizeof(part), "%s.part", dest_path);
	if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof(dl) || (size_t)n2 >= sizeof(part))
		return reason_fail(err, errlen, -ENAMETOOLONG, "destination path is too long");
	if (fetch_init())
		return reason_fail(err, errlen, -EIO, "libcurl initialisation failed");

	dfd = open(dl, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (dfd < 0)
		return reason_fail(err, errlen, -errno, "create %s: %s", dl, strerror(errno));
	r = download(url, dfd, &b, max_bytes, fn, arg, digest, &got, err, errlen);
	if (r)
		goto out;
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	if (sha256_hex && strcasecmp(hex, sha256_hex)) {
		r = reason_fail(err, errlen, -EBADMSG, "sha256 mismatch: expected %s, got %s",
			 sha256_hex, hex);
		goto out;
	}
	f = detect(url, dfd);
	if (f == FMT_RAW) {
		pfd = dfd;
		dfd = -1;
		if (rename(dl, part) < 0) {
			r = reason_fail(err, errlen, -errno, "rename %s: %s", dl, strerror(errno));
			goto out;
		}
	} else {
		r = fetch_unpack(f, dfd, dl, part, max_bytes, &b, err, errlen);
		if (!r) {
			pfd = open(part, O_RDWR | O_CLOEXEC);
			if (pfd < 0)
				r = reason_fail(err, errlen, -errno, "open %s: %s", part, strerror(errno));
		}
	}
	if (!r)
		r = finish(pfd, part, max_bytes, &b, &size, err, errlen);
	if (!r && rename(part, dest_path) < 0)
		r = reason_fail(err, errlen, -errno, "rename %s: %s", part, strerror(errno));
out:
	if (dfd >= 0)
		close(dfd);
	if (pfd >= 0)
		close(pfd);
	unlink(dl);
	if (r)
		unlink(part);
	if (!r) {
		if (out_sha256)
			memcpy(out_sha256, hex, 65);
		if (size_bytes)
			*size_bytes = size;
	}
	return r;
}
