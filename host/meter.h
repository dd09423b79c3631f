/*
 * hypeman run: the progress of a step that may take long (meter.c).
 * Silent for the first 2 s of a step, then one line every 2 s on stderr
 * (rewritten in place on a terminal).
 */
#ifndef HR_METER_H
#define HR_METER_H 1

#include <stdbool.h>
#include <stdint.h>

struct hr_meter {
	char what[160];
	double start, next;
	bool shown;
};

void hr_meter_start(struct hr_meter *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* done of total bytes (total 0: unknown). Cheap enough for every read. */
void hr_meter_tick(struct hr_meter *m, uint64_t done, uint64_t total);
/* Ends the meter's line on a terminal; returns the step's seconds. */
double hr_meter_end(struct hr_meter *m);

#endif
