/*
 * options.c — the option table (see options.h).
 */
#include "options.h"
#include "anontarget.h"
#include "settings.h"
#include "fsspace.h"
#include "optable.h"
#include "cfgd_proto.h"
#include "placehint.h"
#include "reason.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define F(f) OPTABLE_FIELD(struct portal_options, f)

static const struct optable_opt table[] = {
	{ "listen", NULL, OPTABLE_ADDR, F(listen), "0.0.0.0:3260", "ADDR:PORT", 0, 0,
	  "address the portal accepts initiators on", false },
	{ "public", NULL, OPTABLE_HOSTPORT, F(public_addr), "", "HOST:PORT", 0, 0,
	  "address SendTargets advertises (default: --listen unless it is a wildcard)", false },
	{ "lio", NULL, OPTABLE_ADDR, F(lio), "127.0.0.1:3262", "ADDR:PORT", 0, 0,
	  "LIO's loopback network portal that normal sessions are relayed to", false },
	{ "images", NULL, OPTABLE_PATH, F(images), "/var/lib/scsipub/images", "DIR", 0, 0,
	  "catalog: *.img and *.iso files, recursively", false },
	{ "multi-images", NULL, OPTABLE_STR, F(multi_images), "", "NAME,NAME", 0, 0,
	  "the two catalog images (blank or image names) behind the multi target's LUN 0 and "
	  "LUN 1; empty = the first two images of the catalog (give scsipub-cfgd the same, "
	  "e.g. in [common])", false },
	{ "state", NULL, OPTABLE_PATH, F(state), "/var/lib/scsipub", "DIR", 0, 0,
	  "state directory; session overlays live in DIR/overlays", false },
	{ "configfs", NULL, OPTABLE_PATH, F(configfs), "/sys/kernel/config/target", "DIR", 0, 0,
	  "LIO configfs root", false },
	{ "disk-reserve", NULL, OPTABLE_U64, F(disk_reserve), FSSPACE_DEFAULT_RESERVE_TEXT, "BYTES",
	  0, UINT64_MAX,
	  "new anonymous logins get 0x0302 (out of resources) while DIR/overlays' filesystem "
	  "has less available (512 MiB: room for PostgreSQL, logs, fetches); give "
	  "scsipub-tcmu the same --disk-reserve; 0 = off", false },
	{ "max-pdu", NULL, OPTABLE_U32, F(max_pdu), "65536", "BYTES", 512, 16777215,
	  "largest PDU data segment read from an initiator before relaying", false },
	{ "max-conn-per-ip", NULL, OPTABLE_U32, F(max_conn_per_ip), "16", "CONNS", 0, 65535,
	  "open connections per source address (IPv6: per /64); more are closed at once; "
	  "0 = no cap", false },
	{ "login-rate", NULL, OPTABLE_U32, F(login_rate), "10", "PER-SECOND", 0, 100000,
	  "new connections (logins) per source address per second, token bucket; 0 = off", false },
	{ "login-burst", NULL, OPTABLE_U32, F(login_burst), "40", "CONNS", 1, 100000,
	  "token bucket size of --login-rate: logins at once from a quiet address", false },
	{ "max-conn-per-net4", NULL, OPTABLE_U32, F(max_conn_per_net4), "64", "CONNS", 0, 65535,
	  "open connections per IPv4 /24 (all its addresses together); a NATed office or a "
	  "Pi rack behind one router fits, and one /24 holds at most 1/16 of the portal's "
	  "1024; 0 = no cap", false },
	{ "max-conn-per-net6", NULL, OPTABLE_U32, F(max_conn_per_net6), "64", "CONNS", 0, 65535,
	  "open connections per IPv6 /48 (one site); 0 = no cap", false },
	{ "net-login-rate", NULL, OPTABLE_U32, F(net_login_rate), "40", "PER-SECOND", 0, 100000,
	  "new connections per /24 (IPv6: /48) per second, token bucket; 4 addresses at "
	  "--login-rate's default; 0 = off", false },
	{ "net-login-burst", NULL, OPTABLE_U32, F(net_login_burst), "160", "CONNS", 1, 100000,
	  "token bucket size of --net-login-rate: 64 hosts booting at once (discovery + "
	  "login each) fit", false },
	{ "login-timeout", NULL, OPTABLE_U32, F(login_timeout), "10", "SECONDS", 1, 3600,
	  "a connection whose login (discovery: until Full Feature Phase; normal: its first "
	  "Login PDU) is not done by then is dropped", false },
	{ "nopin-interval", NULL, OPTABLE_U32, F(nopin_interval), "5", "SECONDS", 3, 60,
	  "LIO sends a NOP-In after this long without traffic (anonymous sessions' ACLs)", false },
	{ "nopin-timeout", NULL, OPTABLE_U32, F(nopin_timeout), "5", "SECONDS", 3, 60,
	  "LIO drops a connection whose NOP-In is unanswered this long; also the TCP "
	  "keepalive/user timeout of relayed initiators", false },
	{ "tls-listen", NULL, OPTABLE_ADDR_OFF, F(tls_listen), "0.0.0.0:3261", "ADDR:PORT", 0, 0,
	  "TLS listener (TLS 1.2/1.3, same service as --listen); empty = off", false },
	{ "tls-public", NULL, OPTABLE_HOSTPORT, F(tls_public), "", "HOST:PORT", 0, 0,
	  "address SendTargets advertises on TLS connections (default: --public's host "
	  "with --tls-listen's port)", false },
	{ "tls-cert", NULL, OPTABLE_PATH, F(tls_cert), "", "FILE", 0, 0,
	  "PEM certificate (chain) of the TLS listener; none = TLS listener off", false },
	{ "tls-key", NULL, OPTABLE_PATH, F(tls_key), "", "FILE", 0, 0,
	  "PEM private key (unencrypted) of --tls-cert (default: in --tls-cert's file)", false },
	{ "tls-reload-interval", NULL, OPTABLE_U32, F(tls_reload_interval), "60", "SECONDS", 1,
	  86400, "look at --tls-cert/--tls-key this often; changed files are reloaded", false },
	{ "cfgd-socket", NULL, OPTABLE_PATH, F(cfgd_socket), CFGD_SOCKET_DEFAULT, "PATH", 0, 0,
	  "socket of scsipub-cfgd, the configfs manager that makes the anonymous sessions' "
	  "LIO objects", false },
	{ "user", NULL, OPTABLE_STR, F(user), "", "USER", 0, 0,
	  "when started as root: become USER (name, uid or uid:gid; no capabilities) once "
	  "the listeners are open; empty = keep the starting user", false },
	{ "relay-any-cpu", NULL, OPTABLE_FLAG, F(relay_any_cpu), "off", "flag", 0, 0,
	  "leave relay threads where the scheduler puts them; off = each runs on the CPU "
	  "LIO bound its connection's threads to while no large data moves (placement.h, "
	  "pinpolicy.h)", false },
	{ "tcmu-place-socket", NULL, OPTABLE_STR, F(tcmu_place_socket), PLACEHINT_SOCKET_DEFAULT,
	  "PATH", 0, 0,
	  "scsipub-tcmu's placement socket: an anonymous session's own disks are served on the CPU "
	  "its relay thread follows (placehint.h); \"\" = do not tell", false },
	{ "verbose", NULL, OPTABLE_FLAG, F(verbose), "off", "flag", 0, 0,
	  "log discovery logins, SendTargets and logouts too", false },
	{ "config", NULL, OPTABLE_PATH, F(config), SETTINGS_DEFAULT_PATH, "FILE", 0, 0,
	  "settings file: its [common] and [portal] keys are these options' names; the "
	  "command line overrides it; a missing default file is fine", false },
};
#define NOPTS (sizeof(table) / sizeof(table[0]))

