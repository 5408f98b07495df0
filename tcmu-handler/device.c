/*
 * device.c — one TCMU device served by scsipub-tcmu (see device.h): uio name parsing,
 * sysfs/configfs helpers, the per-device worker thread that reads the command ring,
 * and the running of each command (on the daemon's command threads, iopool.h) under
 * the device's logical-unit lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cow.h"
#include "cow_config.h"
#include "device.h"
#include "iopool.h"
#include "pinpolicy.h"
#include "placehint.h"
#include "log.h"
#include "ring.h"
#include "scsi.h"
#include "reason.h"
#include "monotime.h"

/* ---- served devices -------------------------------------------------------------- */

struct device {
	unsigned minor;
	int reply_awaited;        /* device_reply_awaited() at open */
	char uio_name[600];
	char label[300];          /* user_<hba>/<dev> */
	struct device_name name;
	struct cow_config cfg;    /* the dev_config, parsed once by device_open */
	struct ring ring;
	struct cow *cow;
	struct scsi_lu lu;
	pthread_t worker;
	int worker_started;
	int stop_fd;              /* eventfd: non-zero = stop */
	atomic_int write_cache;   /* requested WCE, applied by the worker */
	atomic_int gone;
	atomic_int hint_cpu;      /* LIO's CPU for the device's connection, or -1 */
	struct pinpolicy pin;     /* the worker's: on hint_cpu now or not */
	cpu_set_t free_cpus;      /* the worker's affinity when not on hint_cpu */
	uint64_t disk_reserve;    /* env->disk_reserve, for the log line */
	char unusable[256];       /* why the cow store could not open; "" = served */
	struct iopool *pool;      /* env->pool: where commands run; NULL = the worker */
	/*
	 * The logical unit's lock: commands scsi_cmd_shares_lu() lets overlap hold it
	 * shared, every other command and a WCE change hold it exclusively (cow.h's
	 * rules for concurrent calls). Writers are preferred, so a SYNCHRONIZE CACHE is
	 * not starved by a stream of reads.
	 */
	pthread_rwlock_t lu_lock;
	int lu_lock_ready;
	pthread_mutex_t run_mu;   /* inflight, space_refused, space_logged */
	pthread_cond_t idle;      /* inflight went to 0 */
	int run_ready;
	unsigned inflight;        /* commands handed to the pool, not yet completed */
	atomic_uint kicks_owed;   /* completions not yet told to the kernel (kick_owed) */
	unsigned long space_refused; /* writes refused for space since the last log line */
	int64_t space_logged;     /* CLOCK_MONOTONIC seconds of that line; 0 = never */
};

/* One command on its way through the pool. */
struct job {
	struct device *d;
	struct ring_req *q;
};

#define SPACE_LOG_INTERVAL_S 60

/* The dir of the backstore in configfs: <root>/core/user_<hba>/<dev>. */
static int backstore_path(const struct device_env *env, const struct device_name *n,
			  const char *rel, char *buf, size_t buflen)
{
	int len = snprintf(buf, buflen, "%s/core/user_%u/%s/%s", env->configfs_root, n->hba,
			   n->dev, rel);

	return len < 0 || (size_t)len >= buflen ? -ENAMETOOLONG : 0;
}

/*
 * The backstore's configfs dir, open O_PATH for device_read_small_at(), or -errno: the
 * reads through it then fail alike.
 */
static int open_backstore_dir(const struct device_env *env, const struct device_name *n)
{
	char path[PATH_MAX];
	int fd;

	if (backstore_path(env, n, "", path, sizeof(path)) < 0)
		return -ENAMETOOLONG;
	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Read an unsigned number from a configfs attribute of the backstore dir bdir
 * (open_backstore_dir); -errno when unavailable. */
static int read_attr_u64(int bdir, const char *rel, uint64_t *out)
{
	char buf[64], *end;
	ssize_t len;

	if (bdir < 0)
		return bdir;
	len = device_read_small_at(bdir, rel, buf, sizeof(buf));
	if (len < 0)
		return (int)len;
	errno = 0;
	*out = strtoull(buf, &end, 0);
	if (errno || end == buf)
		return -EINVAL;
	return 0;
}

/* attrib/nl_reply_supported > 0 under the backstore dir bdir (unreadable: 1). */
static int reply_awaited_at(int bdir)
{
	char buf[32], *end;
	ssize_t len;
	long v;

	if (bdir < 0)
		return 1;
	len = device_read_small_at(bdir, "attrib/nl_reply_supported", buf, sizeof(buf));
	if (len <= 0)
		return 1;
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno || end == buf)
		return 1;
	return v > 0;
}

