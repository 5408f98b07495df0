/*
 * test_prov.c — provisioned sessions (prov.h) on a plain temporary configfs tree
 * (cfs_force_plain) and a temporary state directory: objects appear and vanish,
 * re-create is idempotent and restores missing pieces, failures roll back, the
 * janitor removes only unknown pv* ids.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_tmpdir.h"

#include "aptpl.h"
#include "cfs.h"
#include "prov.h"

#define MIB (1024ull * 1024)
#define PORTAL "127.0.0.1:3262"
#define SECRET "secret-123456"

struct t {
	char root[PATH_MAX];   /* configfs tree */
	char state[PATH_MAX];  /* state directory */
	struct cfs *c;
	char err[512];
};

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	assert_non_null(test_mkdtemp(t->root, sizeof(t->root), "test_prov_cfs"));
	assert_non_null(test_mkdtemp(t->state, sizeof(t->state), "test_prov_st"));
	t->c = cfs_open(t->root);
	assert_non_null(t->c);
	cfs_force_plain(t->c);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;

	cfs_close(t->c);
	test_rmtree(t->root);
	test_rmtree(t->state);
	free(t);
	return 0;
}

static const char *P(const char *base, const char *fmt, ...)
{
	static char buf[4][PATH_MAX];
	static int slot;
	va_list ap;
	char *b = buf[slot++ % 4];
	int n = snprintf(b, PATH_MAX, "%s/", base);

	va_start(ap, fmt);
	vsnprintf(b + n, PATH_MAX - (size_t)n, fmt, ap);
	va_end(ap);
	return b;
}

static bool exists(const char *p)
{
	struct stat st;

	return lstat(p, &st) == 0;
}

static const char *slurp(const char *p)
{
	static char buf[1024];
	FILE *f = fopen(p, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static void write_file(const char *p, const char *s)
{
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	fputs(s, f);
	fclose(f);
}

static bool has_backstore(struct t *t, const char *name)
{
	char path[PATH_MAX];

	return cfs_backstore_path(t->c, name, path, sizeof(path)) == 0;
}

/* The backstore's control string (written by cfs_backstore_create in plain mode). */
static const char *control(struct t *t, const char *name)
{
	char path[PATH_MAX];

	assert_int_equal(cfs_backstore_path(t->c, name, path, sizeof(path)), 0);
	return slurp(P(path, "control"));
}

static struct prov_lun luns3[3] = {
	{ "/srv/img/a.img", 4 * MIB, NULL },
	{ NULL, 64 * MIB, NULL },
	{ "/srv/img/c.img", 8 * MIB, NULL },
};

static struct prov_session sess(const char *id, unsigned n)
{
	struct prov_session s = {
		.id = id, .chap_user = "user1", .chap_secret = SECRET,
		.luns = luns3, .n_luns = n, .write_limit_bytes = 16 * MIB,
	};
	return s;
}

#define TGT(id) "iscsi/" PROV_IQN_PREFIX id "/tpgt_1"

static void assert_session(struct t *t, const char *id, unsigned n)
{
	char name[64];
	unsigned i;

	assert_true(exists(P(t->root, TGT("%s") "/np/" PORTAL, id)));
	assert_string_equal(slurp(P(t->root, TGT("%s") "/attrib/generate_node_acls", id)), "1");
	assert_string_equal(slurp(P(t->root, TGT("%s") "/auth/password", id)), SECRET);
	assert_string_equal(slurp(P(t->root, TGT("%s") "/enable", id)), "1");
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "pv%sl%u", id, i);
		assert_true(has_backstore(t, name));
		assert_true(exists(P(t->root, TGT("%s") "/lun/lun_%u", id, i)));
	}
	assert_false(exists(P(t->root, TGT("%s") "/lun/lun_%u", id, n)));
	assert_true(exists(P(t->state, "sessions/%s", id)));
}

