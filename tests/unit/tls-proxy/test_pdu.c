/*
 * test_pdu.c — unit tests for tls-proxy/pdu.c: big-endian fields, lengths and
 * padding, reading whole PDUs (with AHS, padded data, oversized and truncated
 * input), writing with zero padding, the Reject PDU layout, and CRC32C digests
 * (RFC 7143 Appendix B.4 vectors, digest placement, mismatches).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "pdu.h"
#include "pio.h"

static void test_fields(void **state)
{
	uint8_t b[8] = { 0 };

	(void)state;
	pdu_put32(b, 0x01020304);
	assert_int_equal(b[0], 1);
	assert_int_equal(b[3], 4);
	assert_int_equal(pdu_get32(b), 0x01020304);
	pdu_put24(b, 0xabcdef);
	assert_int_equal(pdu_get24(b), 0xabcdef);
	pdu_put16(b, 0xbeef);
	assert_int_equal(pdu_get16(b), 0xbeef);
	assert_int_equal(pdu_pad4(0), 0);
	assert_int_equal(pdu_pad4(1), 4);
	assert_int_equal(pdu_pad4(4), 4);
	assert_int_equal(pdu_pad4(5), 8);
}

static void test_bhs_init(void **state)
{
	uint8_t bhs[PDU_BHS_LEN];

	(void)state;
	memset(bhs, 0xaa, sizeof(bhs));
	pdu_bhs_init(bhs, PDU_OP_TEXT_RSP, PDU_FINAL, 0x123456);
	assert_int_equal(bhs[0], 0x24);
	assert_int_equal(bhs[1], 0x80);
	assert_int_equal(pdu_data_len(bhs), 0x123456);
	assert_int_equal(pdu_ahs_len(bhs), 0);
	assert_int_equal(bhs[47], 0);
	bhs[0] = 0x43;
	assert_int_equal(pdu_opcode(bhs), PDU_OP_LOGIN_REQ);
	assert_true(pdu_is_immediate(bhs));
}

static void test_read_with_ahs_and_padding(void **state)
{
	uint8_t wire[48 + 8 + 8 + 4];
	struct pio_mem m;
	struct pdu p;

	(void)state;
	memset(wire, 0, sizeof(wire));
	wire[0] = 0x04;
	wire[4] = 2;              /* 8 bytes of AHS */
	pdu_put24(wire + 5, 5);   /* 5 data bytes, 3 pad */
	pdu_put32(wire + 16, 0x11223344);
	memset(wire + 48, 0xee, 8);
	memcpy(wire + 56, "hello", 5);
	wire[64] = 0x99;          /* first byte of the next PDU: must stay unread */
	pio_mem_init(&m, wire, sizeof(wire));
	assert_int_equal(pdu_read(&m.io, 65536, &p), 0);
	assert_int_equal(p.raw_len, 48 + 8 + 8);
	assert_int_equal(p.ahs_len, 8);
	assert_int_equal(p.ahs[0], 0xee);
	assert_int_equal(p.data_len, 5);
	assert_memory_equal(p.data, "hello", 5);
	assert_int_equal(pdu_itt(p.bhs), 0x11223344);
	assert_int_equal(m.in_pos, 64);
	pdu_free(&p);
	assert_null(p.raw);
}

static void test_read_oversized(void **state)
{
	uint8_t wire[48] = { 0x43 };
	struct pio_mem m;
	struct pdu p;

	(void)state;
	pdu_put24(wire + 5, 65537);
	pdu_put32(wire + 16, 7);
	pio_mem_init(&m, wire, sizeof(wire));
	assert_int_equal(pdu_read(&m.io, 65536, &p), -EMSGSIZE);
	assert_non_null(p.bhs);
	assert_int_equal(pdu_itt(p.bhs), 7);     /* header kept to answer it */
	assert_int_equal(p.data_len, 0);
	pdu_free(&p);
	/* Exactly at the cap is fine (data then missing: truncated). */
	pdu_put24(wire + 5, 65536);
	pio_mem_init(&m, wire, sizeof(wire));
	assert_int_equal(pdu_read(&m.io, 65536, &p), -EPIPE);
	assert_null(p.raw);
}

