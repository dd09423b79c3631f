/*
 * hypeman run: the tool's global state and its one signal handler (see
 * tool.h). The handler only records: the steps and QEMU's watch loop
 * decide what a signal means where they are.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "tool.h"

struct hr_tool hr_tool = { .signal_pipe = { -1, -1 } };

static const int caught[] = { SIGINT, SIGTERM, SIGHUP };

static void on_signal(int sig)
{
	unsigned char c = (unsigned char)sig;
	int e = errno;

	hr_tool.interrupted = sig;
	/* Ctrl-C reaches a child through the terminal anyway; a SIGTERM
	 * sent to us alone is passed on so the step ends promptly. */
	if (hr_tool.child > 0)
		kill(hr_tool.child, SIGTERM);
	if (hr_tool.signal_pipe[1] >= 0)
		(void)!write(hr_tool.signal_pipe[1], &c, 1);
	errno = e;
}

void hr_tool_signals(void)
{
	struct sigaction sa;
	size_t i;

	if (pipe2(hr_tool.signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		hr_tool.signal_pipe[0] = hr_tool.signal_pipe[1] = -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(caught) / sizeof(caught[0]); i++)
		sigaction(caught[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

void hr_tool_child_signals(void)
{
	size_t i;

	for (i = 0; i < sizeof(caught) / sizeof(caught[0]); i++)
		signal(caught[i], SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
}
