/*
 * fetch.h — download an image for POST /api/images (issue 3): libcurl download with
 * a running SHA-256 (OpenSSL EVP), then decompression to a raw image.
 *
 * A compressed or qcow2 download is decoded in a sandboxed program (fetchunpack.h:
 * formats, limits, FETCH_XZ_MEMLIMIT); the budget (fetch_policy.reserve) stays with
 * the caller (fetchbudget.h).
 *
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

#include "fetchbudget.h"
#include "fetchnet.h"

#define FETCH_MAX_REDIRS 5

/* What a fetch may do beyond the defaults; every field may be NULL / zero. */
struct fetch_policy {
	const struct fetch_nets *allow; /* networks allowed besides global addresses */
	fetch_reserve_fn reserve;       /* budget reservation (fetchbudget.h; NULL: none) */
	void *reserve_arg;
	unsigned timeout_s;             /* seconds the whole fetch may take; 0 = no limit */
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
 * was made to them), -EREMOTEIO the source failed: HTTP >= 400 (reason "HOST: HTTP
 * 404"), a transfer error, too many redirects, the time limit (reason: host and
 * libcurl's fixed error text, never its error buffer), -EBADMSG sha256 mismatch,
 * -EFBIG over max_bytes, -EPROTO corrupt compressed data, an xz stream needing more
 * than FETCH_XZ_MEMLIMIT, an empty image, a refused qcow2 or a qemu-img failure, the
 * reserve callback's errno; any other -errno is a local failure (files, memory, the
 * decoder process; its reason may name server paths). Blocks until done; connect
 * timeout 30 s, gives up when under 1 byte/s for 60 s, and after pol->timeout_s
 * seconds in all (-EREMOTEIO, reason "the fetch took longer than the server's limit
 * of N s").
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
