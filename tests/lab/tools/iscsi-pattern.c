/*
 * iscsi-pattern — a scripted iSCSI initiator for the lab tests, built on libiscsi.
 *
 * Usage: iscsi-pattern [-I] [-c NAME=INITIATOR_IQN]... URL STEP...
 *   -I       every context logs in with the same fixed ISID (OUI format 0x00163e,
 *            qualifier 1): with equal InitiatorNames, the same I_T nexus claimed twice
 *   URL      iscsi://[USER%PASSWORD@]HOST:PORT/TARGET_IQN/LUN (CHAP when USER is given)
 *   STEP     NAME:w:LBA:BLOCKS:SEED[:fua]  WRITE(16) a deterministic pattern
 *            NAME:r:LBA:BLOCKS:SEED        READ(16) and compare with the pattern
 *            NAME:z:LBA:BLOCKS             READ(16) and expect zeros
 *            NAME:sync                     SYNCHRONIZE CACHE(10) of the whole LU
 *            NAME:cap:BYTES                READ CAPACITY(16) must report BYTES
 *            NAME:sense:w:LBA:KEY:ASC:ASCQ WRITE(16) one block, expect that sense
 *            NAME:sense:w10:LBA:KEY:ASC:ASCQ  WRITE(10) one block, expect that sense,
 *                                          checked in the raw sense bytes (fixed or
 *                                          descriptor format, SPC-4 §4.5), printed
 *            NAME:wp:0|1                   MODE SENSE(6): the WP bit of the mode parameter
 *                                          header (SBC-3 §6.4.1) must be 0 or 1
 *            NAME:lun:N                    address LUN N from now on (same session);
 *                                          TEST UNIT READY clears its pending UAs
 *            NAME:luns:N                   REPORT LUNS must list exactly N LUNs
 *            NAME:file:LBA:BLOCKS:PATH     READ(16) and compare with PATH's bytes at
 *                                          LBA * 512 (zeros past its end)
 *            NAME:logout                   log out and drop the context
 *            wait                          print "waiting" and block until stdin has a line,
 *                                          meanwhile servicing every logged-in session
 *                                          (answering the target's NOP-Ins, RFC 7143
 *                                          §11.19) as a live initiator does
 * Each NAME is a separate I_T nexus (its own InitiatorName); it logs in on first use.
 * LBAs and BLOCKS are in 512-byte logical blocks. Exit 0 when every step succeeded,
 * 1 on the first failure (with a message naming the step), 2 on usage errors.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define BLOCK 512
#define MAXCTX 8

struct ctx {
	char name[32];
	char initiator[256];
	struct iscsi_context *iscsi;
	int lun;
};

static struct ctx ctxs[MAXCTX];
static int nctx;
static const char *url;
static int fixed_isid;

static uint8_t pattern_byte(unsigned seed, uint64_t lba, unsigned i)
{
	uint32_t x = (uint32_t)(seed * 2654435761u) ^ (uint32_t)(lba * 40503u) ^ (i * 2246822519u);
	x ^= x >> 13;
	return (uint8_t)(x ^ seed);
}

static void fill(uint8_t *buf, uint64_t lba, uint32_t blocks, unsigned seed)
{
	for (uint32_t b = 0; b < blocks; b++)
		for (unsigned i = 0; i < BLOCK; i++)
			buf[(size_t)b * BLOCK + i] = pattern_byte(seed, lba + b, i);
}

static struct ctx *lookup(const char *name)
{
	for (int i = 0; i < nctx; i++)
		if (strcmp(ctxs[i].name, name) == 0)
			return &ctxs[i];
	return NULL;
}

static int connect_ctx(struct ctx *c)
{
	if (c->iscsi)
		return 0;
	c->iscsi = iscsi_create_context(c->initiator);
	if (!c->iscsi) {
		fprintf(stderr, "%s: cannot create iSCSI context\n", c->name);
		return -1;
	}
	struct iscsi_url *u = iscsi_parse_full_url(c->iscsi, url);
	if (!u) {
		fprintf(stderr, "%s: bad URL %s: %s\n", c->name, url, iscsi_get_error(c->iscsi));
		return -1;
	}
	iscsi_set_targetname(c->iscsi, u->target);
	if (u->user[0] && iscsi_set_initiator_username_pwd(c->iscsi, u->user, u->passwd) != 0) {
		fprintf(stderr, "%s: cannot set CHAP credentials\n", c->name);
		iscsi_destroy_url(u);
		return -1;
	}
	iscsi_set_session_type(c->iscsi, ISCSI_SESSION_NORMAL);
	if (fixed_isid && iscsi_set_isid_oui(c->iscsi, 0x00163e, 1) != 0) {
		fprintf(stderr, "%s: cannot set the ISID\n", c->name);
		iscsi_destroy_url(u);
		return -1;
	}
	iscsi_set_header_digest(c->iscsi, ISCSI_HEADER_DIGEST_NONE_CRC32C);
	c->lun = u->lun;
	int rc = iscsi_full_connect_sync(c->iscsi, u->portal, u->lun);
	if (rc != 0)
		fprintf(stderr, "%s: login as %s to %s failed: %s\n", c->name, c->initiator,
			url, iscsi_get_error(c->iscsi));
	iscsi_destroy_url(u);
	return rc ? -1 : 0;
}

static int task_ok(struct ctx *c, struct scsi_task *t, const char *what)
{
	if (!t) {
		fprintf(stderr, "%s: %s: transport error: %s\n", c->name, what,
			iscsi_get_error(c->iscsi));
		return 0;
	}
	if (t->status != SCSI_STATUS_GOOD) {
		fprintf(stderr, "%s: %s: status 0x%02x sense %x/%02x/%02x\n", c->name, what,
			t->status, t->sense.key, t->sense.ascq >> 8, t->sense.ascq & 0xff);
		scsi_free_scsi_task(t);
		return 0;
	}
	return 1;
}

/*
 * Block until a whole line arrives on stdin (read unbuffered, so several waits share
 * one stream), servicing the live sessions meanwhile: libiscsi answers a NOP-In that
 * asks for a reply, so LIO's keepalive does not drop an idle test session.
 */