int device_reply_awaited(const struct device_env *env, const char *uio_name)
{
	struct device_name n;
	int bdir, v;

	if (device_parse_uio_name(uio_name, &n) < 0)
		return 1;
	bdir = open_backstore_dir(env, &n);
	v = reply_awaited_at(bdir);
	if (bdir >= 0)
		close(bdir);
	return v;
}

int device_awaits_reply(const struct device *d)
{
	return d->reply_awaited;
}

/* Write an action attribute for the restart protocol; failures are logged only. */
static void write_action(const struct device_env *env, const struct device_name *n,
			 const char *rel, const char *value)
{
	char path[PATH_MAX];
	int ret;

	ret = backstore_path(env, n, rel, path, sizeof(path));
	if (ret == 0)
		ret = device_write_attr(path, value);
	if (ret < 0)
		plog_at(PLOG_WARN, "user_%u/%s: cannot write %s to %s: %s", n->hba, n->dev,
			value, rel, strerror(-ret));
}

/*
 * The unit serial: wwn/vpd_unit_serial reads "T10 VPD Unit Serial Number: <serial>";
 * empty or unreadable → the backstore name.
 */
static void fill_serial(int bdir, const struct device_name *n, char *serial, size_t len)
{
	static const char tag[] = "T10 VPD Unit Serial Number:";
	char buf[512];
	const char *s = "";
	size_t copy;

	if (bdir >= 0 && device_read_small_at(bdir, "wwn/vpd_unit_serial", buf, sizeof(buf)) >= 0) {
		s = buf;
		if (strncmp(s, tag, sizeof(tag) - 1) == 0)
			s += sizeof(tag) - 1;
		while (*s == ' ' || *s == '\t')
			s++;
	}
	if (!*s)
		s = n->dev;
	copy = strnlen(s, len - 1);
	memcpy(serial, s, copy);
	serial[copy] = '\0';
}

/*
 * A write refused with DATA PROTECT / SPACE ALLOCATION FAILED WRITE PROTECT (the state
 * filesystem at its reserve, or full): tell the operator, at most once a minute per
 * device, with the count since the last line. Any thread (run_mu).
 */
static void note_space_refusal(struct device *d, int status, const struct scsi_cmd *cmd)
{
	int64_t now;

	if (status != SCSI_STATUS_CHECK_CONDITION ||
	    (cmd->sense[2] & 0x0f) != SENSE_DATA_PROTECT ||
	    cmd->sense[12] != ASC_SPACE_ALLOC_FAILED >> 8 ||
	    cmd->sense[13] != (ASC_SPACE_ALLOC_FAILED & 0xff))
		return;
	pthread_mutex_lock(&d->run_mu);
	d->space_refused++;
	now = monotime_s();
	if (d->space_logged && now - d->space_logged < SPACE_LOG_INTERVAL_S) {
		pthread_mutex_unlock(&d->run_mu);
		return;
	}
	plog_at(PLOG_WARN,
		"%s: %lu write%s refused: no space on the state filesystem (reserve "
		"%" PRIu64
		" bytes): DATA PROTECT / SPACE ALLOCATION FAILED WRITE PROTECT; reads "
		"and overwrites go on (logged at most once per %d s)", d->label,
		d->space_refused, d->space_refused == 1 ? "" : "s", d->disk_reserve,
		SPACE_LOG_INTERVAL_S);
	d->space_logged = now ? now : 1;
	d->space_refused = 0;
	pthread_mutex_unlock(&d->run_mu);
}

static int exec_cmd(void *arg, struct scsi_cmd *cmd)
{
	struct device *d = arg;
	int status;

	/* No store behind it (device_unusable): every command, a clean NOT READY. */
	if (!d->cow) {
		cmd->data_in_len = 0;
		return sense_set(cmd->sense, sizeof(cmd->sense), SENSE_NOT_READY,
				 ASC_NOT_READY_MANUAL_INTERVENTION);
	}
	status = scsi_execute(&d->lu, cmd);

	note_space_refusal(d, status, cmd);
	return status;
}

