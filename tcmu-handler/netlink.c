/*
 * netlink.c — the generic netlink family "TCM-USER" (see netlink.h), over libnl-3.
 *
 * One socket does everything: it resolves the family, joins the multicast group
 * "config" (events), and sends our SET_FEATURES request and *_DONE replies to the
 * kernel. Sequence checking is off because events are unsolicited (sequence 0);
 * acknowledgements and error reports are matched by hand against the sequence number
 * of the SET_FEATURES request we wait for.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <netlink/netlink.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/family.h>

#include <sys/uio.h>
/* Only glibc's struct iovec may exist (see ring.h). */
#ifndef __LINUX_UIO_H
#define __LINUX_UIO_H
#endif
#include <linux/target_core_user.h>

#include "device.h"
#include "log.h"
#include "netlink.h"
#include "reason.h"
#include "monotime.h"

#define TCMU_NL_FAMILY "TCM-USER"
#define TCMU_NL_GROUP  "config"
#define TCMU_NL_ACK_TIMEOUT_MS 5000

struct tcmu_nl {
	struct nl_sock *sock;
	struct nl_cb *cb;        /* the socket's callback set (a reference we hold) */
	int family;              /* generic netlink family id of TCM-USER */
	int group;               /* multicast group id of "config" */
	tcmu_nl_event_fn fn;
	void *arg;
	/* The one request whose acknowledgement tcmu_nl_open() waits for. */
	unsigned wait_seq;       /* 0 = not waiting */
	int wait_done;
	int wait_err;            /* 0 or a negative errno from the kernel */
};

static struct nla_policy tcmu_policy[TCMU_ATTR_MAX + 1] = {
	[TCMU_ATTR_DEVICE] = { .type = NLA_STRING },
	[TCMU_ATTR_MINOR] = { .type = NLA_U32 },
	[TCMU_ATTR_DEV_CFG] = { .type = NLA_STRING },
	[TCMU_ATTR_DEV_SIZE] = { .type = NLA_U64 },
	[TCMU_ATTR_WRITECACHE] = { .type = NLA_U8 },
	[TCMU_ATTR_CMD_STATUS] = { .type = NLA_S32 },
	[TCMU_ATTR_DEVICE_ID] = { .type = NLA_U32 },
	[TCMU_ATTR_SUPP_KERN_CMD_REPLY] = { .type = NLA_U8 },
};

/* A libnl error code (negative NLE_*) as a negative errno. */
static int nlerr_to_errno(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case 0:
		return 0;
	case NLE_AGAIN:
		return -EAGAIN;
	case NLE_INTR:
		return -EINTR;
	case NLE_NOMEM:
		/* libnl maps ENOBUFS (receive buffer overrun) to NLE_NOMEM too. */
		return -ENOBUFS;
	case NLE_PERM:
		return -EPERM;
	case NLE_NOACCESS:
		return -EACCES;
	case NLE_OBJ_NOTFOUND:
		return -ENOENT;
	case NLE_INVAL:
		return -EINVAL;
	case NLE_BAD_SOCK:
		return -EBADF;
	case NLE_MSGSIZE:
		return -EMSGSIZE;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_NODEV:
		return -ENODEV;
	case NLE_OPNOTSUPP:
		return -EOPNOTSUPP;
	default:
		return -EIO;
	}
}

const char *tcmu_nl_cmd_name(int cmd)
{
	switch (cmd) {
	case TCMU_CMD_ADDED_DEVICE:
		return "ADDED_DEVICE";
	case TCMU_CMD_REMOVED_DEVICE:
		return "REMOVED_DEVICE";
	case TCMU_CMD_RECONFIG_DEVICE:
		return "RECONFIG_DEVICE";
	case TCMU_CMD_ADDED_DEVICE_DONE:
		return "ADDED_DEVICE_DONE";
	case TCMU_CMD_REMOVED_DEVICE_DONE:
		return "REMOVED_DEVICE_DONE";
	case TCMU_CMD_RECONFIG_DEVICE_DONE:
		return "RECONFIG_DEVICE_DONE";
	case TCMU_CMD_SET_FEATURES:
		return "SET_FEATURES";
	default:
		return "UNKNOWN";
	}
}

