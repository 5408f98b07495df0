/*
 * main.c — scsipub-tcmu, the TCMU userspace backstore daemon of scsipub-lio.
 *
 * Serves every LIO user backstore whose dev_config has the subtype "cow"
 * (cow_config.h): one device.c worker per device, created on the kernel's
 * ADDED_DEVICE event and closed on REMOVED_DEVICE (netlink.h). At startup it resets
 * the kernel's netlink waiters (a previous daemon may have died with configfs writes
 * pending) and re-attaches to the devices that already exist (a restart after a
 * crash). Events for devices of other subtypes (tcmu-runner's) are left unanswered
 * for their own daemon. Logs go to stderr, one line each (log.h).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sys/uio.h>
/* Only glibc's struct iovec may exist (see ring.h). */
#ifndef __LINUX_UIO_H
#define __LINUX_UIO_H
#endif
#include <linux/target_core_user.h>

#include "settings.h"
#include "bitmap.h"
#include "cow_config.h"
#include "dbus_service.h"
#include "device.h"
#include "log.h"
#include "fsspace.h"
#include "netlink.h"
#include "nofile.h"
#include "monotime.h"
#include "placehint.h"
#include "unixsock.h"

#define DEFAULT_CONFIGFS_ROOT "/sys/kernel/config/target"
#define UIO_SYSFS             "/sys/class/uio"
#define DEV_DIR               "/dev"
#define MODULE_PARAMS         "/sys/module/target_core_user/parameters"
#define DEFAULT_RUNTIME_DIR   "/run/scsipub-tcmu"
#define SWEEP_INTERVAL        10 /* seconds between sweeps of stale bitmap mirrors */
/*
 * Command threads shared by every device: none by default. In the lab (2 vCPUs, TCG,
 * bench-perf 2026-12-04) 4 threads gave 0.55 of LIO fileio on 4 KiB random writes at
 * QD32 against 0.94 with none, and 1.90x against 1.38x QD1 read latency: a handoff
 * and a kick per command cost more than the overlap gave there.
 */
#define DEFAULT_IO_THREADS    0

struct daemon {
	struct device_env env;
	struct tcmu_nl *nl;
	struct device **devs;
	size_t ndevs, cap;
	int removed;          /* a device went since the last mirror sweep */
	time_t last_sweep;    /* CLOCK_MONOTONIC seconds of the last sweep */
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: scsipub-tcmu [--configfs-root DIR] [--disk-reserve BYTES]"
		" [--runtime-dir DIR] [--io-threads N] [--place-socket PATH]"
		" [--place-group GROUP] [--verbose] [--config FILE] [--help]\n"
		"Serve LIO user (TCMU) backstores whose dev_config is \"cow/...\".\n"
		"\n"
		"  --configfs-root DIR   LIO's configfs directory (default %s)\n"
		"  --disk-reserve BYTES  keep this much available on each overlay's\n"
		"                        filesystem: a write that needs new blocks past it gets\n"
		"                        DATA PROTECT / SPACE ALLOCATION FAILED WRITE PROTECT\n"
		"                        (27/07); 0 = none\n"
		"                        (default %llu = 512 MiB, as scsipub-portal's)\n"
		"  --runtime-dir DIR     where each device's allocation bitmap keeps its\n"
		"                        live copy between SYNCHRONIZE CACHEs; must be\n"
		"                        tmpfs (it outlives the daemon, not the host);\n"
		"                        created 0700 if missing (default %s)\n"
		"  --io-threads N        threads that run SCSI commands, shared by every\n"
		"                        device, so a device has up to N commands running\n"
		"                        at once (reads and cached writes overlap; the rest\n"
		"                        run alone); 0 = each device runs its commands one\n"
		"                        at a time (default %d, at most %d)\n"
		"  --place-socket PATH   where scsipub-portal tells which CPU serves a\n"
		"                        session's LIO connection; the device's worker\n"
		"                        thread then runs there (default %s; \"\" = none)\n"
		"  --place-group GROUP   the group that may send to it (scsipub-portal's\n"
		"                        user's; default none: root only)\n"
		"  --verbose             log every netlink event and debug detail\n"
		"  --config FILE         settings file (default " SETTINGS_DEFAULT_PATH "):\n"
		"                        [common] and [handler] keys are these options'\n"
		"                        names; the command line overrides it\n"
		"  --help                show this help\n"
		"\n"
		"dev_config: cow/size=<bytes>;overlay=<path>;bitmap=<path>[;base=<path>]"
		"[;limit=<bytes>]\n"
		"The write limit counts whole filesystem blocks of overlay allocation.\n"
		"Stops on SIGINT/SIGTERM (closing every device).\n",
		DEFAULT_CONFIGFS_ROOT, (unsigned long long)FSSPACE_DEFAULT_RESERVE,
		DEFAULT_RUNTIME_DIR, DEFAULT_IO_THREADS, IOPOOL_MAX_THREADS,
		PLACEHINT_SOCKET_DEFAULT);
}