static void test_read_truncated(void **state)
{
	uint8_t wire[48 + 4] = { 0x03 };
	struct pio_mem m;
	struct pdu p;

	(void)state;
	pio_mem_init(&m, wire, 0);
	assert_int_equal(pdu_read(&m.io, 100, &p), -EPIPE);      /* nothing at all */
	pio_mem_init(&m, wire, 20);
	assert_int_equal(pdu_read(&m.io, 100, &p), -EPIPE);      /* half a BHS */
	pdu_put24(wire + 5, 4);
	pio_mem_init(&m, wire, 50);
	assert_int_equal(pdu_read(&m.io, 100, &p), -EPIPE);      /* half the data */
	pio_mem_init(&m, wire, 52);
	assert_int_equal(pdu_read(&m.io, 100, &p), 0);
	pdu_free(&p);
	/* Maximum AHS is read, not refused (the caller decides). */
	wire[4] = 255;
	pio_mem_init(&m, wire, 52);
	assert_int_equal(pdu_read(&m.io, 100, &p), -EPIPE);
}

static void test_write_pads_with_zeros(void **state)
{
	uint8_t bhs[PDU_BHS_LEN];
	struct pio_mem m;

	(void)state;
	pdu_bhs_init(bhs, PDU_OP_NOP_IN, PDU_FINAL, 3);
	pio_mem_init(&m, NULL, 0);
	assert_int_equal(pdu_write(&m.io, bhs, "abc", 3), 0);
	assert_int_equal(m.out_len, 52);
	assert_memory_equal(m.out + 48, "abc\0", 4);
	m.write_fail = 1;
	assert_int_equal(pdu_write(&m.io, bhs, "abc", 3), -EPIPE);
	pio_mem_free(&m);
}

static void test_reject_layout(void **state)
{
	uint8_t req[PDU_BHS_LEN] = { 0x01, 0x81 };
	struct pio_mem m;

	(void)state;
	pdu_put32(req + 16, 0x55);
	pio_mem_init(&m, NULL, 0);
	assert_int_equal(pdu_send_reject(&m.io, req, PDU_REJECT_CMD_NOT_SUPPORTED, 10, 20, 35), 0);
	assert_int_equal(m.out_len, 96);
	assert_int_equal(m.out[0], 0x3f);
	assert_int_equal(m.out[1], 0x80);
	assert_int_equal(m.out[2], 0x05);
	assert_int_equal(pdu_data_len(m.out), 48);
	assert_int_equal(pdu_get32(m.out + 16), 0xffffffff);
	assert_int_equal(pdu_get32(m.out + 24), 10);
	assert_int_equal(pdu_get32(m.out + 28), 20);
	assert_int_equal(pdu_get32(m.out + 32), 35);
	assert_memory_equal(m.out + 48, req, 48);
	pio_mem_free(&m);
}

