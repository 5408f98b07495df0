/*
 * scsi_sbc.c — the SBC-3 commands of the handler: capacity, READ / WRITE in all CDB
 * sizes, WRITE AND VERIFY, VERIFY, PRE-FETCH, SYNCHRONIZE CACHE, WRITE SAME, UNMAP,
 * COMPARE AND WRITE and START STOP UNIT, all over the cow store.
 *
 * Units: CDB LBAs and lengths count logical blocks of SCSI_BLOCK_SIZE bytes; the cow
 * store takes byte offsets, so every call converts with blk2b(). Errors of the store
 * (negative errno) become sense data in one place, sense_from_errno().
 *
 * Write caching (SBC-3 §6.4.5): with WCE = 1 in the caching mode page (lu->write_cache)
 * a write completes once it is in the overlay's page cache and becomes durable with
 * FUA or SYNCHRONIZE CACHE; with WCE = 0 every command that changes the medium is
 * durable before it completes (write-through). See write_durable().
 *
 * Checks run in the same order for every data transfer command: CDB fields (INVALID
 * FIELD IN CDB), transfer length against the Block Limits VPD page, then the LBA range
 * (SBC-3 §4.5, LOGICAL BLOCK ADDRESS OUT OF RANGE), then the data buffer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scsi_priv.h"

/* Bounce buffers are at most this big, whatever the transfer length. */
#define CHUNK_BYTES (1024u * 1024u)

static uint64_t blk2b(uint64_t blocks)
{
	return blocks * SCSI_BLOCK_SIZE;
}

/*
 * LOGICAL BLOCK ADDRESS and TRANSFER LENGTH (or NUMBER OF LOGICAL BLOCKS) of the
 * common CDB layouts, by operation code group (SPC-4 §4.2.5 CDB formats):
 * 6-byte: 21-bit LBA in bytes 1..3, length in byte 4; 10-byte: LBA in 2..5, length in
 * 7..8; 12-byte: LBA in 2..5, length in 6..9; 16-byte: LBA in 2..9, length in 10..13.
 */
static void cdb_lba_len(const uint8_t *cdb, uint64_t *lba, uint32_t *len)
{
	switch (cdb[0] >> 5) {
	case 0: /* 6-byte */
		*lba = get_be24(cdb + 1) & 0x1fffff;
		*len = cdb[4];
		break;
	case 1: /* 10-byte */
	case 2:
		*lba = get_be32(cdb + 2);
		*len = get_be16(cdb + 7);
		break;
	case 5: /* 12-byte */
		*lba = get_be32(cdb + 2);
		*len = get_be32(cdb + 6);
		break;
	default: /* 16-byte */
		*lba = get_be64(cdb + 2);
		*len = get_be32(cdb + 10);
		break;
	}
}

static int lba_out_of_range(struct scsi_cmd *cmd)
{
	return scsi_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
}

/* 1 when nblocks exceeds the MAXIMUM TRANSFER LENGTH of the Block Limits page. */
static int too_long(const struct scsi_lu *lu, uint64_t nblocks)
{
	return lu->max_xfer_blocks && nblocks > lu->max_xfer_blocks;
}

/*
 * Whether a write must reach stable storage before it completes (SBC-3 §6.4.5,
 * caching mode page): always when the logical unit reports WCE = 0 (no write-back
 * cache, so a completed write is on the medium: write-through), and for a write
 * with FUA = 1 when it reports WCE = 1 (SBC-3 WRITE (10) FUA: the write goes to the
 * medium, not only to the cache). Otherwise the write may sit in the cache (the
 * overlay's and bitmap's page cache) until SYNCHRONIZE CACHE.
 */
static int write_durable(const struct scsi_lu *lu, int fua)
{
	return fua || !lu->write_cache;
}

/*
 * With WCE = 0 a command that changed the medium without going through cow_write's
 * durable path (WRITE SAME, UNMAP) is made durable before it completes; rc is the
 * command's result so far. 0 or -errno.
 */
