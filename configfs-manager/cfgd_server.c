/*
 * cfgd_server.c — scsipub-cfgd's request handling and its connection loop (see
 * cfgd_server.h).
 */
#include "cfgd_server.h"

#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "anontarget.h"
#include "catalog.h"
#include "cfgd_proto.h"
#include "cfs.h"
#include "log.h"
#include "aptpl.h"
#include "prov.h"
#include "provtarget.h"

struct sess {
	struct sess *next;
	struct cfgd_client *owner;
	struct anon_session a;
	char client[CFGD_NAME_MAX + 1];
	char peer[CFGD_PEER_MAX + 1];
};

struct cfgd_client {
	struct cfgd_client *next;
	pid_t pid;
	uid_t uid;
	int fd;
	struct cfgd_server *srv;
};

struct cfgd_server {
	pthread_mutex_t mu;
	struct cfgd_server_cfg cfg;
	char images_dir[PATH_MAX];
	char multi_images[2 * CATALOG_IQN_MAX + 2];
	char private_dir[PATH_MAX];
	char state_dir[PATH_MAX];
	char lio_portal[128];
	struct sess *sessions;
	size_t n_sessions;
	struct anon_exports *exports;   /* shared read-only exports' session counts */
	struct cfgd_client *clients;
	unsigned n_clients;
};

struct cfgd_server *cfgd_server_new(const struct cfgd_server_cfg *cfg)
{
	struct cfgd_server *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->exports = anon_exports_new();
	if (!s->exports) {
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->mu, NULL);
	s->cfg = *cfg;
	snprintf(s->multi_images, sizeof(s->multi_images), "%s",
		 cfg->multi_images ? cfg->multi_images : "");
	s->cfg.multi_images = s->multi_images;
	snprintf(s->images_dir, sizeof(s->images_dir), "%s", cfg->images_dir);
	snprintf(s->state_dir, sizeof(s->state_dir), "%s", cfg->anon.state_dir);
	snprintf(s->lio_portal, sizeof(s->lio_portal), "%s", cfg->anon.lio_portal);
	snprintf(s->private_dir, sizeof(s->private_dir), "%s",
		 cfg->private_dir ? cfg->private_dir : "");
	s->cfg.images_dir = s->images_dir;
	s->cfg.private_dir = s->private_dir;
	s->cfg.anon.state_dir = s->state_dir;
	s->cfg.anon.lio_portal = s->lio_portal;
	return s;
}

/* Unlink and destroy one session. Caller holds s->mu. */
static void sess_destroy(struct cfgd_server *s, struct sess **pp, const char *why)
{
	struct sess *x = *pp;

	*pp = x->next;
	s->n_sessions--;
	anon_destroy(s->cfg.cfs, &s->cfg.anon, s->exports, &x->a);
	plog("session destroy: initiator %s (as %s) peer %s target %s backstore %s (%s)%s",
	     x->client, x->a.initiator, x->peer, x->a.target, x->a.backstore, why,
	     s->cfg.anon.keep_overlays ? " (overlay kept)" : "");
	free(x);
}

static void destroy_owned(struct cfgd_server *s, struct cfgd_client *c, const char *why)
{
	struct sess **pp = &s->sessions;

	while (*pp) {
		if (!c || (*pp)->owner == c)
			sess_destroy(s, pp, why);
		else
			pp = &(*pp)->next;
	}
}

void cfgd_server_free(struct cfgd_server *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	destroy_owned(s, NULL, "shutdown");
	pthread_mutex_unlock(&s->mu);
	pthread_mutex_destroy(&s->mu);
	anon_exports_free(s->exports);
	free(s);
}

size_t cfgd_server_sessions(struct cfgd_server *s)
{
	size_t n;

	pthread_mutex_lock(&s->mu);
	n = s->n_sessions;
	pthread_mutex_unlock(&s->mu);
	return n;
}

int cfgd_server_uid_allowed(const struct cfgd_server *s, uid_t uid)
{
	if (uid == 0)
		return 1;
	for (unsigned i = 0; i < s->cfg.n_allow_uids; i++)
		if (s->cfg.allow_uids[i] == uid)
			return 1;
	return 0;
}

