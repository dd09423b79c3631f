/*
 * Contract layer: the init's JSON log lines (contract: Log), formatted by
 * the init and read back by hypeman run, side by side. Pure: libc and
 * json.c, no allocation in the formatting, so that logging works when
 * everything else has failed.
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
 * '"' and '\\' backslashed, \n \b \f \r \t, other bytes below 0x20
 * and 0x7f as \u00XX, a byte that is not part of well-formed UTF-8 as
 * \ufffd, the rest as it is. A string too long is cut before the escape or UTF-8
 * sequence that would not fit, never inside one, so the text stays valid
 * JSON. Returns the length.
 */
size_t hm_log_escape(char *dst, size_t cap, const char *s);

/*
 * The JSON line, newline included, into BUF (CAP >= HM_LOGLINE_MAX):
 * {"time":"<UTC, ms>Z","level":..,"phase":..,"msg":..[,"error":..],
 * "uptime_ms":N[,"dur_ms":N]}. Strings longer than their room above are
 * cut, so the line is always one whole JSON object. Returns its length.
 */
size_t hm_logline_format(char *buf, size_t cap, const struct hm_logline *l);

/*
 * Reads a log line back (LINE, LEN bytes, without its newline) into L:
 * its strings are decoded into STORE (CAP >= LEN bytes) and L points
 * there. Unknown keys are skipped; a repeated key: the last one counts.
 * 0, or -1 when LINE is not one JSON object with the time, level, phase,
 * msg and uptime_ms of a log line.
 */
int hm_logline_parse(const char *line, size_t len, struct hm_logline *l, char *store,
		size_t cap);

/* UTC as RFC 3339, "2026-11-26T10:15:30" then DIGITS (3: ms, 9: ns)
 * digits of the fraction, truncated, and "Z", into BUF (CAP >= 32). */
void hm_utc_format(char *buf, size_t cap, const struct timespec *ts, int digits);
/* The time S (LEN bytes) in that shape, with 1..9 digits of fraction or
 * none, into *TS; 0, or -1 when it is not one. */
int hm_utc_parse(const char *s, size_t len, struct timespec *ts);

#endif
