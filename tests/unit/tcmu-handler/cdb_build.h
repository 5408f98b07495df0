/*
 * cdb_build.h — CDBs and parameter lists the handler's unit tests send (test_scsi,
 * test_wce). LBAs and lengths in logical blocks (SBC-3 CDB layouts). Include after
 * scsi_priv.h (put_be16/32/64).
 */
#ifndef SCSIPUB_TEST_CDB_BUILD_H
#define SCSIPUB_TEST_CDB_BUILD_H

#include <stdint.h>
#include <string.h>

/* A 10-byte CDB: opcode, byte 1, 4-byte LBA at 2, 2-byte length at 7. */
static inline void cdb10(uint8_t *c, uint8_t op, uint8_t b1, uint32_t lba, uint16_t len)
{
	memset(c, 0, 10);
	c[0] = op;
	c[1] = b1;
	put_be32(c + 2, lba);
	put_be16(c + 7, len);
}

/* A 16-byte CDB: opcode, byte 1, 8-byte LBA at 2, 4-byte length at 10. */
static inline void cdb16(uint8_t *c, uint8_t op, uint8_t b1, uint64_t lba, uint32_t len)
{
	memset(c, 0, 16);
	c[0] = op;
	c[1] = b1;
	put_be64(c + 2, lba);
	put_be32(c + 10, len);
}

/* An UNMAP parameter list of one block descriptor (SBC-3 §5.28.2) into p[24]. */
static inline void unmap_param1(uint8_t p[24], uint64_t lba, uint32_t blocks)
{
	memset(p, 0, 24);
	put_be16(p, 22);
	put_be16(p + 2, 16);
	put_be64(p + 8, lba);
	put_be32(p + 16, blocks);
}

#endif
