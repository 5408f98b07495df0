/*
 * fetchunpack.c — a downloaded image's format, and its decoding (.xz liblzma, .gz zlib,
 * .qcow2 qemu-img) in the separate, sandboxed decoder program scsipub-unpack, which
 * asks its parent for budget as the image grows. See fetchunpack.h.
 */
#include "fetchunpack.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lzma.h>
#include <zlib.h>

#include "reason.h"

extern char **environ;

#define FETCH_BUF (256 * 1024)
#define QCOW2_MAGIC "QFI\xfb"

/* One request of the decoder program to its parent, and the answer. */
struct unpack_msg {
	char kind;            /* 'N' need bytes (answer: r + err), 'R' result (final) */
	int r;
	uint64_t bytes;
	char err[512];
};

/*
 * The decoder program's reserve callback (fetchbudget.h): the budget is its parent's, asked over the socket at *(int *)arg. 0, or the parent's negative errno
 * and reason.
 */
static int ask_parent(void *arg, uint64_t n, char *err, size_t errlen)
{
	struct unpack_msg m = { .kind = 'N', .bytes = n };
	int fd = *(const int *)arg;

	if (write(fd, &m, sizeof(m)) != (ssize_t)sizeof(m) ||
	    read(fd, &m, sizeof(m)) != (ssize_t)sizeof(m))
		return reason_fail(err, errlen, -EIO, "the unpack process lost its parent");
	m.err[sizeof(m.err) - 1] = '\0';
	if (m.r)
		reason_fail(err, errlen, m.r, "%s", m.err);
	return m.r;
}

enum fetch_format fetch_format_detect(const char *url, int fd)
{
	unsigned char m[6] = { 0 };
	size_t n = strcspn(url, "?#");
	char path[PATH_MAX];
	ssize_t got;

	if (n < sizeof(path)) {
		memcpy(path, url, n);
		path[n] = '\0';
		if (n >= 3 && !strcasecmp(path + n - 3, ".xz"))
			return FETCH_FORMAT_XZ;
		if (n >= 3 && !strcasecmp(path + n - 3, ".gz"))
			return FETCH_FORMAT_GZ;
		if (n >= 6 && !strcasecmp(path + n - 6, ".qcow2"))
			return FETCH_FORMAT_QCOW2;
	}
	got = pread(fd, m, sizeof(m), 0);
	if (got >= 6 && !memcmp(m, "\xfd" "7zXZ\0", 6))
		return FETCH_FORMAT_XZ;
	if (got >= 2 && m[0] == 0x1f && m[1] == 0x8b)
		return FETCH_FORMAT_GZ;
	if (got >= 4 && !memcmp(m, QCOW2_MAGIC, 4))
		return FETCH_FORMAT_QCOW2;
	return FETCH_FORMAT_RAW;
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

/* The decoders' next input: up to FETCH_BUF bytes of the download into buf (0 at its
 * end). 0, or -errno with the reason. */
static int read_input(int fd, unsigned char *buf, size_t *got, char *err, size_t errlen)
{
	ssize_t r;

	do
		r = read(fd, buf, FETCH_BUF);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return reason_fail(err, errlen, -errno, "reading the download: %s",
				   strerror(errno));
	*got = (size_t)r;
	return 0;
}

/* Decompressed output of either decoder: write, counting against max and the budget. */
static int emit(int out, const void *buf, size_t n, uint64_t *total, uint64_t max,
		struct fetch_budget *b, char *err, size_t errlen)
{
	int r;

	if (max && *total + n > max)
		return reason_fail(err, errlen, -EFBIG, "the decompressed image is larger than the limit "
			    "of %" PRIu64 " bytes", max);
	r = fetch_budget_need(b, *total + n, err, errlen);
	if (r)
		return r;
	r = write_all(out, buf, n);
	if (r)
		return reason_fail(err, errlen, r, "writing the image: %s", strerror(-r));
	*total += n;
	return 0;
}

static int unxz(int in, int out, uint64_t max, struct fetch_budget *b, char *err, size_t errlen)
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

			r = read_input(in, ib, &got, err, errlen);
			if (r)
				break;
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

static int ungz(int in, int out, uint64_t max, struct fetch_budget *b, char *err, size_t errlen)
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

			r = read_input(in, ib, &got, err, errlen);
			if (r)
				break;
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
static int qcow2_check(int fd, uint64_t max, struct fetch_budget *b, char *err, size_t errlen)
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
	return fetch_budget_need(b, vsize, err, errlen);
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

/* Decode dl (open as dfd) into part: the work fetch_unpack runs in its child. */
static int unpack_here(enum fetch_format f, int dfd, const char *dl, const char *part, uint64_t max,
		       struct fetch_budget *b, char *err, size_t errlen)
{
	int pfd, r;

	if (f == FETCH_FORMAT_QCOW2) {
		r = qcow2_check(dfd, max, b, err, errlen);
		return r ? r : qemu_img_convert(dl, part, err, errlen);
	}
	pfd = open(part, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (pfd < 0)
		return reason_fail(err, errlen, -errno, "create %s: %s", part, strerror(errno));
	if (lseek(dfd, 0, SEEK_SET) < 0)
		r = reason_fail(err, errlen, -errno, "seek %s: %s", dl, strerror(errno));
	else if (f == FETCH_FORMAT_XZ)
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

static const char *fmt_name(enum fetch_format f)
{
	return f == FETCH_FORMAT_XZ ? "xz" : f == FETCH_FORMAT_GZ ? "gz"
		: f == FETCH_FORMAT_QCOW2 ? "qcow2" : "raw";
}

int fetch_unpack_main(int argc, char **argv)
{
	static const int parent = FETCH_UNPACK_FD;
	struct fetch_budget cb = { .reserve = ask_parent, .arg = (void *)&parent };
	struct unpack_msg m = { .kind = 'R' };
	enum fetch_format f;
	uint64_t max;
	char *end;
	int dfd;

	/* argv: FORMAT DOWNLOAD PART MAX_BYTES HELD_BYTES; fd FETCH_UNPACK_FD: the parent */
	if (argc != 6)
		return 2;
	f = !strcmp(argv[1], "xz") ? FETCH_FORMAT_XZ : !strcmp(argv[1], "gz") ? FETCH_FORMAT_GZ
		: !strcmp(argv[1], "qcow2") ? FETCH_FORMAT_QCOW2 : FETCH_FORMAT_RAW;
	max = strtoull(argv[4], &end, 10);
	cb.held = strtoull(argv[5], NULL, 10);
	fetch_sandbox_enter(max, NULL);
	dfd = open(argv[2], O_RDONLY | O_CLOEXEC);
	if (f == FETCH_FORMAT_RAW || *end)
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
 * The decoder program starts with posix_spawn: nothing of this multithreaded process's
 * state but the arguments. The budget stays here: the child asks for bytes over a
 * socketpair.
 */
int fetch_unpack(enum fetch_format f, const char *dl, const char *part, uint64_t max,
		 struct fetch_budget *b, char *err, size_t errlen)
{
	char smax[24], sheld[24], *argv[7];
	posix_spawn_file_actions_t fa;
	struct unpack_msg m;
	int sv[2], st, r = 0;
	pid_t pid;

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
		m.r = fetch_budget_need(b, m.bytes, m.err, sizeof(m.err));
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
