/*
 * fuzz_cfgd.c — libFuzzer harness for scsipub-cfgd's request parser
 * (configfs-manager/cfgd_proto.c): every input is one socket message from a client.
 * A request that parses must satisfy the protocol's rules (cfgd_req_check, shared with
 * the unit test test_cfgd_proto), and formatting it again must give a message that
 * parses to the same request (cfgd_req_same: prov_create's LUNs and PR registrations
 * included); nothing leaks.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cfgd_proto.h"
#include "cfgd_req_check.h"

static char buf[CFGD_MSG_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfgd_req q, q2;
	char err[256];
	int n, same;

	if (cfgd_req_parse((const char *)data, size, &q, err, sizeof(err)) < 0)
		return 0;
	if (cfgd_req_check(&q))
		abort();
	n = cfgd_req_format(&q, buf, sizeof(buf));
	if (n < 0 || cfgd_req_parse(buf, (size_t)n, &q2, err, sizeof(err)) < 0)
		abort();
	same = cfgd_req_same(&q, &q2);
	cfgd_req_clear(&q);
	cfgd_req_clear(&q2);
	if (!same)
		abort();
	return 0;
}
