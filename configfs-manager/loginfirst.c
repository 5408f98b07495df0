/*
 * loginfirst.c — teardowns after the logins that are arriving (see loginfirst.h).
 */
#include "loginfirst.h"

void loginfirst_begin(struct loginfirst *l)
{
	l->in_progress++;
}

void loginfirst_end(struct loginfirst *l, double now)
{
	if (l->in_progress)
		l->in_progress--;
	l->last_end = now;
}

bool loginfirst_may_run(const struct loginfirst *l, double now, double deadline,
			double *wake)
{
	double quiet_end = l->last_end ? l->last_end + LOGINFIRST_QUIET_S : 0;

	*wake = 0;
	if (deadline && now >= deadline)
		return true;
	if (l->in_progress) {
		*wake = deadline;
		return false;
	}
	if (now >= quiet_end)
		return true;
	*wake = deadline && deadline < quiet_end ? deadline : quiet_end;
	return false;
}
