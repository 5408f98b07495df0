/*
 * fetch.c — image download (libcurl) with a running SHA-256 (OpenSSL EVP), then the
 * decoding (fetchunpack.h) and a raw image written atomically (temporary file, fsync,
 * rename). Every address libcurl connects to passes fetch_addr_allowed first
 * (CURLOPT_OPENSOCKETFUNCTION); the image budget grows through fetchbudget.h. See
 * fetch.h.
 */
#include "fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "fetchbudget.h"
#include "fetchunpack.h"
#include "monotime.h"
#include "reason.h"

#define PROGRESS_NS 200000000LL      /* at most 5 progress calls a second */

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
	struct fetch_budget *budget;
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
	d->rerr = fetch_budget_need(d->budget, need, d->err, d->errlen);
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

/* url into fd, connecting only where allow lets it (fetch_addr_allowed). */
static int download(const char *url, int fd, const struct fetch_nets *allow,
		    struct fetch_budget *b, uint64_t max, unsigned timeout_s,
		    fetch_progress_fn fn, void *arg, unsigned char digest[32], uint64_t *got,
		    char *err, size_t errlen)
{
	struct dl d = { .fd = fd, .max = max, .fn = fn, .arg = arg, .budget = b, .err = err,
			.errlen = errlen, .allow = allow };
	char host[256];
	char *eff = NULL;
	unsigned int dlen = 0;
	int64_t start_ms, took_ms;
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
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)timeout_s); /* 0: no limit */
	curl_easy_setopt(h, CURLOPT_USERAGENT, "scsipub-api/1");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &d);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, &d);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	if (max)
		curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
	start_ms = monotime_ms();
	rc = curl_easy_perform(h);
	took_ms = monotime_ms() - start_ms;
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
		r = reason_fail(err, errlen, -EREMOTEIO, "%.200s: HTTP %ld", host, code);
	else if (rc == CURLE_UNSUPPORTED_PROTOCOL)
		r = reason_fail(err, errlen, -EINVAL, "%.200s: only http and https URLs are "
				"accepted (also for redirects)", host);
	else if (rc == CURLE_OPERATION_TIMEDOUT && timeout_s &&
		 took_ms >= 1000 * (int64_t)timeout_s)
		r = reason_fail(err, errlen, -EREMOTEIO, "%.200s: the fetch took longer than the "
				"server's limit of %u s", host, timeout_s);
	else if (rc == CURLE_TOO_MANY_REDIRECTS)
		r = reason_fail(err, errlen, -EREMOTEIO, "%.200s: more than %d redirects", host,
				FETCH_MAX_REDIRS);
	else if (rc != CURLE_OK)
		r = reason_fail(err, errlen, -EREMOTEIO, "%.200s: %s", host,
				curl_easy_strerror(rc));
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
static int finish(int fd, const char *path, uint64_t max, struct fetch_budget *b, uint64_t *size,
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
	r = fetch_budget_need(b, sz, err, errlen);
	if (r)
		return r;
	if (sz != (uint64_t)st.st_size && ftruncate(fd, (off_t)sz) < 0)
		return reason_fail(err, errlen, -errno, "extend %s: %s", path, strerror(errno));
	if (fsync(fd) < 0)
		return reason_fail(err, errlen, -errno, "fsync %s: %s", path, strerror(errno));
	*size = sz;
	return 0;
}

int fetch_image(const char *url, const char *dest_path, const struct fetch_policy *pol,
		const char *sha256_hex, uint64_t max_bytes, fetch_progress_fn fn, void *arg,
		char out_sha256[65], uint64_t *size_bytes, char *err, size_t errlen)
{
	struct fetch_budget b = { .reserve = pol ? pol->reserve : NULL,
				  .arg = pol ? pol->reserve_arg : NULL };
	char dl[PATH_MAX], part[PATH_MAX], hex[65];
	unsigned char digest[32];
	uint64_t got = 0, size = 0;
	int dfd = -1, pfd = -1, r, n1, n2;
	enum fetch_format f;
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
	r = download(url, dfd, pol ? pol->allow : NULL, &b, max_bytes, pol ? pol->timeout_s : 0,
		     fn, arg, digest, &got, err, errlen);
	if (r)
		goto out;
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	if (sha256_hex && strcasecmp(hex, sha256_hex)) {
		r = reason_fail(err, errlen, -EBADMSG, "sha256 mismatch: expected %s, got %s",
			 sha256_hex, hex);
		goto out;
	}
	f = fetch_format_detect(url, dfd);
	if (f == FETCH_FORMAT_RAW) {
		pfd = dfd;
		dfd = -1;
		if (rename(dl, part) < 0) {
			r = reason_fail(err, errlen, -errno, "rename %s: %s", dl, strerror(errno));
			goto out;
		}
	} else {
		r = fetch_unpack(f, dl, part, max_bytes, &b, err, errlen);
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