/* Report a failed kick; -1 when the uio device is gone (the device must stop). */
static int kick(struct device *d)
{
	int ret = ring_kick(&d->ring);

	if (ret == -EIO || ret == -ENODEV) {
		if (!atomic_exchange(&d->gone, 1))
			plog_at(PLOG_WARN, "%s: uio device went away", d->label);
		return -1;
	}
	if (ret < 0)
		plog_at(PLOG_ERROR, "%s: cannot notify the kernel: %s", d->label,
			strerror(-ret));
	return 0;
}

/*
 * Tell the kernel about a completion, once for all that finish together: the first
 * thread to owe a kick makes it, and makes another for each round of completions that
 * came while it was kicking; the others leave at once. Any thread.
 */
static void kick_owed(struct device *d)
{
	unsigned owed;

	if (atomic_fetch_add(&d->kicks_owed, 1) > 0)
		return; /* the thread kicking now kicks again for this one */
	do {
		owed = atomic_load(&d->kicks_owed);
		kick(d);
	} while (!atomic_compare_exchange_strong(&d->kicks_owed, &owed, 0));
}

/*
 * Execute one command under the logical unit's lock: shared or exclusive, as
 * scsi_cmd_shares_lu says with the lock held shared (so the WCE it reads is stable).
 * A ring_cmd_fn; any thread.
 */
static int exec_locked(void *arg, struct scsi_cmd *cmd)
{
	struct device *d = arg;
	int status;

	pthread_rwlock_rdlock(&d->lu_lock);
	if (!scsi_cmd_shares_lu(&d->lu, cmd->cdb)) {
		pthread_rwlock_unlock(&d->lu_lock);
		pthread_rwlock_wrlock(&d->lu_lock);
	}
	status = exec_cmd(d, cmd);
	pthread_rwlock_unlock(&d->lu_lock);
	return status;
}

/* A pool thread's job: one command, its kick, then the device's count of them. */
static void run_job(void *arg)
{
	struct job *j = arg;
	struct device *d = j->d;

	ring_run(j->q, &d->ring, exec_locked, d);
	kick_owed(d);
	free(j);
	pthread_mutex_lock(&d->run_mu);
	if (--d->inflight == 0)
		pthread_cond_broadcast(&d->idle);
	pthread_mutex_unlock(&d->run_mu);
}

struct iopool *device_pool_new(unsigned threads, char *err, size_t errlen)
{
	return iopool_new(threads, run_job, err, errlen);
}

/*
 * Hand q to the pool (1), or run it here when there is none or it refused the job (0:
 * completed on the ring, the caller owes the kernel a kick).
 */
static int dispatch(struct device *d, struct ring_req *q)
{
	struct job *j = d->pool ? malloc(sizeof(*j)) : NULL;

	if (j) {
		j->d = d;
		j->q = q;
		pthread_mutex_lock(&d->run_mu);
		d->inflight++;
		pthread_mutex_unlock(&d->run_mu);
		if (iopool_run(d->pool, j) == 0)
			return 1;
		free(j);
		pthread_mutex_lock(&d->run_mu);
		d->inflight--;
		pthread_mutex_unlock(&d->run_mu);
	}
	ring_run(q, &d->ring, exec_locked, d);
	return 0;
}

/* Wait until every command handed to the pool has completed. */
static void wait_idle(struct device *d)
{
	pthread_mutex_lock(&d->run_mu);
	while (d->inflight)
		pthread_cond_wait(&d->idle, &d->run_mu);
	pthread_mutex_unlock(&d->run_mu);
}

/*
 * Take over a WCE change (device_set_write_cache) before the next command, with the
 * logical unit to itself (commands already running finish under the old setting).
 * When the cache goes off, what earlier writes left in it is flushed first, so that
 * from now on every completed write is durable, as WCE = 0 says (SBC-3 §6.4.5).
 * Worker thread only.
 */
static void apply_write_cache(struct device *d)
{
	int want = atomic_load(&d->write_cache), rc;

	if (want == d->lu.write_cache) /* only this thread changes it */
		return;
	pthread_rwlock_wrlock(&d->lu_lock);
	if (!want && d->cow) {
		rc = cow_flush(d->cow);
		if (rc)
			plog_at(PLOG_ERROR, "%s: flushing the write cache as it goes off: %s",
				d->label, strerror(-rc));
	}
	d->lu.write_cache = want;
	pthread_rwlock_unlock(&d->lu_lock);
}