struct cfgd_client *cfgd_server_client_new(struct cfgd_server *s, pid_t pid, uid_t uid)
{
	struct cfgd_client *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->pid = pid;
	c->uid = uid;
	c->fd = -1;
	c->srv = s;
	return c;
}

void cfgd_server_client_end(struct cfgd_server *s, struct cfgd_client *c)
{
	pthread_mutex_lock(&s->mu);
	destroy_owned(s, c, "client connection ended");
	pthread_mutex_unlock(&s->mu);
	free(c);
}

/* Finish response o into out. */
static size_t emit(json_object *o, char *out, size_t outlen)
{
	const char *t = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	size_t n = strlen(t);

	if (n >= outlen) { /* cannot happen for our responses; say so rather than cut */
		n = (size_t)snprintf(out, outlen, "{\"ok\":false,\"errno\":%d,\"error\":\"response too "
				     "large\"}", E2BIG);
	} else {
		memcpy(out, t, n + 1);
	}
	json_object_put(o);
	return n;
}

static size_t fail(int r, const char *msg, char *out, size_t outlen)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "errno", json_object_new_int(r < 0 ? -r : r));
	json_object_object_add(o, "error", json_object_new_string(msg));
	return emit(o, out, outlen);
}

static json_object *ok(void)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	return o;
}

static size_t anon_create_req(struct cfgd_server *s, struct cfgd_client *c,
			      const struct cfgd_req *q, char *out, size_t outlen)
{
	struct anontarget t;
	struct catalog cat;
	struct sess *x;
	char err[512] = "";
	json_object *o;
	int r;

	if (anontarget_kind(q->target) == ANONTARGET_ACCOUNT) {
		/* An account's private image: its file and CHAP (never logged) from the
		 * API's directory. */
		r = s->cfg.private_dir[0] ? anontarget_resolve_account(s->cfg.private_dir,
								      q->target, &t, err,
								      sizeof(err))
					  : -ENOENT;
		if (r == -EACCES) {
			plog("session for %s (%s) on %s: refused: %s", q->peer, q->client,
			     q->target, err);
			return fail(r, "the image's account has no iSCSI credentials", out,
				    outlen);
		}
		if (r < 0)
			return fail(-ENOENT, "unknown target", out, outlen);
	} else {
		r = catalog_scan(s->cfg.images_dir, &cat);
		if (r < 0) {
			snprintf(err, sizeof(err), "catalog %s: %s", s->cfg.images_dir,
				 strerror(-r));
			return fail(r, err, out, outlen);
		}
		r = anontarget_resolve(&cat, s->cfg.multi_images, q->target, &t);
		catalog_free(&cat);
		if (r < 0)
			return fail(-ENOENT, "unknown target", out, outlen);
	}
	x = calloc(1, sizeof(*x));
	if (!x)
		return fail(-ENOMEM, "out of memory", out, outlen);
	x->owner = c;
	snprintf(x->client, sizeof(x->client), "%s", q->client);
	snprintf(x->peer, sizeof(x->peer), "%s", q->peer);
	pthread_mutex_lock(&s->mu);
	if (s->n_sessions >= s->cfg.max_sessions) {
		pthread_mutex_unlock(&s->mu);
		free(x);
		snprintf(err, sizeof(err), "%u anonymous sessions exist (--max-sessions)",
			 s->cfg.max_sessions);
		return fail(-EMFILE, err, out, outlen);
	}
	r = anon_create(s->cfg.cfs, &s->cfg.anon, s->exports, &t, &x->a, err, sizeof(err));
	if (r == 0) {
		x->next = s->sessions;
		s->sessions = x;
		s->n_sessions++;
		plog("session create: initiator %s (as %s) peer %s target %s (%s, %u LUN(s)) "
		     "backstore %s lun %llu size %llu%s (client pid %d)", x->client,
		     x->a.initiator, x->peer, x->a.target, anontarget_kind_name(x->a.kind),
		     x->a.n_luns, x->a.luns[0].backstore, (unsigned long long)x->a.luns[0].lun,
		     (unsigned long long)x->a.luns[0].size_bytes,
		     x->a.kind == ANONTARGET_SHARED_RO ? " read-only, shared" : "", (int)c->pid);
	}
	pthread_mutex_unlock(&s->mu);
	if (r < 0) {
		free(x);
		plog("session for %s (%s) on %s: %s", q->peer, q->client, q->target, err);
		return fail(r, err, out, outlen);
	}
	o = ok();
	json_object_object_add(o, "initiator", json_object_new_string(x->a.initiator));
	json_object_object_add(o, "backstore", json_object_new_string(x->a.backstore));
	json_object_object_add(o, "lun", json_object_new_int64((int64_t)x->a.luns[0].lun));
	json_object_object_add(o, "luns", json_object_new_int((int)x->a.n_luns));
	json_object_object_add(o, "kind", json_object_new_string(anontarget_kind_name(x->a.kind)));
	return emit(o, out, outlen);
}