/* The *_DONE command that answers event cmd, or 0 when cmd is not an event. */
static int done_cmd_for(int cmd)
{
	switch (cmd) {
	case TCMU_CMD_ADDED_DEVICE:
		return TCMU_CMD_ADDED_DEVICE_DONE;
	case TCMU_CMD_REMOVED_DEVICE:
		return TCMU_CMD_REMOVED_DEVICE_DONE;
	case TCMU_CMD_RECONFIG_DEVICE:
		return TCMU_CMD_RECONFIG_DEVICE_DONE;
	default:
		return 0;
	}
}

/*
 * Build and send one request of our family. flags are extra nlmsg flags (NLM_F_ACK);
 * *seq receives the sequence number used. Returns 0 or a negative errno.
 */
static int send_request(struct tcmu_nl *nl, int cmd, int flags,
			int (*fill)(struct nl_msg *msg, const void *arg), const void *arg,
			unsigned *seq)
{
	struct nl_msg *msg;
	int ret;

	msg = nlmsg_alloc();
	if (!msg)
		return -ENOMEM;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, nl->family, 0, flags, cmd,
			 TCMU_NL_VERSION)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	ret = fill(msg, arg);
	if (ret < 0) {
		nlmsg_free(msg);
		return nlerr_to_errno(ret);
	}
	ret = nl_send_auto(nl->sock, msg);
	if (ret >= 0 && seq)
		*seq = nlmsg_hdr(msg)->nlmsg_seq;
	nlmsg_free(msg);
	return ret < 0 ? nlerr_to_errno(ret) : 0;
}

struct reply_args {
	uint32_t dev_id;
	int32_t status;
};

static int fill_reply(struct nl_msg *msg, const void *arg)
{
	const struct reply_args *a = arg;
	int ret;

	ret = nla_put_s32(msg, TCMU_ATTR_CMD_STATUS, a->status);
	if (ret >= 0)
		ret = nla_put_u32(msg, TCMU_ATTR_DEVICE_ID, a->dev_id);
	return ret;
}

static int fill_features(struct nl_msg *msg, const void *arg)
{
	return nla_put_u8(msg, TCMU_ATTR_SUPP_KERN_CMD_REPLY, *(const uint8_t *)arg);
}

int tcmu_nl_reply(struct tcmu_nl *nl, int done_cmd, uint32_t dev_id, int32_t status)
{
	struct reply_args a = { .dev_id = dev_id, .status = status };

	return send_request(nl, done_cmd, 0, fill_reply, &a, NULL);
}

static int send_features(struct tcmu_nl *nl, int on, int flags, unsigned *seq)
{
	uint8_t v = on ? 1 : 0;

	return send_request(nl, TCMU_CMD_SET_FEATURES, flags, fill_features, &v, seq);
}

int tcmu_nl_set_reply_mode(struct tcmu_nl *nl, int on)
{
	return send_features(nl, on, 0, NULL);
}

/* NL_CB_ACK: the acknowledgement of a request sent with NLM_F_ACK. */
static int on_ack(struct nl_msg *msg, void *arg)
{
	struct tcmu_nl *nl = arg;

	if (nl->wait_seq && nlmsg_hdr(msg)->nlmsg_seq == nl->wait_seq) {
		nl->wait_done = 1;
		nl->wait_err = 0;
	}
	return NL_OK;
}

/* Error report from the kernel for one of our messages. */
static int on_error(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
	struct tcmu_nl *nl = arg;

	(void)who;
	if (nl->wait_seq && e->msg.nlmsg_seq == nl->wait_seq) {
		nl->wait_done = 1;
		nl->wait_err = e->error;
		return NL_SKIP;
	}
	/*
	 * The kernel answers a *_DONE for a device that was not waiting (replies are off
	 * for it) with -ENODEV; that is expected, not a problem.
	 */
	plog_at(e->error == -ENODEV ? PLOG_DEBUG : PLOG_WARN,
		"netlink: kernel rejected our message (seq %u): %s", e->msg.nlmsg_seq,
		strerror(-e->error));
	return NL_SKIP;
}

