/*
 * nofile.c — raise the descriptor limit (see nofile.h).
 */
#include "nofile.h"

#include <errno.h>
#include <sys/resource.h>

long nofile_raise(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	/* A root daemon (CAP_SYS_RESOURCE) may lift the hard limit too; others keep it. */
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < NOFILE_WANT) {
		struct rlimit up = { NOFILE_WANT, NOFILE_WANT };

		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl = up;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			return -errno;
	}
	return rl.rlim_cur == RLIM_INFINITY ? (long)(~0ul >> 1) : (long)rl.rlim_cur;
}