static void assert_no_session(struct t *t, const char *id)
{
	char name[64];
	unsigned i;

	assert_false(exists(P(t->root, "iscsi/" PROV_IQN_PREFIX "%s", id)));
	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "pv%sl%u", id, i);
		assert_false(has_backstore(t, name));
	}
	assert_false(exists(P(t->state, "sessions/%s", id)));
}

static void test_iqn_and_ids(void **state)
{
	char buf[PROV_IQN_LEN];

	(void)state;
	assert_string_equal(prov_target_iqn("abc123", buf, sizeof(buf)),
			    "iqn.2025-01.pub.scsipub:s.abc123");
	assert_non_null(prov_target_iqn("0123456789abcdef0123456789abcdef", buf, sizeof(buf)));
	assert_null(prov_target_iqn("0123456789abcdef0123456789abcdef0", buf, sizeof(buf)));
	assert_null(prov_target_iqn("ABC", buf, sizeof(buf)));
	assert_null(prov_target_iqn("", buf, sizeof(buf)));
	assert_null(prov_target_iqn("a/b", buf, sizeof(buf)));
	assert_null(prov_target_iqn("abc", buf, 10));
	assert_true(prov_id_valid("z9"));
	assert_false(prov_id_valid(NULL));
	assert_false(prov_id_valid("a-b"));
}

static void test_create_destroy(void **state)
{
	struct t *t = *state;
	struct prov_session s = sess("abc123", 3);
	const char *ctl;

	assert_int_equal(prov_session_create(t->c, t->state, PORTAL, &s, t->err,
					     sizeof(t->err)), 0);
	assert_session(t, "abc123", 3);
	ctl = control(t, "pvabc123l0");
	assert_non_null(strstr(ctl, "dev_size=4194304,"));
	assert_non_null(strstr(ctl, P(t->state, "sessions/abc123/lun0.ovl")));
	assert_non_null(strstr(ctl, "base=/srv/img/a.img"));
	assert_non_null(strstr(ctl, "limit=16777216"));
	ctl = control(t, "pvabc123l1");
	assert_null(strstr(ctl, "base="));
	assert_non_null(strstr(ctl, "lun1.bitmap"));
	assert_true(exists(P(t->state, PROV_LOCK_FILE)));
	assert_int_equal(prov_session_connections(t->c, "abc123"), 0);

	assert_int_equal(prov_session_destroy(t->c, t->state, "abc123", t->err,
					      sizeof(t->err)), 0);
	assert_no_session(t, "abc123");
	/* Idempotent. */
	assert_int_equal(prov_session_destroy(t->c, t->state, "abc123", t->err,
					      sizeof(t->err)), 0);
	assert_int_equal(prov_session_connections(t->c, "abc123"), -ENOENT);
}

static void test_recreate_restores(void **state)
{
	struct t *t = *state;
	struct prov_session s = sess("p1", 3);

	assert_int_equal(prov_session_create(t->c, t->state, PORTAL, &s, t->err,
					     sizeof(t->err)), 0);
	/* The overlay holds data (the handler made it): it must survive. */
	write_file(P(t->state, "sessions/p1/lun0.ovl"), "data");
	write_file(P(t->state, "sessions/p1/lun0.bitmap"), "bits");
	/* Idempotent. */
	assert_int_equal(prov_session_create(t->c, t->state, PORTAL, &s, t->err,
					     sizeof(t->err)), 0);
	assert_session(t, "p1", 3);
	/* A restart found LUN 2 and its backstore gone, and the target gone entirely. */
	assert_int_equal(cfs_target_remove(t->c, PROV_IQN_PREFIX "p1"), 0);
	assert_int_equal(cfs_backstore_remove(t->c, "pvp1l2"), 0);
	assert_int_equal(prov_session_create(t->c, t->state, PORTAL, &s, t->err,
					     sizeof(t->err)), 0);
	assert_session(t, "p1", 3);
	assert_string_equal(slurp(P(t->state, "sessions/p1/lun0.ovl")), "data");
	assert_string_equal(slurp(P(t->state, "sessions/p1/lun0.bitmap")), "bits");
	/* A failing re-create (bad portal) keeps the old data and the existing objects. */
	assert_int_equal(prov_session_create(t->c, t->state, "bad", &s, t->err,
					     sizeof(t->err)), -EINVAL);
	assert_non_null(strstr(t->err, "portal"));
	assert_session(t, "p1", 3);
	assert_string_equal(slurp(P(t->state, "sessions/p1/lun0.ovl")), "data");
}

