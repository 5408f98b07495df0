/*
 * conntab.c — live connection table published as JSON (see conntab.h).
 */
#include "conntab.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "log.h"
#include "monotime.h"

#define FIELD_MAX 256

struct entry {
	struct entry *next;
	uint64_t id;
	char peer[FIELD_MAX], initiator[FIELD_MAX], lio_initiator[FIELD_MAX], target[FIELD_MAX];
	enum conntab_kind kind;
	uint64_t bytes_in, bytes_out;
	time_t since;
};

struct conntab {
	pthread_mutex_t mu;
	char *path;           /* NULL: memory only */
	struct entry *head;   /* newest first; the JSON lists oldest first */
	size_t n;
	uint64_t next_id;
	bool dirty;           /* the list or its counters changed since the last write */
	int64_t last_write;   /* clock() of the last write, ms; INT64_MIN: none yet */
	int64_t (*clock)(void); /* CLOCK_MONOTONIC ms (conntab_set_clock) */
};

struct conntab *conntab_new(const char *path)
{
	struct conntab *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	if (path && !(t->path = strdup(path))) {
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->mu, NULL);
	t->next_id = 1;
	t->last_write = INT64_MIN;
	t->clock = monotime_ms;
	return t;
}

void conntab_set_clock(struct conntab *t, int64_t (*clock_ms)(void))
{
	t->clock = clock_ms ? clock_ms : monotime_ms;
}

void conntab_free(struct conntab *t)
{
	struct entry *e, *next;

	if (!t)
		return;
	for (e = t->head; e; e = next) {
		next = e->next;
		free(e);
	}
	pthread_mutex_destroy(&t->mu);
	free(t->path);
	free(t);
}