/* A decimal number (digits only, fits in 64 bits) into *out. 0 or -EINVAL. */
static int parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!*s || strspn(s, "0123456789") != strlen(s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

/* ---- device list ----------------------------------------------------------------- */

static struct device **find_dev(struct daemon *dm, unsigned minor)
{
	size_t i;

	for (i = 0; i < dm->ndevs; i++)
		if (device_minor(dm->devs[i]) == minor)
			return &dm->devs[i];
	return NULL;
}

static int add_dev(struct daemon *dm, struct device *d)
{
	struct device **v;
	size_t cap;

	if (dm->ndevs == dm->cap) {
		cap = dm->cap ? dm->cap * 2 : 16;
		v = realloc(dm->devs, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		dm->devs = v;
		dm->cap = cap;
	}
	dm->devs[dm->ndevs++] = d;
	return 0;
}

/* The device's size in bytes, from its dev_config (parsed once, at device_open). */
static unsigned long long dev_size_of(const struct device *d)
{
	return device_config(d)->size_bytes;
}

/* Close and forget the device at *slot, logging why. */
static void remove_dev(struct daemon *dm, struct device **slot, const char *why)
{
	struct device *d = *slot;

	plog_at(PLOG_INFO, "device removed: %s (uio%u, %llu bytes, %s)", device_label(d),
		device_minor(d), dev_size_of(d), why);
	*slot = dm->devs[--dm->ndevs];
	device_close(d);
	dm->removed = 1;
}

/*
 * Remove bitmap mirrors whose overlay files were deleted (bitmap_mirror_sweep): at
 * startup, then at most every SWEEP_INTERVAL seconds after a device went, which
 * bounds what sessions that ended without a SYNCHRONIZE CACHE leave in the runtime
 * directory.
 */
static void sweep_mirrors(struct daemon *dm, int force)
{
	time_t now = monotime_s();
	int n;

	if (!force && (!dm->removed || now - dm->last_sweep < SWEEP_INTERVAL))
		return;
	dm->removed = 0;
	dm->last_sweep = now;
	n = bitmap_mirror_sweep(dm->env.mirror_dir);
	if (n < 0)
		plog_at(PLOG_WARN, "cannot sweep %s: %s", dm->env.mirror_dir, strerror(-n));
	else if (n > 0)
		plog_at(PLOG_DEBUG, "removed %d stale bitmap mirror%s", n, n == 1 ? "" : "s");
}

/*
 * Open minor and add it to the list; returns 0 or a negative errno (logged). *out (when
 * not NULL) gets the device, or NULL.
 */
static int open_dev(struct daemon *dm, unsigned minor, const char *uio_name, int reattach,
		    struct device **out)
{
	struct device *d;
	char err[512] = "";
	int ret;

	if (out)
		*out = NULL;
	ret = device_open(&dm->env, minor, uio_name, reattach, &d, err, sizeof(err));
	if (ret < 0) {
		plog_at(PLOG_ERROR, "cannot serve uio%u: %s", minor, err);
		return ret;
	}
	if (add_dev(dm, d) < 0) {
		plog_at(PLOG_ERROR, "cannot serve uio%u: out of memory", minor);
		device_close(d);
		return -ENOMEM;
	}
	if (device_unusable(d))
		plog_at(PLOG_ERROR,
			"device %s: %s (uio%u): cannot open its store, every command "
			"gets NOT READY 04/03: %s", reattach ? "re-attached" : "added",
			device_label(d), minor, device_unusable(d));
	else
		plog_at(PLOG_INFO, "device %s: %s (uio%u, %llu bytes, %s)",
			reattach ? "re-attached" : "added", device_label(d), minor,
			dev_size_of(d), device_write_cache(d) ?
			"write cache on: WCE=1, durable at SYNCHRONIZE CACHE / FUA" :
			"write cache off: WCE=0, every write durable before GOOD");
	if (out)
		*out = d;
	return 0;
}

/* ---- netlink events -------------------------------------------------------------- */

/*
 * *awaited: whether the kernel waits for our reply (attrib/nl_reply_supported > 0), as
 * the opened device read it, or read here when there is none.
 */
static int on_added(struct daemon *dm, const struct tcmu_nl_event *ev, int *awaited)
{
	struct device **slot = find_dev(dm, ev->minor);
	struct device_name n;
	struct device *d = NULL;
	int ret;

	if (slot) {
		/* Already served: the startup scan attached it before this event arrived. */
		plog_at(PLOG_DEBUG, "uio%u is already served", ev->minor);
		*awaited = device_awaits_reply(*slot);
		return 0;
	}
	if (device_parse_uio_name(ev->uio_name, &n) < 0) {
		plog_at(PLOG_ERROR, "ADDED_DEVICE with a bad uio name \"%s\"", ev->uio_name);
		ret = -EINVAL;
	} else {
		ret = open_dev(dm, ev->minor, ev->uio_name, 0, &d);
	}
	*awaited = ret == 0 ? device_awaits_reply(d) :
		   device_reply_awaited(&dm->env, ev->uio_name);
	return ret;
}

static int on_removed(struct daemon *dm, const struct tcmu_nl_event *ev)
{
	struct device **slot = find_dev(dm, ev->minor);

	if (!slot) {
		plog_at(PLOG_DEBUG, "REMOVED_DEVICE for uio%u, which we do not serve",
			ev->minor);
		return 0;
	}
	remove_dev(dm, slot, "removed by the kernel");
	return 0;
}

static int on_reconfig(struct daemon *dm, const struct tcmu_nl_event *ev)
{
	struct device **slot = find_dev(dm, ev->minor);

	if (!slot) {
		plog_at(PLOG_DEBUG, "RECONFIG_DEVICE for uio%u, which we do not serve",
			ev->minor);
		return 0;
	}
	switch (ev->reconfig) {
	case TCMU_NL_RECONFIG_DEV_CFG:
		if (ev->dev_cfg && strcmp(ev->dev_cfg, device_dev_config(*slot)) == 0)
			return 0;
		plog_at(PLOG_WARN, "%s: changing dev_config online is not supported (\"%s\")",
			device_label(*slot), ev->dev_cfg ? ev->dev_cfg : "");
		return -EINVAL;
	case TCMU_NL_RECONFIG_DEV_SIZE:
		if (device_config(*slot)->size_bytes == ev->dev_size)
			return 0;
		plog_at(PLOG_WARN, "%s: resizing to %llu bytes is not supported",
			device_label(*slot), (unsigned long long)ev->dev_size);
		return -EINVAL;
	case TCMU_NL_RECONFIG_WRITECACHE:
		device_set_write_cache(*slot, ev->write_cache);
		plog_at(PLOG_INFO, "%s: write cache %s", device_label(*slot),
			ev->write_cache ? "on (WCE=1: durable at SYNCHRONIZE CACHE / FUA)" :
			"off (WCE=0: cache flushed, then every write durable before GOOD)");
		return 0;
	default:
		return -EINVAL;
	}
}

static int on_event(void *arg, const struct tcmu_nl_event *ev)
{
	struct daemon *dm = arg;
	struct device_name n;
	struct device **slot;
	int awaited, ret;

	/*
	 * Another daemon's device (tcmu-runner's qcow/file/rbd/glfs…): stay silent. The
	 * kernel takes the first *_DONE it gets, so any answer of ours could hide that
	 * daemon's own (README "Coexistence with tcmu-runner").
	 */
	if (device_name_is_foreign(ev->uio_name) && !find_dev(dm, ev->minor)) {
		if (device_parse_uio_name(ev->uio_name, &n) == 0)
			plog_at(ev->cmd == TCMU_CMD_ADDED_DEVICE ? PLOG_INFO : PLOG_DEBUG,
				"%s for user_%u/%s (subtype \"%s\"): not ours, not answered",
				tcmu_nl_cmd_name(ev->cmd), n.hba, n.dev, n.subtype);
		else
			plog_at(PLOG_DEBUG, "%s for uio%u: not ours, not answered",
				tcmu_nl_cmd_name(ev->cmd), ev->minor);
		return TCMU_NL_NO_REPLY;
	}
	/*
	 * Ours: answer only when the kernel waits (attrib/nl_reply_supported > 0). Our
	 * manager's devices opt out (-1); answering them would only make the kernel log
	 * "could not find device" once per event.
	 */
	if (ev->cmd != TCMU_CMD_ADDED_DEVICE)
		awaited = (slot = find_dev(dm, ev->minor)) ? device_awaits_reply(*slot) : 1;
	switch (ev->cmd) {
	case TCMU_CMD_ADDED_DEVICE:
		ret = on_added(dm, ev, &awaited);
		break;
	case TCMU_CMD_REMOVED_DEVICE:
		ret = on_removed(dm, ev);
		break;
	case TCMU_CMD_RECONFIG_DEVICE:
		ret = on_reconfig(dm, ev);
		break;
	default:
		ret = -EINVAL;
		break;
	}
	return awaited ? ret : TCMU_NL_NO_REPLY;
}

/* ---- startup --------------------------------------------------------------------- */

/* Write a target_core_user module parameter; quiet when it does not exist. */
static void set_module_param(const char *name, const char *value)
{
	char path[256];
	int ret;

	snprintf(path, sizeof(path), "%s/%s", MODULE_PARAMS, name);
	ret = device_write_attr(path, value);
	if (ret < 0 && ret != -ENOENT)
		plog_at(PLOG_WARN, "cannot write %s to %s: %s", value, path, strerror(-ret));
}

/*
 * The portal's hints (placehint.h): each names a backstore and the CPU of LIO's threads
 * for the connections that use it, and that device's worker moves there; or withdraws
 * the hint, and the worker goes back to any CPU.
 */
static void take_hints(struct daemon *dm, int fd)
{
	char name[PLACEHINT_NAME_MAX + 1];
	int cpu, r, n;

	/* A bounded batch per round, so a flood cannot starve netlink or signals. */
	for (n = 0; n < 64 && (r = placehint_recv(fd, name, sizeof(name), &cpu)) != 0; n++) {
		size_t i;

		if (r < 0) {
			plog_at(PLOG_DEBUG, "placement hint: %s", r == -EINVAL ?
				"malformed, ignored" : strerror(-r));
			continue;
		}
		for (i = 0; i < dm->ndevs; i++) {
			if (strcmp(device_backstore(dm->devs[i]), name) != 0)
				continue;
			r = device_place(dm->devs[i], cpu);
			if (r < 0)
				plog_at(PLOG_DEBUG, "%s: hint CPU %d not taken: %s",
					device_label(dm->devs[i]), cpu, strerror(-r));
			else if (cpu == PLACEHINT_NONE)  /* once per change, as below */
				plog_at(r ? PLOG_INFO : PLOG_DEBUG, "%s: its connections run on "
					"several CPUs: no CPU hint", device_label(dm->devs[i]));
			else  /* once per device and CPU: at most a line per connection */
				plog_at(r ? PLOG_INFO : PLOG_DEBUG, "%s: LIO's CPU for its "
					"connection is %d", device_label(dm->devs[i]), cpu);
			break;
		}
	}
}

static int scan_cb(void *arg, unsigned minor, const char *name)
{
	struct daemon *dm = arg;
	struct device_name n;

	if (device_parse_uio_name(name, &n) < 0 || strcmp(n.subtype, COW_CONFIG_SUBTYPE) != 0)
		return 0;
	if (!find_dev(dm, minor))
		open_dev(dm, minor, name, 1, NULL);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "configfs-root", required_argument, NULL, 'c' },
		{ "disk-reserve", required_argument, NULL, 'r' },
		{ "runtime-dir", required_argument, NULL, 'R' },
		{ "io-threads", required_argument, NULL, 't' },
		{ "place-socket", required_argument, NULL, 'P' },
		{ "place-group", required_argument, NULL, 'G' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "config", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct daemon dm = { .env = { DEFAULT_CONFIGFS_ROOT, UIO_SYSFS, DEV_DIR,
				      FSSPACE_DEFAULT_RESERVE, DEFAULT_RUNTIME_DIR } };
	struct signalfd_siginfo si;
	struct pollfd p[3];
	const char *place_socket = PLACEHINT_SOCKET_DEFAULT, *place_group = "";
	int place_fd = -1;
	char err[512] = "";
	sigset_t mask;
	int c, sfd, ret, stop = 0;
	uint64_t io_threads = DEFAULT_IO_THREADS;
	long nofile;

	plog_program = "scsipub-tcmu";
	if (settings_apply(SETTINGS_HANDLER, NULL, settings_kind_getopt, opts, &argc, &argv, 1, err,
		       sizeof(err)) < 0) {
		plog("%s", err);
		return 2;
	}
	while ((c = getopt_long(argc, argv, "c:r:R:t:P:G:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'C': /* read by settings_apply */
			break;
		case 'c':
			dm.env.configfs_root = optarg;
			break;
		case 'r':
			if (parse_u64(optarg, &dm.env.disk_reserve) < 0) {
				plog("--disk-reserve: not a number of bytes: \"%s\"", optarg);
				return 2;
			}
			break;
		case 'R':
			dm.env.mirror_dir = optarg;
			break;
		case 'P':
			place_socket = optarg;
			break;
		case 'G':
			place_group = optarg;
			break;
		case 't':
			if (parse_u64(optarg, &io_threads) < 0 ||
			    io_threads > IOPOOL_MAX_THREADS) {
				plog("--io-threads: not a number from 0 to %d: \"%s\"",
				     IOPOOL_MAX_THREADS, optarg);
				return 2;
			}
			break;
		case 'v':
			plog_verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	/* Blocked before any worker thread starts, so every thread inherits the mask. */
	if (pthread_sigmask(SIG_BLOCK, &mask, NULL) != 0) {
		plog_at(PLOG_ERROR, "cannot block SIGINT/SIGTERM");
		return 1;
	}
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		plog_at(PLOG_ERROR, "signalfd: %s", strerror(errno));
		return 1;
	}

	nofile = nofile_raise();
	if (mkdir(dm.env.mirror_dir, 0700) < 0 && errno != EEXIST) {
		plog_at(PLOG_ERROR, "cannot create the runtime directory %s: %s",
			dm.env.mirror_dir, strerror(errno));
		close(sfd);
		return 1;
	}

	if (io_threads) {
		dm.env.pool = device_pool_new((unsigned)io_threads, err, sizeof(err));
		if (!dm.env.pool) {
			plog_at(PLOG_ERROR, "%s", err);
			close(sfd);
			return 1;
		}
	}

	/* Fail configfs writes still waiting for a reply from a previous daemon. */
	set_module_param("block_netlink", "1");
	set_module_param("reset_netlink", "1");
	set_module_param("block_netlink", "0");

	dm.nl = tcmu_nl_open(on_event, &dm, err, sizeof(err));
	if (!dm.nl) {
		plog_at(PLOG_ERROR, "netlink: %s", err);
		close(sfd);
		return 1;
	}
	/* targetcli lists user:cow backstores only through this D-Bus service. */
	ret = dbus_service_start(err, sizeof(err));
	if (ret < 0)
		plog_at(PLOG_WARN, "targetcli will not list user:cow backstores: %s", err);
	ret = device_scan(dm.env.uio_sysfs, scan_cb, &dm);
	if (ret < 0)
		plog_at(PLOG_WARN, "cannot scan %s: %s", dm.env.uio_sysfs, strerror(-ret));
	if (place_socket[0]) {
		place_fd = unixsock_listen(place_socket, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
					   place_group, err, sizeof(err));
		if (place_fd < 0)
			plog_at(PLOG_WARN, "no placement hints from the portal: %s", err);
		else
			plog_at(PLOG_INFO, "placement hints on %s (group %s)", place_socket,
				place_group[0] ? place_group : "root");
	}
	/* After the re-attach: what is left belongs to no device that still exists. */
	sweep_mirrors(&dm, 1);
	plog_at(PLOG_INFO, "ready (%zu device%s, configfs %s, disk reserve %llu bytes, "
		"bitmap mirrors in %s, descriptor limit %ld: four per device, "
		"%u command thread%s)",
		dm.ndevs, dm.ndevs == 1 ? "" : "s", dm.env.configfs_root,
		(unsigned long long)dm.env.disk_reserve, dm.env.mirror_dir, nofile,
		(unsigned)io_threads, io_threads == 1 ? "" : "s");

	while (!stop) {
		size_t i;

		p[0].fd = tcmu_nl_fd(dm.nl);
		p[0].events = POLLIN;
		p[1].fd = sfd;
		p[1].events = POLLIN;
		p[2].fd = place_fd;   /* -1: ignored by poll */
		p[2].events = POLLIN;
		ret = poll(p, 3, 1000);
		if (ret < 0 && errno != EINTR) {
			plog_at(PLOG_ERROR, "poll: %s", strerror(errno));
			break;
		}
		if (ret > 0 && (p[1].revents & POLLIN)) {
			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				plog_at(PLOG_INFO, "signal %u: stopping", si.ssi_signo);
				stop = 1;
			}
		}
		if (ret > 0 && (p[0].revents & (POLLIN | POLLERR)))
			tcmu_nl_dispatch(dm.nl);
		if (ret > 0 && (p[2].revents & POLLIN))
			take_hints(&dm, place_fd);
		/* Devices whose uio vanished without a REMOVED_DEVICE (netlink was blocked). */
		for (i = 0; i < dm.ndevs;) {
			if (device_gone(dm.devs[i]))
				remove_dev(&dm, &dm.devs[i], "uio device gone");
			else
				i++;
		}
		sweep_mirrors(&dm, 0);
	}

	while (dm.ndevs)
		remove_dev(&dm, &dm.devs[dm.ndevs - 1], "daemon stopping");
	free(dm.devs);
	iopool_free(dm.env.pool);
	ret = tcmu_nl_set_reply_mode(dm.nl, 0);
	if (ret < 0)
		plog_at(PLOG_WARN, "cannot turn netlink replies off: %s", strerror(-ret));
	tcmu_nl_close(dm.nl);
	dbus_service_stop();
	if (place_fd >= 0) {
		close(place_fd);
		unlink(place_socket);
	}
	close(sfd);
	plog_at(PLOG_INFO, "stopped");
	return stop ? 0 : 1;
}