static int write_through_flush(const struct scsi_lu *lu, int rc)
{
	if (rc || lu->write_cache)
		return rc;
	return cow_flush(lu->cow);
}

/*
 * Write len bytes of the command's data-out, starting skip bytes into it, at byte
 * offset off of the store. The caller has checked that the buffer holds them.
 */
static int write_data_out(struct scsi_lu *lu, struct scsi_cmd *cmd, size_t skip,
			  uint64_t off, uint64_t len, int fua)
{
	uint8_t *buf;
	uint64_t done = 0;
	int rc = 0;

	if (!len)
		return SCSI_STATUS_GOOD;
	/* One segment holding everything: write straight from it. */
	if (cmd->iov_cnt == 1 && skip + len <= cmd->iov[0].iov_len) {
		rc = cow_write(lu->cow, (const uint8_t *)cmd->iov[0].iov_base + skip, off,
			       (size_t)len, fua);
		return sense_from_errno(cmd->sense, sizeof(cmd->sense), rc, 1);
	}
	buf = malloc(len < CHUNK_BYTES ? (size_t)len : CHUNK_BYTES);
	if (!buf)
		return scsi_internal_error(cmd);
	while (done < len && !rc) {
		size_t n = len - done < CHUNK_BYTES ? (size_t)(len - done) : CHUNK_BYTES;

		if (scsi_iov_read_at(cmd->iov, cmd->iov_cnt, skip + done, buf, n) < n)
			rc = -EINVAL;
		else
			rc = cow_write(lu->cow, buf, off + done, n, fua);
		done += n;
	}
	free(buf);
	if (rc == -EINVAL)
		return scsi_invalid_cdb(cmd);
	return sense_from_errno(cmd->sense, sizeof(cmd->sense), rc, 1);
}

/*
 * Compare the medium at byte offset off, len bytes, with the data-out buffer. With
 * one_block, the data-out holds a single logical block that every block of the range
 * is compared with (VERIFY BYTCHK 11b). A difference is MISCOMPARE / MISCOMPARE
 * DURING VERIFY OPERATION with INFORMATION = the offset of the first differing byte
 * from the start of the range (SBC-3 §5.3 COMPARE AND WRITE, and VERIFY).
 */
static int compare_data_out(struct scsi_lu *lu, struct scsi_cmd *cmd, uint64_t off,
			    uint64_t len, int one_block)
{
	size_t cap = len < CHUNK_BYTES ? (size_t)len : CHUNK_BYTES;
	uint8_t *med = malloc(cap), *out = malloc(cap);
	uint64_t done = 0;
	int status = SCSI_STATUS_GOOD;

	if (!med || !out) {
		free(med);
		free(out);
		return scsi_internal_error(cmd);
	}
	if (one_block) {
		/* Chunks are whole blocks: fill the expected buffer once. */
		scsi_iov_read_at(cmd->iov, cmd->iov_cnt, 0, out, SCSI_BLOCK_SIZE);
		for (size_t b = SCSI_BLOCK_SIZE; b < cap; b += SCSI_BLOCK_SIZE)
			memcpy(out + b, out, SCSI_BLOCK_SIZE);
	}
	while (done < len) {
		size_t n = len - done < cap ? (size_t)(len - done) : cap, i;
		int rc = cow_read(lu->cow, med, off + done, n);

		if (rc) {
			status = sense_from_errno(cmd->sense, sizeof(cmd->sense), rc, 0);
			break;
		}
		if (!one_block)
			scsi_iov_read_at(cmd->iov, cmd->iov_cnt, (size_t)done, out, n);
		if (memcmp(med, out, n) != 0) {
			for (i = 0; i < n && med[i] == out[i]; i++)
				;
			status = sense_set_info(cmd->sense, sizeof(cmd->sense),
						SENSE_MISCOMPARE,
						ASC_MISCOMPARE_DURING_VERIFY,
						(uint32_t)(done + i));
			break;
		}
		done += n;
	}
	free(med);
	free(out);
	return status;
}

