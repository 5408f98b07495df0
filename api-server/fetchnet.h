/*
 * fetchnet.h — which addresses an image fetch (fetch.h) may connect to: global
 * unicast addresses, and the networks an operator allows besides (--fetch-allow-net).
 * Not a proxy into our network (issue 8 §2): every address libcurl is about to
 * connect to, after name lookup and on every redirect, passes fetch_addr_allowed.
 */
#ifndef SCSIPUB_FETCHNET_H
#define SCSIPUB_FETCHNET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define FETCH_NETS_MAX 32

/* One network (CIDR): family AF_INET (addr[0..3]) or AF_INET6 (addr[0..15]), prefix bits. */
struct fetch_net {
	sa_family_t family;
	unsigned char addr[16];
	unsigned bits;
};

/* Networks a fetch may connect to besides global unicast addresses (n = 0: none). */
struct fetch_nets {
	size_t n;
	struct fetch_net v[FETCH_NETS_MAX];
};

/*
 * Parse a comma-separated list of CIDRs ("10.0.2.0/24,127.0.0.1,fd00::/8"; an address
 * without /BITS is one host; spaces around items are ignored; "" = none) into *out.
 * Returns 0, or -EINVAL with a one-line reason naming the bad item in err (not an
 * address, prefix out of range, host bits set, more than FETCH_NETS_MAX items).
 */
int fetch_nets_parse(const char *list, struct fetch_nets *out, char *err, size_t errlen);

/*
 * May a fetch connect to sa (AF_INET or AF_INET6; other families: false)? True when
 * sa lies in a network of allow (may be NULL), or is a global unicast address: not
 * 0/8, 10/8, 100.64/10, 127/8, 169.254/16, 172.16/12, 192.0.0/24, 192.0.2/24,
 * 192.88.99/24, 192.168/16, 198.18/15, 198.51.100/24, 203.0.113/24, 224/4, 240/4
 * (incl. 255.255.255.255); for IPv6 only 2000::/3 outside 2001::/23, 2001:db8::/32 and
 * 3fff::/20, where 2002::/16 (6to4) is judged by its embedded IPv4 address; IPv4-mapped
 * ::ffff:0:0/96 and NAT64 64:ff9b::/96 are judged by the IPv4 address they carry
 * (also against allow); everything else (::, ::1, fc00::/7, fe80::/10, ff00::/8,
 * 64:ff9b:1::/48, ...) is refused.
 */
bool fetch_addr_allowed(const struct sockaddr *sa, const struct fetch_nets *allow);

#endif
