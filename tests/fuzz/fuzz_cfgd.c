/*
 * fuzz_cfgd.c — libFuzzer harness for scsipub-cfgd's request parser
 * (configfs-manager/cfgd_proto.c): every input is one socket message from a client.
 * A request that parses must satisfy the protocol's field rules, and formatting it
 * again must give a message that parses to the same request.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cfgd_proto.h"

static int printable(const char *s)
{
	for (; *s; s++)
		if (*s <= 0x20 || *s >= 0x7f)
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfgd_req q, q2;
	char err[256], buf[CFGD_MSG_MAX];
	int n;

	if (cfgd_req_parse((const char *)data, size, &q, err, sizeof(err)) < 0)
		return 0;
	if (!printable(q.target) || !printable(q.initiator) || !printable(q.client) ||
	    !printable(q.peer) || !printable(q.backstore) || strchr(q.target, '/') ||
	    strchr(q.initiator, '/') || strchr(q.backstore, '/'))
		abort();
	n = cfgd_req_format(&q, buf, sizeof(buf));
	if (n < 0 || cfgd_req_parse(buf, (size_t)n, &q2, err, sizeof(err)) < 0 ||
	    memcmp(&q, &q2, sizeof(q)))
		abort();
	return 0;
}
