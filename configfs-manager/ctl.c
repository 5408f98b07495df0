/*
 * ctl.c — scsipub-ctl: the configfs manager (cfs.h) from the command line.
 * Errors: "scsipub-ctl: <subcommand>: <reason>" on stderr, exit 1; usage errors exit 2.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>

#include "cfgd_client.h"
#include "cfs.h"
#include "prov.h"

#define PROG "scsipub-ctl"

static const char usage_text[] =
	"usage: " PROG " [--root DIR] [--plain] [--socket PATH] SUBCOMMAND [ARGS]\n"
	"\n"
	"Manage LIO targets, user (TCMU) backstores, LUNs and ACLs in configfs.\n"
	"\n"
	"options:\n"
	"  --root DIR   configfs target root (default " CFS_DEFAULT_ROOT ")\n"
	"  --plain      treat the root as a plain directory (tests)\n"
	"  --socket PATH  scsipub-cfgd's socket (default " CFGD_SOCKET_DEFAULT ")\n"
	"  -h, --help   this help\n"
	"\n"
	"through scsipub-cfgd, the configfs manager daemon (its socket; cfgd_proto.h):\n"
	"  status                                the daemon's protocol version\n"
	"  list                                  live anonymous sessions: backstore, LIO initiator,\n"
	"                                        target, the InitiatorName sent, peer, client pid\n"
	"\n"
	"direct configfs subcommands (root; for operators and tests):\n"
	"  load-modules                          load LIO modules, mount configfs, mkdir /etc/target/pr\n"
	"  ls                                    print targets and user backstores\n"
	"  sweep [--prefix P]                    remove leaked objects of backstores named P* (default sp)\n"
	"  target-ensure IQN PORTAL              target + tpgt_1 + portal (A.B.C.D:PORT or [v6]:PORT), enabled\n"
	"  target-remove IQN                     remove a target and everything under it\n"
	"  backstore-create NAME SIZE DEV_CONFIG [SERIAL]\n"
	"                                        user backstore; SIZE in bytes (suffix K, M, G, T = 1024^n)\n"
	"  backstore-remove NAME                 remove a user backstore and its HBA\n"
	"  lun-add IQN BACKSTORE                 add a TPG LUN for BACKSTORE; prints its number\n"
	"  lun-remove IQN N                      remove TPG LUN N\n"
	"  acl-map IQN INITIATOR MAPPED_LUN TPG_LUN\n"
	"                                        map TPG_LUN as MAPPED_LUN for INITIATOR\n"
	"  acl-remove IQN INITIATOR              remove the initiator's ACL (ends its sessions)\n"
	"  target-sessions IQN                   initiators logged in to a demo-mode target\n"
	"\n"
	"provisioned sessions (prov.h; STATE is the state directory, e.g. /var/lib/scsipub):\n"
	"  session-create STATE ID USER SECRET LUN... [--limit BYTES] [--portal A:P]\n"
	"                                        target iqn...:s.ID with CHAP USER/SECRET; each LUN is\n"
	"                                        blank:SIZE or the path of a read-only base image\n"
	"  session-destroy STATE ID              remove the session's target, backstores, overlays\n"
	"  session-conns ID                      number of initiators logged in\n"
	"  janitor STATE [KEEP_ID...]            remove every provisioned session but KEEP_IDs\n";

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, PROG ": ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry '" PROG " --help'.\n");
	return 2;
}

/* Decimal u64 with an optional binary suffix (K, M, G, T). */
static int parse_u64(const char *s, uint64_t *out, int suffixes)
{
	uint64_t v = 0, mul = 1;
	const char *p = s;

	if (!*p)
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (p == s)
		return -1;
	if (*p && suffixes && !p[1]) {
		switch (*p) {
		case 'K': case 'k': mul = 1ull << 10; break;
		case 'M': case 'm': mul = 1ull << 20; break;
		case 'G': case 'g': mul = 1ull << 30; break;
		case 'T': case 't': mul = 1ull << 40; break;
		default: return -1;
		}
		p++;
	}
	if (*p || (v && mul > UINT64_MAX / v))
		return -1;
	*out = v * mul;
	return 0;
}

static int fail(const char *sub, const char *reason)
{
	fprintf(stderr, PROG ": %s: %s\n", sub, reason);
	return 1;
}

static int print_name(const char *name, void *arg)
{
	(void)arg;
	printf("%s\n", name);
	return 0;
}

struct keep {
	int n;
	char **ids;
};

static int keep_known(void *arg, const char *id)
{
	const struct keep *k = arg;
	int i;

	for (i = 0; i < k->n; i++)
		if (!strcmp(k->ids[i], id))
			return 1;
	return 0;
}

