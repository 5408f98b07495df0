/*
 * fuzz_login.c — libFuzzer harness for the portal's leading-login path (issue 4).
 *
 * One input is the byte stream an initiator sends on a new connection. It goes
 * through the same steps as serve_stream() in tls-proxy/serve.c, over an in-memory pio:
 *  1. pdu_read with a bounded data segment (RFC 7143 §11.2: BHS, AHS, padded data);
 *     a segment over the bound is answered with a Login reject, as the portal does;
 *  2. the text-key parser (tk_parse, §6.1) directly on the data segment, with a
 *     round-trip check: a list it accepts, rebuilt with tk_buf_add, is byte for byte
 *     the input (the strict grammar has exactly one spelling per list);
 *  3. login_parse (§11.12) and login_check_leading (§6.3, §13.5-13.7), with the
 *     invariants login.h promises about a decoded request, and for an accepted one
 *     those of the InitiatorName rewrite the portal relays to LIO, also as LIO's
 *     first-PDU scan reads it (login_accept_check, shared with test_login_random);
 *  4. a failed login gets login_send_reject (§11.13); a discovery login runs
 *     discovery_run over the rest of the stream (§6 Login Phase, then Text
 *     SendTargets §11.10/§11.11, NOP-Out §11.18, Logout §11.14, Reject §11.17)
 *     against a small catalog directory made once in LLVMFuzzerInitialize.
 * Everything the portal wrote is then read back as a PDU stream and checked: whole
 * PDUs only, with right CRC32C digests (§13.1) in Full Feature Phase when the login
 * negotiated them, target opcodes only, no AHS, a Reject carries exactly the 48-byte header
 * it rejects, a failed Login Response carries no data and a successful one a valid
 * key=value list, the final Text Response part ends a pair.
 *
 * A broken invariant aborts (a libFuzzer crash); ASan, UBSan and LeakSanitizer
 * report the rest. Build and run: tests/fuzz/Makefile (make fuzz / make fuzz-smoke).
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "discovery.h"
#include "log.h"
#include "login.h"
#include "login_accept_check.h"
#include "pdu.h"
#include "pio.h"
#include "textkeys.h"

/* Data segment bound for the reads: small enough for quick inputs, above the
 * 8192-byte value limit of textkeys.h so over-long values stay reachable. */
#define FUZZ_MAX_PDU 16384u
#define FUZZ_PUBLIC "203.0.113.7:3260"
/* The name the portal gives an anonymous connection (anon.h: prefix + 32 hex digits). */
#define FUZZ_LIO_NAME "iqn.2025-01.pub.scsipub:anon.00112233445566778899aabbccddeeff"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char catdir[PATH_MAX];

/* The catalog: a few targets (enough that SendTargets=All needs several Text
 * Responses at MaxRecvDataSegmentLength=512) and files catalog.c must skip. */
static const char *const cat_dirs[] = { "sub", "sub/deeper" };
static const struct {
	const char *rel;
	const char *content;
} cat_files[] = {
	{ "debian-12.iso", "iso" },
	{ "sub/Disk.img", "img" },
	{ "sub/deeper/Win 11 (x64).ISO", "iso" },
	{ "a-rather-long-image-name-so-that-sendtargets-all-spans-text-responses-1.img", "1" },
	{ "a-rather-long-image-name-so-that-sendtargets-all-spans-text-responses-2.img", "2" },
	{ "a-rather-long-image-name-so-that-sendtargets-all-spans-text-responses-3.img", "3" },
	{ "a-rather-long-image-name-so-that-sendtargets-all-spans-text-responses-4.img", "4" },
	{ ".hidden.img", "h" },
	{ "notes.txt", "n" },
	{ "semi;colon.img", "s" },
	{ "empty.img", "" },
};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void remove_catalog(void);

static void die(const char *what)
{
	fprintf(stderr, "fuzz_login: invariant broken: %s\n", what);
	remove_catalog();
	abort();
}

/*
 * mkdtemp(3) of "<FUZZ_TMPDIR or /tmp>/scsipub-fuzz-catalog.<6 random characters>"
 * into catdir. The Makefile points FUZZ_TMPDIR into the build directory, so the
 * directory a sanitizer crash leaves behind stays there.
 */
static int make_catdir(void)
{
	const char *base = getenv("FUZZ_TMPDIR");
	int n;

	if (!base || !base[0])
		base = "/tmp";
	n = snprintf(catdir, sizeof(catdir), "%s/scsipub-fuzz-catalog.", base);
	if (n < 0 || (size_t)n + 7 > sizeof(catdir))
		return -1;
	memset(catdir + n, 'X', 6); /* the template suffix mkdtemp replaces */
	catdir[n + 6] = '\0';
	return mkdtemp(catdir) ? 0 : -1;
}