/* Bytes of data a command carries (its data-out or data-in buffers). */
static size_t req_bytes(const struct ring_req *q)
{
	size_t n = 0;

	for (int i = 0; i < q->iov_cnt; i++)
		n += q->iov[i].iov_len;
	return n;
}

/* Largest command of a calm wakeup (pinpolicy.h): a readahead-sized read still is. */
#define PLACE_SMALL_BYTES (128u * 1024)

/*
 * The worker's CPU after a wakeup that brought cmds commands, the largest of max_bytes
 * (pinpolicy.h): on the hinted CPU while commands come one small one at a time,
 * anywhere it may run otherwise.
 */
static void place_worker(struct device *d, unsigned cmds, size_t max_bytes)
{
	int hint = atomic_load(&d->hint_cpu);
	enum pinpolicy_wake w = !cmds ? PINPOLICY_IDLE :
		cmds == 1 && max_bytes <= PLACE_SMALL_BYTES ? PINPOLICY_CALM : PINPOLICY_BUSY;
	int r = pinpolicy_apply(&d->pin, pinpolicy_wake(&d->pin, hint, w), &d->free_cpus);

	if (r < 0)
		plog_at(PLOG_DEBUG, "%s: worker placement (LIO's CPU %d): %s", d->label, hint,
			strerror(-r));
}

/*
 * Read every command queued on the ring and dispatch it; what completed on this thread
 * is told to the kernel with one kick at the end (pool threads kick for their own).
 * Returns 0, or -1 when the device must stop (gone or broken).
 */
static int drain(struct device *d)
{
	struct ring_req *q, *held = NULL;
	char err[256] = "";
	int n, answered = 0;
	unsigned cmds = 0;
	size_t bytes, max_bytes = 0;

	apply_write_cache(d);
	/*
	 * Every command but the last one read goes to the pool; the last one runs here,
	 * which saves a handoff, and all of it when commands come one at a time (QD1).
	 */
	while ((n = ring_next(&d->ring, &q, err, sizeof(err))) > 0) {
		cmds++;
		if (!q) {
			answered = 1; /* consumed here, or answered at once */
			continue;
		}
		bytes = req_bytes(q);
		if (bytes > max_bytes)
			max_bytes = bytes;
		if (held && !dispatch(d, held))
			answered = 1;
		held = q;
	}
	if (held) {
		ring_run(held, &d->ring, exec_locked, d);
		answered = 1;
	}
	place_worker(d, cmds, max_bytes);
	if (err[0] && n >= 0)
		plog_at(PLOG_ERROR, "%s: %s", d->label, err);
	if (answered && kick(d) < 0)
		return -1;
	if (n < 0) {
		plog_at(PLOG_ERROR, "%s: command ring is inconsistent (%s); no longer served",
			d->label, err);
		return -1;
	}
	return atomic_load(&d->gone) ? -1 : 0;
}

/* The logical unit's lock (writers preferred) and the in-flight count. 0 or -1. */
static int init_locks(struct device *d)
{
	pthread_rwlockattr_t a;
	int rc;

	if (pthread_rwlockattr_init(&a) != 0)
		return -1;
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	rc = pthread_rwlock_init(&d->lu_lock, &a);
	pthread_rwlockattr_destroy(&a);
	if (rc != 0)
		return -1;
	d->lu_lock_ready = 1;
	if (pthread_mutex_init(&d->run_mu, NULL) != 0)
		return -1;
	if (pthread_cond_init(&d->idle, NULL) != 0) {
		pthread_mutex_destroy(&d->run_mu);
		return -1;
	}
	d->run_ready = 1;
	return 0;
}

