/*
 * transport_iscsi.c — tr_ops over libiscsi's synchronous API (see transport_iscsi.h).
 * Portable to ESP-IDF with esp32/firmware/components/libiscsi; uses POSIX poll()
 * for the idle NOP-In service, nothing Linux-specific.
 */
#define _POSIX_C_SOURCE 200809L
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#include "bridge_platform.h"
#include "transport_iscsi.h"

void tri_init(struct tri *t, const struct tri_config *cfg)
{
	memset(t, 0, sizeof(*t));
	t->cfg = *cfg;
	if (t->cfg.timeout_s <= 0)
		t->cfg.timeout_s = 15;
}

static void tri_disconnect(void *ctx)
{
	struct tri *t = ctx;

	if (!t->iscsi)
		return;
	iscsi_destroy_context(t->iscsi);
	t->iscsi = NULL;
}

void tri_destroy(struct tri *t)
{
	if (t->iscsi && iscsi_is_logged_in(t->iscsi))
		iscsi_logout_sync(t->iscsi); /* RFC 7143 §11.14: close the session */
	tri_disconnect(t);
}

static int tri_connect(void *ctx)
{
	struct tri *t = ctx;
	struct iscsi_context *i;

	tri_disconnect(t);
	i = iscsi_create_context(t->cfg.initiator);
	if (!i) {
		snprintf(t->err, sizeof(t->err), "out of memory");
		return -1;
	}
	iscsi_set_noautoreconnect(i, 1);
	iscsi_set_timeout(i, t->cfg.timeout_s);
	iscsi_set_session_type(i, ISCSI_SESSION_NORMAL);
	iscsi_set_targetname(i, t->cfg.target);
	iscsi_set_header_digest(i, t->cfg.header_digest ? ISCSI_HEADER_DIGEST_CRC32C_NONE
							 : ISCSI_HEADER_DIGEST_NONE_CRC32C);
	if (t->cfg.chap_user && *t->cfg.chap_user)
		iscsi_set_initiator_username_pwd(i, t->cfg.chap_user, t->cfg.chap_secret);
	if (iscsi_full_connect_sync(i, t->cfg.portal, t->cfg.lun) != 0) {
		snprintf(t->err, sizeof(t->err), "login to %s %s failed: %s", t->cfg.portal,
			 t->cfg.target, iscsi_get_error(i));
		bplat_log(BPLAT_WARN, "%s", t->err);
		iscsi_destroy_context(i);
		return -1;
	}
	t->iscsi = i;
	return 0;
}

/* A finished task to tr_status; the target's sense copied unchanged. Frees task. */
static enum tr_status result(struct tri *t, struct scsi_task *task, struct bsense *s)
{
	enum tr_status st;

	if (!task) { /* connection lost, or the timeout hit */
		snprintf(t->err, sizeof(t->err), "%s",
			 t->iscsi ? iscsi_get_error(t->iscsi) : "not connected");
		bplat_log(BPLAT_WARN, "iSCSI command failed: %s", t->err);
		return TR_LINK;
	}
	switch (task->status) {
	case SCSI_STATUS_TIMEOUT:   /* libiscsi's own states: no answer from the target */
	case SCSI_STATUS_ERROR:
	case SCSI_STATUS_CANCELLED:
	case SCSI_STATUS_REDIRECT:
		snprintf(t->err, sizeof(t->err), "%s", iscsi_get_error(t->iscsi));
		bplat_log(BPLAT_WARN, "iSCSI command failed (status 0x%x): %s",
			  (unsigned)task->status, t->err);
		scsi_free_scsi_task(task);
		return TR_LINK;
	case SCSI_STATUS_GOOD:
		st = TR_OK;
		break;
	case SCSI_STATUS_CHECK_CONDITION:
		bsense_set(s, (uint8_t)task->sense.key, (uint8_t)(task->sense.ascq >> 8),
			   (uint8_t)task->sense.ascq);
		if (task->sense.sense_specific) { /* SPC-4 §4.5.2.4.2 field pointer */
			s->sks_valid = true;
			s->sks[0] = (uint8_t)((task->sense.ill_param_in_cdb ? 0x40 : 0) |
					      (task->sense.bit_pointer_valid ? 0x08 : 0) |
					      (task->sense.bit_pointer & 0x07));
			s->sks[1] = (uint8_t)(task->sense.field_pointer >> 8);
			s->sks[2] = (uint8_t)task->sense.field_pointer;
		}
		st = TR_CHECK;
		break;
	case SCSI_STATUS_BUSY:
	case SCSI_STATUS_TASK_SET_FULL:
		/* the host retries an ABORTED COMMAND */
		bsense_set(s, BS_ABORTED_COMMAND, 0x00, 0x00);
		st = TR_CHECK;
		break;
	default: /* RESERVATION CONFLICT and the like have no sense form */
		bsense_set(s, BS_ABORTED_COMMAND, 0x00, 0x00);
		st = TR_CHECK;
		break;
	}
	scsi_free_scsi_task(task);
	return st;
}