static int wait_line(void)
{
	for (;;) {
		struct pollfd pf[MAXCTX + 1];
		struct ctx *owner[MAXCTX + 1];
		int n = 0;

		pf[n].fd = 0;
		pf[n].events = POLLIN;
		owner[n++] = NULL;
		for (int i = 0; i < nctx; i++) {
			if (!ctxs[i].iscsi)
				continue;
			pf[n].fd = iscsi_get_fd(ctxs[i].iscsi);
			pf[n].events = (short)iscsi_which_events(ctxs[i].iscsi);
			owner[n++] = &ctxs[i];
		}
		if (poll(pf, (nfds_t)n, 1000) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		for (int i = 1; i < n; i++)
			if (pf[i].revents && iscsi_service(owner[i]->iscsi, pf[i].revents) < 0)
				fprintf(stderr, "%s: while waiting: %s\n", owner[i]->name,
					iscsi_get_error(owner[i]->iscsi));
		if (pf[0].revents) {
			char ch;
			ssize_t k;

			while ((k = read(0, &ch, 1)) == 1 && ch != '\n')
				;
			return k == 1 ? 0 : -1;
		}
	}
}

static int step(const char *spec)
{
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", spec);
	if (strcmp(buf, "wait") == 0) {
		printf("waiting\n");
		fflush(stdout);
		return wait_line();
	}
	char *save = NULL;
	char *name = strtok_r(buf, ":", &save);
	char *op = strtok_r(NULL, ":", &save);
	struct ctx *c = name ? lookup(name) : NULL;
	if (!c || !op) {
		fprintf(stderr, "bad step '%s' (unknown context or missing op)\n", spec);
		return -2;
	}
	if (strcmp(op, "logout") == 0) {
		if (c->iscsi) {
			iscsi_logout_sync(c->iscsi);
			iscsi_destroy_context(c->iscsi);
			c->iscsi = NULL;
		}
		return 0;
	}
	if (connect_ctx(c) != 0)
		return -1;
	char *a[6] = {0};
	for (int i = 0; i < 6; i++)
		a[i] = strtok_r(NULL, ":", &save);
	if (strcmp(op, "sync") == 0) {
		struct scsi_task *t = iscsi_synchronizecache10_sync(c->iscsi, c->lun, 0, 0, 0, 0);
		if (!task_ok(c, t, "SYNCHRONIZE CACHE"))
			return -1;
		scsi_free_scsi_task(t);
		return 0;
	}
	if (strcmp(op, "lun") == 0 && a[0]) {
		c->lun = (int)strtol(a[0], NULL, 0);
		/* Consume a pending UNIT ATTENTION (e.g. 3F/0E REPORTED LUNS DATA HAS CHANGED,
		 * which LIO gives the other LUNs of a demo-mode ACL at login) with TEST UNIT
		 * READY, as an initiator's LUN scan does, so the next command sees none. */
		for (int i = 0; i < 4; i++) {
			struct scsi_task *t = iscsi_testunitready_sync(c->iscsi, c->lun);
			int ua = t && t->status == SCSI_STATUS_CHECK_CONDITION &&
				 t->sense.key == SCSI_SENSE_UNIT_ATTENTION;

			if (t)
				scsi_free_scsi_task(t);
			if (!ua)
				break;
		}
		return 0;
	}
	if (strcmp(op, "wp") == 0 && a[0]) {
		int want = a[0][0] == '1';
		struct scsi_task *t = iscsi_modesense6_sync(c->iscsi, c->lun, 1,
							    SCSI_MODESENSE_PC_CURRENT,
							    SCSI_MODEPAGE_RETURN_ALL_PAGES, 0, 255);
		if (!task_ok(c, t, "MODE SENSE(6)"))
			return -1;
		int got = t->datain.size >= 3 && (t->datain.data[2] & 0x80);
		scsi_free_scsi_task(t);
		if (got != want) {
			fprintf(stderr, "%s: MODE SENSE says WP=%d, expected %d\n", c->name, got, want);
			return -1;
		}
		return 0;
	}
	if (strcmp(op, "luns") == 0 && a[0]) {
		unsigned want = (unsigned)strtoul(a[0], NULL, 0);
		struct scsi_task *t = iscsi_reportluns_sync(c->iscsi, 0, 16384);
		if (!task_ok(c, t, "REPORT LUNS"))
			return -1;
		struct scsi_reportluns_list *l = scsi_datain_unmarshall(t);
		unsigned got = l ? l->num : 0;
		scsi_free_scsi_task(t);
		if (got != want) {
			fprintf(stderr, "%s: REPORT LUNS lists %u LUNs, expected %u\n", c->name, got, want);
			return -1;
		}
		return 0;
	}
	if (strcmp(op, "file") == 0 && a[2]) {
		uint64_t lba = strtoull(a[0], NULL, 0);
		uint32_t blocks = (uint32_t)strtoul(a[1], NULL, 0);
		size_t len = (size_t)blocks * BLOCK;
		uint8_t *want = calloc(1, len ? len : 1);
		FILE *f = fopen(a[2], "rb");
		int rc = -1;
		if (!want || !f) {
			fprintf(stderr, "%s: cannot open %s\n", c->name, a[2]);
			free(want);
			if (f)
				fclose(f);
			return -1;
		}
		if (fseeko(f, (off_t)(lba * BLOCK), SEEK_SET) == 0)
			(void)fread(want, 1, len, f);
		fclose(f);
		struct scsi_task *t = iscsi_read16_sync(c->iscsi, c->lun, lba, (uint32_t)len, BLOCK,
							0, 0, 0, 0, 0);
		if (task_ok(c, t, "READ(16)")) {
			if ((size_t)t->datain.size == len && memcmp(t->datain.data, want, len) == 0)
				rc = 0;
			else
				fprintf(stderr, "%s: LUN %d LBA %llu differs from %s\n", c->name, c->lun,
					(unsigned long long)lba, a[2]);
			scsi_free_scsi_task(t);
		}
		free(want);
		return rc;
	}
	if (strcmp(op, "cap") == 0 && a[0]) {
		uint64_t want = strtoull(a[0], NULL, 0);
		struct scsi_task *t = iscsi_readcapacity16_sync(c->iscsi, c->lun);
		if (!task_ok(c, t, "READ CAPACITY(16)"))
			return -1;
		struct scsi_readcapacity16 *rc16 = scsi_datain_unmarshall(t);
		uint64_t got = rc16 ? (rc16->returned_lba + 1) * rc16->block_length : 0;
		scsi_free_scsi_task(t);
		if (got != want) {
			fprintf(stderr, "%s: capacity %llu bytes, expected %llu\n", c->name,
				(unsigned long long)got, (unsigned long long)want);
			return -1;
		}
		return 0;
	}
	if (strcmp(op, "sense") == 0 && a[0] && (!strcmp(a[0], "w") || !strcmp(a[0], "w10")) &&
	    a[4]) {
		int w10 = strcmp(a[0], "w10") == 0;
		const char *cmd = w10 ? "WRITE(10)" : "WRITE(16)";
		uint64_t lba = strtoull(a[1], NULL, 0);
		unsigned key = strtoul(a[2], NULL, 0), asc = strtoul(a[3], NULL, 0),
			 ascq = strtoul(a[4], NULL, 0);
		uint8_t data[BLOCK];
		fill(data, lba, 1, 99);
		struct scsi_task *t = w10 ? iscsi_write10_sync(c->iscsi, c->lun, (uint32_t)lba, data,
							       BLOCK, BLOCK, 0, 0, 0, 0, 0)
					  : iscsi_write16_sync(c->iscsi, c->lun, lba, data, BLOCK,
							       BLOCK, 0, 0, 0, 0, 0);
		if (!t) {
			fprintf(stderr, "%s: %s: transport error\n", c->name, cmd);
			return -1;
		}
		int ok = t->status == SCSI_STATUS_CHECK_CONDITION && (unsigned)t->sense.key == key &&
			 (unsigned)t->sense.ascq == ((asc << 8) | ascq);
		if (w10 && t->status == SCSI_STATUS_CHECK_CONDITION) {
			/* The data segment: SenseLength (2 bytes), then the sense data. */
			const uint8_t *sb = t->datain.size > 2 ? t->datain.data + 2 : NULL;
			int n = sb ? (int)t->datain.size - 2 : 0, rk = -1, ra = -1, rq = -1;

			printf("%s: %s at %llu: sense bytes", c->name, cmd, (unsigned long long)lba);
			for (int i = 0; i < n && i < 18; i++)
				printf(" %02x", sb[i]);
			printf("\n");
			if (n >= 14 && ((sb[0] & 0x7f) == 0x70 || (sb[0] & 0x7f) == 0x71)) {
				rk = sb[2] & 0x0f, ra = sb[12], rq = sb[13];
			} else if (n >= 4 && ((sb[0] & 0x7f) == 0x72 || (sb[0] & 0x7f) == 0x73)) {
				rk = sb[1] & 0x0f, ra = sb[2], rq = sb[3];
			}
			ok = ok && rk == (int)key && ra == (int)asc && rq == (int)ascq;
		}
		if (!ok)
			fprintf(stderr, "%s: %s at %llu: status 0x%02x sense %x/%02x/%02x, expected %x/%02x/%02x\n",
				c->name, cmd, (unsigned long long)lba, t->status, t->sense.key,
				t->sense.ascq >> 8, t->sense.ascq & 0xff, key, asc, ascq);
		scsi_free_scsi_task(t);
		return ok ? 0 : -1;
	}
	if ((strcmp(op, "w") == 0 || strcmp(op, "r") == 0 || strcmp(op, "z") == 0) && a[1]) {
		uint64_t lba = strtoull(a[0], NULL, 0);
		uint32_t blocks = (uint32_t)strtoul(a[1], NULL, 0);
		unsigned seed = a[2] ? (unsigned)strtoul(a[2], NULL, 0) : 0;
		int fua = a[3] && strcmp(a[3], "fua") == 0;
		size_t len = (size_t)blocks * BLOCK;
		uint8_t *want = calloc(1, len ? len : 1);
		if (!want)
			return -1;
		if (op[0] != 'z')
			fill(want, lba, blocks, seed);
		int rc = -1;
		if (op[0] == 'w') {
			struct scsi_task *t = iscsi_write16_sync(c->iscsi, c->lun, lba, want,
								 (uint32_t)len, BLOCK, 0, 0, fua, 0, 0);
			if (task_ok(c, t, "WRITE(16)")) {
				scsi_free_scsi_task(t);
				rc = 0;
			}
		} else {
			struct scsi_task *t = iscsi_read16_sync(c->iscsi, c->lun, lba, (uint32_t)len,
								BLOCK, 0, 0, 0, 0, 0);
			if (task_ok(c, t, "READ(16)")) {
				if ((size_t)t->datain.size != len || memcmp(t->datain.data, want, len)) {
					size_t i = 0;
					while (i < len && i < (size_t)t->datain.size &&
					       t->datain.data[i] == want[i])
						i++;
					fprintf(stderr, "%s: data mismatch at LBA %llu + byte %zu (got %d bytes)\n",
						c->name, (unsigned long long)lba, i, t->datain.size);
				} else {
					rc = 0;
				}
				scsi_free_scsi_task(t);
			}
		}
		free(want);
		return rc;
	}
	fprintf(stderr, "bad step '%s'\n", spec);
	return -2;
}

int main(int argc, char **argv)
{
	int i = 1;
	if (i < argc && strcmp(argv[i], "-I") == 0) {
		fixed_isid = 1;
		i++;
	}
	for (; i < argc && strcmp(argv[i], "-c") == 0 && i + 1 < argc; i += 2) {
		char *eq = strchr(argv[i + 1], '=');
		if (!eq || nctx == MAXCTX || (size_t)(eq - argv[i + 1]) >= sizeof(ctxs[0].name)) {
			fprintf(stderr, "bad -c %s (want NAME=IQN)\n", argv[i + 1]);
			return 2;
		}
		struct ctx *c = &ctxs[nctx++];
		snprintf(c->name, sizeof(c->name), "%.*s", (int)(eq - argv[i + 1]), argv[i + 1]);
		snprintf(c->initiator, sizeof(c->initiator), "%s", eq + 1);
	}
	if (i >= argc || nctx == 0) {
		fprintf(stderr, "usage: iscsi-pattern [-I] -c NAME=IQN [-c ...] URL STEP...\n");
		return 2;
	}
	url = argv[i++];
	int rc = 0;
	for (; i < argc; i++) {
		int r = step(argv[i]);
		if (r != 0) {
			fprintf(stderr, "step failed: %s\n", argv[i]);
			rc = r == -2 ? 2 : 1;
			break;
		}
		printf("ok %s\n", argv[i]);
		fflush(stdout);
	}
	for (int k = 0; k < nctx; k++)
		if (ctxs[k].iscsi) {
			iscsi_logout_sync(ctxs[k].iscsi);
			iscsi_destroy_context(ctxs[k].iscsi);
		}
	return rc;
}