static void remove_catalog(void)
{
	char p[PATH_MAX + 128];

	if (!catdir[0])
		return;
	for (size_t i = 0; i < NELEM(cat_files); i++) {
		snprintf(p, sizeof(p), "%s/%s", catdir, cat_files[i].rel);
		unlink(p);
	}
	for (size_t i = NELEM(cat_dirs); i-- > 0;) {
		snprintf(p, sizeof(p), "%s/%s", catdir, cat_dirs[i]);
		rmdir(p);
	}
	rmdir(catdir);
	catdir[0] = '\0';
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char p[PATH_MAX + 128];

	(void)argc;
	(void)argv;
	/* Format every message, debug ones too, but write none: stderr output would slow
	 * the run down and bury libFuzzer's own report. */
	plog_quiet = 1;
	plog_verbose = 1;
	if (make_catdir() < 0) {
		perror("fuzz_login: mkdtemp");
		exit(1);
	}
	atexit(remove_catalog);
	for (size_t i = 0; i < NELEM(cat_dirs); i++) {
		snprintf(p, sizeof(p), "%s/%s", catdir, cat_dirs[i]);
		if (mkdir(p, 0755) < 0) {
			perror("fuzz_login: mkdir");
			exit(1);
		}
	}
	for (size_t i = 0; i < NELEM(cat_files); i++) {
		FILE *f;

		snprintf(p, sizeof(p), "%s/%s", catdir, cat_files[i].rel);
		f = fopen(p, "w");
		if (!f || fputs(cat_files[i].content, f) < 0 || fclose(f) != 0) {
			perror("fuzz_login: writing the catalog");
			exit(1);
		}
	}
	return 0;
}

/* tk_parse on raw bytes, with the round trip and the limits of textkeys.h. */
static void fuzz_textkeys(const uint8_t *data, size_t len)
{
	struct tk_list l;
	struct tk_buf b;
	char why[64] = "";
	/* Alternate a short reason buffer, to exercise truncated messages. */
	size_t whylen = (len & 1) ? 8 : sizeof(why);
	int r = tk_parse(data, len, &l, why, whylen);

	if (r < 0) {
		if (r != -EINVAL && r != -ENOMEM)
			die("tk_parse returned an unexpected error");
		if (l.buf || l.pairs || l.n)
			die("tk_parse left a list behind after failing");
		if (r == -EINVAL && (!why[0] || !memchr(why, '\0', whylen)))
			die("tk_parse failed without a terminated reason");
		return;
	}
	if (l.n > TK_MAX_PAIRS)
		die("more pairs than TK_MAX_PAIRS");
	tk_buf_init(&b);
	for (size_t i = 0; i < l.n; i++) {
		const char *k = l.pairs[i].key, *v = l.pairs[i].value;
		size_t kl = strlen(k), vl = strlen(v);

		if (kl == 0 || kl > TK_KEY_MAX || vl > TK_VALUE_MAX)
			die("accepted a key or value outside the limits");
		if (strcspn(k, "=") != kl)
			die("accepted a key containing '='");
		if (tk_get(&l, k) != v)
			die("tk_get does not find the (unique) key");
		tk_buf_add(&b, k, v);
	}
	if (b.err == 0 && (b.len != len || (len && memcmp(b.data, data, len))))
		die("an accepted list does not rebuild to the same bytes");
	tk_buf_free(&b);
	tk_free(&l);
}

/* Does s point into the request's private copy of its data segment (len bytes)? */
static int in_keys(const struct login_req *req, const char *s, size_t len)
{
	return req->keys.buf && s >= req->keys.buf && s < req->keys.buf + len;
}

/* What login.h promises about a request login_parse accepted from len data bytes. */
static void check_req(const struct login_req *req, size_t len)
{
	if (req->version_min != 0)
		die("accepted version-min != 0");
	if (req->csg != LOGIN_STAGE_SECURITY && req->csg != LOGIN_STAGE_OPERATIONAL)
		die("accepted a bad CSG");
	if (req->transit && req->cont)
		die("accepted T and C together");
	if (req->transit && (req->nsg == 2 || req->nsg <= req->csg))
		die("accepted a bad stage transition");
	if (req->initiator != tk_get(&req->keys, "InitiatorName") ||
	    req->target != tk_get(&req->keys, "TargetName") ||
	    req->session_type != tk_get(&req->keys, "SessionType"))
		die("key pointers disagree with the key list");
	if ((req->initiator && !in_keys(req, req->initiator, len)) ||
	    (req->target && !in_keys(req, req->target, len)) ||
	    (req->session_type && !in_keys(req, req->session_type, len)))
		die("key pointers outside the key list");
	if (req->discovery != (req->session_type && !strcmp(req->session_type, "Discovery")))
		die("discovery flag disagrees with SessionType");
}

/*
 * Read back what the portal wrote and check it is a sane stream of target PDUs. When
 * the login answered HeaderDigest or DataDigest=CRC32C, the Full Feature Phase PDUs
 * carry those digests (§13.1), and they must be right.
 */
