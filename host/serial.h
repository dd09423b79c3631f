/*
 * hypeman run: the guest's console as the tool reads it (console.c).
 */
#ifndef HR_SERIAL_H
#define HR_SERIAL_H 1

#include "run.h"

#define MAX_PHASES 32

enum kernel_end { END_NONE, END_POWEROFF, END_REBOOT, END_HALT };

struct console {
	/* the line being read */
	char line[4096];
	size_t len;
	bool in_line, held;	/* held: it starts with '{', shown once complete */
	bool stdout_ok, color;
	int log_fd;		/* the init's JSON lines go there; -1: nowhere */
	uint64_t bytes;		/* read so far */
	/* what the console said */
	bool program_started, have_exit, panicked;
	long exit_code;
	char exit_message[256];
	char mode[16];		/* from HYPEMAN-PROGRAM-START */
	enum kernel_end kernel_end;
	/* the init's boot phases (--timings) */
	struct { char name[16]; long long dur_ms; } phases[MAX_PHASES];
	size_t n_phases;
	long long first_uptime, last_uptime, prog_uptime;	/* -1: not seen */
};

void console_init(struct console *c, int log_fd);
/* Shows n bytes of console output and scans its lines. */
void console_feed(struct console *c, const char *buf, size_t n);
/* The console closed: a last line without a newline is still scanned. */
void console_end(struct console *c);
/* The host steps' times and the guest's boot phases, on stderr. */
void console_timings(const struct console *c, const double host_s[HOST_STEPS]);

#endif
