/*
 * cfgd_client.c — requests to scsipub-cfgd (see cfgd_client.h).
 */
#include "cfgd_client.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "aptpl.h"
#include "prov.h"
#include "reason.h"

int cfgd_connect(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	if (!path)
		path = CFGD_SOCKET_DEFAULT;
	if (strlen(path) >= sizeof(a.sun_path))
		return reason_fail(err, errlen, -ENAMETOOLONG, "socket path %s too long", path);
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return reason_fail(err, errlen, -errno, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;

		close(fd);
		return reason_fail(err, errlen, -e, "connecting to scsipub-cfgd at %s: %s", path,
				   strerror(e));
	}
	return fd;
}

int cfgd_call(int fd, const struct cfgd_req *q, struct json_object **resp, char *err,
	      size_t errlen)
{
	const size_t cap = CFGD_MSG_MAX + 256;
	char *buf;
	json_object *o, *v;
	ssize_t n;
	int len;

	if (resp)
		*resp = NULL;
	buf = malloc(cap);
	if (!buf)
		return reason_fail(err, errlen, -ENOMEM, "out of memory");
	len = cfgd_req_format(q, buf, CFGD_MSG_MAX);
	if (len < 0) {
		free(buf);
		return reason_fail(err, errlen, len, "%s: request does not fit in %d bytes",
				   cfgd_op_name(q->op), CFGD_MSG_MAX);
	}
	if (send(fd, buf, (size_t)len, MSG_NOSIGNAL) < 0) {
		free(buf);
		return reason_fail(err, errlen, -errno, "%s: sending to scsipub-cfgd: %s",
				   cfgd_op_name(q->op), strerror(errno));
	}
	do
		n = recv(fd, buf, cap - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		int e = n < 0 ? errno : ECONNRESET;

		free(buf);
		return reason_fail(err, errlen, -e, "%s: %s", cfgd_op_name(q->op),
				   n < 0 ? strerror(e) : "scsipub-cfgd closed the connection");
	}
	buf[n] = '\0';
	o = json_tokener_parse(buf);
	free(buf);
	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "ok", &v)) {
		json_object_put(o);
		return reason_fail(err, errlen, -EPROTO, "%s: malformed response from scsipub-cfgd",
				   cfgd_op_name(q->op));
	}
	if (!json_object_get_boolean(v)) {
		json_object *e = NULL, *m = NULL;
		int code = EIO;

		if (json_object_object_get_ex(o, "errno", &e) && json_object_get_int(e) > 0)
			code = json_object_get_int(e);
		json_object_object_get_ex(o, "error", &m);
		reason_fail(err, errlen, -code, "%s", m ? json_object_get_string(m) : strerror(code));
		json_object_put(o);
		return -code;
	}
	if (resp)
		*resp = o;
	else
		json_object_put(o);
	return 0;
}

/* The non-empty JSON string v into out (len bytes); anything else (a JSON null, a
 * number, too long) is -EPROTO. */
static int copy_str(json_object *v, char *out, size_t len)
{
	const char *s;

	if (!json_object_is_type(v, json_type_string))
		return -EPROTO;
	s = json_object_get_string(v);
	if (!s[0] || strlen(s) >= len)
		return -EPROTO;
	strcpy(out, s);
	return 0;
}

/* The string member key of o into out (len bytes). 0 or -EPROTO. */
static int get_str(json_object *o, const char *key, char *out, size_t len)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return -EPROTO;
	return copy_str(v, out, len);
}

/* Copy s into out (CFGD_NAME_MAX + 1 bytes) as the protocol's printable ASCII. */
static void printable(char *out, const char *s)
{
	size_t i;

	for (i = 0; s[i] && i < CFGD_NAME_MAX; i++)
		out[i] = s[i] > 0x20 && s[i] < 0x7f ? s[i] : '?';
	out[i] = '\0';
	if (!i)
		strcpy(out, "-");
}

/* anon_create's "disks" into out (a missing key: none). 0 or -EPROTO. */
static int get_disks(json_object *o, struct cfgd_anon *out)
{
	json_object *a;
	size_t n;

	out->n_disks = 0;
	if (!json_object_object_get_ex(o, "disks", &a))
		return 0;
	if (!json_object_is_type(a, json_type_array))
		return -EPROTO;
	n = json_object_array_length(a);
	if (n > CFGD_DISKS_MAX)
		return -EPROTO;
	for (size_t i = 0; i < n; i++)
		if (copy_str(json_object_array_get_idx(a, i), out->disks[i],
			     sizeof(out->disks[i])))
			return -EPROTO;
	out->n_disks = (unsigned)n;
	return 0;
}

int cfgd_anon_create(int fd, const char *target, const char *client, const char *peer,
		     struct cfgd_anon *out, char *err, size_t errlen)
{
	struct cfgd_req q = { .op = CFGD_OP_ANON_CREATE };
	json_object *o;
	int r;

	memset(out, 0, sizeof(*out));
	snprintf(q.target, sizeof(q.target), "%s", target);
	printable(q.client, client);
	snprintf(q.peer, sizeof(q.peer), "%s", peer);
	r = cfgd_call(fd, &q, &o, err, errlen);
	if (r < 0)
		return r;
	if (get_str(o, "initiator", out->initiator, sizeof(out->initiator)) ||
	    get_str(o, "backstore", out->backstore, sizeof(out->backstore)) ||
	    get_disks(o, out))
		r = reason_fail(err, errlen, -EPROTO, "anon_create: malformed response");
	json_object_put(o);
	return r;
}

int cfgd_anon_destroy(int fd, const char *backstore, char *err, size_t errlen)
{
	struct cfgd_req q = { .op = CFGD_OP_ANON_DESTROY };

	snprintf(q.backstore, sizeof(q.backstore), "%s", backstore);
	return cfgd_call(fd, &q, NULL, err, errlen);
}

