/*
 * Contract layer: the marker lines (contract: Markers), formatted by the
 * init and found by hosts anywhere in a console line, side by side.
 *
 *   HYPEMAN-PROGRAM-START ts=2026-11-26T10:15:30.123456789Z mode=exec
 *   HYPEMAN-EXIT code=0 message="success"
 *
 * A marker is HYPEMAN-<word> and its fields in a fixed order, each
 * " key=value". A value is a time (UTC, RFC 3339, nanoseconds), a word
 * (no space), an integer, or a quoted text, quoted as Go's %q does (what
 * today's hosts unquote): '"', '\\' and the control characters
 * backslashed (\n, \t, \x01...), a byte that is not part of well-formed
 * UTF-8 as \xNN, other characters as they are.
 *
 * A new marker is one line in HM_MARKERS, a new field one line in
 * HM_MARKER_FIELDS (the kernel headers' markers, for one).
 */
#ifndef HM_MARKER_H
#define HM_MARKER_H 1

#include <stddef.h>
#include <time.h>

/* The kinds of value. */
enum hm_marker_value { HM_MV_TIME, HM_MV_WORD, HM_MV_INT, HM_MV_QUOTED };

/* The fields: name, key, kind of value. */
#define HM_MARKER_FIELDS(X) \
	X(TS,      "ts",      HM_MV_TIME) \
	X(MODE,    "mode",    HM_MV_WORD) \
	X(CODE,    "code",    HM_MV_INT) \
	X(MESSAGE, "message", HM_MV_QUOTED) \
	X(ERROR,   "error",   HM_MV_QUOTED)

/* The markers: name, the word after "HYPEMAN-", the fields in order. */
#define HM_MARKERS(X) \
	X(PROGRAM_START, "PROGRAM-START", HM_MF_TS, HM_MF_MODE) \
	X(EXIT,          "EXIT",          HM_MF_CODE, HM_MF_MESSAGE)

#define HM_MARKER_ENUM_(name, ...) HM_MARKER_##name,
#define HM_MF_ENUM_(name, ...) HM_MF_##name,
enum hm_marker_field { HM_MF_NONE, HM_MARKER_FIELDS(HM_MF_ENUM_) HM_MF_COUNT };
enum hm_marker_kind { HM_MARKERS(HM_MARKER_ENUM_) HM_MARKER_COUNT };

/* A marker line's text, newline not included, fields cut to fit. */
#define HM_MARKER_MAX 512

struct hm_marker {
	enum hm_marker_kind kind;
	struct timespec ts;			/* the time field (ts) */
	long num;				/* the integer field (code) */
	const char *text[HM_MF_COUNT];		/* word and quoted fields, by field */
};

/* The line of M into BUF (CAP bytes, NUL-terminated): a quoted text too
 * long is cut (never inside an escape or a UTF-8 sequence), its closing
 * quote kept. Returns the length. */
size_t hm_marker_format(char *buf, size_t cap, const struct hm_marker *m);

/*
 * The first marker in LINE (LEN bytes; it may start anywhere) into M,
 * words and texts decoded into STORE (CAP >= LEN bytes) and M pointing
 * there. Its kind, or -1 when LINE holds none (a marker with a field
 * missing or malformed is none).
 */
int hm_marker_parse(const char *line, size_t len, struct hm_marker *m, char *store,
		size_t cap);

/* S quoted as Go's %q does, quotes included, into DST (CAP >= 3 bytes,
 * NUL-terminated), cut as above. Returns the length. */
size_t hm_go_quote(char *dst, size_t cap, const char *s);

#endif
