/*
 * fetchnet.c — which addresses an image fetch may connect to (see fetchnet.h).
 */
#include "fetchnet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "reason.h"

/* IPv4 networks that are not global unicast (IANA special-purpose registry, RFC 6890). */
static const struct {
	uint32_t net;
	unsigned bits;
} v4_special[] = {
	{ 0x00000000, 8 },  /* 0.0.0.0/8 "this network" (incl. unspecified) */
	{ 0x0a000000, 8 },  /* 10/8 private (RFC 1918) */
	{ 0x64400000, 10 }, /* 100.64/10 shared address space, CGNAT (RFC 6598) */
	{ 0x7f000000, 8 },  /* 127/8 loopback */
	{ 0xa9fe0000, 16 }, /* 169.254/16 link-local (incl. 169.254.169.254 metadata) */
	{ 0xac100000, 12 }, /* 172.16/12 private */
	{ 0xc0000000, 24 }, /* 192.0.0/24 IETF protocol assignments */
	{ 0xc0000200, 24 }, /* 192.0.2/24 TEST-NET-1 */
	{ 0xc0586300, 24 }, /* 192.88.99/24 6to4 relay anycast (deprecated) */
	{ 0xc0a80000, 16 }, /* 192.168/16 private */
	{ 0xc6120000, 15 }, /* 198.18/15 benchmarking */
	{ 0xc6336400, 24 }, /* 198.51.100/24 TEST-NET-2 */
	{ 0xcb007100, 24 }, /* 203.0.113/24 TEST-NET-3 */
	{ 0xe0000000, 4 },  /* 224/4 multicast */
	{ 0xf0000000, 4 },  /* 240/4 reserved, incl. 255.255.255.255 broadcast */
};

static uint32_t rd32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* a (4 bytes, network order) is a global unicast IPv4 address. */
static bool v4_global(const unsigned char *a)
{
	uint32_t v = rd32(a);
	size_t i;

	for (i = 0; i < sizeof(v4_special) / sizeof(v4_special[0]); i++)
		if ((v ^ v4_special[i].net) >> (32 - v4_special[i].bits) == 0)
			return false;
	return true;
}

static const unsigned char v4mapped_pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
static const unsigned char nat64_pfx[12] = { 0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0 };

/* a (16 bytes) is a global unicast IPv6 address (see fetch.h). */
static bool v6_global(const unsigned char *a)
{
	if (!memcmp(a, v4mapped_pfx, 12) || !memcmp(a, nat64_pfx, 12))
		return v4_global(a + 12);
	if ((a[0] & 0xe0) != 0x20)
		return false;          /* outside 2000::/3: ::, ::1, fc00::/7, fe80::/10, ff00::/8 ... */
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] < 0x02)
		return false;          /* 2001::/23 IETF protocol assignments (Teredo, ORCHID, ...) */
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)
		return false;          /* 2001:db8::/32 documentation */
	if (a[0] == 0x3f && a[1] == 0xff && (a[2] & 0xf0) == 0)
		return false;          /* 3fff::/20 documentation (RFC 9637) */
	if (a[0] == 0x20 && a[1] == 0x02)
		return v4_global(a + 2); /* 6to4: the relay would send to the embedded address */
	return true;
}

/* The first bits of a and b (len bytes each) are equal. */
static bool prefix_eq(const unsigned char *a, const unsigned char *b, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, full))
		return false;
	return !rest || ((a[full] ^ b[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

static bool in_nets(const struct fetch_nets *nets, sa_family_t fam, const unsigned char *a)
{
	size_t i;

	for (i = 0; nets && i < nets->n; i++)
		if (nets->v[i].family == fam && prefix_eq(a, nets->v[i].addr, nets->v[i].bits))
			return true;
	return false;
}

bool fetch_addr_allowed(const struct sockaddr *sa, const struct fetch_nets *allow)
{
	if (!sa)
		return false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		const unsigned char *a = (const unsigned char *)&in->sin_addr;

		return in_nets(allow, AF_INET, a) || v4_global(a);
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		const unsigned char *a = in6->sin6_addr.s6_addr;

		if (in_nets(allow, AF_INET6, a) ||
		    (!memcmp(a, v4mapped_pfx, 12) && in_nets(allow, AF_INET, a + 12)))
			return true;
		return v6_global(a);
	}
	return false;
}

/* One CIDR item s (n bytes, no commas) into *net. */
static int net_parse(const char *s, size_t n, struct fetch_net *net, char *err, size_t errlen)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned max, i;
	unsigned long bits;

	if (!n || n >= sizeof(buf))
		return reason_fail(err, errlen, -EINVAL, "fetch-allow-net: \"%.*s\" is not a network "
				   "(ADDR/BITS)", (int)(n > 60 ? 60 : n), s);
	memcpy(buf, s, n);
	buf[n] = '\0';
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	memset(net, 0, sizeof(*net));
	if (inet_pton(AF_INET, buf, net->addr) == 1) {
		net->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, net->addr) == 1) {
		net->family = AF_INET6;
		max = 128;
	} else {
		return reason_fail(err, errlen, -EINVAL, "fetch-allow-net: \"%s\" is not an IPv4 or "
				   "IPv6 address", buf);
	}
	bits = max;
	if (slash) {
		errno = 0;
		bits = strtoul(slash + 1, &end, 10);
		if (!slash[1] || *end || errno || bits > max || slash[1] == '-' || slash[1] == '+')
			return reason_fail(err, errlen, -EINVAL, "fetch-allow-net: prefix \"/%s\" of %s "
					   "is not 0..%u", slash + 1, buf, max);
	}
	net->bits = (unsigned)bits;
	for (i = net->bits; i < max; i++)
		if (net->addr[i / 8] & (0x80 >> (i % 8)))
			return reason_fail(err, errlen, -EINVAL, "fetch-allow-net: %s/%u has host bits "
					   "set", buf, net->bits);
	return 0;
}

int fetch_nets_parse(const char *list, struct fetch_nets *out, char *err, size_t errlen)
{
	const char *p = list ? list : "";
	struct fetch_nets nets = { 0 };
	int r;

	while (*p == ' ' || *p == '\t')
		p++;
	while (*p) { /* one item per comma; an empty item is an error */
		const char *e = p + strcspn(p, ",");
		const char *b = p, *t = e;

		while (b < t && (*b == ' ' || *b == '\t'))
			b++;
		while (t > b && (t[-1] == ' ' || t[-1] == '\t'))
			t--;
		if (nets.n == FETCH_NETS_MAX)
			return reason_fail(err, errlen, -EINVAL, "fetch-allow-net: more than %d networks",
					   FETCH_NETS_MAX);
		r = net_parse(b, (size_t)(t - b), &nets.v[nets.n], err, errlen);
		if (r)
			return r;
		nets.n++;
		if (!*e)
			break;
		p = e + 1;
		if (!*p)
			return reason_fail(err, errlen, -EINVAL, "fetch-allow-net: empty item after ','");
	}
	*out = nets;
	return 0;
}
