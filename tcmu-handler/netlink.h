/*
 * netlink.h — the generic netlink family "TCM-USER" (target_core_user), spoken with
 * libnl-3 / libnl-genl-3.
 *
 * The kernel multicasts ADDED_DEVICE, REMOVED_DEVICE and RECONFIG_DEVICE events on
 * the group "config"; each carries TCMU_ATTR_DEVICE (the uio name),
 * TCMU_ATTR_MINOR (the uio minor) and TCMU_ATTR_DEVICE_ID (se_device dev_index), and
 * a RECONFIG carries one of TCMU_ATTR_DEV_CFG, TCMU_ATTR_DEV_SIZE or
 * TCMU_ATTR_WRITECACHE. Once a daemon has sent SET_FEATURES with
 * TCMU_ATTR_SUPP_KERN_CMD_REPLY=1, the kernel blocks the configfs write that caused
 * an event (enable, rmdir, attribute write) until the matching *_DONE reply arrives,
 * and fails that write with the reply's TCMU_ATTR_CMD_STATUS when it is non-zero
 * (../shared/lio-tcmu-facts.md §1.4). This module therefore replies to EVERY event
 * that names a device id: with the handler's status, or -EINVAL for an event it
 * cannot parse.
 *
 * Threading: one thread (the daemon's main loop) owns a struct tcmu_nl; the event
 * callback runs on that thread, inside tcmu_nl_dispatch().
 */
#ifndef SCSIPUB_NETLINK_H
#define SCSIPUB_NETLINK_H

#include <stddef.h>
#include <stdint.h>

/* The generic netlink version of the family (the kernel registers version 2). */
#define TCMU_NL_VERSION 2

/* What a RECONFIG_DEVICE event asks to change. */
enum tcmu_nl_reconfig {
	TCMU_NL_RECONFIG_NONE = 0,   /* not a RECONFIG event */
	TCMU_NL_RECONFIG_DEV_CFG,    /* dev_config rewritten: ev->dev_cfg */
	TCMU_NL_RECONFIG_DEV_SIZE,   /* dev_size rewritten: ev->dev_size (bytes) */
	TCMU_NL_RECONFIG_WRITECACHE, /* emulate_write_cache rewritten: ev->write_cache */
};

/* One parsed event. Strings point into the received message: valid during the callback. */
struct tcmu_nl_event {
	int cmd;                 /* TCMU_CMD_ADDED_DEVICE, _REMOVED_DEVICE or _RECONFIG_DEVICE */
	uint32_t dev_id;         /* TCMU_ATTR_DEVICE_ID: identifies the device in the reply */
	uint32_t minor;          /* TCMU_ATTR_MINOR: the device is /dev/uio<minor> */
	const char *uio_name;    /* TCMU_ATTR_DEVICE; never NULL for ADDED, may be NULL else */
	enum tcmu_nl_reconfig reconfig; /* RECONFIG only: which attribute changed */
	const char *dev_cfg;     /* RECONFIG DEV_CFG: the new dev_config */
	uint64_t dev_size;       /* RECONFIG DEV_SIZE: the new size in bytes */
	uint8_t write_cache;     /* RECONFIG WRITECACHE: the new emulate_write_cache (0/1) */
};

/*
 * Returned by an event handler to send no *_DONE reply at all: the event concerns a
 * device of another TCMU daemon (e.g. tcmu-runner's qcow), and only that daemon may
 * answer; the kernel takes the first reply it gets (target_core_user.c
 * tcmu_genl_cmd_done).
 */
#define TCMU_NL_NO_REPLY 1

/*
 * Event handler: act on ev and return the status to send back in the *_DONE reply
 * (0 = success, or a negative errno, which the kernel returns from the configfs write
 * that caused the event), or TCMU_NL_NO_REPLY to stay silent.
 */
typedef int (*tcmu_nl_event_fn)(void *arg, const struct tcmu_nl_event *ev);

struct tcmu_nl;

/*
 * Connect to generic netlink, resolve the family "TCM-USER" and its multicast group
 * "config", join the group, then send SET_FEATURES with TCMU_ATTR_SUPP_KERN_CMD_REPLY
 * = 1 and wait (at most 5 s) for the kernel's acknowledgement. Events that arrive
 * meanwhile are already handed to fn. The socket is non-blocking afterwards.
 * Returns a new handle (caller owns; free with tcmu_nl_close), or NULL with errno
 * set and a reason in err: ENOENT when the family is not registered (target_core_user
 * not loaded), EPERM without CAP_NET_ADMIN, ETIMEDOUT when no acknowledgement came.
 */
struct tcmu_nl *tcmu_nl_open(tcmu_nl_event_fn fn, void *arg, char *err, size_t errlen);

/* The socket to poll for POLLIN. */
int tcmu_nl_fd(const struct tcmu_nl *nl);

/*
 * Receive and handle every message waiting on the socket: parse each event, call the
 * handler, send the *_DONE reply. Kernel error reports for our own messages are
 * logged. Returns 0 when the socket is drained, or a negative errno for a receive
 * error (-ENOBUFS: the receive buffer overran and events were lost; this is logged
 * and the caller may simply continue).
 */
int tcmu_nl_dispatch(struct tcmu_nl *nl);

/*
 * Send SET_FEATURES with TCMU_ATTR_SUPP_KERN_CMD_REPLY = on (0/1) without waiting
 * for an acknowledgement (errors are logged when they come back). A clean shutdown
 * sends 0, so configfs writes made while no daemon runs do not block waiting for a
 * reply. Returns 0 or a negative errno from sending.
 */
int tcmu_nl_set_reply_mode(struct tcmu_nl *nl, int on);

/*
 * Send a *_DONE reply: done_cmd (TCMU_CMD_ADDED_DEVICE_DONE, _REMOVED_DEVICE_DONE or
 * _RECONFIG_DEVICE_DONE) carrying TCMU_ATTR_CMD_STATUS = status and
 * TCMU_ATTR_DEVICE_ID = dev_id. tcmu_nl_dispatch() calls it for every event; it is
 * public for replies that must be sent out of band. Returns 0 or a negative errno.
 */
int tcmu_nl_reply(struct tcmu_nl *nl, int done_cmd, uint32_t dev_id, int32_t status);

/* Leave the group, close the socket, free. NULL is allowed. Sends nothing. */
void tcmu_nl_close(struct tcmu_nl *nl);

/* Name of a TCMU_CMD_* value for log lines ("ADDED_DEVICE", ...; "UNKNOWN" otherwise). */
const char *tcmu_nl_cmd_name(int cmd);

#endif