/* Find TCMU_ATTR_DEVICE_ID in an event that failed policy validation. */
static int raw_dev_id(struct nlmsghdr *nlh, uint32_t *dev_id)
{
	struct nlattr *a;

	a = nla_find(genlmsg_attrdata(nlmsg_data(nlh), 0),
		     genlmsg_attrlen(nlmsg_data(nlh), 0), TCMU_ATTR_DEVICE_ID);
	if (!a || nla_len(a) < (int)sizeof(uint32_t))
		return -1;
	*dev_id = nla_get_u32(a);
	return 0;
}

/*
 * Fill ev from the parsed attributes. Returns 0, or -EINVAL when an attribute the
 * event needs is missing.
 */
static int parse_event(struct nlattr **attrs, int cmd, struct tcmu_nl_event *ev,
		       const char **why)
{
	memset(ev, 0, sizeof(*ev));
	ev->cmd = cmd;
	if (!attrs[TCMU_ATTR_DEVICE_ID]) {
		*why = "no device id";
		return -EINVAL;
	}
	ev->dev_id = nla_get_u32(attrs[TCMU_ATTR_DEVICE_ID]);
	if (attrs[TCMU_ATTR_DEVICE])
		ev->uio_name = nla_get_string(attrs[TCMU_ATTR_DEVICE]);
	if (!attrs[TCMU_ATTR_MINOR]) {
		*why = "no uio minor";
		return -EINVAL;
	}
	ev->minor = nla_get_u32(attrs[TCMU_ATTR_MINOR]);
	if (cmd == TCMU_CMD_ADDED_DEVICE && !ev->uio_name) {
		*why = "no uio name";
		return -EINVAL;
	}
	if (cmd != TCMU_CMD_RECONFIG_DEVICE)
		return 0;
	if (attrs[TCMU_ATTR_DEV_CFG]) {
		ev->reconfig = TCMU_NL_RECONFIG_DEV_CFG;
		ev->dev_cfg = nla_get_string(attrs[TCMU_ATTR_DEV_CFG]);
	} else if (attrs[TCMU_ATTR_DEV_SIZE]) {
		ev->reconfig = TCMU_NL_RECONFIG_DEV_SIZE;
		ev->dev_size = nla_get_u64(attrs[TCMU_ATTR_DEV_SIZE]);
	} else if (attrs[TCMU_ATTR_WRITECACHE]) {
		ev->reconfig = TCMU_NL_RECONFIG_WRITECACHE;
		ev->write_cache = nla_get_u8(attrs[TCMU_ATTR_WRITECACHE]) ? 1 : 0;
	} else {
		*why = "RECONFIG without a changed attribute";
		return -EINVAL;
	}
	return 0;
}

