/*
 * hypeman run: the guest's serial console, as QEMU hands it to us.
 *
 * Bytes go to our stdout as they come (prompts without a newline too),
 * except lines that start with '{': those are held until complete, and
 * when one is the init's JSON log line (contract: Log) it is shown for
 * people ("10:15:30.123 INFO  overlay: mounted ... (12 ms)") while the
 * raw JSON goes to the run's log file. Whole lines are also scanned for
 * the markers (contract: Markers), a kernel panic, and how the kernel ended
 * (power off, reboot, halt), and the phases' dur_ms are kept for
 * --timings.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "logline.h"
#include "marker.h"
#include "serial.h"
#include "tool.h"
#include "util.h"

void hr_serial_init(struct hr_serial *c, int log_fd)
{
	memset(c, 0, sizeof(*c));
	c->log_fd = log_fd;
	c->stdout_ok = true;
	c->color = isatty(1);
	c->first_uptime = c->prog_uptime = c->last_uptime = -1;
}

static void out(struct hr_serial *c, const char *s, size_t n)
{
	if (c->stdout_ok && n && hm_write_all(1, s, n))
		c->stdout_ok = false;	/* e.g. a closed pipe: keep scanning */
}

static void note_timing(struct hr_serial *c, const struct hm_logline *l)
{
	if (c->first_uptime < 0)
		c->first_uptime = (long long)l->uptime_ms;
	c->last_uptime = (long long)l->uptime_ms;
	if (l->dur_ms >= 0 && c->n_phases < HR_SERIAL_PHASES) {
		snprintf(c->phases[c->n_phases].name, sizeof(c->phases[0].name), "%s", l->phase);
		c->phases[c->n_phases++].dur_ms = l->dur_ms;
	}
}

/* "10:15:30.123 INFO  overlay: ..." (UTC) as one line for people. */
static void show_log(struct hr_serial *c, const struct hm_logline *l)
{
	bool err = !strcmp(l->level, "ERROR"), warn = !strcmp(l->level, "WARN");
	char when[40], *line, dur[32] = "";

	hm_utc_format(when, sizeof(when), &l->now, 3);
	if (l->dur_ms >= 0)
		snprintf(dur, sizeof(dur), " (%lld ms)", l->dur_ms);
	/* the time of day: after the date's 11 characters, before the Z */
	line = hr_asprintf("%.12s %s%-5s%s %s: %s%s%s%s\n", when + 11,
		c->color && (err || warn) ? (err ? "\033[1;31m" : "\033[33m") : "",
		l->level, c->color && (err || warn) ? "\033[0m" : "", l->phase, l->msg,
		l->error ? ": " : "", l->error ? l->error : "", dur);
	out(c, line, strlen(line));
	free(line);
}

/* A complete line that started with '{' (without its newline). */
static void held_line(struct hr_serial *c, const char *line, size_t n)
{
	struct hm_logline l;
	char store[sizeof(c->line)];

	if (hm_logline_parse(line, n, &l, store, sizeof(store)) == 0) {
		show_log(c, &l);
		note_timing(c, &l);
		if (c->log_fd >= 0 && (hm_write_all(c->log_fd, line, n) || hm_write_all(c->log_fd, "\n", 1)))
			c->log_fd = -1;	/* a full disk must not stop the console */
	} else {
		out(c, line, n);
		out(c, "\r\n", 2);
	}
}

/* A whole line: the markers (contract: Markers), how the kernel ended. */
static void scan_line(struct hr_serial *c, const char *line, size_t n)
{
	struct hm_marker m;
	char store[sizeof(c->line)];

	switch (hm_marker_parse(line, n, &m, store, sizeof(store))) {
	case HM_MARKER_EXIT:
		/* The last marker wins: the init prints the real one after
		 * the program has exited. */
		c->have_exit = true;
		c->exit_code = m.num;
		snprintf(c->exit_message, sizeof(c->exit_message), "%s", m.text[HM_MF_MESSAGE]);
		break;
	case HM_MARKER_PROGRAM_START:
		snprintf(c->mode, sizeof(c->mode), "%s", m.text[HM_MF_MODE]);
		c->program_started = true;
		c->prog_uptime = c->last_uptime;
		break;
	}
	if (strstr(line, "Kernel panic - not syncing"))
		c->panicked = true;
	if (strstr(line, "reboot: Restarting system"))
		c->kernel_end = HR_END_REBOOT;
	else if (strstr(line, "reboot: Power down"))
		c->kernel_end = HR_END_POWEROFF;
	else if (strstr(line, "reboot: System halted"))
		c->kernel_end = HR_END_HALT;
}