static size_t anon_destroy_req(struct cfgd_server *s, struct cfgd_client *c,
			       const struct cfgd_req *q, char *out, size_t outlen)
{
	struct sess **pp;

	pthread_mutex_lock(&s->mu);
	for (pp = &s->sessions; *pp; pp = &(*pp)->next)
		if ((*pp)->owner == c && !strcmp((*pp)->a.backstore, q->backstore))
			break;
	if (!*pp) {
		pthread_mutex_unlock(&s->mu);
		return fail(-ENOENT, "no such session of this connection", out, outlen);
	}
	sess_destroy(s, pp, "released");
	pthread_mutex_unlock(&s->mu);
	return emit(ok(), out, outlen);
}

static size_t anon_count_req(struct cfgd_server *s, const struct cfgd_req *q, char *out,
			     size_t outlen)
{
	json_object *o = ok();
	int n = 0;

	pthread_mutex_lock(&s->mu);
	for (struct sess *x = s->sessions; x; x = x->next)
		n += !strcmp(x->a.target, q->target);
	pthread_mutex_unlock(&s->mu);
	json_object_object_add(o, "sessions", json_object_new_int(n));
	return emit(o, out, outlen);
}

static size_t acl_sweep_req(struct cfgd_server *s, const struct cfgd_req *q, char *out,
			    size_t outlen)
{
	json_object *o;
	char err[512];
	int r;

	if (!provtarget_name(q->target))
		return fail(-EINVAL, "acl_sweep: not a provisioned target name", out, outlen);
	pthread_mutex_lock(&s->mu);
	r = cfs_acl_sweep_dynamic(s->cfg.cfs, q->target, q->initiator);
	if (r < 0)
		snprintf(err, sizeof(err), "%s", cfs_error(s->cfg.cfs));
	pthread_mutex_unlock(&s->mu);
	if (r < 0)
		return fail(r, err, out, outlen);
	o = ok();
	json_object_object_add(o, "freed", json_object_new_int(r > 0));
	return emit(o, out, outlen);
}

static size_t list_req(struct cfgd_server *s, char *out, size_t outlen)
{
	json_object *o = ok(), *arr = json_object_new_array();
	size_t used = 64, total = 0;
	bool truncated = false;

	pthread_mutex_lock(&s->mu);
	for (struct sess *x = s->sessions; x; x = x->next) {
		json_object *e = json_object_new_object();
		size_t n;

		total++;
		json_object_object_add(e, "backstore", json_object_new_string(x->a.backstore));
		json_object_object_add(e, "initiator", json_object_new_string(x->a.initiator));
		json_object_object_add(e, "target", json_object_new_string(x->a.target));
		json_object_object_add(e, "kind",
				       json_object_new_string(anontarget_kind_name(x->a.kind)));
		json_object_object_add(e, "luns", json_object_new_int((int)x->a.n_luns));
		json_object_object_add(e, "client", json_object_new_string(x->client));
		json_object_object_add(e, "peer", json_object_new_string(x->peer));
		json_object_object_add(e, "pid", json_object_new_int(x->owner->pid));
		n = strlen(json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN)) + 1;
		if (truncated || used + n >= CFGD_MSG_MAX) {
			truncated = true;
			json_object_put(e);
			continue;
		}
		used += n;
		json_object_array_add(arr, e);
	}
	pthread_mutex_unlock(&s->mu);
	json_object_object_add(o, "anon", arr);
	json_object_object_add(o, "total", json_object_new_int64((int64_t)total));
	json_object_object_add(o, "truncated", json_object_new_boolean(truncated));
	return emit(o, out, outlen);
}

