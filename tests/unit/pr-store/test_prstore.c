/*
 * test_prstore.c — pr-store against a throwaway PostgreSQL cluster (pg_test.h) and a
 * plain temporary configfs tree: prdb_save/load/delete round trip, the foreign key to
 * sessions, and prcap_capture's change detection (file + PRgeneration), refusal of a
 * file that does not parse, and skipping of names and backstores that are not ours.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "api-server/pg_test.h"
#include "test_tmpdir.h"

#include "aptpl.h"
#include "capture.h"
#include "cfs.h"
#include "prdb.h"

#define TEXT_A \
	"PR_REG_START: 0\ninitiator_fabric=iSCSI\ninitiator_node=iqn.2025-01.test:a\n" \
	"sa_res_key=161\nres_holder=1\nres_type=05\nres_scope=00\nres_all_tg_pt=0\n" \
	"mapped_lun=0\ntarget_fabric=iSCSI\ntarget_node=iqn.2025-01.pub.scsipub:s.s1\n" \
	"tpgt=1\nport_rtpi=1\ntarget_lun=0\nPR_REG_END: 0\n"

static struct pg_test pg;
static PGconn *db;

static void exec_ok(const char *sql)
{
	PGresult *r = PQexec(db, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
}

/* The repository's migration 002 (its path from pg-local.sh's). */
static void apply_schema(void)
{
	char path[PATH_MAX], *sql, *slash;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s", pg.script);
	slash = strrchr(path, '/');
	*slash = '\0';
	slash = strrchr(path, '/');
	snprintf(slash, sizeof(path) - (size_t)(slash - path), "/pr-store/schema/002_pr_state.sql");
	f = fopen(path, "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	sql = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(sql, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	/* 001's sessions table, reduced to what the foreign key needs. */
	exec_ok("CREATE TABLE sessions (id text PRIMARY KEY)");
	exec_ok(sql);
	free(sql);
	exec_ok("INSERT INTO sessions (id) VALUES ('s1')");
}

static int group_setup(void **state)
{
	(void)state;
	if (pg_test_start(&pg) < 0)
		return -1;
	db = PQconnectdb(pg.url);
	if (PQstatus(db) != CONNECTION_OK)
		return -1;
	apply_schema();
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	PQfinish(db);
	pg_test_stop(&pg);
	return 0;
}

static void test_save_load_delete(void **state)
{
	struct aptpl_state st[2];
	char err[256];

	(void)state;
	assert_int_equal(prdb_save(db, "s1", 0, 9, TEXT_A, err, sizeof(err)), 0);
	assert_int_equal(prdb_save(db, "s1", 1, 3, "No Registrations or Reservations\n", err,
				   sizeof(err)), 0);
	assert_int_equal(prdb_save(db, "s1", 0, 10, TEXT_A, err, sizeof(err)), 0); /* upsert */
	assert_int_equal(prdb_load(db, "s1", 2, st, err, sizeof(err)), 2);
	assert_int_equal(st[0].n, 1);
	assert_int_equal(st[0].generation, 10);
	assert_int_equal(st[0].regs[0].key, 161);
	assert_int_equal(st[0].regs[0].type, APTPL_WRITE_EXCLUSIVE_REGONLY);
	assert_int_equal(st[1].n, 0);
	assert_int_equal(st[1].generation, 3);
	aptpl_state_free(&st[0]);
	aptpl_state_free(&st[1]);
	/* A session that does not exist: nothing to keep. */
	assert_int_equal(prdb_save(db, "nosuch", 0, 1, TEXT_A, err, sizeof(err)), -ENOENT);
	/* Stored garbage is refused on load, all LUNs left empty. */
	assert_int_equal(prdb_save(db, "s1", 1, 3, "garbage", err, sizeof(err)), 0);
	assert_int_equal(prdb_load(db, "s1", 2, st, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "LUN 1"));
	assert_null(st[0].regs);
	assert_int_equal(prdb_delete(db, "s1", err, sizeof(err)), 2);
	assert_int_equal(prdb_load(db, "s1", 2, st, err, sizeof(err)), 0);
}

static void write_file(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(s, f);
	fclose(f);
}

/* Write PRgeneration text gen into backstore dir bs's pr/res_pr_generation. */
static void set_generation(const char *bs, const char *gen)
{
	char p[2 * PATH_MAX];

	snprintf(p, sizeof(p), "%s/pr", bs);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/pr/res_pr_generation", bs);
	write_file(p, gen);
}

/* path holding len bytes of APTPL-looking lines. */
static void big_file(const char *path, size_t len)
{
	static const char line[] = "initiator_fabric=iSCSI\n";
	FILE *f = fopen(path, "w");
	size_t i;

	assert_non_null(f);
	for (i = 0; i < len; i++)
		fputc(line[i % (sizeof(line) - 1)], f);
	assert_int_equal(fclose(f), 0);
}

/* A plain-tree backstore `name` (its dir into bs) with PRgeneration gen, and its APTPL
 * file aptpl_<name> in prdir holding text (path into file). */
static void plant(struct cfs *c, const char *prdir, const char *name, const char *gen,
		  const char *text, char *bs, char *file)
{
	assert_int_equal(cfs_backstore_create(c, name, 1 << 20, "cow/size=1048576", NULL), 0);
	assert_int_equal(cfs_backstore_path(c, name, bs, PATH_MAX), 0);
	set_generation(bs, gen);
	snprintf(file, 2 * PATH_MAX, "%s/aptpl_%s", prdir, name);
	write_file(file, text);
}

static void test_capture(void **state)
{
	char root[PATH_MAX], prdir[PATH_MAX], bs[PATH_MAX], p[2 * PATH_MAX], err[256];
	struct aptpl_state st[1];
	struct prcap *cap;
	struct cfs *c;
	unsigned saved;

	(void)state;
	assert_non_null(test_mkdtemp(root, sizeof(root), "test_prstore_cfs"));
	assert_non_null(test_mkdtemp(prdir, sizeof(prdir), "test_prstore_pr"));
	c = cfs_open(root);
	assert_non_null(c);
	cfs_force_plain(c);
	plant(c, prdir, "pvs1l0", "0x00000004\n", TEXT_A, bs, p);
	cap = prcap_new(c, prdir, db);
	assert_non_null(cap);

	assert_int_equal(prcap_capture(cap, "aptpl_pvs1l0", err, sizeof(err)), 1);
	assert_int_equal(prcap_capture(cap, "pvs1l0", err, sizeof(err)), 0); /* unchanged */
	assert_int_equal(prdb_load(db, "s1", 1, st, err, sizeof(err)), 1);
	assert_int_equal(st[0].generation, 4);
	assert_int_equal(st[0].n, 1);
	aptpl_state_free(&st[0]);
	/* A RELEASE rewrites the file without a generation bump: captured. */
	write_file(p, "No Registrations or Reservations\n");
	assert_int_equal(prcap_capture(cap, "aptpl_pvs1l0", err, sizeof(err)), 1);
	/* A generation bump alone is captured too. */
	set_generation(bs, "0x00000005\n");
	assert_int_equal(prcap_scan(cap, &saved, err, sizeof(err)), 0);
	assert_int_equal(saved, 1);
	assert_int_equal(prdb_load(db, "s1", 1, st, err, sizeof(err)), 1);
	assert_int_equal(st[0].generation, 5);
	assert_int_equal(st[0].n, 0);
	/* A file that does not parse is refused; the stored state stays. */
	write_file(p, "PR_REG_START: 0\n");
	assert_int_equal(prcap_capture(cap, "aptpl_pvs1l0", err, sizeof(err)), -EINVAL);
	assert_int_equal(prdb_load(db, "s1", 1, st, err, sizeof(err)), 1);
	assert_int_equal(st[0].generation, 5);
	/* A file over the bound is refused whole, never parsed cut short. */
	big_file(p, (size_t)APTPL_REGS_MAX * 1024 + 1);
	assert_int_equal(prcap_capture(cap, "aptpl_pvs1l0", err, sizeof(err)), -EFBIG);
	assert_non_null(strstr(err, "registrations"));
	assert_int_equal(prdb_load(db, "s1", 1, st, err, sizeof(err)), 1);
	assert_int_equal(st[0].generation, 5);
	/* Not ours: other names, a missing backstore, a session without a row. */
	assert_int_equal(prcap_capture(cap, "aptpl_spdeadbeef", err, sizeof(err)), 0);
	assert_int_equal(prcap_capture(cap, "aptpl_pvs1l9", err, sizeof(err)), 0);
	plant(c, prdir, "pvs2l0", "0x00000001\n", TEXT_A, bs, p);
	assert_int_equal(prcap_capture(cap, "aptpl_pvs2l0", err, sizeof(err)), 0);

	prcap_free(cap);
	cfs_close(c);
	test_rmtree(root);
	test_rmtree(prdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_save_load_delete),
		cmocka_unit_test(test_capture),
	};
	return cmocka_run_group_tests_name("prstore", tests, group_setup, group_teardown);
}
