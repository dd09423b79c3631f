/*
 * Contract layer: a strict JSON pull reader (RFC 8259) and a small writer,
 * see json.h. The init reads /config.json with it, which comes from the
 * user: every byte is checked, nothing recurses, and nothing is allocated
 * for skipped values. hypeman run reads the OCI layout's documents and the
 * init's log lines with it, and writes config.json.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += json.o

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"

void hm_json_init(struct hm_json *j, const char *text, size_t len)
{
	memset(j, 0, sizeof(*j));
	j->text = text;
	j->len = len;
}

/* Records the first error only: later ones are consequences of it. */
static int fail(struct hm_json *j, size_t at, const char *reason)
{
	if (!j->err[0]) {
		if (at >= j->len)
			reason = "unexpected end of input";
		snprintf(j->err, sizeof(j->err), "offset %lu: %s",
			(unsigned long)at, reason);
	}
	return -1;
}

static int oom(struct hm_json *j)
{
	if (!j->err[0])
		strcpy(j->err, "out of memory");
	return -1;
}

/* The byte at i, or -1 at the end of the input. */
static int byte_at(const struct hm_json *j, size_t i)
{
	return i < j->len ? (unsigned char)j->text[i] : -1;
}

/* Skips the four RFC whitespace bytes and returns the next byte (or -1). */
static int next_byte(struct hm_json *j)
{
	int c;

	while ((c = byte_at(j, j->pos)) == ' ' || c == '\t' || c == '\n' || c == '\r')
		j->pos++;
	return c;
}

enum hm_json_type hm_json_peek(struct hm_json *j)
{
	int c;
	char msg[40];

	if (j->err[0])
		return HM_JSON_ERROR;
	c = next_byte(j);
	switch (c) {
	case 'n': return HM_JSON_NULL;
	case 't': case 'f': return HM_JSON_BOOL;
	case '"': return HM_JSON_STRING;
	case '[': return HM_JSON_ARRAY;
	case '{': return HM_JSON_OBJECT;
	}
	if (c == '-' || (c >= '0' && c <= '9'))
		return HM_JSON_NUMBER;
	if (c > 0x20 && c < 0x7f)
		sprintf(msg, "unexpected character '%c'", c);
	else
		sprintf(msg, "unexpected byte 0x%02x", c & 0xff);
	fail(j, j->pos, msg);
	return HM_JSON_ERROR;
}

const char *hm_json_type_name(enum hm_json_type t)
{
	static const char names[][8] = {
		"invalid", "null", "boolean", "number", "string", "array", "object"
	};

	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : names[0];
}

/* Checks that the next value has type t (callers may skip peeking). */
static int expect(struct hm_json *j, enum hm_json_type t)
{
	enum hm_json_type got = hm_json_peek(j);

	if (got == t)
		return 0;
	if (got != HM_JSON_ERROR) {
		char msg[40];

		sprintf(msg, "expected %s", hm_json_type_name(t));
		fail(j, j->pos, msg);
	}
	return -1;
}

static int literal(struct hm_json *j, const char *word)
{
	size_t n = strlen(word);

	if (j->len - j->pos < n || memcmp(j->text + j->pos, word, n) != 0)
		return fail(j, j->pos, "invalid literal");
	j->pos += n;
	return 0;
}

int hm_json_null(struct hm_json *j)
{
	if (expect(j, HM_JSON_NULL))
		return -1;
	return literal(j, "null");
}