/*
 * PR restore (issue 4): a re-created target gets force_pr_aptpl on its new backstore,
 * the registrations queued in res_aptpl_metadata (plain mode keeps the last write),
 * explicit ACLs with CHAP for the registered initiators, and no placeholder ACL left.
 */
static void test_pr_restore(void **state)
{
	struct t *t = *state;
	struct prov_lun l[1] = { { NULL, 4 * MIB, NULL } };
	struct prov_session s = sess("pr1", 1);
	struct aptpl_state st = { 0 };
	struct aptpl_reg regs[2];
	char path[PATH_MAX];
	const char *meta;

	memset(regs, 0, sizeof(regs));
	snprintf(regs[0].initiator, sizeof(regs[0].initiator), "iqn.2025-01.test:a");
	snprintf(regs[0].isid, sizeof(regs[0].isid), "23d000001");
	regs[0].key = 0xa1;
	regs[0].holder = true;
	regs[0].type = APTPL_EXCLUSIVE_ACCESS_ALLREG;
	snprintf(regs[1].initiator, sizeof(regs[1].initiator), "iqn.2025-01.test:b");
	regs[1].key = 0xb2;
	for (int i = 0; i < 2; i++) {
		snprintf(regs[i].target, sizeof(regs[i].target), PROV_IQN_PREFIX "pr1");
		regs[i].tpgt = 1;
	}
	st.regs = regs;
	st.n = 2;
	st.generation = 7;
	l[0].pr = &st;
	s.luns = l;
	assert_int_equal(prov_session_create(t->c, t->state, PORTAL, &s, t->err,
					     sizeof(t->err)), 0);
	assert_int_equal(cfs_backstore_path(t->c, "pvpr1l0", path, sizeof(path)), 0);
	assert_string_equal(slurp(P(path, "attrib/force_pr_aptpl")), "1");
	meta = slurp(P(path, "pr/res_aptpl_metadata"));
	assert_non_null(meta);
	/* The last queued registration: B's, numbers in decimal. */
	assert_non_null(strstr(meta, "initiator_node=iqn.2025-01.test:b,"));
	assert_non_null(strstr(meta, "sa_res_key=178,"));
	assert_true(exists(P(t->root, TGT("pr1") "/acls/iqn.2025-01.test:a/lun_0")));
	assert_true(exists(P(t->root, TGT("pr1") "/acls/iqn.2025-01.test:b/lun_0")));
	assert_string_equal(slurp(P(t->root, TGT("pr1") "/acls/iqn.2025-01.test:a/auth/userid")),
			    "user1");
	assert_string_equal(slurp(P(t->root, TGT("pr1") "/acls/iqn.2025-01.test:b/auth/password")),
			    SECRET);
	assert_false(exists(P(t->root, TGT("pr1") "/acls/" PROV_PR_PAD_INITIATOR)));
	/* Idempotent with the target present: nothing is queued again. */
	write_file(P(path, "pr/res_aptpl_metadata"), "untouched");
	assert_int_equal(prov_session_create(t->c, t->state, PORTAL, &s, t->err,
					     sizeof(t->err)), 0);
	assert_string_equal(slurp(P(path, "pr/res_aptpl_metadata")), "untouched");
	/* A registration naming another target is refused, and rolled back. */
	assert_int_equal(cfs_target_remove(t->c, PROV_IQN_PREFIX "pr1"), 0);
	snprintf(regs[1].target, sizeof(regs[1].target), PROV_IQN_PREFIX "other");
	assert_int_equal(prov_session_create(t->c, t->state, PORTAL, &s, t->err,
					     sizeof(t->err)), -EINVAL);
	assert_non_null(strstr(t->err, "not this session's target"));
	assert_false(exists(P(t->root, "iscsi/" PROV_IQN_PREFIX "pr1")));
}