int cfgd_anon_count(int fd, const char *target, char *err, size_t errlen)
{
	struct cfgd_req q = { .op = CFGD_OP_ANON_COUNT };
	json_object *o, *v;
	int r;

	snprintf(q.target, sizeof(q.target), "%s", target);
	r = cfgd_call(fd, &q, &o, err, errlen);
	if (r < 0)
		return r;
	if (!json_object_object_get_ex(o, "sessions", &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int(v) < 0)
		r = reason_fail(err, errlen, -EPROTO, "anon_count: malformed response");
	else
		r = json_object_get_int(v);
	json_object_put(o);
	return r;
}

int cfgd_acl_sweep(int fd, const char *target, const char *initiator, char *err,
		   size_t errlen)
{
	struct cfgd_req q = { .op = CFGD_OP_ACL_SWEEP };
	json_object *o, *v;
	int r;

	snprintf(q.target, sizeof(q.target), "%s", target);
	snprintf(q.initiator, sizeof(q.initiator), "%s", initiator);
	r = cfgd_call(fd, &q, &o, err, errlen);
	if (r < 0)
		return r;
	r = json_object_object_get_ex(o, "freed", &v) && json_object_get_int(v) ? 1 : 0;
	json_object_put(o);
	return r;
}

int cfgd_prov_create(int fd, const struct prov_session *ps, char *err, size_t errlen)
{
	struct cfgd_req q = { .op = CFGD_OP_PROV_CREATE };
	struct cfgd_prov p = { .write_limit = ps->write_limit_bytes, .n_luns = ps->n_luns };
	int r;

	if (snprintf(q.id, sizeof(q.id), "%s", ps->id) >= (int)sizeof(q.id) ||
	    snprintf(p.chap_user, sizeof(p.chap_user), "%s", ps->chap_user) >=
		    (int)sizeof(p.chap_user) ||
	    snprintf(p.chap_secret, sizeof(p.chap_secret), "%s", ps->chap_secret) >=
		    (int)sizeof(p.chap_secret))
		return reason_fail(err, errlen, -EINVAL, "prov_create: id or CHAP too long");
	p.luns = calloc(ps->n_luns ? ps->n_luns : 1, sizeof(*p.luns));
	if (!p.luns)
		return reason_fail(err, errlen, -ENOMEM, "out of memory");
	for (unsigned i = 0; i < ps->n_luns; i++) {
		const char *b = ps->luns[i].base_path ? ps->luns[i].base_path : "";

		if (snprintf(p.luns[i].base, sizeof(p.luns[i].base), "%s", b) >=
		    (int)sizeof(p.luns[i].base)) {
			free(p.luns);
			return reason_fail(err, errlen, -ENAMETOOLONG, "LUN %u: base path %s too "
					   "long", i, b);
		}
		p.luns[i].size_bytes = ps->luns[i].size_bytes;
		p.luns[i].pr = (struct aptpl_state *)ps->luns[i].pr; /* only read */
	}
	q.prov = &p;
	r = cfgd_call(fd, &q, NULL, err, errlen);
	free(p.luns);
	return r;
}

int cfgd_prov_destroy(int fd, const char *id, char *err, size_t errlen)
{
	struct cfgd_req q = { .op = CFGD_OP_PROV_DESTROY };

	snprintf(q.id, sizeof(q.id), "%s", id);
	return cfgd_call(fd, &q, NULL, err, errlen);
}

int cfgd_prov_list(int fd, cfgd_id_fn fn, void *arg, char *err, size_t errlen)
{
	char after[CFGD_ID_MAX + 1] = "";
	int count = 0;

	for (;;) {
		struct cfgd_req q = { .op = CFGD_OP_PROV_LIST };
		json_object *o, *ids, *t;
		size_t n;
		int r;

		snprintf(q.after, sizeof(q.after), "%s", after);
		r = cfgd_call(fd, &q, &o, err, errlen);
		if (r < 0)
			return r;
		if (!json_object_object_get_ex(o, "ids", &ids) ||
		    !json_object_is_type(ids, json_type_array)) {
			json_object_put(o);
			return reason_fail(err, errlen, -EPROTO, "prov_list: malformed response");
		}
		n = json_object_array_length(ids);
		for (size_t i = 0; i < n; i++) {
			const char *id = json_object_get_string(json_object_array_get_idx(ids, i));

			if (!id || !prov_id_valid(id) || strcmp(id, after) <= 0) {
				json_object_put(o);
				return reason_fail(err, errlen, -EPROTO, "prov_list: bad id");
			}
			snprintf(after, sizeof(after), "%s", id);
			fn(arg, id);
			count++;
		}
		json_object_object_get_ex(o, "truncated", &t);
		r = n && t && json_object_get_boolean(t);
		json_object_put(o);
		if (!r)
			return count;
	}
}

int cfgd_prov_status(int fd, const char *id, int *connections, int64_t *logins,
		     uint64_t *written, char *err, size_t errlen)
{
	struct cfgd_req q = { .op = CFGD_OP_PROV_STATUS };
	json_object *o, *v;
	int r;

	snprintf(q.id, sizeof(q.id), "%s", id);
	r = cfgd_call(fd, &q, &o, err, errlen);
	if (r < 0)
		return r;
	*connections = json_object_object_get_ex(o, "connections", &v) ? json_object_get_int(v)
									: -1;
	*logins = json_object_object_get_ex(o, "logins", &v) ? json_object_get_int64(v) : -1;
	*written = json_object_object_get_ex(o, "written", &v) &&
				   json_object_get_int64(v) > 0
			   ? (uint64_t)json_object_get_int64(v)
			   : 0;
	json_object_put(o);
	return 0;
}