int options_kind(const char *name)
{
	return optable_kind(table, NOPTS, name);
}

int options_split_hostport(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	return optable_split_hostport(s, host, hostlen, port);
}

int options_sockaddr(const char *hostport, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[OPTIONS_ADDR_MAX];
	uint16_t port;

	if (options_split_hostport(hostport, host, sizeof(host), &port) < 0)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		((struct sockaddr_in *)ss)->sin_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons(port);
		*len = sizeof(struct sockaddr_in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
		*len = sizeof(struct sockaddr_in6);
		return 0;
	}
	return -EINVAL;
}

int options_parse(int argc, char **argv, struct portal_options *po, char *err, size_t errlen)
{
	char host[OPTIONS_ADDR_MAX];
	uint16_t port;
	int r;

	memset(po, 0, sizeof(*po));
	r = optable_parse(table, NOPTS, argc, argv, 1, po, &po->help, err, errlen);
	if (r < 0)
		return r;
	if (po->help) {
		options_usage(stdout);
		return 0;
	}
	r = anontarget_multi_check(po->multi_images, err, errlen);
	if (r < 0)
		return r;
	if (!po->public_addr[0]) {
		r = options_split_hostport(po->listen, host, sizeof(host), &port);
		if (r < 0 || !strcmp(host, "0.0.0.0") || !strcmp(host, "::"))
			return reason_fail(err, errlen, -EINVAL,
					   "--public HOST:PORT is required when --listen is "
					   "a wildcard address (%s)", po->listen);
		strcpy(po->public_addr, po->listen);
	}
	if (!po->tls_public[0] && po->tls_listen[0]) {
		uint16_t tls_port;
		char pub[OPTIONS_ADDR_MAX];

		if (options_split_hostport(po->tls_listen, host, sizeof(host), &tls_port) < 0 ||
		    options_split_hostport(po->public_addr, pub, sizeof(pub), &port) < 0)
			return reason_fail(err, errlen, -EINVAL,
					   "--tls-public: cannot derive it from --public");
		r = snprintf(po->tls_public, sizeof(po->tls_public),
			     strchr(pub, ':') ? "[%s]:%u" : "%s:%u", pub, tls_port);
		if (r < 0 || (size_t)r >= sizeof(po->tls_public))
			return reason_fail(err, errlen, -EINVAL,
					   "--tls-public: too long when derived from --public");
	}
	return 0;
}

void options_usage(FILE *out)
{
	fprintf(out, "usage: scsipub-portal [OPTION]...\n"
		"Public iSCSI portal: answers discovery itself, provisions a copy-on-write\n"
		"LUN per initiator and target in LIO, and relays normal sessions to LIO.\n\n");
	optable_usage(table, NOPTS, out);
}

void options_each(const struct portal_options *po, void (*emit)(const char *line, void *arg),
		  void *arg)
{
	optable_each(table, NOPTS, po, emit, arg);
}
