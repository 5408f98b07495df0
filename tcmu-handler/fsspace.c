/*
 * fsspace.c — free space of the state filesystem (contract in fsspace.h).
 */
#include "fsspace.h"

#include <errno.h>
#include <sys/statvfs.h>

#define FALLBACK_BLOCK 4096u

static int avail_of(const struct statvfs *st, uint64_t *avail)
{
	uint64_t unit = st->f_frsize ? st->f_frsize : st->f_bsize;

	if (!st->f_blocks || !unit)
		return -ENOTSUP;
	*avail = (uint64_t)st->f_bavail * unit;
	return 0;
}

int fsspace_avail_fd(int fd, uint64_t *avail)
{
	struct statvfs st;

	if (fstatvfs(fd, &st) < 0)
		return -errno;
	return avail_of(&st, avail);
}

int fsspace_avail_path(const char *path, uint64_t *avail)
{
	struct statvfs st;

	if (statvfs(path, &st) < 0)
		return -errno;
	return avail_of(&st, avail);
}

uint32_t fsspace_block_size_fd(int fd)
{
	struct statvfs st;
	uint64_t b;

	if (fstatvfs(fd, &st) < 0)
		return FALLBACK_BLOCK;
	b = st.f_frsize ? st.f_frsize : st.f_bsize;
	if (b < 512 || b > 1024 * 1024 || (b & (b - 1)))
		return FALLBACK_BLOCK;
	return (uint32_t)b;
}

int fsspace_has_reserve(const char *path, uint64_t reserve, uint64_t *avail)
{
	uint64_t a = 0;
	int r;

	if (!reserve)
		return 1;
	r = fsspace_avail_path(path, &a);
	if (r < 0)
		return r;
	if (avail)
		*avail = a;
	return a >= reserve;
}
