/*
 * hypeman run: the tool's global state, in one place, and its one signal
 * handler (tool.c). Every other module keeps its state in the structs it
 * is handed.
 */
#ifndef HR_TOOL_H
#define HR_TOOL_H 1

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>
#include "util.h"		/* struct hr_strv */

struct hr_tool {
	bool quiet;				/* -q: no progress lines */
	/* SIGINT, SIGTERM or SIGHUP received: its number (0: none). The
	 * steps check it between and inside them. */
	volatile sig_atomic_t interrupted;
	/* A child (mke2fs, mkfs.erofs) that a signal is passed on to as
	 * SIGTERM, so that the step ends promptly; 0: none. QEMU is never
	 * one: a signal there is a stop request (qemu.c). */
	volatile pid_t child;
	/* A byte per signal, for loops that poll: [0] is read (qemu.c),
	 * [1] written by the handler; -1 before hr_tool_signals(). */
	int signal_pipe[2];
	/* hr_note()'s details for the log file, not the terminal (at most
	 * HR_NOTES_MAX); serial.c writes them when it opens the log. */
	struct hr_strv notes;
};
#define HR_NOTES_MAX 100
extern struct hr_tool hr_tool;

/* The handler for SIGINT, SIGTERM and SIGHUP, SIGPIPE ignored. */
void hr_tool_signals(void);
/* In a forked child, before exec: those back to their defaults. */
void hr_tool_child_signals(void);

#endif