static void test_create_rollback(void **state)
{
	struct t *t = *state;
	struct prov_session s = sess("rb", 3);
	struct prov_lun longbase[1] = { { NULL, MIB, NULL } };
	char base[240];

	/* LUN 1 of an existing target is taken by another backstore: -EEXIST, and what
	 * this call made (backstores 0-2, LUN 0, the session dir) is gone again. */
	assert_int_equal(cfs_target_ensure_demo(t->c, PROV_IQN_PREFIX "rb", PORTAL, "user1",
						SECRET), 0);
	assert_int_equal(cfs_backstore_create(t->c, "other", MIB, "cow/size=1048576", NULL), 0);
	assert_int_equal(cfs_lun_add_at(t->c, PROV_IQN_PREFIX "rb", "other", 1), 0);
	assert_int_equal(prov_session_create(t->c, t->state, PORTAL, &s, t->err,
					     sizeof(t->err)), -EEXIST);
	assert_non_null(strstr(t->err, "LUN 1"));
	assert_false(has_backstore(t, "pvrbl0"));
	assert_false(has_backstore(t, "pvrbl1"));
	assert_false(has_backstore(t, "pvrbl2"));
	assert_false(exists(P(t->root, TGT("rb") "/lun/lun_0")));
	assert_true(exists(P(t->root, TGT("rb") "/lun/lun_1")));
	assert_false(exists(P(t->state, "sessions/rb")));
	assert_int_equal(cfs_target_remove(t->c, PROV_IQN_PREFIX "rb"), 0);
	assert_int_equal(cfs_backstore_remove(t->c, "other"), 0);

	/* A dev_config over 255 characters: nothing is left. */
	memset(base, 'b', sizeof(base) - 1);
	base[0] = '/';
	base[sizeof(base) - 1] = '\0';
	longbase[0].base_path = base;
	s.luns = longbase;
	s.n_luns = 1;
	assert_int_equal(prov_session_create(t->c, t->state, PORTAL, &s, t->err,
					     sizeof(t->err)), -ENAMETOOLONG);
	assert_no_session(t, "rb");
}

static void test_bad_args(void **state)
{
	struct t *t = *state;
	struct prov_session s = sess("ok", 1);
	struct prov_lun odd[1] = { { NULL, 1000, NULL } };
	struct prov_lun many[PROV_LUNS_MAX + 1];

	s.id = "Bad";
	assert_int_equal(prov_session_create(t->c, t->state, PORTAL, &s, t->err,
					     sizeof(t->err)), -EINVAL);
	s = sess("ok", 0);
	assert_int_equal(prov_session_create(t->c, t->state, PORTAL, &s, t->err,
					     sizeof(t->err)), -EINVAL);
	memset(many, 0, sizeof(many));
	s.luns = many;
	s.n_luns = PROV_LUNS_MAX + 1;
	assert_int_equal(prov_session_create(t->c, t->state, PORTAL, &s, t->err,
					     sizeof(t->err)), -EINVAL);
	s = sess("ok", 1);
	s.luns = odd;
	assert_int_equal(prov_session_create(t->c, t->state, PORTAL, &s, t->err,
					     sizeof(t->err)), -EINVAL);
	assert_non_null(strstr(t->err, "512"));
	s = sess("ok", 1);
	s.chap_secret = "short";
	assert_int_equal(prov_session_create(t->c, t->state, PORTAL, &s, t->err,
					     sizeof(t->err)), -EINVAL);
	assert_non_null(strstr(t->err, "secret"));
	s.chap_secret = SECRET;
	s.chap_user = "a b";
	assert_int_equal(prov_session_create(t->c, t->state, PORTAL, &s, t->err,
					     sizeof(t->err)), -EINVAL);
	assert_no_session(t, "ok");
	assert_int_equal(prov_session_destroy(t->c, t->state, "../x", t->err, sizeof(t->err)),
			 -EINVAL);
	assert_int_equal(prov_session_connections(t->c, "A"), -EINVAL);
}

