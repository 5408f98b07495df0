/*
 * fuzz_pdufilter.c — libFuzzer harness for tls-proxy/pdufilter.c, the relay's PDU
 * framing of both directions of a session (RFC 7143 §11.2) and its Login/Text
 * rewrites.
 *
 * Input: a sequence of chunks, each a 2-byte header (bit 15: direction, 0 = to the
 * target, 1 = to the initiator; bits 0-14: length) followed by that many bytes (fewer
 * at the end of the input). Each chunk is fed to one filter until it reports an error.
 * Invariants checked: no crash, leak or undefined behaviour (ASan, UBSan); a filter
 * error is -EPROTO or -ENOMEM only; what a direction emits never exceeds what it was
 * fed by more than the rewrites can add (a held PDU grows by at most the own
 * SendTargets/TargetAddress text plus digests).
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pdufilter.h"

#define GROWTH_PER_BYTE 8  /* generous: a 48-byte Text PDU may become ~330 bytes */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pdufilter_cfg cfg = {
		.target = "iqn.2025-01.pub.scsipub:blank",
		.public_addr = "203.0.113.9:3260",
		.peer = "fuzz",
	};
	struct pdufilter *f;
	uint64_t fed[2] = { 0, 0 }, emitted[2] = { 0, 0 };
	size_t i = 0;

	plog_quiet = true;
	f = pdufilter_new(&cfg);
	if (!f)
		abort();
	while (i + 2 <= size) {
		unsigned hdr = (unsigned)data[i] << 8 | data[i + 1];
		enum pf_dir d = (hdr & 0x8000) ? PF_TO_INITIATOR : PF_TO_TARGET;
		size_t n = hdr & 0x7fff;
		struct pf_buf out = { 0 };
		int r;

		i += 2;
		if (n > size - i)
			n = size - i;
		r = pdufilter_feed(f, d, data + i, n, &out);
		i += n;
		fed[d] += n;
		emitted[d] += out.len;
		if (emitted[d] > fed[d] * GROWTH_PER_BYTE + 4096) {
			fprintf(stderr, "direction %d emitted %llu bytes for %llu fed\n", d,
				(unsigned long long)emitted[d], (unsigned long long)fed[d]);
			abort();
		}
		pf_buf_free(&out);
		if (r < 0) {
			if (r != -EPROTO && r != -ENOMEM)
				abort();
			break;
		}
	}
	pdufilter_free(f);
	return 0;
}