static void *worker_main(void *arg)
{
	struct device *d = arg;
	struct pollfd p[2];
	int ret;

	p[0].fd = ring_fd(&d->ring);
	p[0].events = POLLIN;
	p[1].fd = d->stop_fd;
	p[1].events = POLLIN;
	if (sched_getaffinity(0, sizeof(d->free_cpus), &d->free_cpus) < 0)
		for (int i = 0; i < CPU_SETSIZE; i++)  /* the kernel keeps what is allowed */
			CPU_SET(i, &d->free_cpus);
	/* Commands queued before we attached (or while the ring was reset). */
	if (drain(d) < 0) {
		atomic_store(&d->gone, 1);
		return NULL;
	}
	for (;;) {
		ret = poll(p, 2, -1);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			plog_at(PLOG_ERROR, "%s: poll: %s", d->label, strerror(errno));
			atomic_store(&d->gone, 1);
			return NULL;
		}
		if (p[1].revents) {
			/* Stop: complete what is already queued, then leave. */
			ret = ring_ack(&d->ring);
			if (ret == 0)
				drain(d);
			return NULL;
		}
		if (p[0].revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL)) {
			ret = ring_ack(&d->ring);
			if (ret == -EIO || ret == -ENODEV || (p[0].revents & POLLNVAL)) {
				plog_at(PLOG_WARN, "%s: uio device went away", d->label);
				atomic_store(&d->gone, 1);
				return NULL;
			}
			if (ret < 0)
				plog_at(PLOG_ERROR, "%s: uio read: %s", d->label,
					strerror(-ret));
			if (drain(d) < 0) {
				atomic_store(&d->gone, 1);
				return NULL;
			}
		}
	}
}

int device_open(const struct device_env *env, unsigned minor, const char *uio_name,
		int reattach, struct device **out, char *err, size_t errlen)
{
	char sysname[sizeof(((struct device *)0)->uio_name)];
	char cerr[256] = "";
	struct device *d;
	int blocked = 0, bdir = -1;
	uint64_t v;
	int ret;

	*out = NULL;
	ret = device_read_uio_name(env->uio_sysfs, minor, sysname, sizeof(sysname));
	if (ret == 0 && uio_name && strcmp(sysname, uio_name) != 0) {
		return reason_fail(err, errlen, -ENODEV,
				   "uio%u is now named \"%s\", not \"%s\"", minor, sysname,
				   uio_name);
	}
	if (ret < 0 && !uio_name) {
		return reason_fail(err, errlen, ret == -ENOENT ? -ENODEV : ret,
				   "cannot read the name of uio%u: %s", minor, strerror(-ret));
	}
	if (!uio_name)
		uio_name = sysname;
	if (strlen(uio_name) >= sizeof(d->uio_name)) {
		return reason_fail(err, errlen, -EINVAL, "uio%u: name too long", minor);
	}

	d = calloc(1, sizeof(*d));
	if (!d) {
		return reason_fail(err, errlen, -ENOMEM, "out of memory");
	}
	atomic_store(&d->hint_cpu, -1);
	pinpolicy_init(&d->pin);
	d->stop_fd = -1;
	d->ring.fd = -1;
	d->minor = minor;
	d->pool = env->pool;
	if (init_locks(d) < 0) {
		ret = reason_fail(err, errlen, -ENOMEM, "uio%u: cannot make its locks", minor);
		goto fail;
	}
	snprintf(d->uio_name, sizeof(d->uio_name), "%s", uio_name);
	ret = device_parse_uio_name(uio_name, &d->name);
	if (ret < 0) {
		ret = reason_fail(err, errlen, -EINVAL,
				  "uio%u: not a TCMU device name: \"%s\"", minor, uio_name);
		goto fail;
	}
	snprintf(d->label, sizeof(d->label), "user_%u/%s", d->name.hba, d->name.dev);
	if (strcmp(d->name.subtype, COW_CONFIG_SUBTYPE) != 0) {
		ret = reason_fail(err, errlen, -ENOENT,
				  "%s: subtype \"%s\" is not ours (\"%s\")", d->label,
				  d->name.subtype, COW_CONFIG_SUBTYPE);
		goto fail;
	}
	ret = cow_config_parse(d->name.config + strlen(COW_CONFIG_SUBTYPE "/"), &d->cfg, cerr,
			       sizeof(cerr));
	if (ret < 0) {
		ret = reason_fail(err, errlen, -EINVAL, "%s: bad dev_config: %s", d->label,
				  cerr);
		goto fail;
	}
	/* The SCSI layer speaks 512-byte blocks; the kernel must agree. */
	bdir = open_backstore_dir(env, &d->name);
	if (read_attr_u64(bdir, "attrib/hw_block_size", &v) == 0 &&
	    v != SCSI_BLOCK_SIZE) {
		ret = reason_fail(err, errlen, -EINVAL, "%s: hw_block_size %" PRIu64
				  " is not supported (only %u)", d->label, v, SCSI_BLOCK_SIZE);
		goto fail;
	}

	if (reattach) {
		write_action(env, &d->name, "action/block_dev", "1");
		write_action(env, &d->name, "action/reset_ring", "1");
		blocked = 1;
	}
	ret = ring_open(&d->ring, minor, env->uio_sysfs, env->dev_dir, cerr, sizeof(cerr));
	if (ret < 0) {
		reason_fail(err, errlen, ret, "%s: %s", d->label, cerr);
		goto fail;
	}
	d->reply_awaited = reply_awaited_at(bdir);
	d->cow = cow_open(&d->cfg, env->mirror_dir, cerr, sizeof(cerr));
	if (!d->cow) {
		ret = errno ? -errno : -EIO;
		reason_fail(err, errlen, ret, "%s: %s", d->label, cerr);
		/* A waiting kernel learns it from our reply; otherwise the ring is served. */
		if (d->reply_awaited)
			goto fail;
		snprintf(d->unusable, sizeof(d->unusable), "%s", cerr);
	}
	d->disk_reserve = env->disk_reserve;
	if (d->cow)
		cow_set_reserve(d->cow, env->disk_reserve, NULL, NULL);

	d->lu.cow = d->cow;
	d->lu.write_protect = d->cfg.read_only;
	fill_serial(bdir, &d->name, d->lu.serial, sizeof(d->lu.serial));
	if (read_attr_u64(bdir, "attrib/hw_max_sectors", &v) == 0 && v > 0 &&
	    v <= UINT32_MAX)
		d->lu.max_xfer_blocks = (uint32_t)v;
	else
		d->lu.max_xfer_blocks = 128;
	if (read_attr_u64(bdir, "attrib/emulate_write_cache", &v) == 0)
		atomic_store(&d->write_cache, v ? 1 : 0);
	if (bdir >= 0)
		close(bdir);
	bdir = -1;
	d->lu.write_cache = atomic_load(&d->write_cache);

	d->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->stop_fd < 0) {
		ret = -errno;
		reason_fail(err, errlen, ret, "%s: eventfd: %s", d->label, strerror(errno));
		goto fail;
	}
	ret = pthread_create(&d->worker, NULL, worker_main, d);
	if (ret) {
		ret = reason_fail(err, errlen, -ret, "%s: cannot start the worker: %s",
				  d->label, strerror(ret));
		goto fail;
	}
	d->worker_started = 1;
	if (reattach)
		write_action(env, &d->name, "action/block_dev", "0");
	*out = d;
	return 0;