static enum tr_status tri_capacity(void *ctx, uint64_t *nblocks, uint32_t *bs,
				   struct bsense *s)
{
	struct tri *t = ctx;
	struct scsi_task *task;
	struct scsi_readcapacity16 *rc16;

	if (!t->iscsi)
		return TR_LINK;
	task = iscsi_readcapacity16_sync(t->iscsi, t->cfg.lun);
	if (task && task->status == SCSI_STATUS_GOOD) {
		rc16 = scsi_datain_unmarshall(task);
		if (!rc16 || !rc16->block_length) {
			scsi_free_scsi_task(task);
			bsense_set(s, BS_HARDWARE_ERROR, 0x00, 0x00);
			return TR_CHECK;
		}
		*nblocks = rc16->returned_lba + 1;
		*bs = t->block_size = rc16->block_length;
	}
	return result(t, task, s);
}

static enum tr_status tri_read(void *ctx, uint64_t lba, uint32_t n, uint8_t *buf,
			       struct bsense *s)
{
	struct tri *t = ctx;
	struct scsi_task *task;
	uint32_t len = n * t->block_size;

	if (!t->iscsi)
		return TR_LINK;
	task = iscsi_read16_sync(t->iscsi, t->cfg.lun, lba, len, (int)t->block_size,
				 0, 0, 0, 0, 0);
	if (task && task->status == SCSI_STATUS_GOOD) {
		if (task->datain.size != (int)len) { /* short data: treat as a lost link */
			scsi_free_scsi_task(task);
			snprintf(t->err, sizeof(t->err), "short READ data");
			return TR_LINK;
		}
		memcpy(buf, task->datain.data, len);
	}
	return result(t, task, s);
}

static enum tr_status tri_write(void *ctx, uint64_t lba, uint32_t n, const uint8_t *buf,
				bool fua, struct bsense *s)
{
	struct tri *t = ctx;

	if (!t->iscsi)
		return TR_LINK;
	/* libiscsi takes a non-const pointer but only reads the data out */
	return result(t, iscsi_write16_sync(t->iscsi, t->cfg.lun, lba,
					    (unsigned char *)(uintptr_t)buf, n * t->block_size,
					    (int)t->block_size, 0, 0, fua, 0, 0), s);
}

static enum tr_status tri_flush(void *ctx, struct bsense *s)
{
	struct tri *t = ctx;

	if (!t->iscsi)
		return TR_LINK;
	return result(t, iscsi_synchronizecache16_sync(t->iscsi, t->cfg.lun, 0, 0, 0, 0), s);
}

static int tri_service(void *ctx, uint32_t timeout_ms)
{
	struct tri *t = ctx;
	struct pollfd p;
	int n;

	if (!t->iscsi)
		return -1;
	p.fd = iscsi_get_fd(t->iscsi);
	p.events = (short)iscsi_which_events(t->iscsi);
	p.revents = 0;
	n = poll(&p, 1, (int)timeout_ms);
	if (n < 0)
		return 0; /* EINTR: try again next time */
	if (iscsi_service(t->iscsi, n ? p.revents : 0) < 0) {
		snprintf(t->err, sizeof(t->err), "%s", iscsi_get_error(t->iscsi));
		bplat_log(BPLAT_WARN, "iSCSI link: %s", t->err);
		return -1;
	}
	return 0;
}

const struct tr_ops tri_ops = {
	.connect = tri_connect,
	.disconnect = tri_disconnect,
	.capacity = tri_capacity,
	.read = tri_read,
	.write = tri_write,
	.flush = tri_flush,
	.service = tri_service,
};