/* Whether path (absolute) resolves to a regular file under dir (also resolved). */
static bool under(const char *path, const char *dir)
{
	char rp[PATH_MAX], rd[PATH_MAX];
	struct stat st;
	size_t n;

	if (!dir[0] || !realpath(path, rp) || !realpath(dir, rd))
		return false;
	n = strlen(rd);
	return !strncmp(rp, rd, n) && rp[n] == '/' && stat(rp, &st) == 0 && S_ISREG(st.st_mode);
}

static size_t prov_create_req(struct cfgd_server *s, struct cfgd_client *c,
			      const struct cfgd_req *q, char *out, size_t outlen)
{
	const struct cfgd_prov *p = q->prov;
	struct prov_lun *pl = calloc(p->n_luns, sizeof(*pl));
	struct prov_session ps = { .id = q->id, .chap_user = p->chap_user,
				   .chap_secret = p->chap_secret, .luns = pl,
				   .n_luns = p->n_luns, .write_limit_bytes = p->write_limit };
	char err[512] = "", iqn[PROV_IQN_LEN];
	json_object *o;
	int r;

	if (!pl)
		return fail(-ENOMEM, "out of memory", out, outlen);
	for (unsigned i = 0; i < p->n_luns; i++) {
		const struct cfgd_prov_lun *l = &p->luns[i];

		if (l->base[0] && !under(l->base, s->cfg.images_dir) &&
		    !under(l->base, s->cfg.private_dir)) {
			free(pl);
			snprintf(err, sizeof(err), "LUN %u: base image %s is not a file in the "
				 "catalog or private image directory", i, l->base);
			plog("prov_create %s from pid %d refused: %s", q->id, (int)c->pid, err);
			return fail(-EACCES, err, out, outlen);
		}
		pl[i].base_path = l->base[0] ? l->base : NULL;
		pl[i].size_bytes = l->size_bytes;
		pl[i].pr = l->pr && (l->pr->n || l->pr->generation) ? l->pr : NULL;
	}
	pthread_mutex_lock(&s->mu);
	r = prov_session_create(s->cfg.cfs, s->cfg.anon.state_dir, s->cfg.anon.lio_portal, &ps,
				err, sizeof(err));
	pthread_mutex_unlock(&s->mu);
	free(pl);
	if (r < 0) {
		plog("prov_create %s: %s", q->id, err);
		return fail(r, err, out, outlen);
	}
	plog("provisioned session %s: %u LUN(s) (client pid %d)", q->id, p->n_luns, (int)c->pid);
	o = ok();
	json_object_object_add(o, "iqn", json_object_new_string(prov_target_iqn(q->id, iqn,
									      sizeof(iqn))));
	return emit(o, out, outlen);
}

static size_t prov_destroy_req(struct cfgd_server *s, struct cfgd_client *c,
			       const struct cfgd_req *q, char *out, size_t outlen)
{
	char err[512] = "";
	int r;

	pthread_mutex_lock(&s->mu);
	r = prov_session_destroy(s->cfg.cfs, s->cfg.anon.state_dir, q->id, err, sizeof(err));
	pthread_mutex_unlock(&s->mu);
	if (r < 0)
		return fail(r, err, out, outlen);
	plog("provisioned session %s destroyed (client pid %d)", q->id, (int)c->pid);
	return emit(ok(), out, outlen);
}