/* ---- capacity -------------------------------------------------------------------- */

/* READ CAPACITY (10) (SBC-3 READ CAPACITY (10) command). */
int sbc_read_capacity10(struct scsi_lu *lu, struct scsi_cmd *cmd)
{
	uint64_t blocks = scsi_lu_blocks(lu), last = blocks ? blocks - 1 : 0;
	uint8_t d[8];

	/* PMI = 0 requires LOGICAL BLOCK ADDRESS = 0. */
	if (!(cmd->cdb[8] & 0x01) && get_be32(cmd->cdb + 2))
		return scsi_invalid_cdb(cmd);
	/* Too big for 32 bits: FFFFFFFFh tells the initiator to use READ CAPACITY (16). */
	put_be32(d, last > 0xffffffffull ? 0xffffffffu : (uint32_t)last);
	put_be32(d + 4, SCSI_BLOCK_SIZE);
	return scsi_data_in(cmd, d, sizeof(d), sizeof(d));
}

/* READ CAPACITY (16) (SBC-3 §5.16). */
int sbc_read_capacity16(struct scsi_lu *lu, struct scsi_cmd *cmd)
{
	uint64_t blocks = scsi_lu_blocks(lu);
	uint8_t d[32];

	memset(d, 0, sizeof(d));
	put_be64(d, blocks ? blocks - 1 : 0);  /* RETURNED LOGICAL BLOCK ADDRESS */
	put_be32(d + 8, SCSI_BLOCK_SIZE);      /* LOGICAL BLOCK LENGTH IN BYTES */
	d[12] = 0;                             /* P_TYPE / PROT_EN: no protection */
	d[13] = 0;                             /* one logical block per physical block */
	d[14] = 0x80;                          /* LBPME = 1, LBPRZ = 0, aligned at 0 */
	return scsi_data_in(cmd, d, sizeof(d), get_be32(cmd->cdb + 10));
}

/* ---- READ / WRITE ---------------------------------------------------------------- */

/* READ (6) / (10) / (12) / (16) (SBC-3 READ commands). */
int sbc_read(struct scsi_lu *lu, struct scsi_cmd *cmd)
{
	const uint8_t *cdb = cmd->cdb;
	uint64_t lba, off, want, done = 0;
	uint32_t n;
	int i, rc;

	cdb_lba_len(cdb, &lba, &n);
	if (cdb[0] == OP_READ_6) {
		if (n == 0)
			n = 256; /* SBC READ (6): 0 means 256 blocks */
	} else if (cdb[1] & 0xe0) {
		return scsi_invalid_cdb(cmd); /* RDPROTECT: no protection information */
	}
	if (too_long(lu, n))
		return scsi_invalid_cdb(cmd);
	if (!scsi_lba_range_ok(lba, n, scsi_lu_blocks(lu)))
		return lba_out_of_range(cmd);

	/* A smaller buffer is the transfer length the initiator allowed. */
	off = blk2b(lba);
	want = blk2b(n);
	for (i = 0; i < cmd->iov_cnt && done < want; i++) {
		size_t seg = cmd->iov[i].iov_len;

		if (seg > want - done)
			seg = (size_t)(want - done);
		if (!seg)
			continue;
		rc = cow_read(lu->cow, cmd->iov[i].iov_base, off + done, seg);
		if (rc) {
			cmd->data_in_len = 0;
			return sense_from_errno(cmd->sense, sizeof(cmd->sense), rc, 0);
		}
		done += seg;
	}
	cmd->data_in_len = (uint32_t)done;
	return SCSI_STATUS_GOOD;
}

/*
 * Common part of WRITE and WRITE AND VERIFY: field checks, range, data-out length,
 * then the write. *lba_out / *n_out give the range to a caller that verifies.
 */