int hm_json_bool(struct hm_json *j, bool *out)
{
	bool v;

	if (expect(j, HM_JSON_BOOL))
		return -1;
	v = j->text[j->pos] == 't';
	if (literal(j, v ? "true" : "false"))
		return -1;
	if (out)
		*out = v;
	return 0;
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* Steps over one or more digits; fails when there is none. */
static int digits(struct hm_json *j, size_t *i)
{
	if (!is_digit(byte_at(j, *i)))
		return fail(j, *i, "invalid number");
	while (is_digit(byte_at(j, *i)))
		(*i)++;
	return 0;
}

int hm_json_number(struct hm_json *j, const char **lit, size_t *litlen)
{
	size_t i;
	int c;

	if (expect(j, HM_JSON_NUMBER))
		return -1;
	i = j->pos;
	if (byte_at(j, i) == '-')
		i++;
	/* No leading zeros: "01" ends after the 0 and fails as garbage. */
	if (byte_at(j, i) == '0')
		i++;
	else if (digits(j, &i))
		return -1;
	if (byte_at(j, i) == '.') {
		i++;
		if (digits(j, &i))
			return -1;
	}
	c = byte_at(j, i);
	if (c == 'e' || c == 'E') {
		c = byte_at(j, ++i);
		if (c == '+' || c == '-')
			i++;
		if (digits(j, &i))
			return -1;
	}
	if (lit)
		*lit = j->text + j->pos;
	if (litlen)
		*litlen = i - j->pos;
	j->pos = i;
	return 0;
}

int hm_utf8_seq(const unsigned char *s, size_t n)
{
	unsigned cp, min;
	size_t k, i;

	if (n == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		k = 2; cp = s[0] & 0x1f; min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		k = 3; cp = s[0] & 0x0f; min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		k = 4; cp = s[0] & 0x07; min = 0x10000;
	} else
		return 0;
	if (n < k)
		return 0;
	for (i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return k;
}

bool hm_utf8_valid(const char *s)
{
	size_t n = strlen(s);
	int k;

	for (; n; s += k, n -= k)
		if (!(k = hm_utf8_seq((const unsigned char *)s, n)))
			return false;
	return true;
}

size_t hm_utf8_put(char *out, unsigned cp)
{
	unsigned char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = cp; n = 1;
	} else if (cp < 0x800) {
		b[0] = 0xc0 | cp >> 6; b[1] = 0x80 | (cp & 0x3f); n = 2;
	} else if (cp < 0x10000) {
		b[0] = 0xe0 | cp >> 12; b[1] = 0x80 | (cp >> 6 & 0x3f);
		b[2] = 0x80 | (cp & 0x3f); n = 3;
	} else {
		b[0] = 0xf0 | cp >> 18; b[1] = 0x80 | (cp >> 12 & 0x3f);
		b[2] = 0x80 | (cp >> 6 & 0x3f); b[3] = 0x80 | (cp & 0x3f); n = 4;
	}
	if (out)
		memcpy(out, b, n);
	return n;
}

/* Four hex digits at i; -1 (and the offending offset in *bad) when not. */
static long hex4(const struct hm_json *j, size_t i, size_t *bad)
{
	long v = 0;
	int k, c;

	for (k = 0; k < 4; k++) {
		c = byte_at(j, i + k);
		if (c >= '0' && c <= '9')
			c -= '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			c = (c | 0x20) - 'a' + 10;
		else {
			*bad = i + k;
			return -1;
		}
		v = v << 4 | c;
	}
	return v;
}

/* Decodes \uXXXX (and its low surrogate) at i (after the 'u'). */
static int unicode_escape(struct hm_json *j, size_t *i, unsigned *cp)
{
	size_t bad;
	long hi = hex4(j, *i, &bad), lo;

	if (hi < 0)
		return fail(j, bad, "invalid \\u escape");
	*i += 4;
	if (hi >= 0xdc00 && hi <= 0xdfff)
		return fail(j, *i - 6, "lone surrogate in \\u escape");
	if (hi >= 0xd800 && hi <= 0xdbff) {
		lo = -1;
		if (byte_at(j, *i) == '\\' && byte_at(j, *i + 1) == 'u')
			lo = hex4(j, *i + 2, &bad);
		if (lo < 0xdc00 || lo > 0xdfff)
			return fail(j, *i - 6, "lone surrogate in \\u escape");
		*i += 6;
		hi = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
	}
	if (hi == 0)
		return fail(j, *i - 6, "\\u0000 is not allowed");
	*cp = hi;
	return 0;
}

/*
 * Reads the string at j->pos: the first pass (out NULL) checks it and
 * measures it, the second copies it; so a string costs exactly its
 * decoded size. Returns the decoded length, or -1; *end is the offset
 * after the closing quote.
 */
static long scan_string(struct hm_json *j, char *out, size_t *end)
{
	static const char esc_in[] = "\"\\/bfnrt", esc_out[] = "\"\\/\b\f\n\r\t";
	size_t i = j->pos + 1, n = 0, k;
	const char *e;
	unsigned cp = 0;
	int c;

	for (;;) {
		c = byte_at(j, i);
		if (c == '"')
			break;
		if (c < 0)
			return fail(j, i, "unterminated string");
		if (c < 0x20)
			return fail(j, i, "control character in string");
		if (c == '\\') {
			c = byte_at(j, i + 1);
			i += 2;
			e = c > 0 ? strchr(esc_in, c) : NULL;
			if (c == 'u') {
				if (unicode_escape(j, &i, &cp))
					return -1;
				n += hm_utf8_put(out ? out + n : NULL, cp);
			} else if (e) {
				if (out)
					out[n] = esc_out[e - esc_in];
				n++;
			} else
				return fail(j, i - 1, "invalid escape in string");
			continue;
		}
		k = hm_utf8_seq((const unsigned char *)j->text + i, j->len - i);
		if (!k)
			return fail(j, i, "invalid UTF-8 in string");
		if (out)
			memcpy(out + n, j->text + i, k);
		n += k;
		i += k;
	}
	if (out)
		out[n] = '\0';
	*end = i + 1;
	return n;
}

int hm_json_string(struct hm_json *j, char **out)
{
	size_t end;
	long n;

	if (expect(j, HM_JSON_STRING))
		return -1;
	n = scan_string(j, NULL, &end);
	if (n < 0)
		return -1;
	if (out) {
		*out = malloc(n + 1);
		if (!*out)
			return oom(j);
		scan_string(j, *out, &end);
	}
	j->pos = end;
	return 0;
}

static bool in_object(const struct hm_json *j)
{
	return j->objects >> (j->depth - 1) & 1;
}

int hm_json_enter(struct hm_json *j)
{
	enum hm_json_type t = hm_json_peek(j);

	if (t != HM_JSON_ARRAY && t != HM_JSON_OBJECT) {
		if (t != HM_JSON_ERROR)
			fail(j, j->pos, "expected '[' or '{'");
		return -1;
	}
	if (j->depth >= HM_JSON_MAX_DEPTH)
		return fail(j, j->pos, "nesting deeper than 64 levels");
	if (t == HM_JSON_OBJECT)
		j->objects |= (uint64_t)1 << j->depth;
	else
		j->objects &= ~((uint64_t)1 << j->depth);
	j->depth++;
	j->pos++;
	j->first = true;
	return 0;
}

int hm_json_next(struct hm_json *j, char **key)
{
	bool obj;
	int c;

	if (j->err[0])
		return -1;
	if (j->depth == 0)
		return fail(j, j->pos, "not inside an array or object");
	obj = in_object(j);
	c = next_byte(j);
	if (c == (obj ? '}' : ']')) {
		j->pos++;
		j->depth--;
		j->first = false;
		return 0;
	}
	if (!j->first) {
		if (c != ',')
			return fail(j, j->pos, obj ? "expected ',' or '}'" : "expected ',' or ']'");
		j->pos++;
		c = next_byte(j);
	}
	if (obj) {
		if (c != '"')
			return fail(j, j->pos, j->first ? "expected '\"' or '}'" : "expected '\"'");
		if (hm_json_string(j, key))
			return -1;
		if (next_byte(j) != ':') {
			if (key) {
				free(*key);
				*key = NULL;
			}
			return fail(j, j->pos, "expected ':'");
		}
		j->pos++;
	}
	/* A nested container sets and clears this again, so one flag is enough. */
	j->first = false;
	return 1;
}

static int skip_scalar(struct hm_json *j, enum hm_json_type t)
{
	switch (t) {
	case HM_JSON_NULL: return hm_json_null(j);
	case HM_JSON_BOOL: return hm_json_bool(j, NULL);
	case HM_JSON_NUMBER: return hm_json_number(j, NULL, NULL);
	case HM_JSON_STRING: return hm_json_string(j, NULL);
	default: return -1;
	}
}

int hm_json_skip(struct hm_json *j)
{
	int base = j->depth, r;
	enum hm_json_type t;

	do {
		t = hm_json_peek(j);
		if (t == HM_JSON_ARRAY || t == HM_JSON_OBJECT)
			r = hm_json_enter(j);
		else
			r = skip_scalar(j, t);
		if (r < 0)
			return -1;
		/* Close finished containers until another element follows. */
		while (j->depth > base && (r = hm_json_next(j, NULL)) == 0)
			continue;
		if (r < 0)
			return -1;
	} while (j->depth > base);
	return 0;
}

int hm_json_end(struct hm_json *j)
{
	if (j->err[0])
		return -1;
	if (next_byte(j) >= 0)
		return fail(j, j->pos, "unexpected data after the top-level value");
	return 0;
}

int hm_json_to_long(const char *lit, size_t len, long *out)
{
	unsigned long v = 0, lim = (unsigned long)-1 >> 1;
	bool neg = len && lit[0] == '-';
	size_t i = neg;

	if (i == len)
		return -1;
	/* -LONG_MAX-1 is not needed for config values: keep the check simple. */
	for (; i < len; i++) {
		if (!is_digit(lit[i]) || v > (lim - (lit[i] - '0')) / 10)
			return -1;
		v = v * 10 + (lit[i] - '0');
	}
	*out = neg ? -(long)v : (long)v;
	return 0;
}

int hm_json_validate(const char *text, size_t len, char *err, size_t errlen)
{
	struct hm_json j;

	hm_json_init(&j, text, len);
	if (hm_json_skip(&j) == 0 && hm_json_end(&j) == 0)
		return 0;
	if (err && errlen)
		snprintf(err, errlen, "%s", j.err);
	return -1;
}

/* One unit of escaped text for the start of S (N > 0 bytes), JSON's or,
 * with GO, Go's %q: its text in SEQ, its length in *SEQLEN; returns the
 * bytes of S used. */
static size_t escape_unit(const unsigned char *s, size_t n, char seq[8], size_t *seqlen,
		bool go)
{
	/* named escapes: JSON has the first seven, Go all nine */
	static const char plain[] = "\"\\\n\b\f\r\t\a\v", named[] = "\"\\nbfrtav";
	const char *e = strchr(plain, s[0]);
	int k = hm_utf8_seq(s, n);

	if (e && (go || e < plain + 7)) {
		seq[0] = '\\';
		seq[1] = named[e - plain];
		*seqlen = 2;
		return 1;
	}
	if (k > 1 || (k == 1 && s[0] >= 0x20 && s[0] != 0x7f)) {
		memcpy(seq, s, k);
		*seqlen = k;
		return k;
	}
	/* a control byte, or one that starts no UTF-8 sequence (JSON: U+FFFD) */
	*seqlen = sprintf(seq, go ? "\\x%02x" : "\\u%04x", go || k ? s[0] : 0xfffd);
	return 1;
}

size_t hm_escape_bounded(char *dst, size_t cap, const char *s, bool go)
{
	size_t len = 0, n = strlen(s), used, seqlen;
	char seq[8];

	for (; n; s += used, n -= used) {
		used = escape_unit((const unsigned char *)s, n, seq, &seqlen, go);
		if (len + seqlen >= cap)
			break;
		memcpy(dst + len, seq, seqlen);
		len += seqlen;
	}
	if (cap)
		dst[len] = '\0';
	return len;
}

void hm_jsonw_raw(struct hm_jsonw *w, const char *s, size_t n)
{
	char *p;

	if (w->oom)
		return;
	if (w->len + n + 1 > w->cap) {
		size_t cap = w->cap ? w->cap : 1024;

		while (w->len + n + 1 > cap)
			cap *= 2;
		p = realloc(w->buf, cap);
		if (!p) {
			w->oom = true;
			return;
		}
		w->buf = p;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

int hm_jsonw_string(struct hm_jsonw *w, const char *s)
{
	size_t n = strlen(s), used, seqlen;
	char seq[8];

	if (!hm_utf8_valid(s))
		return -1;
	hm_jsonw_raw(w, "\"", 1);
	for (; n; s += used, n -= used) {
		used = escape_unit((const unsigned char *)s, n, seq, &seqlen, false);
		hm_jsonw_raw(w, seq, seqlen);
	}
	hm_jsonw_raw(w, "\"", 1);
	return 0;
}