/* Where a kernel message ("[    3.706997] ...") starts inside LINE after
 * its first byte, or 0. The kernel writes to a serial console directly,
 * not through the tty, so its line can land inside one the init is
 * writing, which then goes on after the kernel's newline. */
static size_t kernel_msg_at(const char *line, size_t n)
{
	size_t i, j, d;

	for (i = 1; i < n; i++) {
		if (line[i] != '[')
			continue;
		for (j = i + 1; j < n && line[j] == ' '; j++)
			;
		for (d = j; j < n && line[j] >= '0' && line[j] <= '9'; j++)
			;
		if (j == d || j >= n || line[j] != '.')
			continue;
		for (d = ++j; j < n && line[j] >= '0' && line[j] <= '9'; j++)
			;
		if (j - d == 6 && j + 1 < n && line[j] == ']' && line[j + 1] == ' ')
			return i;
	}
	return 0;
}

static void end_line(struct hr_serial *c)
{
	size_t k;

	while (c->len && c->line[c->len - 1] == '\r')
		c->len--;
	c->line[c->len] = 0;
	k = kernel_msg_at(c->line, c->len);
	if (k) {
		/* the kernel's message is a line of its own; ours goes on */
		if (c->held) {
			out(c, c->line + k, c->len - k);
			out(c, "\n", 1);
		}
		scan_line(c, c->line + k, c->len - k);
		c->len = k;
		return;
	}
	if (c->held)
		held_line(c, c->line, c->len);
	scan_line(c, c->line, c->len);
	c->len = 0;
	c->held = false;
	c->in_line = false;
}

void hr_serial_feed(struct hr_serial *c, const char *buf, size_t n)
{
	size_t i, run = 0;	/* buf[run..i) is passed through as it is */

	c->bytes += n;
	for (i = 0; i < n; i++) {
		char ch = buf[i];

		if (!c->in_line) {
			c->in_line = true;
			c->held = ch == '{';
			if (c->held) {
				out(c, buf + run, i - run);
				run = i + 1;
			}
		}
		if (ch == '\n') {
			if (!c->held)
				out(c, buf + run, i + 1 - run);
			run = i + 1;
			end_line(c);
			continue;
		}
		if (c->held)
			run = i + 1;
		if (c->len < sizeof(c->line) - 1) {
			c->line[c->len++] = ch ? ch : ' ';
		} else if (c->held) {	/* too long for a log line: show it raw */
			out(c, c->line, c->len);
			c->held = false;
			run = i;
		}
	}
	if (!c->held)
		out(c, buf + run, n - run);
}

void hr_serial_end(struct hr_serial *c)
{
	if (c->in_line) {
		if (c->held)
			out(c, c->line, c->len);
		c->held = false;
		end_line(c);
	}
}

void hr_serial_host_timings(const double host_s[HR_HOST_STEPS])
{
	static const char *const steps[HR_HOST_STEPS] = { "read the image", "apply the layers",
		"make the rootfs disk", "make the other disks" };
	size_t i;

	fprintf(stderr, "hypeman: host steps:\n");
	for (i = 0; i < HR_HOST_STEPS; i++)
		fprintf(stderr, "hypeman:   %-24s %6.0f ms\n", steps[i], host_s[i] * 1000);
}

void hr_serial_timings(const struct hr_serial *c, const double host_s[HR_HOST_STEPS])
{
	size_t i;

	hr_serial_host_timings(host_s);
	if (c->first_uptime < 0) {
		hr_msg("--timings: the init wrote no log line");
		return;
	}
	fprintf(stderr, "hypeman: guest boot (from the init's log, guest clock):\n");
	fprintf(stderr, "hypeman:   %-24s %6lld ms\n", "kernel start -> init", c->first_uptime);
	for (i = 0; i < c->n_phases; i++)
		fprintf(stderr, "hypeman:   %-24s %6lld ms\n", c->phases[i].name, c->phases[i].dur_ms);
	if (c->prog_uptime >= 0)
		fprintf(stderr, "hypeman:   %-24s %6lld ms\n", "init -> program start",
			c->prog_uptime - c->first_uptime);
}