static int do_write(struct scsi_lu *lu, struct scsi_cmd *cmd, int fua, uint64_t *lba_out,
		    uint32_t *n_out)
{
	const uint8_t *cdb = cmd->cdb;
	uint64_t lba;
	uint32_t n;

	cdb_lba_len(cdb, &lba, &n);
	if (cdb[0] == OP_WRITE_6) {
		if (n == 0)
			n = 256; /* SBC WRITE (6): 0 means 256 blocks */
	} else if (cdb[1] & 0xe0) {
		return scsi_invalid_cdb(cmd); /* WRPROTECT: no protection information */
	}
	*lba_out = lba;
	*n_out = n;
	if (too_long(lu, n))
		return scsi_invalid_cdb(cmd);
	if (!scsi_lba_range_ok(lba, n, scsi_lu_blocks(lu)))
		return lba_out_of_range(cmd);
	if (!n)
		return SCSI_STATUS_GOOD; /* no transfer is not an error */
	/* The kernel hands over the whole data-out buffer; anything less is malformed. */
	if (scsi_iov_len(cmd->iov, cmd->iov_cnt) < blk2b(n))
		return scsi_short_data_out(cmd);
	return write_data_out(lu, cmd, 0, blk2b(lba), blk2b(n), fua);
}

/*
 * WRITE (6) / (10) / (12) / (16) (SBC-3 WRITE commands). Durable before GOOD with FUA
 * (not in WRITE (6)) or when WCE = 0 (write_durable); otherwise cached until
 * SYNCHRONIZE CACHE.
 */
int sbc_write(struct scsi_lu *lu, struct scsi_cmd *cmd)
{
	int fua = cmd->cdb[0] != OP_WRITE_6 && (cmd->cdb[1] & 0x08);
	uint64_t lba;
	uint32_t n;

	return do_write(lu, cmd, write_durable(lu, fua), &lba, &n);
}

/*
 * WRITE AND VERIFY (10) / (12) / (16) (SBC-3 WRITE AND VERIFY commands).
 * The verify step means the data is on the medium: the write is made durable
 * (as with FUA). BYTCHK = 1 additionally reads the blocks back and compares them with
 * the data-out buffer.
 */
int sbc_write_verify(struct scsi_lu *lu, struct scsi_cmd *cmd)
{
	int bytchk = (cmd->cdb[1] >> 1) & 1, status;
	uint64_t lba;
	uint32_t n;

	status = do_write(lu, cmd, 1, &lba, &n);
	if (status != SCSI_STATUS_GOOD || !bytchk || !n)
		return status;
	return compare_data_out(lu, cmd, blk2b(lba), blk2b(n), 0);
}

/*
 * VERIFY (10) / (12) / (16) (SBC-3 VERIFY commands). BYTCHK 00b: no data-out, the blocks
 * are readable by construction; 01b: compare the data-out with the medium; 11b: one
 * block of data-out compared with every block of the range (SBC-4); 10b reserved.
 */
int sbc_verify(struct scsi_lu *lu, struct scsi_cmd *cmd)
{
	const uint8_t *cdb = cmd->cdb;
	int bytchk = (cdb[1] >> 1) & 3;
	uint64_t lba;
	uint32_t n;

	cdb_lba_len(cdb, &lba, &n);
	if ((cdb[1] & 0xe0) || bytchk == 2) /* VRPROTECT, reserved BYTCHK */
		return scsi_invalid_cdb(cmd);
	if (bytchk == 1 && too_long(lu, n))
		return scsi_invalid_cdb(cmd);
	if (!scsi_lba_range_ok(lba, n, scsi_lu_blocks(lu)))
		return lba_out_of_range(cmd);
	if (!bytchk || !n)
		return SCSI_STATUS_GOOD;
	if (scsi_iov_len(cmd->iov, cmd->iov_cnt) <
	    (bytchk == 1 ? blk2b(n) : SCSI_BLOCK_SIZE))
		return scsi_invalid_cdb(cmd);
	return compare_data_out(lu, cmd, blk2b(lba), blk2b(n), bytchk == 3);
}

