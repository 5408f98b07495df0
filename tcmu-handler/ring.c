/*
 * ring.c — the UIO side of one TCMU device (see ring.h for the protocol).
 *
 * Reading rules: every offset and length found in the shared mapping is checked
 * against the mapping before it is used, because the mapping is writable by the
 * kernel at any time and a wrong offset would otherwise crash the daemon.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "device_uio.h"
#include "ring.h"
#include "sense.h"
#include "reason.h"

_Static_assert(SENSE_BUF_LEN == TCMU_SENSE_BUFFERSIZE,
	       "sense buffer size must match the TCMU completion");

/* Where the request's iovec array starts inside a command entry. */
#define ENTRY_IOV_OFF offsetof(struct tcmu_cmd_entry, req.iov)

static uint32_t *mb_u32(const struct ring *r, size_t off)
{
	return (uint32_t *)(void *)(r->map + off);
}

static uint32_t load_head(const struct ring *r)
{
	return __atomic_load_n(mb_u32(r, offsetof(struct tcmu_mailbox, cmd_head)),
			       __ATOMIC_ACQUIRE);
}

static uint32_t load_tail(const struct ring *r)
{
	/* We are the only writer of cmd_tail (the kernel resets it with reset_ring). */
	return __atomic_load_n(mb_u32(r, offsetof(struct tcmu_mailbox, cmd_tail)),
			       __ATOMIC_RELAXED);
}

static void store_tail(struct ring *r, uint32_t tail)
{
	__atomic_store_n(mb_u32(r, offsetof(struct tcmu_mailbox, cmd_tail)), tail,
			 __ATOMIC_RELEASE);
}

int ring_init_mem(struct ring *r, void *map, size_t map_len, char *err, size_t errlen)
{
	uint16_t version;
	uint32_t cmdr_off, cmdr_size;
	uint8_t *m = map;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	if (!map || ((uintptr_t)map & 7)) {
		return reason_fail(err, errlen, -EINVAL,
				   "ring buffer is NULL or not 8-byte aligned");
	}
	if (map_len < sizeof(struct tcmu_mailbox)) {
		return reason_fail(err, errlen, -EINVAL,
				   "mapping of %zu bytes is smaller than the mailbox",
				   map_len);
	}
	memcpy(&version, m + offsetof(struct tcmu_mailbox, version), sizeof(version));
	memcpy(&cmdr_off, m + offsetof(struct tcmu_mailbox, cmdr_off), sizeof(cmdr_off));
	memcpy(&cmdr_size, m + offsetof(struct tcmu_mailbox, cmdr_size), sizeof(cmdr_size));
	if (version != TCMU_MAILBOX_VERSION) {
		return reason_fail(err, errlen, -EINVAL, "mailbox version %u, expected %u",
				   version, TCMU_MAILBOX_VERSION);
	}
	if (cmdr_off < sizeof(struct tcmu_mailbox) || (cmdr_off & 7) ||
	    cmdr_size == 0 || (cmdr_size & 7) ||
	    (uint64_t)cmdr_off + cmdr_size > map_len) {
		return reason_fail(err, errlen, -EINVAL,
				   "bad command ring in mailbox: cmdr_off %" PRIu32
				   " cmdr_size %" PRIu32 " mapping %zu bytes", cmdr_off,
				   cmdr_size, map_len);
	}
	r->map = m;
	r->map_len = map_len;
	r->cmdr_off = cmdr_off;
	r->cmdr_size = cmdr_size;
	/* Reading and completing both start where the last reader left cmd_tail. */
	r->tail = load_tail(r);
	r->rd = r->tail;
	pthread_mutex_init(&r->done_mu, NULL);
	r->mu_ready = 1;
	return 0;
}

/* Read a number (decimal or 0x-hex, as sysfs prints it) from a small file. */
static int read_u64_file(const char *path, uint64_t *out)
{
	char buf[64], *end;
	ssize_t n = device_read_small(path, buf, sizeof(buf));

	if (n < 0)
		return (int)n;
	errno = 0;
	*out = strtoull(buf, &end, 0);
	if (errno || end == buf || *end)
		return -EINVAL;
	return 0;
}

