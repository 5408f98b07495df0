/*
 * fetch.h — download an image for POST /api/images (issue 3): libcurl download with
 * a running SHA-256 (OpenSSL EVP), then decompression to a raw image.
 *
 * Formats, chosen by the URL path's suffix or else by the downloaded file's magic:
 *  - .xz   (magic FD 37 7A 58 5A 00): liblzma stream decoder;
 *  - .gz   (magic 1F 8B): zlib gzip decoder (concatenated members accepted);
 *  - .qcow2 (magic "QFI\xfb"): `qemu-img convert -f qcow2 -O raw` run with posix_spawnp
 *    (no shell; qemu-img from PATH). Images with a backing file or an external data
 *    file are refused (-EPROTO: they would read other files of this host), and the
 *    header's virtual size is checked against max_bytes before converting;
 *  - anything else is taken as raw.
 * The decoders and qemu-img parse what a client's URL served, so they run in a
 * separate program (scsipub-unpack: fetch_unpack_main, started with posix_spawn)
 * restricted by fetch_sandbox_enter: no network (a network namespace of its own),
 * no_new_privs, RLIMIT_FSIZE max_bytes + 512, RLIMIT_CPU FETCH_SANDBOX_CPU_S,
 * RLIMIT_NOFILE 64, RLIMIT_AS FETCH_SANDBOX_AS, no core dumps. The budget
 * (fetch_policy.reserve) stays with the caller: the program asks for bytes.
 * The result is written to a temporary file next to dest_path (dest_path + ".part"),
 * padded with zeros to a multiple of 512 bytes, fsync'ed and renamed onto dest_path.
 * On any failure dest_path is not touched (a file already there stays as it was) and
 * no temporary file is left.
 *
 * Not a proxy into our network (issue 8 §2): only http and https, also after redirects
 * (at most FETCH_MAX_REDIRS); proxies from the environment are ignored; and every
 * address libcurl is about to connect to (each redirect hop, each address of a name,
 * checked in CURLOPT_OPENSOCKETFUNCTION before the socket exists) must be a global
 * unicast address (fetch_addr_allowed) or lie in an operator-allowed network
 * (struct fetch_nets, --fetch-allow-net). A refused address is never sent a packet.
 */
#ifndef SCSIPUB_FETCH_H
#define SCSIPUB_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "fetchnet.h"

#define FETCH_MAX_REDIRS 5
/*
 * liblzma's memory limit for decoding one .xz image: 80 MiB. Every xz preset up to
 * -9/-9e (64 MiB dictionary) decodes in at most 65 MiB; the limit stops a crafted
 * header from making each concurrent fetch allocate a dictionary of up to 4 GiB.
 * A stream that needs more is refused (-EPROTO, "needs N MiB of memory").
 */
#define FETCH_XZ_MEMLIMIT (80ULL << 20)
#define FETCH_SANDBOX_CPU_S 900            /* seconds of CPU for one image's decoding */
#define FETCH_SANDBOX_AS (2048ULL << 20)   /* bytes of address space of the decoder */

/* What fetch_sandbox_enter applied (bits). */
enum {
	FETCH_SANDBOX_NO_NEW_PRIVS = 1,
	FETCH_SANDBOX_NO_NETWORK = 2,   /* in a network namespace without interfaces */
	FETCH_SANDBOX_FSIZE = 4,
	FETCH_SANDBOX_CPU = 8,
	FETCH_SANDBOX_NOFILE = 16,
	FETCH_SANDBOX_AS_LIMIT = 32,    /* not in ASan builds */
};

/*
 * Restrict the calling process for decoding untrusted images: no_new_privs, a network
 * namespace of its own (unshare CLONE_NEWUSER|CLONE_NEWNET, or CLONE_NEWNET as root),
 * RLIMIT_FSIZE max_file_bytes + 512 (0 = unlimited), RLIMIT_CPU, RLIMIT_NOFILE,
 * RLIMIT_AS, RLIMIT_CORE 0. Irreversible: call it in a child process. *applied (may
 * be NULL) gets the FETCH_SANDBOX_* bits that took effect. 0 when the network is
 * cut, -EPERM when no namespace could be made (the limits still apply).
 */
int fetch_sandbox_enter(uint64_t max_file_bytes, unsigned *applied);