fail:
	if (bdir >= 0)
		close(bdir);
	if (blocked)
		write_action(env, &d->name, "action/block_dev", "0");
	device_close(d);
	return ret;
}

const char *device_unusable(const struct device *d)
{
	return d->unusable[0] ? d->unusable : NULL;
}

void device_close(struct device *d)
{
	uint64_t one = 1;

	if (!d)
		return;
	if (d->worker_started) {
		while (write(d->stop_fd, &one, sizeof(one)) < 0 && errno == EINTR)
			;
		pthread_join(d->worker, NULL);
	}
	/* Commands still running on the pool use the ring and the store. */
	if (d->run_ready)
		wait_idle(d);
	if (d->stop_fd >= 0)
		close(d->stop_fd);
	ring_close(&d->ring);
	cow_close(d->cow);
	if (d->run_ready) {
		pthread_cond_destroy(&d->idle);
		pthread_mutex_destroy(&d->run_mu);
	}
	if (d->lu_lock_ready)
		pthread_rwlock_destroy(&d->lu_lock);
	free(d);
}

void device_set_write_cache(struct device *d, int on)
{
	atomic_store(&d->write_cache, on ? 1 : 0);
}

int device_write_cache(const struct device *d)
{
	return atomic_load(&((struct device *)d)->write_cache);
}

unsigned device_minor(const struct device *d)
{
	return d->minor;
}

const char *device_uio_name(const struct device *d)
{
	return d->uio_name;
}

const char *device_label(const struct device *d)
{
	return d->label;
}

const char *device_backstore(const struct device *d)
{
	return d->name.dev;
}

int device_place(struct device *d, int cpu)
{
	int r = cpu == PLACEHINT_NONE ? 0 : pinpolicy_may_run_on(cpu);

	if (r < 0)
		return r;
	return atomic_exchange(&d->hint_cpu, cpu) != cpu;
}

const struct cow_config *device_config(const struct device *d)
{
	return &d->cfg;
}

const char *device_dev_config(const struct device *d)
{
	return d->name.config;
}

int device_gone(const struct device *d)
{
	return atomic_load(&((struct device *)d)->gone);
}
