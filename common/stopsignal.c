/*
 * stopsignal.c — SIGTERM/SIGINT as a readable descriptor (see stopsignal.h).
 */
#include "stopsignal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static int stop_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
	int saved = errno;
	char c = (char)sig;
	ssize_t r = write(stop_pipe[1], &c, 1); /* a full pipe already says "stop" */

	(void)r;
	errno = saved;
}

int stopsignal_install(void)
{
	struct sigaction sa;

	if (stop_pipe[0] >= 0)
		return stop_pipe[0];
	if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return stop_pipe[0];
}