/* ---- PRE-FETCH, SYNCHRONIZE CACHE, START STOP UNIT ---------------------------------- */

/*
 * PRE-FETCH (10) / (16) (SBC-3 PRE-FETCH commands). There is no cache to load: after the
 * range check the command completes with GOOD, which SBC-3 allows when the blocks
 * are not (or cannot be) cached; IMMED changes nothing.
 */
int sbc_prefetch(struct scsi_lu *lu, struct scsi_cmd *cmd)
{
	uint64_t lba;
	uint32_t n;

	cdb_lba_len(cmd->cdb, &lba, &n);
	if (!scsi_lba_range_ok(lba, n, scsi_lu_blocks(lu)))
		return lba_out_of_range(cmd);
	return SCSI_STATUS_GOOD;
}

/*
 * SYNCHRONIZE CACHE (10) / (16) (SBC-3 SYNCHRONIZE CACHE commands). NUMBER OF LOGICAL
 * BLOCKS 0 means through the last block; the store only flushes as a whole, which
 * covers any range: every write completed before this command, its overlay data and
 * then its bitmap bits, is on stable storage when it returns GOOD (cow_flush). IMMED
 * is not honoured: GOOD always means done. With WCE = 0 there is nothing cached and
 * the flush is cheap.
 */
int sbc_sync_cache(struct scsi_lu *lu, struct scsi_cmd *cmd)
{
	uint64_t lba;
	uint32_t n;

	cdb_lba_len(cmd->cdb, &lba, &n);
	if (!scsi_lba_range_ok(lba, n, scsi_lu_blocks(lu)))
		return lba_out_of_range(cmd);
	return sense_from_errno(cmd->sense, sizeof(cmd->sense), cow_flush(lu->cow), 1);
}

/*
 * START STOP UNIT (SBC-3 START STOP UNIT command). The medium cannot be stopped or ejected; every
 * power condition is accepted. A stop (START = 0, POWER CONDITION 0h) without
 * NO_FLUSH writes the cache out first, as a stopping disk would.
 */
int sbc_start_stop_unit(struct scsi_lu *lu, struct scsi_cmd *cmd)
{
	uint8_t b4 = cmd->cdb[4];

	if (!(b4 & 0x01) && !(b4 & 0x04) && !(b4 >> 4))
		return sense_from_errno(cmd->sense, sizeof(cmd->sense), cow_flush(lu->cow),
					1);
	return SCSI_STATUS_GOOD;
}

/* ---- WRITE SAME, UNMAP --------------------------------------------------------------- */

static int all_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/*
 * WRITE SAME (10) / (16) (SBC-3 §5.45, §5.46): one block of data-out (zeros with
 * NDOB, (16) only) written to every block of the range.
 * With UNMAP = 1 and an all-zero block the range is unmapped instead, i.e. it reads
 * the base image again (LBPRZ = 0). NUMBER OF LOGICAL BLOCKS 0 means through the last
 * block (WSNZ = 0 in the Block Limits page); either way at most
 * SCSI_MAX_WRITE_SAME_BLOCKS. With WCE = 0 the result is durable before GOOD.
 */
