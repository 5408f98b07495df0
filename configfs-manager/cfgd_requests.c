/*
 * cfgd_requests.c — scsipub-cfgd's handling of one request (see cfgd_requests.h).
 */
#include "cfgd_requests.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "anontarget.h"
#include "aptpl.h"
#include "catalog.h"
#include "cfgd_server.h"
#include "cfgd_worker.h"
#include "cfs.h"
#include "log.h"
#include "monotime.h"
#include "prov.h"
#include "provtarget.h"

_Static_assert(CFGD_DISKS_MAX >= ANONTARGET_LUNS_MAX, "anon_create's disks must fit");

static size_t anon_create_do(struct cfgd_server *s, struct cfgd_client *c,
			     const struct cfgd_req *q, char *out, size_t outlen)
{
	struct anontarget t;
	struct catalog cat;
	struct sess *x, *stale = NULL;
	char err[512] = "";
	json_object *o, *disks;
	bool premade;
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
			return cfgd_resp_fail(r, "the image's account has no iSCSI credentials",
					      out, outlen);
		}
		if (r < 0)
			return cfgd_resp_fail(-ENOENT, "unknown target", out, outlen);
	} else {
		r = catalog_scan_for(s->cfg.images_dir, q->target, &cat);
		if (r < 0) {
			snprintf(err, sizeof(err), "catalog %s: %s", s->cfg.images_dir,
				 strerror(-r));
			return cfgd_resp_fail(r, err, out, outlen);
		}
		r = anontarget_resolve(&cat, s->cfg.multi_images, q->target, &t);
		catalog_free(&cat);
		if (r < 0)
			return cfgd_resp_fail(-ENOENT, "unknown target", out, outlen);
	}
	pthread_mutex_lock(&s->mu);
	if (s->n_sessions >= s->cfg.max_sessions) {
		pthread_mutex_unlock(&s->mu);
		snprintf(err, sizeof(err), "%u anonymous sessions exist (--max-sessions)",
			 s->cfg.max_sessions);
		return cfgd_resp_fail(-EMFILE, err, out, outlen);
	}
	s->n_sessions++;          /* this one's place, given back if it cannot be made */
	x = cfgd_pool_take(s, &t, &stale);
	pthread_mutex_unlock(&s->mu);
	cfgd_sess_retire(s, stale, "its image changed");
	premade = x != NULL;
	if (!x) {
		x = calloc(1, sizeof(*x));
		r = x ? 0 : -ENOMEM;
		snprintf(err, sizeof(err), "out of memory");
		if (x) {
			pthread_mutex_lock(&s->cfs_mu);
			r = anon_create(s->cfg.cfs, &s->cfg.anon, s->exports, &t, &x->a, err,
					sizeof(err));
			pthread_mutex_unlock(&s->cfs_mu);
		}
		if (r < 0) {
			pthread_mutex_lock(&s->mu);
			s->n_sessions--;
			pthread_mutex_unlock(&s->mu);
			free(x);
			plog("session for %s (%s) on %s: %s", q->peer, q->client, q->target, err);
			return cfgd_resp_fail(r, err, out, outlen);
		}
	}
	x->owner = c;
	snprintf(x->client, sizeof(x->client), "%s", q->client);
	snprintf(x->peer, sizeof(x->peer), "%s", q->peer);
	pthread_mutex_lock(&s->mu);
	x->next = s->sessions;
	s->sessions = x;
	if (premade)
		pthread_cond_signal(&s->work_cv);  /* make its replacement */
	pthread_mutex_unlock(&s->mu);
	plog("session create: initiator %s (as %s) peer %s target %s (%s, %u LUN(s)) "
	     "backstore %s lun %llu size %llu%s%s (client pid %d)", x->client,
	     x->a.initiator, x->peer, x->a.target, anontarget_kind_name(x->a.kind),
	     x->a.n_luns, x->a.luns[0].backstore, (unsigned long long)x->a.luns[0].lun,
	     (unsigned long long)x->a.luns[0].size_bytes,
	     x->a.kind == ANONTARGET_SHARED_RO ? " read-only, shared" : "",
	     premade ? " pre-made" : "", (int)c->pid);
	o = cfgd_resp_ok();
	json_object_object_add(o, "initiator", json_object_new_string(x->a.initiator));
	json_object_object_add(o, "backstore", json_object_new_string(x->a.backstore));
	json_object_object_add(o, "lun", json_object_new_int64((int64_t)x->a.luns[0].lun));
	json_object_object_add(o, "luns", json_object_new_int((int)x->a.n_luns));
	json_object_object_add(o, "kind", json_object_new_string(anontarget_kind_name(x->a.kind)));
	disks = json_object_new_array();
	for (unsigned i = 0; x->a.kind != ANONTARGET_SHARED_RO && i < x->a.n_luns; i++)
		json_object_array_add(disks, json_object_new_string(x->a.luns[i].backstore));
	json_object_object_add(o, "disks", disks);
	return cfgd_resp_emit(o, out, outlen);
}