/* session-create STATE ID USER SECRET LUN... [--limit BYTES] [--portal A:P] */
static int session_create(struct cfs *c, int argc, char **argv)
{
	static const struct option opts[] = { { "limit", required_argument, NULL, 'l' },
					       { "portal", required_argument, NULL, 'p' },
					       { NULL, 0, NULL, 0 } };
	struct prov_lun luns[PROV_LUNS_MAX];
	struct prov_session s = { 0 };
	const char *portal = "127.0.0.1:3262";
	char err[512];
	int o, i, n;

	optind = 0;
	opterr = 0;
	while ((o = getopt_long(argc + 1, argv - 1, "l:p:", opts, NULL)) != -1) {
		if (o == 'l' && !parse_u64(optarg, &s.write_limit_bytes, 1))
			continue;
		if (o == 'p') {
			portal = optarg;
			continue;
		}
		return usage_error("%s: bad option or value (--limit BYTES, --portal A:P)",
				   "session-create");
	}
	argv += optind - 1;
	argc -= optind - 1;
	n = argc - 4;
	if (n < 1 || n > PROV_LUNS_MAX)
		return usage_error("%s: wrong number of arguments", "session-create");
	for (i = 0; i < n; i++) {
		const char *spec = argv[4 + i];
		struct stat st;

		errno = 0;
		if (!strncmp(spec, "blank:", 6)) {
			luns[i].base_path = NULL;
			if (parse_u64(spec + 6, &luns[i].size_bytes, 1))
				return usage_error("session-create: bad size in '%s'", spec);
			continue;
		}
		if (stat(spec, &st) < 0 || !S_ISREG(st.st_mode)) {
			fprintf(stderr, PROG ": session-create: %s: %s\n", spec,
				errno ? strerror(errno) : "not a regular file");
			return 1;
		}
		luns[i].base_path = spec;
		luns[i].size_bytes = ((uint64_t)st.st_size + 511) / 512 * 512;
	}
	s.id = argv[1];
	s.chap_user = argv[2];
	s.chap_secret = argv[3];
	s.luns = luns;
	s.n_luns = (unsigned)n;
	if (prov_session_create(c, argv[0], portal, &s, err, sizeof(err)))
		return fail("session-create", err);
	return 0;
}

static int run(struct cfs *c, const char *sub, int argc, char **argv)
{
	uint64_t a, b;
	int r;

#define NARGS(lo, hi)                                                         \
	do {                                                                  \
		if (argc < (lo) || argc > (hi))                               \
			return usage_error("%s: wrong number of arguments", sub); \
	} while (0)

	if (!strcmp(sub, "ls")) {
		NARGS(0, 0);
		r = cfs_ls(c, stdout);
	} else if (!strcmp(sub, "sweep")) {
		static const struct option opts[] = { { "prefix", required_argument, NULL, 'p' },
						      { NULL, 0, NULL, 0 } };
		const char *prefix = "sp";
		unsigned removed = 0;
		int o;

		optind = 0;
		opterr = 0;
		while ((o = getopt_long(argc + 1, argv - 1, "+p:", opts, NULL)) != -1) {
			if (o != 'p')
				return usage_error("%s: bad option (sweep [--prefix P])", sub);
			prefix = optarg;
		}
		if (optind != argc + 1)
			return usage_error("%s: unexpected argument", sub);
		r = cfs_sweep(c, prefix, &removed);
		printf("removed %u object%s\n", removed, removed == 1 ? "" : "s");
	} else if (!strcmp(sub, "target-ensure")) {
		NARGS(2, 2);
		r = cfs_target_ensure(c, argv[0], argv[1]);
	} else if (!strcmp(sub, "target-remove")) {
		NARGS(1, 1);
		r = cfs_target_remove(c, argv[0]);
	} else if (!strcmp(sub, "backstore-create")) {
		NARGS(3, 4);
		if (parse_u64(argv[1], &a, 1))
			return usage_error("backstore-create: bad SIZE '%s'", argv[1]);
		r = cfs_backstore_create(c, argv[0], a, argv[2], argc > 3 ? argv[3] : NULL);
	} else if (!strcmp(sub, "backstore-remove")) {
		NARGS(1, 1);
		r = cfs_backstore_remove(c, argv[0]);
	} else if (!strcmp(sub, "lun-add")) {
		NARGS(2, 2);
		r = cfs_lun_add(c, argv[0], argv[1], &a);
		if (!r)
			printf("%" PRIu64 "\n", a);
	} else if (!strcmp(sub, "lun-remove")) {
		NARGS(2, 2);
		if (parse_u64(argv[1], &a, 0))
			return usage_error("lun-remove: bad LUN '%s'", argv[1]);
		r = cfs_lun_remove(c, argv[0], a);
	} else if (!strcmp(sub, "acl-map")) {
		NARGS(4, 4);
		if (parse_u64(argv[2], &a, 0))
			return usage_error("acl-map: bad MAPPED_LUN '%s'", argv[2]);
		if (parse_u64(argv[3], &b, 0))
			return usage_error("acl-map: bad TPG_LUN '%s'", argv[3]);
		r = cfs_acl_map(c, argv[0], argv[1], a, b);
	} else if (!strcmp(sub, "acl-remove")) {
		NARGS(2, 2);
		r = cfs_acl_remove(c, argv[0], argv[1]);
	} else if (!strcmp(sub, "target-sessions")) {
		NARGS(1, 1);
		r = cfs_target_sessions(c, argv[0], print_name, NULL);
	} else if (!strcmp(sub, "session-create")) {
		return session_create(c, argc, argv);
	} else if (!strcmp(sub, "session-destroy")) {
		char err[512];

		NARGS(2, 2);
		if (prov_session_destroy(c, argv[0], argv[1], err, sizeof(err)))
			return fail(sub, err);
		return 0;
	} else if (!strcmp(sub, "session-conns")) {
		NARGS(1, 1);
		r = prov_session_connections(c, argv[0]);
		if (r >= 0) {
			printf("%d\n", r);
			return 0;
		}
		return fail(sub, r == -EINVAL ? "bad session id" : cfs_error(c));
	} else if (!strcmp(sub, "janitor")) {
		struct keep k = { argc - 1, argv + 1 };
		unsigned removed = 0;
		char err[512];

		NARGS(1, 1 << 20);
		if (prov_janitor(c, argv[0], keep_known, &k, &removed, err, sizeof(err))) {
			printf("removed %u session%s\n", removed, removed == 1 ? "" : "s");
			return fail(sub, err);
		}
		printf("removed %u session%s\n", removed, removed == 1 ? "" : "s");
		return 0;
	} else {
		return usage_error("unknown subcommand '%s'", sub);
	}
#undef NARGS
	return r ? fail(sub, cfs_error(c)) : 0;
}