static size_t prov_list_req(struct cfgd_server *s, const struct cfgd_req *q, char *out,
			    size_t outlen)
{
	struct cfs_names ids = { 0 };
	char err[512] = "";
	json_object *o, *arr;
	size_t used = 64;
	bool truncated = false;
	int r;

	pthread_mutex_lock(&s->mu);
	r = prov_session_ids(s->cfg.cfs, s->cfg.anon.state_dir, &ids, err, sizeof(err));
	pthread_mutex_unlock(&s->mu);
	if (r < 0)
		return fail(r, err, out, outlen);
	o = ok();
	arr = json_object_new_array();
	for (size_t i = 0; i < ids.n; i++) {
		if (q->after[0] && strcmp(ids.v[i], q->after) <= 0)
			continue;
		used += strlen(ids.v[i]) + 3;
		if (used >= CFGD_MSG_MAX) {
			truncated = true;
			break;
		}
		json_object_array_add(arr, json_object_new_string(ids.v[i]));
	}
	cfs_names_free(&ids);
	json_object_object_add(o, "ids", arr);
	json_object_object_add(o, "truncated", json_object_new_boolean(truncated));
	return emit(o, out, outlen);
}

static size_t prov_status_req(struct cfgd_server *s, const struct cfgd_req *q, char *out,
			      size_t outlen)
{
	json_object *o = ok();
	uint64_t logins = 0;
	int conns, lr;

	pthread_mutex_lock(&s->mu);
	conns = prov_session_connections(s->cfg.cfs, q->id);
	lr = prov_session_logins(s->cfg.cfs, q->id, &logins);
	pthread_mutex_unlock(&s->mu);
	json_object_object_add(o, "connections", json_object_new_int(conns < 0 ? -1 : conns));
	json_object_object_add(o, "logins", json_object_new_int64(lr < 0 ? -1 : (int64_t)logins));
	json_object_object_add(o, "written", json_object_new_int64(
		(int64_t)prov_session_written(s->cfg.anon.state_dir, q->id)));
	return emit(o, out, outlen);
}

size_t cfgd_server_handle(struct cfgd_server *s, struct cfgd_client *c, const char *msg,
			  size_t len, char *out, size_t outlen)
{
	struct cfgd_req q;
	json_object *o;
	char err[256];
	size_t m;
	int r;

	r = cfgd_req_parse(msg, len, &q, err, sizeof(err));
	if (r < 0) {
		plog("client pid %d uid %u: bad request: %s", (int)c->pid, (unsigned)c->uid, err);
		return fail(r, err, out, outlen);
	}
	switch (q.op) {
	case CFGD_OP_HELLO:
		o = ok();
		json_object_object_add(o, "v", json_object_new_int(CFGD_PROTO_VERSION));
		json_object_object_add(o, "max_msg", json_object_new_int(CFGD_MSG_MAX));
		return emit(o, out, outlen);
	case CFGD_OP_ANON_CREATE:
		return anon_create_req(s, c, &q, out, outlen);
	case CFGD_OP_ANON_DESTROY:
		return anon_destroy_req(s, c, &q, out, outlen);
	case CFGD_OP_ACL_SWEEP:
		return acl_sweep_req(s, &q, out, outlen);
	case CFGD_OP_ANON_COUNT:
		return anon_count_req(s, &q, out, outlen);
	case CFGD_OP_LIST:
		return list_req(s, out, outlen);
	case CFGD_OP_PROV_CREATE:
		m = prov_create_req(s, c, &q, out, outlen);
		cfgd_req_clear(&q);
		return m;
	case CFGD_OP_PROV_DESTROY:
		return prov_destroy_req(s, c, &q, out, outlen);
	case CFGD_OP_PROV_LIST:
		return prov_list_req(s, &q, out, outlen);
	case CFGD_OP_PROV_STATUS:
		return prov_status_req(s, &q, out, outlen);
	}
	return fail(-EINVAL, "unknown op", out, outlen);
}

/* Client c's connection ended (or is closed by us): unlink it, then its sessions and
 * c go (cfgd_server_client_end). */