int sbc_write_same(struct scsi_lu *lu, struct scsi_cmd *cmd)
{
	const uint8_t *cdb = cmd->cdb;
	int sixteen = cdb[0] == OP_WRITE_SAME_16;
	int unmap = (cdb[1] >> 3) & 1, ndob = sixteen && (cdb[1] & 0x01);
	uint64_t cap = scsi_lu_blocks(lu), lba, n64, off, len, done = 0;
	uint8_t block[SCSI_BLOCK_SIZE], *buf;
	size_t chunk;
	uint32_t n;
	int rc = 0;

	cdb_lba_len(cdb, &lba, &n);
	/* WRPROTECT, ANCHOR, PBDATA / LBDATA: none supported. */
	if (cdb[1] & (0xe0 | 0x10 | 0x06))
		return scsi_invalid_cdb(cmd);
	if (!scsi_lba_range_ok(lba, n, cap))
		return lba_out_of_range(cmd);
	n64 = n ? n : cap - lba;
	if (n64 > SCSI_MAX_WRITE_SAME_BLOCKS)
		return scsi_invalid_cdb(cmd);
	if (!n64)
		return SCSI_STATUS_GOOD;

	if (ndob) {
		memset(block, 0, sizeof(block));
	} else if (scsi_iov_to_buf(cmd->iov, cmd->iov_cnt, block, sizeof(block)) <
		   sizeof(block)) {
		return scsi_invalid_cdb(cmd);
	}
	off = blk2b(lba);
	len = blk2b(n64);
	if (unmap && all_zero(block, sizeof(block)))
		return sense_from_errno(cmd->sense, sizeof(cmd->sense),
					write_through_flush(lu, cow_discard(lu->cow, off,
									    len)), 1);

	chunk = len < CHUNK_BYTES ? (size_t)len : CHUNK_BYTES;
	buf = malloc(chunk);
	if (!buf)
		return scsi_internal_error(cmd);
	for (size_t b = 0; b < chunk; b += SCSI_BLOCK_SIZE)
		memcpy(buf + b, block, SCSI_BLOCK_SIZE);
	while (done < len && !rc) {
		size_t k = len - done < chunk ? (size_t)(len - done) : chunk;

		rc = cow_write(lu->cow, buf, off + done, k, 0);
		done += k;
	}
	free(buf);
	rc = write_through_flush(lu, rc);
	return sense_from_errno(cmd->sense, sizeof(cmd->sense), rc, 1);
}

#define UNMAP_HDR_LEN  8  /* UNMAP parameter list header (SBC-3 §5.28.2) */
#define UNMAP_DESC_LEN 16 /* UNMAP block descriptor (SBC-3 §5.28.3) */

/*
 * UNMAP (SBC-3 §5.28). Every descriptor is checked before anything is unmapped, so a
 * bad list changes nothing. Limits are those of the Block Limits VPD page: at most
 * SCSI_MAX_UNMAP_DESCRIPTORS descriptors and SCSI_MAX_UNMAP_LBA_COUNT blocks in all.
 * With WCE = 0 the cleared bitmap bits are durable before GOOD.
 */
int sbc_unmap(struct scsi_lu *lu, struct scsi_cmd *cmd)
{
	const uint8_t *cdb = cmd->cdb;
	size_t plen = get_be16(cdb + 7), got, bd_len, count, i;
	uint64_t cap = scsi_lu_blocks(lu), total = 0;
	uint8_t *d;
	int rc = 0, status = SCSI_STATUS_GOOD;

	if (cdb[1] & 0x01) /* ANCHOR: no anchored state */
		return scsi_invalid_cdb(cmd);
	if (plen == 0)     /* no parameter list: not an error */
		return SCSI_STATUS_GOOD;
	if (plen < UNMAP_HDR_LEN)
		return scsi_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH_ERROR);

	d = malloc(plen);
	if (!d)
		return scsi_internal_error(cmd);
	got = scsi_iov_to_buf(cmd->iov, cmd->iov_cnt, d, plen);
	if (got < UNMAP_HDR_LEN) {
		free(d);
		return scsi_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH_ERROR);
	}
	/*
	 * UNMAP BLOCK DESCRIPTOR DATA LENGTH, clipped to what arrived; a trailing
	 * partial descriptor is ignored (SBC-3 §5.28.2).
	 */
	bd_len = get_be16(d + 2);
	if (bd_len > got - UNMAP_HDR_LEN)
		bd_len = got - UNMAP_HDR_LEN;
	count = bd_len / UNMAP_DESC_LEN;
	if (count > SCSI_MAX_UNMAP_DESCRIPTORS) {
		free(d);
		return scsi_invalid_param(cmd);
	}
	for (i = 0; i < count; i++) {
		const uint8_t *p = d + UNMAP_HDR_LEN + i * UNMAP_DESC_LEN;
		uint64_t lba = get_be64(p);
		uint32_t n = get_be32(p + 8);

		if (!scsi_lba_range_ok(lba, n, cap)) {
			status = lba_out_of_range(cmd);
			break;
		}
		total += n;
		if (total > SCSI_MAX_UNMAP_LBA_COUNT) {
			status = scsi_invalid_param(cmd);
			break;
		}
	}
	for (i = 0; status == SCSI_STATUS_GOOD && i < count && !rc; i++) {
		const uint8_t *p = d + UNMAP_HDR_LEN + i * UNMAP_DESC_LEN;
		uint32_t n = get_be32(p + 8);

		if (n)
			rc = cow_discard(lu->cow, blk2b(get_be64(p)), blk2b(n));
	}
	free(d);
	if (status != SCSI_STATUS_GOOD)
		return status;
	rc = write_through_flush(lu, rc);
	return sense_from_errno(cmd->sense, sizeof(cmd->sense), rc, 1);
}