static void check_output(const struct pio_mem *out)
{
	struct pio_mem in;
	struct pdu p;
	struct pdu_digests answered = { false, false }, none = { false, false };
	const struct pdu_digests *dg = &none;

	pio_mem_init(&in, out->out, out->out_len);
	while (in.in_pos < in.in_len) {
		uint16_t status;

		if (pdu_read_dg(&in.io, PDU_DSL_MAX, dg, &p) != 0)
			die("the portal wrote a truncated PDU or a wrong digest");
		if (p.ahs_len)
			die("the portal wrote an AHS");
		switch (pdu_opcode(p.bhs)) {
		case PDU_OP_LOGIN_RSP:
			status = pdu_get16(p.bhs + 36);
			if (status != LOGIN_OK && p.data_len)
				die("a failed Login Response carries data");
			if (p.data_len) {
				struct tk_list l;

				const char *hd, *dd;

				if (tk_parse(p.data, p.data_len, &l, NULL, 0) != 0)
					die("a Login Response carries a malformed key list");
				hd = tk_get(&l, "HeaderDigest");
				dd = tk_get(&l, "DataDigest");
				if (hd)
					answered.header = !strcmp(hd, "CRC32C");
				if (dd)
					answered.data = !strcmp(dd, "CRC32C");
				tk_free(&l);
			}
			/* Digests start after the Login Phase (§11.1, §13.1). */
			if (status == LOGIN_OK && (p.bhs[1] & LOGIN_FLAG_TRANSIT) &&
			    (p.bhs[1] & 3) == LOGIN_STAGE_FULL_FEATURE)
				dg = &answered;
			break;
		case PDU_OP_REJECT:
			if (p.data_len != PDU_BHS_LEN)
				die("a Reject does not carry exactly one header");
			break;
		case PDU_OP_TEXT_RSP:
			if ((p.bhs[1] & PDU_FINAL) && (p.bhs[1] & PDU_CONTINUE))
				die("a Text Response with both F and C");
			if ((p.bhs[1] & PDU_FINAL) && p.data_len && p.data[p.data_len - 1] != '\0')
				die("the final Text Response part ends inside a pair");
			break;
		case PDU_OP_NOP_IN:
		case PDU_OP_LOGOUT_RSP:
			break;
		default:
			die("the portal wrote an initiator opcode");
		}
		pdu_free(&p);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pio_mem m;
	struct login_req req;
	struct pdu p;
	char why[256] = "";
	uint16_t st;
	int r;

	pio_mem_init(&m, data, size);
	r = pdu_read(&m.io, FUZZ_MAX_PDU, &p);
	if (r == -EMSGSIZE) {
		if (!p.bhs || p.raw_len != PDU_BHS_LEN || pdu_data_len(p.bhs) <= FUZZ_MAX_PDU)
			die("-EMSGSIZE without the header that caused it");
		if (pdu_opcode(p.bhs) == PDU_OP_LOGIN_REQ)
			login_send_reject(&m.io, p.bhs, LOGIN_INITIATOR_ERROR, 0);
		pdu_free(&p);
		goto out;
	}
	if (r < 0) {
		if (p.raw)
			die("pdu_read failed but left a buffer");
		goto out;
	}
	if (p.raw_len != PDU_BHS_LEN + p.ahs_len + pdu_pad4(p.data_len) ||
	    p.data_len > FUZZ_MAX_PDU || p.data != p.raw + PDU_BHS_LEN + p.ahs_len)
		die("pdu_read framing");

	fuzz_textkeys(p.data, p.data_len);

	st = login_parse(&p, &req, why, sizeof(why));
	if (st == LOGIN_OK) {
		check_req(&req, p.data_len);
		st = login_check_leading(&req, why, sizeof(why));
		if (st == LOGIN_OK) {
			const char *broken = login_accept_check(&p, &req, FUZZ_LIO_NAME);

			if (broken)
				die(broken);
		}
	} else if (req.keys.buf || req.keys.n || req.initiator || !why[0]) {
		die("a rejected login left keys behind or gave no reason");
	}
	if (!login_status_str(st))
		die("login_status_str returned NULL");

	if (pdu_opcode(p.bhs) != PDU_OP_LOGIN_REQ) {
		/* The portal closes such a connection without an answer. */
	} else if (st != LOGIN_OK) {
		login_send_reject(&m.io, p.bhs, st, 0x01020304);
	} else if (req.discovery) {
		struct discovery_cfg dc = {
			.images_dir = catdir, .public_addr = FUZZ_PUBLIC,
			.max_recv_dsl = FUZZ_MAX_PDU, .tsih = 0x1234, .statsn = 0xfffffff0,
			.peer = "192.0.2.1",
		};

		discovery_run(&m.io, &p, &dc);
	}
	/* A normal login goes on to configfs and LIO: beyond the parser. */
	check_output(&m);
	login_req_free(&req);
	pdu_free(&p);
out:
	pio_mem_free(&m);
	return 0;
}