/* NL_CB_VALID: one message of our family (an event), or anything else (ignored). */
static int on_valid(struct nl_msg *msg, void *arg)
{
	struct tcmu_nl *nl = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct nlattr *attrs[TCMU_ATTR_MAX + 1];
	struct tcmu_nl_event ev;
	struct genlmsghdr *g;
	const char *why = "";
	uint32_t dev_id;
	int done, ret, status;

	if (nlh->nlmsg_type != nl->family || !genlmsg_valid_hdr(nlh, 0))
		return NL_SKIP;
	g = genlmsg_hdr(nlh);
	done = done_cmd_for(g->cmd);
	if (!done) {
		plog_at(PLOG_DEBUG, "netlink: ignoring %s (%u)", tcmu_nl_cmd_name(g->cmd),
			g->cmd);
		return NL_SKIP;
	}

	ret = genlmsg_parse(nlh, 0, attrs, TCMU_ATTR_MAX, tcmu_policy);
	if (ret < 0) {
		why = nl_geterror(ret);
		ret = -EINVAL;
	} else {
		ret = parse_event(attrs, g->cmd, &ev, &why);
	}
	if (ret < 0) {
		if (raw_dev_id(nlh, &dev_id) < 0) {
			plog_at(PLOG_ERROR, "netlink: malformed %s without a device id (%s); "
				"cannot reply", tcmu_nl_cmd_name(g->cmd), why);
			return NL_SKIP;
		}
		plog_at(PLOG_ERROR, "netlink: malformed %s for device id %u: %s; replying %d",
			tcmu_nl_cmd_name(g->cmd), dev_id, why, -EINVAL);
		status = -EINVAL;
	} else {
		dev_id = ev.dev_id;
		plog_at(PLOG_DEBUG, "netlink: %s dev_id %u minor %u %s",
			tcmu_nl_cmd_name(ev.cmd), ev.dev_id, ev.minor,
			ev.uio_name ? ev.uio_name : "(no name)");
		status = nl->fn(nl->arg, &ev);
		if (status == TCMU_NL_NO_REPLY)
			return NL_OK;
	}
	ret = tcmu_nl_reply(nl, done, dev_id, status);
	if (ret < 0)
		plog_at(PLOG_ERROR, "netlink: cannot send %s for device id %u: %s",
			tcmu_nl_cmd_name(done), dev_id, strerror(-ret));
	return NL_OK;
}

/* Receive one batch: returns > 0 messages handled, 0 when drained, or -errno. */
static int recv_batch(struct tcmu_nl *nl)
{
	int ret = nl_recvmsgs_report(nl->sock, nl->cb);

	if (ret > 0)
		return ret;
	if (ret == 0 || ret == -NLE_AGAIN)
		return 0;
	return nlerr_to_errno(ret);
}

struct tcmu_nl *tcmu_nl_open(tcmu_nl_event_fn fn, void *arg, char *err, size_t errlen)
{
	struct tcmu_nl *nl;
	long long deadline;
	int ret, e = EIO;

	nl = calloc(1, sizeof(*nl));
	if (!nl) {
		errno = reason_fail(err, errlen, ENOMEM, "out of memory");
		return NULL;
	}
	nl->fn = fn;
	nl->arg = arg;
	nl->sock = nl_socket_alloc();
	if (!nl->sock) {
		e = reason_fail(err, errlen, ENOMEM, "cannot allocate a netlink socket");
		goto fail;
	}
	ret = genl_connect(nl->sock);
	if (ret < 0) {
		e = reason_fail(err, errlen, -nlerr_to_errno(ret),
				"cannot connect to generic netlink: %s", nl_geterror(ret));
		goto fail;
	}
	nl->family = genl_ctrl_resolve(nl->sock, TCMU_NL_FAMILY);
	if (nl->family < 0) {
		ret = nl->family;
		e = -nlerr_to_errno(ret);
		reason_fail(err, errlen, e, "generic netlink family %s not found: %s%s",
			    TCMU_NL_FAMILY, nl_geterror(ret),
			    e == ENOENT ? " (is target_core_user loaded?)" : "");
		goto fail;
	}
	nl->group = genl_ctrl_resolve_grp(nl->sock, TCMU_NL_FAMILY, TCMU_NL_GROUP);
	if (nl->group < 0) {
		ret = nl->group;
		e = -nlerr_to_errno(ret);
		reason_fail(err, errlen, e, "multicast group %s/%s not found: %s",
			    TCMU_NL_FAMILY, TCMU_NL_GROUP, nl_geterror(ret));
		goto fail;
	}

