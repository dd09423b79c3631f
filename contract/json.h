/*
 * Contract layer: a small strict JSON reader (RFC 8259), and the few
 * writing pieces config.json and the log lines need.
 *
 * It is a pull reader, not a tree: the caller walks the document and
 * only the strings it asks for are allocated. Unknown values are skipped
 * without allocating, so a hostile 1 MiB config cannot make PID 1 build
 * a huge tree. Nesting is tracked in a bit mask, never by recursion.
 *
 * Every reader function returns -1 (or HM_JSON_ERROR) on the first error
 * and leaves a one-line reason in j->err ("offset 17: expected ',' or
 * '}'"); once an error is set every later call fails too.
 */
#ifndef HM_JSON_H
#define HM_JSON_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HM_JSON_MAX_DEPTH 64	/* one bit of hm_json.objects per level */

enum hm_json_type {
	HM_JSON_ERROR = 0,	/* bad byte or end of input: j->err says which */
	HM_JSON_NULL,
	HM_JSON_BOOL,
	HM_JSON_NUMBER,
	HM_JSON_STRING,
	HM_JSON_ARRAY,
	HM_JSON_OBJECT,
};

struct hm_json {
	const char *text;
	size_t len;
	size_t pos;		/* byte offset of the next unread byte */
	int depth;		/* containers entered and not yet closed */
	bool first;		/* no element read yet in the innermost container */
	uint64_t objects;	/* bit d set: the container at depth d+1 is an object */
	char err[96];		/* empty until the first error */
};

void hm_json_init(struct hm_json *j, const char *text, size_t len);

/* Type of the next value (skips whitespace, consumes nothing). */
enum hm_json_type hm_json_peek(struct hm_json *j);
/* "null", "boolean", "number", "string", "array", "object" */
const char *hm_json_type_name(enum hm_json_type t);

/* Scalars: each reads one value of its type; 0 or -1. */
int hm_json_null(struct hm_json *j);
int hm_json_bool(struct hm_json *j, bool *out);			/* out may be NULL */
/* The literal text of a number, pointing into the input (both may be NULL). */
int hm_json_number(struct hm_json *j, const char **lit, size_t *litlen);
/* The decoded string, malloc'd and NUL-terminated; out NULL: validate only.
 * \u0000 is rejected, so the result never holds an embedded NUL. */
int hm_json_string(struct hm_json *j, char **out);

/*
 * Containers: hm_json_enter() opens the '[' or '{' that comes next.
 * Then call hm_json_next() before each element: it returns 1 when an
 * element follows (for an object it has read the member name into *key,
 * malloc'd, when key is not NULL, and the ':'), 0 when it consumed the
 * closing bracket, -1 on error. The element itself must then be read
 * (or skipped) before the next call.
 */
int hm_json_enter(struct hm_json *j);
int hm_json_next(struct hm_json *j, char **key);

/* Skips one value of any type, checking its syntax. */
int hm_json_skip(struct hm_json *j);
/* Checks that only whitespace is left after the top-level value. */
int hm_json_end(struct hm_json *j);

/* 0 when a number literal is an integer (no fraction, no exponent) that
 * fits in a long; -1 otherwise. */
int hm_json_to_long(const char *lit, size_t len, long *out);

/* Checks a whole document; 0, or -1 with the reason in err. */
int hm_json_validate(const char *text, size_t len, char *err, size_t errlen);

/* Length (1..4) of the well-formed UTF-8 sequence at S (N bytes there),
 * or 0: overlong forms, surrogates and code points above U+10FFFF are not
 * (RFC 3629), so they cannot sneak past checks done on the text. */
int hm_utf8_seq(const unsigned char *s, size_t n);
/* Whether the C string S is well-formed UTF-8. */
bool hm_utf8_valid(const char *s);
/* Code point CP as UTF-8 into OUT (when not NULL); its length (1..4). */
size_t hm_utf8_put(char *out, unsigned cp);

/*
 * The C string S escaped into DST (CAP bytes, NUL-terminated when CAP >
 * 0), as the body of a JSON string: '"', '\\' and \n \b \f \r \t
 * backslashed; other bytes below 0x20 and 0x7f as \u00XX; a byte that
 * starts no well-formed UTF-8 sequence as \ufffd (so the text is valid
 * UTF-8); the rest as it is. With GO, as Go's %q quotes (without the
 * quotes): \a and \v backslashed too, \xNN for the other bytes below
 * 0x20, 0x7f, and a byte that is not UTF-8. A text too long is cut
 * before the first escape or UTF-8 sequence that does not fit, never
 * inside one. Returns its length.
 */
size_t hm_escape_bounded(char *dst, size_t cap, const char *s, bool go);

/* A growing JSON text (config.json). OOM: something was not written. */
struct hm_jsonw {
	char *buf;		/* NUL-terminated; malloc'd */
	size_t len, cap;
	bool oom;
};
void hm_jsonw_raw(struct hm_jsonw *w, const char *s, size_t n);
/* S as a JSON string, quotes included; -1 (nothing written) when S is
 * not valid UTF-8. */
int hm_jsonw_string(struct hm_jsonw *w, const char *s);

#endif