/* A login's session (anon_create_do); queued teardowns wait for it (loginfirst.h). */
static size_t anon_create_req(struct cfgd_server *s, struct cfgd_client *c,
			      const struct cfgd_req *q, char *out, size_t outlen)
{
	size_t n;

	pthread_mutex_lock(&s->mu);
	loginfirst_begin(&s->lf);
	pthread_mutex_unlock(&s->mu);
	n = anon_create_do(s, c, q, out, outlen);
	pthread_mutex_lock(&s->mu);
	loginfirst_end(&s->lf, monotime_sec());
	if (s->queue)  /* a queued teardown may wait for this end */
		pthread_cond_signal(&s->work_cv);
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* With the worker running (may_defer), the teardown is queued and its response sent
 * by the worker when done: 0 is returned and c is busy until then. */
static size_t anon_destroy_req(struct cfgd_server *s, struct cfgd_client *c,
			       const struct cfgd_req *q, char *out, size_t outlen,
			       bool may_defer)
{
	struct sess **pp, *x;

	pthread_mutex_lock(&s->mu);
	for (pp = &s->sessions; *pp; pp = &(*pp)->next)
		if ((*pp)->owner == c && !strcmp((*pp)->a.backstore, q->backstore))
			break;
	if (!*pp) {
		pthread_mutex_unlock(&s->mu);
		return cfgd_resp_fail(-ENOENT, "no such session of this connection", out,
				      outlen);
	}
	x = *pp;
	*pp = x->next;
	if (may_defer && s->worker_on) {
		x->reply_to = c;
		c->busy = true;
		cfgd_sess_enqueue(s, x, "released");
		pthread_mutex_unlock(&s->mu);
		return 0;
	}
	pthread_mutex_unlock(&s->mu);
	x->why = "released";
	cfgd_sess_teardown(s, x);
	return cfgd_resp_emit(cfgd_resp_ok(), out, outlen);
}

static size_t anon_count_req(struct cfgd_server *s, const struct cfgd_req *q, char *out,
			     size_t outlen)
{
	json_object *o = cfgd_resp_ok();
	int n = 0;

	pthread_mutex_lock(&s->mu);
	for (struct sess *x = s->sessions; x; x = x->next)
		n += !strcmp(x->a.target, q->target);
	pthread_mutex_unlock(&s->mu);
	json_object_object_add(o, "sessions", json_object_new_int(n));
	return cfgd_resp_emit(o, out, outlen);
}

static size_t acl_sweep_req(struct cfgd_server *s, const struct cfgd_req *q, char *out,
			    size_t outlen)
{
	json_object *o;
	char err[512];
	int r;

	if (!provtarget_name(q->target))
		return cfgd_resp_fail(-EINVAL, "acl_sweep: not a provisioned target name", out,
				      outlen);
	pthread_mutex_lock(&s->cfs_mu);
	r = cfs_acl_sweep_dynamic(s->cfg.cfs, q->target, q->initiator);
	if (r < 0)
		snprintf(err, sizeof(err), "%s", cfs_error(s->cfg.cfs));
	pthread_mutex_unlock(&s->cfs_mu);
	if (r < 0)
		return cfgd_resp_fail(r, err, out, outlen);
	o = cfgd_resp_ok();
	json_object_object_add(o, "freed", json_object_new_int(r > 0));
	return cfgd_resp_emit(o, out, outlen);
}

static size_t list_req(struct cfgd_server *s, char *out, size_t outlen)
{
	json_object *o = cfgd_resp_ok(), *arr = json_object_new_array();
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
	return cfgd_resp_emit(o, out, outlen);
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
		return cfgd_resp_fail(-ENOMEM, "out of memory", out, outlen);
	for (unsigned i = 0; i < p->n_luns; i++) {
		const struct cfgd_prov_lun *l = &p->luns[i];

		if (l->base[0] && !under(l->base, s->cfg.images_dir) &&
		    !under(l->base, s->cfg.private_dir)) {
			free(pl);
			snprintf(err, sizeof(err), "LUN %u: base image %s is not a file in the "
				 "catalog or private image directory", i, l->base);
			plog("prov_create %s from pid %d refused: %s", q->id, (int)c->pid, err);
			return cfgd_resp_fail(-EACCES, err, out, outlen);
		}
		pl[i].base_path = l->base[0] ? l->base : NULL;
		pl[i].size_bytes = l->size_bytes;
		pl[i].pr = l->pr && (l->pr->n || l->pr->generation) ? l->pr : NULL;
	}
	pthread_mutex_lock(&s->cfs_mu);
	r = prov_session_create(s->cfg.cfs, s->cfg.anon.state_dir, s->cfg.anon.lio_portal, &ps,
				err, sizeof(err));
	pthread_mutex_unlock(&s->cfs_mu);
	free(pl);
	if (r < 0) {
		plog("prov_create %s: %s", q->id, err);
		return cfgd_resp_fail(r, err, out, outlen);
	}
	plog("provisioned session %s: %u LUN(s) (client pid %d)", q->id, p->n_luns, (int)c->pid);
	o = cfgd_resp_ok();
	json_object_object_add(o, "iqn", json_object_new_string(prov_target_iqn(q->id, iqn,
									      sizeof(iqn))));
	return cfgd_resp_emit(o, out, outlen);
}

static size_t prov_destroy_req(struct cfgd_server *s, struct cfgd_client *c,
			       const struct cfgd_req *q, char *out, size_t outlen)
{
	char err[512] = "";
	int r;

	pthread_mutex_lock(&s->cfs_mu);
	r = prov_session_destroy(s->cfg.cfs, s->cfg.anon.state_dir, q->id, err, sizeof(err));
	pthread_mutex_unlock(&s->cfs_mu);
	if (r < 0)
		return cfgd_resp_fail(r, err, out, outlen);
	plog("provisioned session %s destroyed (client pid %d)", q->id, (int)c->pid);
	return cfgd_resp_emit(cfgd_resp_ok(), out, outlen);
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

	pthread_mutex_lock(&s->cfs_mu);
	r = prov_session_ids(s->cfg.cfs, s->cfg.anon.state_dir, &ids, err, sizeof(err));
	pthread_mutex_unlock(&s->cfs_mu);
	if (r < 0)
		return cfgd_resp_fail(r, err, out, outlen);
	o = cfgd_resp_ok();
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
	return cfgd_resp_emit(o, out, outlen);
}

static size_t prov_status_req(struct cfgd_server *s, const struct cfgd_req *q, char *out,
			      size_t outlen)
{
	json_object *o = cfgd_resp_ok();
	uint64_t logins = 0;
	int conns, lr;

	pthread_mutex_lock(&s->cfs_mu);
	conns = prov_session_connections(s->cfg.cfs, q->id);
	lr = prov_session_logins(s->cfg.cfs, q->id, &logins);
	pthread_mutex_unlock(&s->cfs_mu);
	json_object_object_add(o, "connections", json_object_new_int(conns < 0 ? -1 : conns));
	json_object_object_add(o, "logins", json_object_new_int64(lr < 0 ? -1 : (int64_t)logins));
	json_object_object_add(o, "written", json_object_new_int64(
		(int64_t)prov_session_written(s->cfg.anon.state_dir, q->id)));
	return cfgd_resp_emit(o, out, outlen);
}

/* The requests the portal makes (cfgd_server.h: portal-only uids). */
static bool portal_op(enum cfgd_op op)
{
	return op == CFGD_OP_HELLO || op == CFGD_OP_ANON_CREATE || op == CFGD_OP_ANON_DESTROY ||
	       op == CFGD_OP_ACL_SWEEP;
}

size_t cfgd_request_handle(struct cfgd_server *s, struct cfgd_client *c, const char *msg,
			   size_t len, char *out, size_t outlen, bool may_defer)
{
	struct cfgd_req q;
	json_object *o;
	char err[256];
	size_t m;
	int r;

	r = cfgd_req_parse(msg, len, &q, err, sizeof(err));
	if (r < 0) {
		plog("client pid %d uid %u: bad request: %s", (int)c->pid, (unsigned)c->uid, err);
		return cfgd_resp_fail(r, err, out, outlen);
	}
	if (!portal_op(q.op) && cfgd_server_uid_portal_only(s, c->uid)) {
		snprintf(err, sizeof(err), "uid %u may make the portal's requests only, not "
			 "this one", (unsigned)c->uid);
		plog("client pid %d uid %u: refused: %s", (int)c->pid, (unsigned)c->uid, err);
		cfgd_req_clear(&q);
		return cfgd_resp_fail(-EPERM, err, out, outlen);
	}
	switch (q.op) {
	case CFGD_OP_HELLO:
		o = cfgd_resp_ok();
		json_object_object_add(o, "v", json_object_new_int(CFGD_PROTO_VERSION));
		json_object_object_add(o, "max_msg", json_object_new_int(CFGD_MSG_MAX));
		return cfgd_resp_emit(o, out, outlen);
	case CFGD_OP_ANON_CREATE:
		return anon_create_req(s, c, &q, out, outlen);
	case CFGD_OP_ANON_DESTROY:
		return anon_destroy_req(s, c, &q, out, outlen, may_defer);
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
	return cfgd_resp_fail(-EINVAL, "unknown op", out, outlen);
}