int ring_open(struct ring *r, unsigned minor, const char *uio_sysfs, const char *dev_dir,
	      char *err, size_t errlen)
{
	char path[512];
	uint64_t size = 0;
	void *map;
	int fd, ret;

	memset(r, 0, sizeof(*r));
	r->fd = -1;

	snprintf(path, sizeof(path), "%s/uio%u/maps/map0/size", uio_sysfs, minor);
	ret = read_u64_file(path, &size);
	if (ret < 0) {
		return reason_fail(err, errlen, ret, "cannot read %s: %s", path,
				   strerror(-ret));
	}
	if (size < sizeof(struct tcmu_mailbox) || size > SIZE_MAX) {
		return reason_fail(err, errlen, -EINVAL,
				   "%s: implausible mapping size %" PRIu64, path, size);
	}

	snprintf(path, sizeof(path), "%s/uio%u", dev_dir, minor);
	fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		return reason_fail(err, errlen, ret, "cannot open %s: %s%s", path,
				   strerror(errno),
				   ret == -EBUSY ? " (another process holds this uio device)" : "");
	}
	map = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		ret = -errno;
		reason_fail(err, errlen, ret, "cannot mmap %" PRIu64 " bytes of %s: %s", size,
			    path, strerror(errno));
		close(fd);
		return ret;
	}
	ret = ring_init_mem(r, map, (size_t)size, err, errlen);
	if (ret < 0) {
		munmap(map, (size_t)size);
		close(fd);
		r->fd = -1;
		return ret;
	}
	r->fd = fd;
	r->mapped = 1;
	r->minor = minor;
	return 0;
}

void ring_close(struct ring *r)
{
	if (r->mapped && r->map)
		munmap(r->map, r->map_len);
	if (r->fd >= 0)
		close(r->fd);
	if (r->mu_ready)
		pthread_mutex_destroy(&r->done_mu);
	r->mu_ready = 0;
	r->map = NULL;
	r->map_len = 0;
	r->mapped = 0;
	r->fd = -1;
}

int ring_fd(const struct ring *r)
{
	return r->fd;
}

int ring_ack(struct ring *r)
{
	uint32_t count;
	ssize_t n;

	if (r->fd < 0)
		return 0;
	do {
		n = read(r->fd, &count, sizeof(count));
	} while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(count))
		return 0;
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	return -EIO;
}

int ring_kick(struct ring *r)
{
	uint32_t one = 1;
	ssize_t n;

	if (r->fd < 0)
		return 0;
	do {
		n = write(r->fd, &one, sizeof(one));
	} while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(one))
		return 0;
	return n < 0 ? -errno : -EIO;
}

/* Bytes the CDB starting with opcode op occupies (SPC-4 §4.2.5.1 operation code groups). */
static size_t cdb_wanted(const uint8_t *p, size_t avail)
{
	switch (p[0] >> 5) {
	case 0:
		return 6;
	case 1:
	case 2:
		return 10;
	case 4:
		return 16;
	case 5:
		return 12;
	default:
		/* 0x7f: variable length, 8 bytes + ADDITIONAL CDB LENGTH (byte 7). */
		if (p[0] == 0x7f && avail >= 8)
			return 8 + (size_t)p[7];
		return 16;
	}
}

/*
 * Copy the CDB and the data-in/out iovecs of the CMD entry at entry_off (len bytes)
 * out of the ring into a new request, translating iovec offsets into pointers.
 * Returns 0 with *out set (caller owns, free()), -EINVAL for an entry that points
 * outside the mapping, or -ENOMEM.
 */
static int copy_request(struct ring *r, size_t entry_off, uint32_t len,
			struct ring_req **out)
{
	const uint8_t *e = r->map + entry_off;
	uint32_t iov_cnt, bidi_cnt, dif_cnt;
	uint64_t cdb_off, total, data_off, avail;
	struct ring_req *q;
	size_t want, i;

	*out = NULL;
	memcpy(&iov_cnt, e + offsetof(struct tcmu_cmd_entry, req.iov_cnt), 4);
	memcpy(&bidi_cnt, e + offsetof(struct tcmu_cmd_entry, req.iov_bidi_cnt), 4);
	memcpy(&dif_cnt, e + offsetof(struct tcmu_cmd_entry, req.iov_dif_cnt), 4);
	memcpy(&cdb_off, e + offsetof(struct tcmu_cmd_entry, req.cdb_off), 8);

	total = (uint64_t)iov_cnt + bidi_cnt + dif_cnt;
	if (ENTRY_IOV_OFF + total * sizeof(struct iovec) > len)
		return -EINVAL;

	/* The CDB: inside the mapping; if it lies in this entry, not past its end. */
	if (cdb_off >= r->map_len)
		return -EINVAL;
	avail = r->map_len - cdb_off;
	if (cdb_off >= entry_off && cdb_off < entry_off + len)
		avail = entry_off + len - cdb_off;
	want = cdb_wanted(r->map + cdb_off, avail);
	if (want > avail)
		want = avail;
	if (want > RING_CDB_MAX)
		want = RING_CDB_MAX;

