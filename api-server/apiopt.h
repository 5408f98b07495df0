/*
 * apiopt.h — scsipub-api's command-line options, declared once in a table with
 * default and unit (apiopt.c), in the style of the portal's options.c: --help prints
 * the table, startup logs every effective value, /status shows them. Options take
 * "--name VALUE" or "--name=VALUE".
 */
#ifndef SCSIPUB_APIOPT_H
#define SCSIPUB_APIOPT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fetch.h"

#define APIOPT_ADDR_MAX 300
#define APIOPT_NETS_MAX 1024
#define APIOPT_URL_MAX 1024
#define APIOPT_LISTEN_ANY "0.0.0.0:8080"          /* --listen without --https-listen */
#define APIOPT_LISTEN_LOOPBACK "127.0.0.1:8080"   /* --listen with --https-listen */

struct api_options {
	char listen[APIOPT_ADDR_MAX];      /* ADDR:PORT of plain HTTP (derived when not given) */
	char https_listen[APIOPT_ADDR_MAX]; /* ADDR:PORT of HTTPS; "" = no HTTPS */
	char tls_cert[PATH_MAX];           /* PEM certificate (chain) of HTTPS */
	char tls_key[PATH_MAX];            /* its PEM key; "" = in tls_cert's file */
	uint32_t tls_reload_interval;      /* seconds between looks at the two files */
	char public_addr[APIOPT_ADDR_MAX]; /* HOST:PORT of the iSCSI portal, as advertised */
	char database[APIOPT_URL_MAX];     /* libpq URL; "" = $DATABASE_URL */
	char state[PATH_MAX];              /* state directory */
	char cfgd_socket[PATH_MAX];        /* scsipub-cfgd's socket */
	char user[64];                     /* --user: drop root to this user, "" = no */
	char catalog[PATH_MAX];            /* anonymous catalog dir; "" = <state>/catalog */
	char admin_key_file[PATH_MAX];     /* file holding the admin key; "" = no /admin */
	uint32_t janitor_interval;         /* seconds */
	uint64_t max_image_bytes;          /* bytes per private image (download and raw) */
	uint64_t default_image_budget;     /* bytes of private images per new account */
	uint64_t lun_write_limit;          /* bytes of overlay data per LUN, 0 = none */
	uint32_t default_ttl;              /* seconds a suspended session is kept */
	uint32_t fetch_wait;               /* seconds POST /api/images waits for the fetch */
	uint32_t fetch_timeout;            /* seconds a fetch may take in all */
	uint32_t max_fetches;              /* image fetches running at once, all accounts */
	uint32_t max_account_fetches;      /* image fetches running at once, one account */
	char fetch_allow_net[APIOPT_NETS_MAX]; /* CIDR list image fetches may reach, "" = none */
	struct fetch_nets fetch_allow;     /* fetch_allow_net, parsed by apiopt_parse */
	char config[PATH_MAX];             /* settings file (settings.h), read by main first */
	bool help;                         /* --help was given (usage printed) */
};

/*
 * Parse argv[first..argc) into *o (defaults first). --help prints usage to stdout
 * and sets o->help. An empty --listen becomes APIOPT_LISTEN_LOOPBACK when
 * --https-listen is set (plain HTTP for the host itself only), else
 * APIOPT_LISTEN_ANY. --https-listen needs --tls-cert. --fetch-allow-net is parsed
 * into o->fetch_allow (fetch_nets_parse). Returns 0, or -EINVAL with a one-line
 * reason in err.
 */
int apiopt_parse(int argc, char **argv, int first, struct api_options *o, char *err,
		 size_t errlen);
/* apiopt_kind: optable_kind over the API's table (-1 unknown, 0 value, 1 flag). */
int apiopt_kind(const char *name);
/* The option table as help text (name, unit, default, description). */
void apiopt_usage(FILE *out);
/* Call emit once per option with "name=value" (startup log, status page). */
void apiopt_each(const struct api_options *o, void (*emit)(const char *line, void *arg),
		 void *arg);

#endif
