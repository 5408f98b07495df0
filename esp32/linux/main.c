/*
 * main.c — scsipub-usb-gadget: the esp32 bridge core as a Linux USB gadget. An iSCSI
 * LUN (libiscsi) is offered to the USB host as a mass-storage device through
 * FunctionFS; the same core the ESP32-S3 firmware runs. Useful on its own on a
 * Raspberry Pi Zero 2 W / Pi 4 (dwc2) and how the core is tested in the lab
 * (dummy_hcd + the guest's usb-storage driver).
 *
 * The gadget (configfs) and the functionfs mount are made by linux/gadget.sh; this
 * program serves the mounted function. Threads: the main thread runs BOT commands,
 * one thread handles ep0 events, one keeps the iSCSI side alive while idle
 * (reconnects, NOP-In answers); the bridge is shared under one mutex.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bot.h"
#include "bridge.h"
#include "bridge_platform.h"
#include "ffs.h"
#include "msc_scsi.h"
#include "transport_iscsi.h"

extern int bplat_log_level;

#define CHUNK (64 * 1024)

static struct ffs usb;
static struct tri tr;
static struct bridge br;
static struct scsi_lu lu;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static volatile sig_atomic_t stop;
static uint8_t ra_buf[256 * 1024];
static uint8_t buf[CHUNK];

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int io_send(void *ctx, const uint8_t *b, uint32_t len) { return ffs_send(ctx, b, len); }
static int io_recv(void *ctx, uint8_t *b, uint32_t len) { return ffs_recv(ctx, b, len); }
static void io_stall(void *ctx, bool in) { ffs_stall(ctx, in); }

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void *ep0_thread(void *arg)
{
	(void)arg;
	while (!stop && ffs_event(&usb) == 0)
		;
	return NULL;
}

/* Idle upkeep: reconnect when due, answer NOP-Ins, notice a dead link. */
static void *keepalive_thread(void *arg)
{
	(void)arg;
	while (!stop) {
		pthread_mutex_lock(&lock);
		bridge_poll(&br, 0);
		pthread_mutex_unlock(&lock);
		sleep_ms(100);
	}
	return NULL;
}

static void usage(FILE *o)
{
	fprintf(o,
		"usage: scsipub-usb-gadget --ffs DIR --portal HOST[:PORT] --target IQN [options]\n"
		"  --ffs DIR            mounted functionfs instance (see esp32/linux/gadget.sh)\n"
		"  --portal HOST[:PORT] iSCSI portal (port 3260 by default)\n"
		"  --target IQN         target name\n"
		"  --lun N              LUN (0)\n"
		"  --initiator IQN      initiator name (iqn.2025-01.pub.scsipub:usb-gadget)\n"
		"  --chap-user NAME     one-way CHAP user; the secret comes from the\n"
		"                       SCSIPUB_CHAP_SECRET environment variable\n"
		"  --header-digest      offer CRC32C header digests first\n"
		"  --readahead-kb N     read-ahead window in KiB, 0 = off (0, at most 256)\n"
		"  --timeout S          login and command timeout in seconds (15)\n"
		"  --backoff-max-ms MS  cap of the reconnect backoff (8000)\n"
		"  --chunk-kb N         bytes per target command in KiB, 1..64 (64); 4 mimics\n"
		"                       the ESP32 firmware (CFG_TUD_MSC_EP_BUFSIZE)\n"
		"  -v                   debug log\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ffs", required_argument, NULL, 'f' },
		{ "portal", required_argument, NULL, 'p' },
		{ "target", required_argument, NULL, 't' },
		{ "lun", required_argument, NULL, 'l' },
		{ "initiator", required_argument, NULL, 'i' },
		{ "chap-user", required_argument, NULL, 'u' },
		{ "header-digest", no_argument, NULL, 'd' },
		{ "readahead-kb", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "backoff-max-ms", required_argument, NULL, 'B' },
		{ "chunk-kb", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct tri_config tc = { .initiator = "iqn.2025-01.pub.scsipub:usb-gadget", .timeout_s = 15 };
	struct bridge_config bc = { 0 };
	const char *dir = NULL;
	struct sigaction sa;
	sigset_t mask, old;
	pthread_t t0, t1;
	long ra_kb = 0, chunk_kb = 64;
	int c;

	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': dir = optarg; break;
		case 'p': tc.portal = optarg; break;
		case 't': tc.target = optarg; break;
		case 'l': tc.lun = atoi(optarg); break;
		case 'i': tc.initiator = optarg; break;
		case 'u': tc.chap_user = optarg; break;
		case 'd': tc.header_digest = true; break;
		case 'r': ra_kb = strtol(optarg, NULL, 10); break;
		case 'T': tc.timeout_s = atoi(optarg); break;
		case 'B': bc.backoff_max_ms = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'C': chunk_kb = strtol(optarg, NULL, 10); break;
		case 'v': bplat_log_level = BPLAT_DEBUG; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!dir || !tc.portal || !tc.target || ra_kb < 0 || ra_kb > 256 ||
	    chunk_kb < 1 || chunk_kb > CHUNK / 1024) {
		usage(stderr);
		return 2;
	}
	tc.chap_secret = getenv("SCSIPUB_CHAP_SECRET");
	if (tc.chap_user && (!tc.chap_secret || !*tc.chap_secret)) {
		fprintf(stderr, "usb-gadget: --chap-user needs SCSIPUB_CHAP_SECRET in the environment\n");
		return 2;
	}
	tri_init(&tr, &tc);
	bc.ra_buf = ra_buf;
	bc.ra_buf_len = sizeof(ra_buf);
	bc.ra_blocks = (uint32_t)(ra_kb * 1024 / 512);
	bridge_init(&br, &tri_ops, &tr, &bc);
	scsi_lu_init(&lu, &br);
	if (bridge_poll(&br, 0) != BRIDGE_UP)
		fprintf(stderr, "usb-gadget: first login failed (%s); retrying in the background\n", tr.err);

	if (ffs_open(&usb, dir) != 0)
		return 1;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: blocking endpoint reads return EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	pthread_sigmask(SIG_BLOCK, &mask, &old); /* the helper threads never take them */
	pthread_create(&t0, NULL, ep0_thread, NULL);
	pthread_create(&t1, NULL, keepalive_thread, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	fprintf(stderr, "usb-gadget: serving %s LUN %d from %s on %s\n", tc.target, tc.lun,
		tc.portal, dir);

	while (!stop) {
		uint8_t cbw[64];
		long n = ffs_recv_some(&usb, cbw, sizeof(cbw));
		struct bot_io io = { io_send, io_recv, io_stall, &usb };

		if (n < 0) {
			if (errno != EINTR)
				sleep_ms(50); /* not enabled yet, or the host went away */
			continue;
		}
		if (n == 0)
			continue;
		pthread_mutex_lock(&lock);
		c = bot_command(&lu, cbw, (size_t)n, &io, buf, (uint32_t)chunk_kb * 1024);
		pthread_mutex_unlock(&lock);
		if (c == 1)
			fprintf(stderr, "usb-gadget: invalid CBW (%ld bytes): endpoints stalled\n", n);
	}
	fprintf(stderr, "usb-gadget: stopping: %u logins, %u link losses, %llu read-ahead hits (blocks), %llu target reads\n",
		br.stats.connects, br.stats.link_losses,
		(unsigned long long)br.stats.ra_hits_blocks,
		(unsigned long long)br.stats.target_reads);
	pthread_mutex_lock(&lock);
	tri_destroy(&tr);
	ffs_close(&usb);
	return 0;
}