static void test_connections(void **state)
{
	struct t *t = *state;
	struct prov_session s = sess("cn", 1);
	static const char two[] = "iqn.x:a\n\0iqn.x:b\n\0";
	FILE *f;

	assert_int_equal(prov_session_create(t->c, t->state, PORTAL, &s, t->err,
					     sizeof(t->err)), 0);
	f = fopen(P(t->root, TGT("cn") "/dynamic_sessions"), "w");
	assert_non_null(f);
	assert_int_equal(fwrite(two, 1, sizeof(two) - 1, f), sizeof(two) - 1);
	fclose(f);
	assert_int_equal(prov_session_connections(t->c, "cn"), 2);
}

static int known_only(void *arg, const char *id)
{
	const char *const *keep = arg;

	for (; *keep; keep++)
		if (!strcmp(*keep, id))
			return **keep == 'e' ? -EIO : 1; /* ids starting 'e': lookup error */
	return 0;
}

static void test_janitor(void **state)
{
	struct t *t = *state;
	const char *keep[] = { "keep1", "err1", NULL };
	struct prov_session s;
	unsigned removed = 99;
	uint64_t l;

	s = sess("keep1", 2);
	assert_int_equal(prov_session_create(t->c, t->state, PORTAL, &s, t->err,
					     sizeof(t->err)), 0);
	s = sess("err1", 1);
	assert_int_equal(prov_session_create(t->c, t->state, PORTAL, &s, t->err,
					     sizeof(t->err)), 0);
	s = sess("gone1", 3);
	assert_int_equal(prov_session_create(t->c, t->state, PORTAL, &s, t->err,
					     sizeof(t->err)), 0);
	/* An id holding 'l' and digits: pvl1l7l0 parses as id "l1l7", LUN 0. */
	s = sess("l1l7", 1);
	assert_int_equal(prov_session_create(t->c, t->state, PORTAL, &s, t->err,
					     sizeof(t->err)), 0);
	/* Leftovers of half-made sessions: a lone backstore, a lone overlay dir. */
	assert_int_equal(cfs_backstore_create(t->c, "pvlonel3", MIB, "cow/size=1048576", NULL),
			 0);
	assert_int_equal(mkdir(P(t->state, "sessions/lonedir"), 0700), 0);
	write_file(P(t->state, "sessions/lonedir/lun0.ovl"), "x");
	/* Not ours: the portal's anonymous session, targetcli objects, odd names. */
	assert_int_equal(cfs_target_ensure(t->c, "iqn.2025-01.pub.scsipub:blank", PORTAL), 0);
	assert_int_equal(cfs_backstore_create(t->c, "sp0123456789abcdef", MIB,
					      "cow/size=1048576", NULL), 0);
	assert_int_equal(cfs_lun_add(t->c, "iqn.2025-01.pub.scsipub:blank",
				     "sp0123456789abcdef", &l), 0);
	assert_int_equal(cfs_backstore_create(t->c, "pvNOTl0", MIB, "cow/size=1048576", NULL),
			 0);
	assert_int_equal(cfs_backstore_create(t->c, "pvxl", MIB, "cow/size=1048576", NULL), 0);
	assert_int_equal(cfs_target_ensure(t->c, "iqn.2003-01.org.linux-iscsi.x:sn.1", PORTAL),
			 0);
	assert_int_equal(mkdir(P(t->state, "sessions/NotAnId"), 0700), 0);

	assert_int_equal(prov_janitor(t->c, t->state, known_only, keep, &removed, t->err,
				      sizeof(t->err)), 0);
	assert_int_equal(removed, 4); /* gone1, l1l7, lone, lonedir */
	assert_session(t, "keep1", 2);
	assert_session(t, "err1", 1);
	assert_no_session(t, "gone1");
	assert_no_session(t, "l1l7");
	assert_false(has_backstore(t, "pvlonel3"));
	assert_false(exists(P(t->state, "sessions/lonedir")));
	assert_true(has_backstore(t, "sp0123456789abcdef"));
	assert_true(has_backstore(t, "pvNOTl0"));
	assert_true(has_backstore(t, "pvxl"));
	assert_true(exists(P(t->root, "iscsi/iqn.2025-01.pub.scsipub:blank/tpgt_1/lun/lun_0")));
	assert_true(exists(P(t->root, "iscsi/iqn.2003-01.org.linux-iscsi.x:sn.1")));
	assert_true(exists(P(t->state, "sessions/NotAnId")));

	/* Nothing more to do. */
	assert_int_equal(prov_janitor(t->c, t->state, known_only, keep, &removed, t->err,
				      sizeof(t->err)), 0);
	assert_int_equal(removed, 0);
}

