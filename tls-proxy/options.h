/*
 * options.h — the portal's command-line options, declared once in a table with
 * default and unit (options.c). --help prints the table; startup logs every
 * effective value. Options take "--name VALUE" or "--name=VALUE".
 */
#ifndef SCSIPUB_OPTIONS_H
#define SCSIPUB_OPTIONS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#define OPTIONS_ADDR_MAX 300

struct portal_options {
	char listen[OPTIONS_ADDR_MAX];      /* ADDR:PORT the portal listens on */
	char public_addr[OPTIONS_ADDR_MAX]; /* HOST:PORT advertised by SendTargets */
	char lio[OPTIONS_ADDR_MAX];         /* LIO's loopback portal ADDR:PORT */
	char images[PATH_MAX];              /* catalog directory */
	char multi_images[OPTIONS_ADDR_MAX]; /* the multi target's images (anontarget.h),
					       "" = the first two catalog images */
	char state[PATH_MAX];               /* state directory (overlays/) */
	char configfs[PATH_MAX];            /* LIO configfs root */
	uint64_t disk_reserve;              /* bytes kept available on <state>/overlays'
					       filesystem: below it new anonymous logins
					       get 0x0302 (fsspace.h); 0 = no check */
	uint32_t max_pdu;                   /* bytes: cap of a PDU data segment we read */
	uint32_t max_conn_per_ip;           /* open connections per address, 0 = no cap */
	uint32_t login_rate;                /* new connections per address per second, 0 = off */
	uint32_t login_burst;               /* token bucket size for login_rate, connections */
	uint32_t max_conn_per_net4;         /* open connections per IPv4 /24, 0 = no cap */
	uint32_t max_conn_per_net6;         /* open connections per IPv6 /48, 0 = no cap */
	uint32_t net_login_rate;            /* new connections per network per second, 0 = off */
	uint32_t net_login_burst;           /* token bucket size for net_login_rate */
	uint32_t login_timeout;             /* seconds for a login before the drop */
	uint32_t nopin_interval;            /* seconds idle before LIO's NOP-In (3..60) */
	uint32_t nopin_timeout;             /* seconds for the NOP-Out answer (3..60) */
	char tls_listen[OPTIONS_ADDR_MAX];  /* ADDR:PORT of the TLS listener, "" = off */
	char tls_public[OPTIONS_ADDR_MAX];  /* HOST:PORT SendTargets advertises on TLS
					       connections (default: public host, TLS port) */
	char tls_cert[PATH_MAX];            /* PEM certificate (chain), "" = TLS off */
	char tls_key[PATH_MAX];             /* PEM private key, "" = in tls_cert */
	uint32_t tls_reload_interval;       /* seconds between looks at cert/key */
	char cfgd_socket[PATH_MAX];          /* scsipub-cfgd's socket */
	char user[64];                       /* --user: drop root to this user, "" = no */
	bool relay_any_cpu;                 /* --relay-any-cpu: no placement.h binding */
	char tcmu_place_socket[PATH_MAX];   /* scsipub-tcmu's hint socket ("" = none) */
	bool verbose;
	char config[PATH_MAX];              /* settings file (settings.h), read before the
					       command line by main */
	bool help;                          /* --help was given (usage printed) */
};

/*
 * Parse argv into *o (defaults first). --help prints usage to stdout and sets
 * o->help. Returns 0, or -EINVAL with a one-line reason in err (exit status 2).
 */
int options_parse(int argc, char **argv, struct portal_options *o, char *err, size_t errlen);
/* options_kind: optable_kind over the portal's table (-1 unknown, 0 value, 1 flag). */
int options_kind(const char *name);
/* The option table as help text. */
void options_usage(FILE *out);
/* Call emit once per option with "name=value" (for the startup log). */
void options_each(const struct portal_options *o, void (*emit)(const char *line, void *arg),
		  void *arg);

/*
 * Split "HOST:PORT" or "[V6]:PORT" into host (without brackets) and port (1..65535).
 * 0 or -EINVAL.
 */
int options_split_hostport(const char *s, char *host, size_t hostlen, uint16_t *port);

/*
 * The socket address of a numeric "HOST:PORT" or "[V6]:PORT" option value (--listen,
 * --lio, --tls-listen: no name lookup) into *ss, its length into *len. 0 or -EINVAL.
 */
int options_sockaddr(const char *hostport, struct sockaddr_storage *ss, socklen_t *len);

#endif