static void client_close(struct cfgd_server *s, struct cfgd_client *c)
{
	struct cfgd_client **pp;

	pthread_mutex_lock(&s->mu);
	for (pp = &s->clients; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			s->n_clients--;
			break;
		}
	pthread_mutex_unlock(&s->mu);
	close(c->fd);
	cfgd_server_client_end(s, c);
}

/*
 * One request of c, if one is there: receive it, handle it, send the response (the
 * client waits for it: a full socket buffer means a client that does not read its
 * responses, and it is closed). in/out are the loop's buffers.
 */
static void client_serve(struct cfgd_server *s, struct cfgd_client *c, char *in, char *out)
{
	ssize_t n = recv(c->fd, in, CFGD_MSG_MAX + 1, MSG_DONTWAIT);
	size_t m;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		client_close(s, c);
		return;
	}
	m = cfgd_server_handle(s, c, in, (size_t)n, out, CFGD_MSG_MAX + 256);
	if (send(c->fd, out, m, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		plog("client pid %d: sending a response: %s; connection closed", (int)c->pid,
		     strerror(errno));
		client_close(s, c);
	}
}

static void accept_one(struct cfgd_server *s, int lfd)
{
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	struct cfgd_client *c;
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0) {
		if (errno != EINTR && errno != EAGAIN)
			plog("accept: %s", strerror(errno));
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) {
		plog("SO_PEERCRED: %s; connection closed", strerror(errno));
		close(fd);
		return;
	}
	if (!cfgd_server_uid_allowed(s, cred.uid)) {
		plog("connection from pid %d uid %u refused: not root and not an allowed uid",
		     (int)cred.pid, (unsigned)cred.uid);
		close(fd);
		return;
	}
	pthread_mutex_lock(&s->mu);
	if (s->n_clients >= s->cfg.max_clients) {
		pthread_mutex_unlock(&s->mu);
		plog("connection from pid %d refused: %u connections (--max-clients)",
		     (int)cred.pid, s->cfg.max_clients);
		close(fd);
		return;
	}
	pthread_mutex_unlock(&s->mu);
	c = cfgd_server_client_new(s, cred.pid, cred.uid);
	if (!c) {
		close(fd);
		return;
	}
	c->fd = fd;
	pthread_mutex_lock(&s->mu);
	c->next = s->clients;
	s->clients = c;
	s->n_clients++;
	pthread_mutex_unlock(&s->mu);
}

int cfgd_server_serve(struct cfgd_server *s, int listen_fd, int stop_fd)
{
	char *in = malloc(CFGD_MSG_MAX + 1), *out = malloc(CFGD_MSG_MAX + 256);
	struct pollfd *p = NULL;
	struct cfgd_client **cl = NULL;
	size_t cap = 0;
	int r = 0;

	if (!in || !out) {
		r = -ENOMEM;
		goto out;
	}
	for (;;) {
		size_t k = 2;
		int n;

		/* Only this thread adds or removes clients: the list is stable here. */
		if (cap < s->n_clients + 2) {
			size_t want = (s->n_clients + 2) * 2;
			struct pollfd *np = realloc(p, want * sizeof(*p));
			struct cfgd_client **nc = np ? realloc(cl, want * sizeof(*cl)) : NULL;

			if (np)
				p = np;
			if (!np || !nc) {
				r = -ENOMEM;
				goto out;
			}
			cl = nc;
			cap = want;
		}
		p[0] = (struct pollfd){ .fd = listen_fd, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = stop_fd, .events = POLLIN };
		for (struct cfgd_client *c = s->clients; c; c = c->next, k++) {
			p[k] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
			cl[k] = c;
		}
		n = poll(p, k, -1);
		if (n < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
		if (n <= 0)
			continue;
		if (p[1].revents)
			break;
		/* Requests in arrival order of the ready connections, one each per round. */
		for (size_t i = 2; i < k; i++)
			if (p[i].revents)
				client_serve(s, cl[i], in, out);
		if (p[0].revents & POLLIN)
			accept_one(s, listen_fd);
	}
out:
	while (s->clients)
		client_close(s, s->clients);
	free(p);
	free(cl);
	free(in);
	free(out);
	return r;
}
