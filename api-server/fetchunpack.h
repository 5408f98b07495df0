/*
 * fetchunpack.h — a downloaded image's format, and its decoding to a raw image in a
 * separate, sandboxed program (issue 3; issue 8 §2).
 *
 * Formats, chosen by the URL path's suffix or else by the downloaded file's magic:
 *  - .xz   (magic FD 37 7A 58 5A 00): liblzma stream decoder;
 *  - .gz   (magic 1F 8B): zlib gzip decoder (concatenated members accepted);
 *  - .qcow2 (magic "QFI\xfb"): `qemu-img convert -f qcow2 -O raw` run with posix_spawnp
 *    (no shell; qemu-img from PATH). Images with a backing file or an external data
 *    file are refused (-EPROTO: they would read other files of this host), and the
 *    header's virtual size is checked against the limit before converting;
 *  - anything else is taken as raw (nothing to decode).
 * The decoders and qemu-img parse what a client's URL served, so they run in a
 * separate program (scsipub-unpack: fetch_unpack_main, started by fetch_unpack)
 * restricted by fetch_sandbox_enter: no network (a network namespace of its own),
 * no_new_privs, RLIMIT_FSIZE max_bytes + 512, RLIMIT_CPU FETCH_SANDBOX_CPU_S,
 * RLIMIT_NOFILE 64, RLIMIT_AS FETCH_SANDBOX_AS, no core dumps. The budget
 * (fetchbudget.h) stays with the parent: the program asks it for bytes.
 */
#ifndef SCSIPUB_FETCHUNPACK_H
#define SCSIPUB_FETCHUNPACK_H

#include <stddef.h>
#include <stdint.h>

#include "fetchbudget.h"

/*
 * liblzma's memory limit for decoding one .xz image: 80 MiB. Every xz preset up to
 * -9/-9e (64 MiB dictionary) decodes in at most 65 MiB; the limit stops a crafted
 * header from making each concurrent fetch allocate a dictionary of up to 4 GiB.
 * A stream that needs more is refused (-EPROTO, "needs N MiB of memory").
 */
#define FETCH_XZ_MEMLIMIT (80ULL << 20)
#define FETCH_SANDBOX_CPU_S 900            /* seconds of CPU for one image's decoding */
#define FETCH_SANDBOX_AS (2048ULL << 20)   /* bytes of address space of the decoder */

enum fetch_format { FETCH_FORMAT_RAW, FETCH_FORMAT_XZ, FETCH_FORMAT_GZ, FETCH_FORMAT_QCOW2 };

/*
 * The format of the download open as fd: the suffix of url's path (before any ? or #)
 * decides (.xz, .gz, .qcow2, any case), else the file's first bytes. Never fails:
 * FETCH_FORMAT_RAW when nothing matches or the file cannot be read.
 */
enum fetch_format fetch_format_detect(const char *url, int fd);

/*
 * Decode the download at dl (format f, not FETCH_FORMAT_RAW) into a new file at part,
 * in the decoder program (fetch_set_unpacker), without network and with the limits
 * above. max: cap in bytes on the decoded image (0 = none); b: the fetch's budget, asked
 * here for what the program needs (b->held grows). Blocks until the program ends.
 * 0, or a negative errno with a one-line reason in err: -EFBIG over max, -EPROTO
 * corrupt or truncated data, an xz stream needing more than FETCH_XZ_MEMLIMIT, a
 * refused qcow2, a failed qemu-img, or a program stopped by a resource limit, the
 * budget's errno, -errno for local file errors and when the program cannot start.
 * part may exist on failure (the caller removes it).
 */
int fetch_unpack(enum fetch_format f, const char *dl, const char *part, uint64_t max,
		 struct fetch_budget *b, char *err, size_t errlen);

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

#endif