	q = calloc(1, sizeof(*q) + (size_t)iov_cnt * sizeof(struct iovec));
	if (!q)
		return -ENOMEM;
	memcpy(q->cdb, r->map + cdb_off, want);
	q->iov_cnt = (int)iov_cnt;

	/* The data iovecs: offsets into the data area, which follows the ring. */
	memcpy(q->iov, e + ENTRY_IOV_OFF, (size_t)iov_cnt * sizeof(struct iovec));
	data_off = (uint64_t)r->cmdr_off + r->cmdr_size;
	for (i = 0; i < iov_cnt; i++) {
		uint64_t off = (uint64_t)(uintptr_t)q->iov[i].iov_base;
		uint64_t ilen = q->iov[i].iov_len;

		if (off < data_off || off > r->map_len || ilen > r->map_len - off) {
			free(q);
			return -EINVAL;
		}
		q->iov[i].iov_base = r->map + off;
	}
	*out = q;
	return 0;
}

static size_t iov_total(const struct iovec *iov, int cnt)
{
	size_t t = 0;
	int i;

	for (i = 0; i < cnt; i++)
		t += iov[i].iov_len;
	return t;
}

/* Zero the whole data-in buffer (nothing stale leaves the data area). */
static void iov_zero(const struct iovec *iov, int cnt)
{
	int i;

	for (i = 0; i < cnt; i++)
		memset(iov[i].iov_base, 0, iov[i].iov_len);
}

static struct tcmu_cmd_entry_hdr *entry_at(const struct ring *r, uint32_t pos)
{
	return (void *)(r->map + r->cmdr_off + pos);
}

/*
 * Whether the entry at pos (between cmd_tail and the read cursor, so already checked by
 * ring_next) needs no response from us: a PAD, a TMR, or an entry ring_next flagged
 * UNKNOWN_OP. Every other entry there is a CMD still owed a response.
 */
static int needs_no_response(const struct ring *r, uint32_t pos)
{
	const struct tcmu_cmd_entry_hdr *h = entry_at(r, pos);
	uint32_t op = tcmu_hdr_get_op(h->len_op);

	return op != TCMU_OP_CMD || (h->uflags & TCMU_UFLAG_UNKNOWN_OP);
}

static uint32_t next_pos(const struct ring *r, uint32_t pos)
{
	return (pos + tcmu_hdr_get_len(entry_at(r, pos)->len_op)) % r->cmdr_size;
}

/* Move cmd_tail past entries that need no response. Caller holds r->done_mu. */
static void skip_done_locked(struct ring *r)
{
	while (r->tail != r->rd && needs_no_response(r, r->tail))
		r->tail = next_pos(r, r->tail);
	store_tail(r, r->tail);
}

/*
 * Write the response of command cmd_id (status; sense and residual from cmd over the
 * data buffer iov/iov_cnt when cmd is not NULL) into the entry at cmd_tail and move
 * cmd_tail past it. Takes r->done_mu.
 */
