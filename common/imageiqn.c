/* imageiqn: the iSCSI name of an account's private image (see imageiqn.h). */
#include "imageiqn.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>


int imageiqn_name_valid(const char *s)
{
	size_t i;

	if (!s || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return 0;
	for (i = 1; s[i]; i++) {
		char c = s[i];

		if (i > IMAGEIQN_NAME_MAX - 1 ||
		    !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

char *imageiqn_format(int64_t account_id, const char *name, char *buf, size_t len)
{
	int n;

	if (len)
		buf[0] = '\0';
	if (account_id < 1 || !imageiqn_name_valid(name))
		return NULL;
	n = snprintf(buf, len, IMAGEIQN_PREFIX "%" PRId64 ".%s", account_id, name);
	if (n < 0 || (size_t)n >= len) {
		if (len)
			buf[0] = '\0';
		return NULL;
	}
	return buf;
}

int imageiqn_parse(const char *iqn, int64_t *account_id, char *name, size_t name_len)
{
	const size_t pl = strlen(IMAGEIQN_PREFIX);
	const char *p, *dot;
	int64_t id = 0;

	if (!iqn || strncmp(iqn, IMAGEIQN_PREFIX, pl))
		return -EINVAL;
	p = iqn + pl;
	dot = strchr(p, '.');
	/* canonical decimal: 1..19 digits, no leading zero, no overflow */
	if (!dot || dot == p || dot - p > 19 || *p == '0')
		return -EINVAL;
	for (; p < dot; p++) {
		if (*p < '0' || *p > '9' || id > (INT64_MAX - (*p - '0')) / 10)
			return -EINVAL;
		id = id * 10 + (*p - '0');
	}
	if (!imageiqn_name_valid(dot + 1) || strlen(dot + 1) >= name_len)
		return -EINVAL;
	*account_id = id;
	memcpy(name, dot + 1, strlen(dot + 1) + 1);
	return 0;
}

int imageiqn_path(const char *private_dir, int64_t account_id, const char *name, char *buf,
		  size_t len)
{
	int n;

	if (account_id < 1 || !imageiqn_name_valid(name))
		return -EINVAL;
	n = snprintf(buf, len, "%s/%" PRId64 "/%s.img", private_dir, account_id, name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}
