/*
 * hypeman-init: the shapes of the console lines (contract: Log; contract: Markers),
 * formatted without I/O, so that log.c only adds clocks and write(2).
 */
#ifndef HM_LOGLINE_H
#define HM_LOGLINE_H 1

#include <stddef.h>
#include <time.h>

/* Room for each string of a line, escaped, with its NUL. */
#define HM_LOG_PHASE_MAX 64
#define HM_LOG_MSG_MAX   1536
#define HM_LOG_ERROR_MAX 256
/* A whole line: the strings above plus the fixed parts (under 192 bytes). */
#define HM_LOGLINE_MAX   2048

struct hm_logline {
	struct timespec now;		/* CLOCK_REALTIME */
	const char *level;		/* "INFO", "WARN", "ERROR" */
	const char *phase;
	const char *msg;
	const char *error;		/* NULL: no "error" key */
	unsigned long long uptime_ms;
	long long dur_ms;		/* below 0: no "dur_ms" key */
};

/*
 * S as the body of a JSON string into DST (CAP bytes, NUL-terminated):
 * '"' and '\\' backslashed, newline as \n, other bytes below 0x20 and
 * 0x7f as \u00XX, the rest as they are. A string too long is cut before
 * the escape that would not fit, never inside one. Returns the length.
 */
size_t hm_log_escape(char *dst, size_t cap, const char *s);

/*
 * The JSON line, newline included, into BUF (CAP >= HM_LOGLINE_MAX):
 * {"time":"<UTC, ms>Z","level":..,"phase":..,"msg":..[,"error":..],
 * "uptime_ms":N[,"dur_ms":N]}. Strings longer than their room above are
 * cut, so the line is always one whole JSON object. Returns its length.
 */
size_t hm_logline_format(char *buf, size_t cap, const struct hm_logline *l);

/* HYPEMAN-PROGRAM-START ts=<UTC RFC3339, ns>Z mode=MODE (no newline). */
int hm_program_start_format(char *buf, size_t cap, const struct timespec *now,
		const char *mode);

#endif