static void respond(struct ring *r, uint16_t cmd_id, int status, const struct scsi_cmd *cmd,
		    const struct iovec *iov, int iov_cnt)
{
	struct tcmu_cmd_entry *e;
	size_t total;

	if (status < 0 || status > 0xff) {
		status = SCSI_STATUS_CHECK_CONDITION;
		cmd = NULL;
	}
	pthread_mutex_lock(&r->done_mu);
	skip_done_locked(r);
	/*
	 * The entry at cmd_tail is a CMD owed a response (this one's or another's still
	 * running); its request was copied out when it was read, so its slot takes this
	 * response under this command's cmd_id: the kernel looks commands up by id
	 * (out-of-order completion, ../shared/lio-tcmu-facts.md §1.1).
	 */
	e = (void *)entry_at(r, r->tail);
	e->hdr.cmd_id = cmd_id;
	e->hdr.uflags = 0;
	e->rsp.scsi_status = (uint8_t)status;
	e->rsp.read_len = 0;
	if (status == SCSI_STATUS_CHECK_CONDITION) {
		if (cmd)
			memcpy(e->rsp.sense_buffer, cmd->sense, TCMU_SENSE_BUFFERSIZE);
		else
			sense_set((uint8_t *)e->rsp.sense_buffer, TCMU_SENSE_BUFFERSIZE,
				  SENSE_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
	}
	if (cmd && iov_cnt > 0 && status == SCSI_STATUS_GOOD && cmd->data_in) {
		total = iov_total(iov, iov_cnt);
		if (cmd->data_in_len < total) {
			/*
			 * The kernel ignores a read_len of 0 and returns the whole
			 * buffer, so make that buffer zeros rather than stale data.
			 */
			if (cmd->data_in_len == 0)
				iov_zero(iov, iov_cnt);
			e->rsp.read_len = cmd->data_in_len;
			e->hdr.uflags |= TCMU_UFLAG_READ_LEN;
		}
	}
	r->tail = next_pos(r, r->tail);
	skip_done_locked(r);
	pthread_mutex_unlock(&r->done_mu);
}

void ring_complete(struct ring *r, struct ring_req *q, int status,
		   const struct scsi_cmd *cmd)
{
	respond(r, q->cmd_id, status, cmd, q->iov, q->iov_cnt);
	free(q);
}

int ring_next(struct ring *r, struct ring_req **out, char *err, size_t errlen)
{
	uint32_t head, rd, len, op, avail;
	struct tcmu_cmd_entry_hdr *hdr;
	uint16_t id;
	int ret;

	*out = NULL;
	if (!r->map) {
		return reason_fail(err, errlen, -EPROTO, "ring is not open");
	}
	rd = r->rd;
	head = load_head(r);
	if (head >= r->cmdr_size || rd >= r->cmdr_size || (head & 7) || (rd & 7)) {
		return reason_fail(err, errlen, -EPROTO,
				   "mailbox out of range: cmd_head %" PRIu32
				   " next entry %" PRIu32 " cmdr_size %" PRIu32, head, rd,
				   r->cmdr_size);
	}
	if (rd == head)
		return 0;
	avail = head > rd ? head - rd : r->cmdr_size - rd;
	hdr = entry_at(r, rd);
	len = tcmu_hdr_get_len(hdr->len_op);
	op = tcmu_hdr_get_op(hdr->len_op);
	if (len == 0 || len > avail) {
		return reason_fail(err, errlen, -EPROTO,
				   "bad entry at %" PRIu32 ": length %" PRIu32
				   " (cmd_head %" PRIu32 ", cmdr_size %" PRIu32 ")",
				   rd, len, head, r->cmdr_size);
	}

	/* Once rd moves past it, a completion may take this entry's slot. */
	id = hdr->cmd_id;
	ret = 0;
	switch (op) {
	case TCMU_OP_PAD:
	case TCMU_OP_TMR:
		/* TMRs are notifications only; we never hold commands to abort. */
		break;
	case TCMU_OP_CMD:
		if (len < sizeof(struct tcmu_cmd_entry)) {
			/* No room for a response: let the kernel fail it. */
			hdr->uflags |= TCMU_UFLAG_UNKNOWN_OP;
			break;
		}
		ret = copy_request(r, r->cmdr_off + rd, len, out);
		if (ret == 0)
			(*out)->cmd_id = id;
		break;
	default:
		hdr->uflags |= TCMU_UFLAG_UNKNOWN_OP;
		break;
	}

	pthread_mutex_lock(&r->done_mu);
	r->rd = (rd + len) % r->cmdr_size;
	skip_done_locked(r);
	pthread_mutex_unlock(&r->done_mu);

	if (ret == -ENOMEM) {
		/* BUSY: the initiator retries; the daemon keeps going. */
		reason_fail(err, errlen, -ENOMEM, "out of memory copying a command's iovecs");
		respond(r, id, SCSI_STATUS_BUSY, NULL, NULL, 0);
	} else if (ret < 0) {
		/* An iovec or CDB outside the mapping: HARDWARE ERROR, fn never sees it. */
		respond(r, id, SCSI_STATUS_CHECK_CONDITION, NULL, NULL, 0);
	}
	return 1;
}

int ring_process(struct ring *r, ring_cmd_fn fn, void *arg, char *err, size_t errlen)
{
	struct ring_req *q;
	int done = 0, ret;

	while ((ret = ring_next(r, &q, err, errlen)) > 0) {
		done++;
		if (q)
			ring_run(q, r, fn, arg);
	}
	return ret < 0 ? ret : done;
}

void ring_run(struct ring_req *q, struct ring *r, ring_cmd_fn fn, void *arg)
{
	struct scsi_cmd cmd;
	int status;

	memset(&cmd, 0, sizeof(cmd));
	cmd.cdb = q->cdb;
	cmd.iov = q->iov_cnt ? q->iov : NULL;
	cmd.iov_cnt = q->iov_cnt;
	status = fn(arg, &cmd);
	ring_complete(r, q, status, &cmd);
}
