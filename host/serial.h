/*
 * hypeman run: the guest's serial console as the tool reads it (serial.c):
 * shown, the init's log lines made readable and kept raw, the markers and
 * the kernel's last words noted.
 */
#ifndef HR_SERIAL_H
#define HR_SERIAL_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HR_SERIAL_PHASES 32
/* The host steps --timings reports: reading the image, the layers, the
 * rootfs disk, the other disks. */
#define HR_HOST_STEPS 4

enum hr_kernel_end { HR_END_NONE, HR_END_POWEROFF, HR_END_REBOOT, HR_END_HALT };

struct hr_serial {
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
	enum hr_kernel_end kernel_end;
	/* the init's boot phases (--timings) */
	struct { char name[16]; long long dur_ms; } phases[HR_SERIAL_PHASES];
	size_t n_phases;
	long long first_uptime, last_uptime, prog_uptime;	/* -1: not seen */
};

/* The log file PATH (--log), made anew (0600), with the tool's notes
 * (hr_note) first as log lines of phase "host"; -1 after a warning. */
int hr_serial_log_open(const char *path);
void hr_serial_init(struct hr_serial *c, int log_fd);
/* Shows n bytes of console output and scans its lines. */
void hr_serial_feed(struct hr_serial *c, const char *buf, size_t n);
/* The console closed: a last line without a newline is still scanned. */
void hr_serial_end(struct hr_serial *c);
/* The host steps' times (seconds), on stderr. */
void hr_serial_host_timings(const double host_s[HR_HOST_STEPS]);
/* Those and the guest's boot phases, on stderr. */
void hr_serial_timings(const struct hr_serial *c, const double host_s[HR_HOST_STEPS]);

#endif