static void test_lock(void **state)
{
	struct t *t = *state;
	int fd = prov_lock(t->state), fd2;

	assert_true(fd >= 0);
	/* Held: another open file description cannot take it. */
	fd2 = open(P(t->state, PROV_LOCK_FILE), O_RDWR);
	assert_true(fd2 >= 0);
	assert_int_equal(flock(fd2, LOCK_EX | LOCK_NB), -1);
	assert_int_equal(errno, EWOULDBLOCK);
	prov_unlock(fd);
	assert_int_equal(flock(fd2, LOCK_EX | LOCK_NB), 0);
	close(fd2);
	assert_int_equal(prov_lock(P(t->state, "missing/dir")), -ENOENT);
	assert_int_equal(prov_lock(""), -EINVAL);
	prov_unlock(-1);
}

/* PRgeneration placeholders are bounded per session, not per LUN: LUNs take them in
 * order until PROV_PR_PAD_MAX are given (a 14 KB request asking 256 LUNs x 4 billion
 * would otherwise mean 16.8 M configfs writes under the daemon's lock). */
static void test_pr_pad_bound(void **state)
{
	struct prov_lun l[4] = { { NULL, MIB, NULL } };
	struct prov_session s = sess("pad", 4);
	struct aptpl_state st[4];
	unsigned i, sum = 0;

	(void)state;
	memset(st, 0, sizeof(st));
	for (i = 0; i < 4; i++) {
		l[i] = (struct prov_lun){ NULL, MIB, &st[i] };
		st[i].generation = 40000;
	}
	st[0].generation = 9;
	st[0].n = 0;
	s.luns = l;
	assert_int_equal(prov_pr_pad_count(&s, 0), 9);
	assert_int_equal(prov_pr_pad_count(&s, 1), 40000);
	assert_int_equal(prov_pr_pad_count(&s, 2), PROV_PR_PAD_MAX - 40009);
	assert_int_equal(prov_pr_pad_count(&s, 3), 0);
	st[1].generation = UINT32_MAX;
	for (i = 0; i < 4; i++)
		sum += prov_pr_pad_count(&s, i);
	assert_int_equal(sum, PROV_PR_PAD_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pr_pad_bound),
		cmocka_unit_test(test_iqn_and_ids),
		cmocka_unit_test_setup_teardown(test_create_destroy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recreate_restores, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pr_restore, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_rollback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_janitor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