/* RFC 7143 Appendix B.4: CRC32C of 32-byte patterns and of a READ (10) command PDU. */
static void test_crc32c_vectors(void **state)
{
	static const uint8_t read10[48] = {
		0x01, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0x14, 0, 0, 0, 0, 0, 0x04, 0, 0, 0, 0, 0x14, 0, 0, 0, 0x18,
		0x28, 0, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0, 0, 0, 0,
	};
	uint8_t b[32];

	(void)state;
	assert_int_equal(pdu_crc32c(0, "123456789", 9), 0xe3069283);
	memset(b, 0, sizeof(b));
	assert_int_equal(pdu_crc32c(0, b, 32), 0x8a9136aa);
	memset(b, 0xff, sizeof(b));
	assert_int_equal(pdu_crc32c(0, b, 32), 0x62a8ab43);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)i;
	assert_int_equal(pdu_crc32c(0, b, 32), 0x46dd794e);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)(31 - i);
	assert_int_equal(pdu_crc32c(0, b, 32), 0x113fdb5c);
	assert_int_equal(pdu_crc32c(0, read10, 48), 0xd9963a56);
	/* Continuing a CRC equals one pass over the whole buffer. */
	assert_int_equal(pdu_crc32c(pdu_crc32c(0, read10, 20), read10 + 20, 28), 0xd9963a56);
	assert_int_equal(pdu_crc32c(0, NULL, 0), 0);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void test_digests_roundtrip(void **state)
{
	struct pdu_digests both = { .header = true, .data = true };
	struct pdu_digests hdr_only = { .header = true, .data = false };
	uint8_t bhs[PDU_BHS_LEN], wire[256];
	struct pio_mem m, in;
	struct pdu p;
	size_t len;

	(void)state;
	pdu_bhs_init(bhs, PDU_OP_TEXT_RSP, PDU_FINAL, 5);
	pdu_put32(bhs + 16, 0x42);
	pio_mem_init(&m, NULL, 0);
	assert_int_equal(pdu_write_dg(&m.io, bhs, "hello", 5, &both), 0);
	/* BHS, header digest, data, 3 pad bytes, data digest over data + pad. */
	assert_int_equal(m.out_len, 48 + 4 + 8 + 4);
	assert_int_equal(le32(m.out + 48), pdu_crc32c(0, bhs, 48));
	assert_memory_equal(m.out + 52, "hello\0\0\0", 8);
	assert_int_equal(le32(m.out + 60), pdu_crc32c(0, "hello\0\0\0", 8));
	len = m.out_len;
	memcpy(wire, m.out, len);
	pio_mem_free(&m);

	pio_mem_init(&in, wire, len);
	assert_int_equal(pdu_read_dg(&in.io, 100, &both, &p), 0);
	assert_int_equal(p.data_len, 5);
	assert_memory_equal(p.data, "hello", 5);
	assert_int_equal(p.raw_len, len);
	assert_int_equal(pdu_itt(p.bhs), 0x42);
	pdu_free(&p);

	/* A flipped data bit: the whole PDU is read and handed back for a Reject. */
	wire[53] ^= 0x01;
	pio_mem_init(&in, wire, len);
	assert_int_equal(pdu_read_dg(&in.io, 100, &both, &p), -EILSEQ);
	assert_non_null(p.bhs);
	assert_int_equal(pdu_itt(p.bhs), 0x42);
	assert_int_equal(in.in_pos, len);
	pdu_free(&p);
	wire[53] ^= 0x01;

	/* A flipped header bit: nothing can be trusted any more. */
	wire[20] ^= 0x80;
	pio_mem_init(&in, wire, len);
	assert_int_equal(pdu_read_dg(&in.io, 100, &both, &p), -EBADMSG);
	assert_null(p.raw);
	wire[20] ^= 0x80;

	/* No data segment → no data digest, even when DataDigest=CRC32C. */
	pdu_bhs_init(bhs, PDU_OP_NOP_IN, PDU_FINAL, 0);
	pio_mem_init(&m, NULL, 0);
	assert_int_equal(pdu_write_dg(&m.io, bhs, NULL, 0, &both), 0);
	assert_int_equal(m.out_len, 52);
	pio_mem_init(&in, m.out, m.out_len);
	assert_int_equal(pdu_read_dg(&in.io, 100, &both, &p), 0);
	assert_int_equal(in.in_pos, 52);
	pdu_free(&p);
	pio_mem_free(&m);

	/* Header digest only, and a Reject carrying digests. */
	pio_mem_init(&m, NULL, 0);
	assert_int_equal(pdu_send_reject_dg(&m.io, wire, PDU_REJECT_DATA_DIGEST, 1, 2, 3,
					    &hdr_only), 0);
	assert_int_equal(m.out_len, 48 + 4 + 48);
	assert_int_equal(m.out[2], PDU_REJECT_DATA_DIGEST);
	pio_mem_init(&in, m.out, m.out_len);
	assert_int_equal(pdu_read_dg(&in.io, 100, &hdr_only, &p), 0);
	assert_memory_equal(p.data, wire, 48);
	pdu_free(&p);
	pio_mem_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_bhs_init),
		cmocka_unit_test(test_read_with_ahs_and_padding),
		cmocka_unit_test(test_read_oversized),
		cmocka_unit_test(test_read_truncated),
		cmocka_unit_test(test_write_pads_with_zeros),
		cmocka_unit_test(test_reject_layout),
		cmocka_unit_test(test_crc32c_vectors),
		cmocka_unit_test(test_digests_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