int conntab_default_path(const char *state_dir, char *buf, size_t len)
{
	char dir[PATH_MAX];
	int n;

	n = snprintf(dir, sizeof(dir), "%s/%s", state_dir, CONNTAB_SUBDIR);
	if (n < 0 || (size_t)n >= sizeof(dir))
		return -ENAMETOOLONG;
	n = snprintf(buf, len, "%s/%s", dir, CONNTAB_FILE);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	if (mkdir(state_dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	if ((mkdir(dir, 0750) < 0 && errno != EEXIST) || chmod(dir, 0750) < 0)
		return -errno;
	return 0;
}

static const char *kind_str(enum conntab_kind k)
{
	return k == CONNTAB_PROVISIONED ? "provisioned" : "anonymous";
}

/* Caller holds t->mu. */
static char *json_locked(struct conntab *t)
{
	struct json_object *arr = json_object_new_array();
	struct entry **v;
	struct entry *e;
	char *out = NULL;
	size_t i = 0;

	if (!arr)
		return NULL;
	v = calloc(t->n ? t->n : 1, sizeof(*v));
	if (!v) {
		json_object_put(arr);
		return NULL;
	}
	for (e = t->head; e; e = e->next)
		v[i++] = e;
	while (i--) { /* oldest first */
		struct json_object *o = json_object_new_object();

		e = v[i];
		if (!o)
			goto out;
		json_object_object_add(o, "peer", json_object_new_string(e->peer));
		json_object_object_add(o, "initiator", json_object_new_string(e->initiator));
		if (e->lio_initiator[0])
			json_object_object_add(o, "lio_initiator",
					       json_object_new_string(e->lio_initiator));
		json_object_object_add(o, "target", json_object_new_string(e->target));
		json_object_object_add(o, "kind", json_object_new_string(kind_str(e->kind)));
		json_object_object_add(o, "bytes_in", json_object_new_uint64(e->bytes_in));
		json_object_object_add(o, "bytes_out", json_object_new_uint64(e->bytes_out));
		json_object_object_add(o, "since", json_object_new_int64((int64_t)e->since));
		json_object_array_add(arr, o);
	}
	out = strdup(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
out:
	free(v);
	json_object_put(arr);
	return out;
}

char *conntab_json(struct conntab *t)
{
	char *s;

	pthread_mutex_lock(&t->mu);
	s = json_locked(t);
	pthread_mutex_unlock(&t->mu);
	return s;
}

/* Write the file (tmp + rename). Caller holds t->mu. */
static int publish_locked(struct conntab *t)
{
	char tmp[PATH_MAX];
	char *s;
	size_t len, off = 0;
	int fd, r = 0, n;

	t->dirty = false;
	t->last_write = t->clock();
	if (!t->path)
		return 0;
	s = json_locked(t);
	if (!s)
		return -ENOMEM;
	n = snprintf(tmp, sizeof(tmp), "%s.tmp", t->path);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		free(s);
		return -ENAMETOOLONG;
	}
	/* Initiator names and addresses are for the service's own users only. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, CONNTAB_MODE);
	if (fd >= 0)
		fchmod(fd, CONNTAB_MODE); /* whatever the umask or an older file said */
	if (fd < 0) {
		r = -errno;
		free(s);
		return r;
	}
	len = strlen(s);
	s[len++] = '\n'; /* strdup'd text: its NUL becomes the newline */
	while (off < len) {
		ssize_t w = write(fd, s + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			r = -errno;
			break;
		}
		off += (size_t)w;
	}
	if (close(fd) < 0 && !r)
		r = -errno;
	if (!r && rename(tmp, t->path) < 0)
		r = -errno;
	if (r)
		unlink(tmp);
	free(s);
	return r;
}

int conntab_publish(struct conntab *t)
{
	int r;

	pthread_mutex_lock(&t->mu);
	r = publish_locked(t);
	pthread_mutex_unlock(&t->mu);
	return r;
}

static void publish_logged(struct conntab *t)
{
	int r = publish_locked(t);

	if (r < 0)
		plog("writing %s: %s", t->path, strerror(-r));
}

/* Whether the last write is at least CONNTAB_TICK_MS before now. Caller holds t->mu. */
static bool tick_passed(const struct conntab *t, int64_t now)
{
	return t->last_write == INT64_MIN || now - t->last_write >= CONNTAB_TICK_MS;
}

/* The list changed: written now if the last write is a tick old, else by conntab_tick
 * (a burst of logins costs one write per tick, not one per login). Caller holds mu. */
static void list_changed(struct conntab *t)
{
	t->dirty = true;
	if (tick_passed(t, t->clock()))
		publish_logged(t);
}

uint64_t conntab_add(struct conntab *t, const char *peer, const char *initiator,
		     const char *lio_initiator, const char *target, enum conntab_kind kind,
		     time_t since)
{
	struct entry *e = calloc(1, sizeof(*e));
	uint64_t id;

	if (!e)
		return 0;
	snprintf(e->peer, sizeof(e->peer), "%s", peer ? peer : "");
	snprintf(e->initiator, sizeof(e->initiator), "%s", initiator ? initiator : "");
	snprintf(e->lio_initiator, sizeof(e->lio_initiator), "%s",
		 lio_initiator ? lio_initiator : "");
	snprintf(e->target, sizeof(e->target), "%s", target ? target : "");
	e->kind = kind;
	e->since = since;
	pthread_mutex_lock(&t->mu);
	id = e->id = t->next_id++;
	e->next = t->head;
	t->head = e;
	t->n++;
	list_changed(t);
	pthread_mutex_unlock(&t->mu);
	return id;
}

void conntab_bytes(struct conntab *t, uint64_t id, uint64_t bytes_in, uint64_t bytes_out)
{
	struct entry *e;

	if (!id)
		return;
	pthread_mutex_lock(&t->mu);
	for (e = t->head; e; e = e->next)
		if (e->id == id) {
			if (e->bytes_in != bytes_in || e->bytes_out != bytes_out)
				t->dirty = true;
			e->bytes_in = bytes_in;
			e->bytes_out = bytes_out;
			break;
		}
	pthread_mutex_unlock(&t->mu);
}

void conntab_remove(struct conntab *t, uint64_t id)
{
	struct entry **pp, *e;

	if (!id)
		return;
	pthread_mutex_lock(&t->mu);
	for (pp = &t->head; (e = *pp); pp = &e->next)
		if (e->id == id) {
			*pp = e->next;
			free(e);
			t->n--;
			list_changed(t);
			break;
		}
	pthread_mutex_unlock(&t->mu);
}

void conntab_clear(struct conntab *t)
{
	struct entry *e;

	pthread_mutex_lock(&t->mu);
	while ((e = t->head)) {
		t->head = e->next;
		free(e);
	}
	t->n = 0;
	publish_logged(t);
	pthread_mutex_unlock(&t->mu);
}

bool conntab_tick(struct conntab *t, int64_t now)
{
	bool wrote = false;

	pthread_mutex_lock(&t->mu);
	if (t->dirty && tick_passed(t, now)) {
		publish_logged(t);
		wrote = true;
	}
	pthread_mutex_unlock(&t->mu);
	return wrote;
}

int64_t conntab_due_ms(struct conntab *t, int64_t now)
{
	int64_t due = -1;

	pthread_mutex_lock(&t->mu);
	if (t->dirty)
		due = tick_passed(t, now) ? 0 : t->last_write + CONNTAB_TICK_MS - now;
	pthread_mutex_unlock(&t->mu);
	return due;
}

size_t conntab_count(struct conntab *t)
{
	size_t n;

	pthread_mutex_lock(&t->mu);
	n = t->n;
	pthread_mutex_unlock(&t->mu);
	return n;
}