/* ---- COMPARE AND WRITE ----------------------------------------------------------- */

/*
 * COMPARE AND WRITE (SBC-3 §5.3). The data-out holds NUMBER OF LOGICAL BLOCKS of
 * verify data followed by as many blocks of write data. If the medium equals the
 * verify data the write data is written, else MISCOMPARE / MISCOMPARE DURING VERIFY
 * OPERATION with INFORMATION = offset of the first differing byte, and nothing is
 * written. The store is driven by one thread per device, so the compare and the
 * write are atomic with respect to every other command on the LU.
 */
int sbc_compare_and_write(struct scsi_lu *lu, struct scsi_cmd *cmd)
{
	const uint8_t *cdb = cmd->cdb;
	uint64_t lba = get_be64(cdb + 2), off;
	uint32_t n = cdb[13];
	size_t len;
	uint8_t *buf;
	int rc, status;

	if (cdb[1] & 0xe0) /* WRPROTECT */
		return scsi_invalid_cdb(cmd);
	if (n > scsi_max_caw_blocks(lu))
		return scsi_invalid_cdb(cmd);
	if (!scsi_lba_range_ok(lba, n, scsi_lu_blocks(lu)))
		return lba_out_of_range(cmd);
	if (!n) {
		/*
		 * SBC-3 §5.3: NUMBER OF LOGICAL BLOCKS 0 transfers nothing from the
		 * Data-Out Buffer and is not an error. An initiator that sent data
		 * anyway asked for blocks the one-byte field cannot hold (256 wraps
		 * to 0); the kernel cannot report that residual for TCMU, so the
		 * field is rejected rather than the data silently dropped.
		 */
		if (scsi_iov_len(cmd->iov, cmd->iov_cnt))
			return scsi_invalid_cdb(cmd);
		return SCSI_STATUS_GOOD; /* nothing compared or written */
	}

	off = blk2b(lba);
	len = (size_t)blk2b(n);
	if (scsi_iov_len(cmd->iov, cmd->iov_cnt) < 2 * len)
		return scsi_short_data_out(cmd);
	status = compare_data_out(lu, cmd, off, len, 0);
	if (status != SCSI_STATUS_GOOD)
		return status;

	buf = malloc(len);
	if (!buf)
		return scsi_internal_error(cmd);
	scsi_iov_read_at(cmd->iov, cmd->iov_cnt, len, buf, len);
	rc = cow_write(lu->cow, buf, off, len, write_durable(lu, (cdb[1] >> 3) & 1));
	free(buf);
	return sense_from_errno(cmd->sense, sizeof(cmd->sense), rc, 1);
}
