/*
 * hypeman-init: the console and the JSON Lines log on it (log.c,
 * console.c). hypeman.h, which every phase includes, includes it.
 */
#ifndef HM_LOG_H
#define HM_LOG_H 1

#include <stdbool.h>
#include <time.h>

PUSH_AND_SET_FUNCTION_VISIBILITY_TO_HIDDEN

/* ---- log.c: JSON Lines on the console (contract: Log) ---- */
enum hm_level { HM_INFO, HM_WARN, HM_ERROR };
void hm_log(enum hm_level level, const char *phase, const char *fmt, ...) FAST_FUNC
	__attribute__ ((format (printf, 3, 4)));
/* Same, with "error":strerror(err) */
void hm_log_errno(enum hm_level level, const char *phase, int err, const char *fmt, ...) FAST_FUNC
	__attribute__ ((format (printf, 4, 5)));
/* An INFO line only with hypeman.debug=1: the per-item detail (each
 * module, each disk) under a phase's one summary line. */
void hm_debug(const char *phase, const char *fmt, ...) FAST_FUNC
	__attribute__ ((format (printf, 2, 3)));
/* Phase timing: begin remembers the time; end logs msg with "dur_ms". */
void hm_phase_begin(const char *phase) FAST_FUNC;
void hm_phase_end(const char *phase, const char *fmt, ...) FAST_FUNC
	__attribute__ ((format (printf, 2, 3)));
unsigned long long hm_uptime_ms(void) FAST_FUNC;
/* Time until DEADLINE_MS (hm_uptime_ms clock) in *LEFT; false once past. */
bool hm_time_left(unsigned long long deadline_ms, struct timespec *left) FAST_FUNC;
/* Plain line (markers), written in one write(2). */
void hm_console_line(const char *line) FAST_FUNC;
/* HYPEMAN-PROGRAM-START ts=<RFC3339 UTC, ns> mode=MODE */
void hm_program_start_marker(const char *mode) FAST_FUNC;

/* ---- console.c ---- */
int hm_console_open(void) FAST_FUNC;     /* fd 1 and 2 on the best console */
const char *hm_console_path(void) FAST_FUNC;

POP_SAVED_FUNCTION_VISIBILITY

#endif
