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

/*
 * S as a Go string literal ("...", as Go's %q and strconv.Quote write it
 * for ASCII; strconv.Unquote gives S back) into DST (CAP bytes,
 * NUL-terminated): '"' and '\\' backslashed, \a \b \f \n \r \t \v,
 * other bytes below 0x20 and from 0x7f as \xNN. A string too long is cut
 * before the escape that would not fit; the closing quote always fits.
 * Returns the length.
 */
size_t hm_go_quote(char *dst, size_t cap, const char *s);
/*
 * The reverse, for the markers' parsers: the Go literal at SRC ("..."
 * with the escapes above) into DST (CAP bytes). Returns the bytes of SRC
 * it took, or 0 when SRC is not such a literal or DST is too small.
 */
size_t hm_go_unquote(char *dst, size_t cap, const char *src);

/*
 * The kernel headers' markers (contract: Markers), one function each,
 * no newline: HYPEMAN-HEADERS-START ts=<UTC RFC3339, ns>Z,
 * HYPEMAN-HEADERS-READY ts=..., HYPEMAN-HEADERS-FAILED ts=... error="..."
 * (ERROR quoted by hm_go_quote). Return the length (as snprintf).
 */
int hm_headers_start_format(char *buf, size_t cap, const struct timespec *now);
int hm_headers_ready_format(char *buf, size_t cap, const struct timespec *now);
int hm_headers_failed_format(char *buf, size_t cap, const struct timespec *now,
		const char *error);

/* What hm_headers_marker_parse found in a line. */
struct hm_headers_marker {
	char state[8];			/* "START", "READY", "FAILED" */
	char ts[40];			/* as written: 2026-...Z */
	char error[HM_LOG_ERROR_MAX];	/* FAILED's, unquoted; "" otherwise */
};
/* A headers marker anywhere in LINE (as the host looks for it) into *M:
 * 0, or -1 when LINE holds none or a malformed one. */
int hm_headers_marker_parse(const char *line, struct hm_headers_marker *m);

#endif
