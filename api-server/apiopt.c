/*
 * apiopt.c — the option table (see apiopt.h), run by the shared engine optable.h
 * (common).
 */
#include "apiopt.h"
#include "cfgd_proto.h"

#include <errno.h>
#include <string.h>

#include "settings.h"
#include "optable.h"

#define F(f) OPTABLE_FIELD(struct api_options, f)

static const struct optable_opt table[] = {
	{ "listen", NULL, OPTABLE_ADDR_OFF, F(listen), "", "ADDR:PORT", 0, 0,
	  "plain HTTP address of the API (default: " APIOPT_LISTEN_LOOPBACK " with --https-listen,"
	  " else " APIOPT_LISTEN_ANY ")", false },
	{ "https-listen", NULL, OPTABLE_ADDR_OFF, F(https_listen), "", "ADDR:PORT", 0, 0,
	  "HTTPS address of the API (TLS 1.2/1.3, --tls-cert); empty = no HTTPS", false },
	{ "tls-cert", NULL, OPTABLE_STR, F(tls_cert), "", "FILE", 0, 0,
	  "PEM certificate (chain) of HTTPS: the portal's --tls-cert", false },
	{ "tls-key", NULL, OPTABLE_STR, F(tls_key), "", "FILE", 0, 0,
	  "PEM private key (unencrypted) of --tls-cert (default: in --tls-cert's file)", false },
	{ "tls-reload-interval", NULL, OPTABLE_U32, F(tls_reload_interval), "60", "SECONDS", 1,
	  86400, "look at --tls-cert/--tls-key this often; changed files are reloaded", false },
	{ "public", NULL, OPTABLE_HOSTPORT_OFF, F(public_addr), "", "HOST:PORT", 0, 0,
	  "iSCSI portal address returned to clients (default: this host's name, port 3260)",
	  false },
	{ "database", NULL, OPTABLE_STR, F(database), "", "URL",  0, 0,
	  "libpq connection URL (default: the DATABASE_URL environment variable)", true },
	{ "state", NULL, OPTABLE_PATH, F(state), "/var/lib/scsipub", "DIR", 0, 0,
	  "state directory: images/<account>/ and api/ready are the API's; sessions/<id>/ and "
	  "portal/ are read", false },
	{ "cfgd-socket", NULL, OPTABLE_PATH, F(cfgd_socket), CFGD_SOCKET_DEFAULT, "PATH", 0, 0,
	  "socket of scsipub-cfgd, the configfs manager that makes the sessions' LIO objects",
	  false },
	{ "user", NULL, OPTABLE_STR, F(user), "", "USER", 0, 0,
	  "when started as root: become USER (name, uid or uid:gid; no capabilities) before "
	  "serving HTTP; empty = keep the starting user", false },
	{ "catalog", NULL, OPTABLE_STR, F(catalog), "", "DIR", 0, 0,
	  "anonymous catalog (*.img, *.iso) sessions may use (default: STATE/catalog)", false },
	{ "admin-key-file", NULL, OPTABLE_STR, F(admin_key_file), "", "FILE", 0, 0,
	  "file holding the admin key for GET /admin (default: /admin disabled)", false },
	{ "janitor-interval", NULL, OPTABLE_U32, F(janitor_interval), "600", "SECONDS", 1, 86400,
	  "tick of the janitor removing pv* objects no session row knows", false },
	{ "max-image-bytes", NULL, OPTABLE_U64, F(max_image_bytes), "17179869184", "BYTES", 512,
	  INT64_MAX, "largest private image, downloaded and decompressed (16 GiB)", false },
	{ "default-image-budget", NULL, OPTABLE_U64, F(default_image_budget), "2147483648", "BYTES", 0,
	  INT64_MAX, "private image bytes of an account made without --image-budget (2 GiB)", false },
	{ "lun-write-limit", NULL, OPTABLE_U64, F(lun_write_limit), "0", "BYTES", 0, UINT64_MAX,
	  "overlay data each provisioned LUN may write; 0 = unlimited", false },
	{ "default-ttl", NULL, OPTABLE_U32, F(default_ttl), "3600", "SECONDS", 1, 2592000,
	  "ttl_s of sessions that give none: how long a suspended session is kept", false },
	{ "fetch-wait", NULL, OPTABLE_U32, F(fetch_wait), "1800", "SECONDS", 1, 86400,
	  "how long POST /api/images waits for the fetch before answering 202", false },
	{ "fetch-timeout", NULL, OPTABLE_U32, F(fetch_timeout), "21600", "SECONDS", 60, 604800,
	  "how long one image fetch may take in all before it fails (6 h: 16 GiB at 1 MB/s)",
	  false },
	{ "max-fetches", NULL, OPTABLE_U32, F(max_fetches), "16", "COUNT", 1, 1024,
	  "image fetches running at once, all accounts (the next POST /api/images: 503)",
	  false },
	{ "max-account-fetches", NULL, OPTABLE_U32, F(max_account_fetches), "2", "COUNT", 1, 64,
	  "image fetches one account may run at once (the next POST /api/images: 429)",
	  false },
	{ "fetch-allow-net", NULL, OPTABLE_STR, F(fetch_allow_net), "", "CIDR,...", 0, 0,
	  "networks POST /api/images may fetch from besides public addresses, e.g. "
	  "10.0.2.0/24,fd00::/8 (default: none: loopback, private, link-local... refused)",
	  false },
	{ "config", NULL, OPTABLE_PATH, F(config), SETTINGS_DEFAULT_PATH, "FILE", 0, 0,
	  "settings file: its [common] and [api] keys are these options' names; the "
	  "command line overrides it; a missing default file is fine", false },
};
#define NOPTS (sizeof(table) / sizeof(table[0]))

int apiopt_parse(int argc, char **argv, int first, struct api_options *ao, char *err,
		 size_t errlen)
{
	int r;

	memset(ao, 0, sizeof(*ao));
	r = optable_parse(table, NOPTS, argc, argv, first, ao, &ao->help, err, errlen);
	if (r == 0 && ao->help)
		apiopt_usage(stdout);
	if (r < 0 || ao->help)
		return r;
	r = fetch_nets_parse(ao->fetch_allow_net, &ao->fetch_allow, err, errlen);
	if (r < 0)
		return r;
	if (ao->https_listen[0] && !ao->tls_cert[0]) {
		snprintf(err, errlen, "--https-listen needs --tls-cert (and --tls-key unless the key"
			 " is in the certificate's file)");
		return -EINVAL;
	}
	if (!ao->listen[0])
		snprintf(ao->listen, sizeof(ao->listen), "%s",
			 ao->https_listen[0] ? APIOPT_LISTEN_LOOPBACK : APIOPT_LISTEN_ANY);
	return 0;
}

int apiopt_kind(const char *name)
{
	return optable_kind(table, NOPTS, name);
}

void apiopt_usage(FILE *out)
{
	fprintf(out,
		"usage: scsipub-api [OPTIONS]\n"
		"       scsipub-api account-create NAME [--image-budget BYTES] [--database URL]\n"
		"HTTP API of scsipub's provisioned tier (images, sessions, status, metrics).\n\n");
	optable_usage(table, NOPTS, out);
}

void apiopt_each(const struct api_options *ao, void (*emit)(const char *line, void *arg),
		 void *arg)
{
	optable_each(table, NOPTS, ao, emit, arg);
}
