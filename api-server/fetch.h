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
 * The result is written to a temporary file next to dest_path (dest_path + ".part"),
 * padded with zeros to a multiple of 512 bytes, fsync'ed and renamed onto dest_path.
 * On any failure dest_path is not touched (a file already there stays as it was) and
 * no temporary file is left.
 */
#ifndef SCSIPUB_FETCH_H
#define SCSIPUB_FETCH_H

#include <stddef.h>
#include <stdint.h>

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
 * Fetch url (schemes http, https, file only; redirects followed only to those) into
 * dest_path as a raw image.
 *  - sha256_hex: NULL, or 64 hex digits (either case) the SHA-256 of the file as
 *    served (before decompression) must equal; mismatch -> -EBADMSG.
 *  - max_bytes: cap in bytes on both the download and the decompressed image
 *    (0 = no cap); exceeding either -> -EFBIG.
 *  - fn/arg: progress callback (fn may be NULL).
 *  - out_sha256 (may be NULL): the served file's SHA-256 as 64 lowercase hex + NUL.
 *  - size_bytes (may be NULL): size in bytes of the image at dest_path (a multiple
 *    of 512).
 * Errors (negative errno, one-line reason in err): -EINVAL bad arguments or scheme,
 * -ENOENT HTTP 404 / missing file, -EACCES HTTP 401/403, -EIO other HTTP >= 400 or
 * transfer error, -EBADMSG sha256 mismatch, -EFBIG over max_bytes, -EPROTO corrupt
 * compressed data, an empty image, a refused qcow2 or a qemu-img failure, -errno for
 * local file errors. Blocks until done; connect timeout 30 s, gives up when under
 * 1 byte/s for 60 s.
 * Thread-safe when curl_global_init has been called once by the program (fetch_init).
 */
int fetch_image(const char *url, const char *dest_path, const char *sha256_hex,
		uint64_t max_bytes, fetch_progress_fn fn, void *arg, char out_sha256[65],
		uint64_t *size_bytes, char *err, size_t errlen);

/*
 * curl_global_init(CURL_GLOBAL_DEFAULT), once per process, before threads start.
 * 0 or -EIO. fetch_image calls it itself if it was not called (not thread-safe then).
 */
int fetch_init(void);

#endif
