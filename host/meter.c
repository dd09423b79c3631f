/*
 * hypeman run: progress of the steps that can take a while (a layer, a
 * disk). Quiet for the first 2 s, so that quick steps print only their
 * one closing line; then one update every 2 s on stderr, rewritten in
 * place on a terminal and as separate lines otherwise.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>
#include "meter.h"
#include "tool.h"
#include "util.h"

#define QUIET_S 2.0
#define EVERY_S 2.0

void hr_meter_start(struct hr_meter *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m->what, sizeof(m->what), fmt, ap);
	va_end(ap);
	m->start = hr_now_s();
	m->next = m->start + QUIET_S;
	m->shown = false;
}

void hr_meter_tick(struct hr_meter *m, uint64_t done, uint64_t total)
{
	double now;
	char a[32], b[32];
	bool tty;

	if (hr_tool.quiet)
		return;
	now = hr_now_s();
	if (now < m->next)
		return;
	m->next = now + EVERY_S;
	tty = isatty(2);
	if (total)
		fprintf(stderr, "%shypeman: %s: %3u%% (%s of %s), %.0f s%s", tty ? "\r" : "",
			m->what, (unsigned)(done * 100 / (total ? total : 1)),
			hr_human_size(done, a), hr_human_size(total, b), now - m->start,
			tty ? "\033[K" : "\n");
	else
		fprintf(stderr, "%shypeman: %s: %s so far, %.0f s%s", tty ? "\r" : "", m->what,
			hr_human_size(done, a), now - m->start, tty ? "\033[K" : "\n");
	fflush(stderr);
	m->shown = true;
}

double hr_meter_end(struct hr_meter *m)
{
	if (m->shown && isatty(2)) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
	m->shown = false;
	return hr_now_s() - m->start;
}