/* The decoder program's descriptor to its parent (a SOCK_SEQPACKET socket). */
#define FETCH_UNPACK_FD 3
/* Where the decoder program is unless fetch_set_unpacker says otherwise. */
#define FETCH_UNPACKER_DEFAULT "/usr/lib/scsipub/scsipub-unpack"

/* Use the decoder program at path (scsipub-api sets the one beside itself, tests the
 * one in the build tree). Not thread-safe: call before fetches start. */
void fetch_set_unpacker(const char *path);

/*
 * main() of the decoder program scsipub-unpack: argv FORMAT (xz, gz, qcow2) DOWNLOAD
 * PART MAX_BYTES HELD_BYTES, FETCH_UNPACK_FD its parent. Enters the sandbox, decodes
 * DOWNLOAD into PART, asks the parent for budget as it goes and sends the result.
 * Exit status 0 when the result was sent (whatever it says), 1 or 2 otherwise.
 */
int fetch_unpack_main(int argc, char **argv);

/*
 * Budget reservation callback: the fetch needs `bytes` of the caller's budget so far
 * (the largest of the announced Content-Length, the bytes downloaded, the bytes
 * decompressed, a qcow2's virtual size and the final padded size; it only grows).
 * Called from the fetching thread, possibly for every chunk. Return 0 to go on, or a
 * negative errno (e.g. -EDQUOT) with a one-line reason in err to stop: fetch_image
 * then fails with that errno and reason.
 */
typedef int (*fetch_reserve_fn)(void *arg, uint64_t bytes, char *err, size_t errlen);

/* What a fetch may do beyond the defaults; every field may be NULL / zero. */
struct fetch_policy {
	const struct fetch_nets *allow; /* networks allowed besides global addresses */
	fetch_reserve_fn reserve;       /* budget reservation (NULL: none) */
	void *reserve_arg;
};

struct fetch_progress {
	uint64_t bytes_done;   /* bytes downloaded so far (as served, compressed) */
	uint64_t bytes_total;  /* Content-Length or file size; 0 = unknown */
};

/*
 * Progress callback: called from the fetching thread while bytes arrive (at most a
 * few times a second, plus once at the end of the download). p is valid during the
 * call only.
 */
typedef void (*fetch_progress_fn)(void *arg, const struct fetch_progress *p);

/*
 * Fetch url (schemes http and https only, also for redirects) into dest_path as a raw
 * image.
 *  - pol: allowed networks and budget reservation (NULL = global addresses only, no
 *    reservation).
 *  - sha256_hex: NULL, or 64 hex digits (either case) the SHA-256 of the file as
 *    served (before decompression) must equal; mismatch -> -EBADMSG.
 *  - max_bytes: cap in bytes on both the download and the decompressed image
 *    (0 = no cap); exceeding either -> -EFBIG.
 *  - fn/arg: progress callback (fn may be NULL).
 *  - out_sha256 (may be NULL): the served file's SHA-256 as 64 lowercase hex + NUL.
 *  - size_bytes (may be NULL): size in bytes of the image at dest_path (a multiple
 *    of 512).
 * Errors (negative errno, one-line reason in err): -EINVAL bad arguments or scheme,
 * -EPERM the URL or a redirect leads only to addresses that are neither global nor
 * allowed (reason "url: the address of HOST is not a public address"; no connection
 * was made to them), -ENOENT HTTP 404/410, -EACCES HTTP 401/403, -EIO other HTTP
 * >= 400 or transfer error (reason: host and libcurl's fixed error text, never its
 * error buffer), -EBADMSG sha256 mismatch, -EFBIG over max_bytes, -EPROTO corrupt
 * compressed data, an xz stream needing more than FETCH_XZ_MEMLIMIT, an empty image,
 * a refused qcow2 or a qemu-img failure, the reserve callback's errno, -errno for
 * local file errors. Blocks until done; connect timeout 30 s, gives up when under
 * 1 byte/s for 60 s.
 * Thread-safe when curl_global_init has been called once by the program (fetch_init).
 */
int fetch_image(const char *url, const char *dest_path, const struct fetch_policy *pol,
		const char *sha256_hex, uint64_t max_bytes, fetch_progress_fn fn, void *arg,
		char out_sha256[65], uint64_t *size_bytes, char *err, size_t errlen);

/*
 * curl_global_init(CURL_GLOBAL_DEFAULT), once per process, before threads start.
 * 0 or -EIO. fetch_image calls it itself if it was not called (not thread-safe then).
 */
int fetch_init(void);

#endif