/* status / list: requests to scsipub-cfgd. */
static int run_daemon(const char *sock, const char *sub, int nargs)
{
	struct cfgd_req q = { .op = !strcmp(sub, "list") ? CFGD_OP_LIST : CFGD_OP_HELLO };
	struct json_object *o, *arr, *v;
	char err[512];
	int fd, r;

	if (nargs)
		return usage_error("%s: wrong number of arguments", sub);
	fd = cfgd_connect(sock, err, sizeof(err));
	if (fd < 0)
		return fail(sub, err);
	r = cfgd_call(fd, &q, &o, err, sizeof(err));
	close(fd);
	if (r < 0)
		return fail(sub, err);
	if (q.op == CFGD_OP_HELLO) {
		json_object_object_get_ex(o, "v", &v);
		printf("scsipub-cfgd at %s: protocol %d\n", sock ? sock : CFGD_SOCKET_DEFAULT,
		       json_object_get_int(v));
	} else if (json_object_object_get_ex(o, "anon", &arr)) {
		size_t n = json_object_array_length(arr);

		for (size_t i = 0; i < n; i++) {
			struct json_object *e = json_object_array_get_idx(arr, i);
			const char *k[] = { "backstore", "initiator", "target", "client", "peer", "pid" };

			for (size_t j = 0; j < sizeof(k) / sizeof(k[0]); j++) {
				json_object_object_get_ex(e, k[j], &v);
				printf("%s%s", j ? " " : "", json_object_get_string(v));
			}
			printf("\n");
		}
		json_object_object_get_ex(o, "total", &v);
		printf("%lld anonymous session(s)", (long long)json_object_get_int64(v));
		json_object_object_get_ex(o, "truncated", &v);
		printf("%s\n", json_object_get_boolean(v) ? " (list truncated)" : "");
	}
	json_object_put(o);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "root", required_argument, NULL, 'r' },
					      { "plain", no_argument, NULL, 'P' },
					      { "socket", required_argument, NULL, 's' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	const char *root = NULL, *sub, *sock = NULL;
	struct cfs *c;
	int plain = 0, o, rc;

	while ((o = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (o) {
		case 'r': root = optarg; break;
		case 'P': plain = 1; break;
		case 's': sock = optarg; break;
		case 'h': fputs(usage_text, stdout); return 0;
		default: fprintf(stderr, "Try '" PROG " --help'.\n"); return 2;
		}
	}
	if (optind >= argc)
		return usage_error("%s", "missing subcommand");
	sub = argv[optind];
	if (!strcmp(sub, "help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (!strcmp(sub, "status") || !strcmp(sub, "list"))
		return run_daemon(sock, sub, argc - optind - 1);
	if (!strcmp(sub, "load-modules")) {
		char err[512];

		if (optind + 1 != argc)
			return usage_error("%s: wrong number of arguments", sub);
		if (cfs_load_modules(err, sizeof(err)))
			return fail(sub, err);
		return 0;
	}
	c = cfs_open(root);
	if (!c) {
		fprintf(stderr, PROG ": %s: root %s: %s\n", sub, root ? root : CFS_DEFAULT_ROOT,
			strerror(errno));
		return 1;
	}
	if (plain)
		cfs_force_plain(c);
	rc = run(c, sub, argc - optind - 1, argv + optind + 1);
	cfs_close(c);
	return rc;
}