	/* From here on: unsolicited events, our own callbacks, acks matched by hand. */
	nl_socket_disable_seq_check(nl->sock);
	nl_socket_disable_auto_ack(nl->sock);
	nl_socket_modify_cb(nl->sock, NL_CB_VALID, NL_CB_CUSTOM, on_valid, nl);
	nl_socket_modify_cb(nl->sock, NL_CB_ACK, NL_CB_CUSTOM, on_ack, nl);
	nl_socket_modify_err_cb(nl->sock, NL_CB_CUSTOM, on_error, nl);
	nl->cb = nl_socket_get_cb(nl->sock);
	if (!nl->cb) {
		e = reason_fail(err, errlen, ENOMEM, "cannot get the netlink callback set");
		goto fail;
	}
	/* Room for bursts of events (many devices created at once); not fatal. */
	nl_socket_set_buffer_size(nl->sock, 1 << 20, 0);

	ret = nl_socket_add_membership(nl->sock, nl->group);
	if (ret < 0) {
		e = -nlerr_to_errno(ret);
		reason_fail(err, errlen, e, "cannot join %s/%s: %s", TCMU_NL_FAMILY,
			    TCMU_NL_GROUP, nl_geterror(ret));
		goto fail;
	}
	ret = nl_socket_set_nonblocking(nl->sock);
	if (ret < 0) {
		e = -nlerr_to_errno(ret);
		reason_fail(err, errlen, e, "cannot make the netlink socket non-blocking: %s",
			    nl_geterror(ret));
		goto fail;
	}

	ret = send_features(nl, 1, NLM_F_ACK, &nl->wait_seq);
	if (ret < 0) {
		e = -ret;
		reason_fail(err, errlen, e, "cannot send SET_FEATURES: %s", strerror(e));
		goto fail;
	}
	deadline = monotime_ms() + TCMU_NL_ACK_TIMEOUT_MS;
	while (!nl->wait_done) {
		struct pollfd p = { .fd = nl_socket_get_fd(nl->sock), .events = POLLIN };
		long long left = deadline - monotime_ms();

		if (left <= 0)
			break;
		ret = poll(&p, 1, (int)left);
		if (ret < 0 && errno != EINTR) {
			e = errno;
			reason_fail(err, errlen, e, "poll on the netlink socket: %s",
				    strerror(e));
			goto fail;
		}
		if (ret <= 0)
			continue;
		do {
			ret = recv_batch(nl);
		} while (ret > 0 && !nl->wait_done);
		if (ret < 0 && ret != -ENOBUFS && ret != -EINTR) {
			e = -ret;
			reason_fail(err, errlen, e, "receive on the netlink socket: %s",
				    strerror(e));
			goto fail;
		}
	}
	nl->wait_seq = 0;
	if (!nl->wait_done) {
		e = ETIMEDOUT;
		reason_fail(err, errlen, e, "no acknowledgement of SET_FEATURES within %d ms",
			    TCMU_NL_ACK_TIMEOUT_MS);
		goto fail;
	}
	if (nl->wait_err) {
		e = -nl->wait_err;
		reason_fail(err, errlen, e, "kernel refused SET_FEATURES: %s%s", strerror(e),
			    e == EPERM ? " (CAP_NET_ADMIN is required)" : "");
		goto fail;
	}
	return nl;

fail:
	tcmu_nl_close(nl);
	errno = e > 0 ? e : EIO;
	return NULL;
}

int tcmu_nl_fd(const struct tcmu_nl *nl)
{
	return nl_socket_get_fd(nl->sock);
}

int tcmu_nl_dispatch(struct tcmu_nl *nl)
{
	int ret;

	for (;;) {
		ret = recv_batch(nl);
		if (ret > 0)
			continue;
		if (ret == -EINTR)
			continue;
		if (ret == -ENOBUFS)
			plog_at(PLOG_ERROR,
				"netlink: receive buffer overran; TCMU events were lost");
		else if (ret < 0)
			plog_at(PLOG_ERROR, "netlink: receive failed: %s", strerror(-ret));
		return ret;
	}
}

void tcmu_nl_close(struct tcmu_nl *nl)
{
	if (!nl)
		return;
	if (nl->cb)
		nl_cb_put(nl->cb);
	if (nl->sock) {
		if (nl->group > 0)
			nl_socket_drop_membership(nl->sock, nl->group);
		nl_socket_free(nl->sock);
	}
	free(nl);
}
