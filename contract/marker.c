/*
 * Contract layer: marker lines, formatted and found (see marker.h). Pure:
 * libc, json.c's UTF-8 and escaping, logline.c's times.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += marker.o

#include <stdio.h>
#include <string.h>
#include "json.h"
#include "logline.h"
#include "marker.h"

#define PREFIX "HYPEMAN-"
#define FIELDS_MAX 4

static const struct {
	char key[8];
	unsigned char value;
} fields[HM_MF_COUNT] = {
	{ "", 0 },
#define F(name, key, value) { key, value },
	HM_MARKER_FIELDS(F)
#undef F
};

static const struct {
	char word[16];
	unsigned char fields[FIELDS_MAX];	/* ended by HM_MF_NONE */
} markers[HM_MARKER_COUNT] = {
#define M(name, word, ...) { word, { __VA_ARGS__ } },
	HM_MARKERS(M)
#undef M
};

size_t hm_go_quote(char *dst, size_t cap, const char *s)
{
	size_t n;

	if (cap < 3) {
		if (cap)
			dst[0] = '\0';
		return 0;
	}
	dst[0] = '"';
	n = hm_escape_bounded(dst + 1, cap - 2, s, true);
	dst[n + 1] = '"';
	dst[n + 2] = '\0';
	return n + 2;
}

/* Field F's value of M as text into V (ROOM bytes, ROOM > 0). */
static void value_text(char *v, size_t room, const struct hm_marker *m, int f)
{
	const char *s = m->text[f] ? m->text[f] : "";

	if (fields[f].value == HM_MV_TIME)
		hm_utc_format(v, room, &m->ts, 9);
	else if (fields[f].value == HM_MV_QUOTED)
		hm_go_quote(v, room, s);
	else if (fields[f].value == HM_MV_INT)
		snprintf(v, room, "%ld", m->num);
	else
		snprintf(v, room, "%s", s);
}

size_t hm_marker_format(char *buf, size_t cap, const struct hm_marker *m)
{
	const unsigned char *f = markers[m->kind].fields;
	size_t n;
	int i;

	if (!cap)
		return 0;
	n = snprintf(buf, cap, PREFIX "%s", markers[m->kind].word);
	for (i = 0; i < FIELDS_MAX && f[i] && n < cap; i++) {
		n += snprintf(buf + n, cap - n, " %s=", fields[f[i]].key);
		if (n < cap) {
			value_text(buf + n, cap - n, m, f[i]);
			n += strlen(buf + n);
		}
	}
	return n < cap ? n : cap - 1;
}

static int hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The number in the N digits of base BASE at S, or -1. */
static long number(const char *s, size_t n, int base)
{
	long v = 0;
	int d;

	while (n--) {
		d = hex_digit(*s++);
		if (d < 0 || d >= base)
			return -1;
		v = v * base + d;
	}
	return v;
}

/* One escape after a backslash at S (N bytes there) into OUT: bytes of S
 * used, 0 when malformed (or a NUL); *OUTLEN gets the decoded length. */
static size_t unescape(const char *s, size_t n, char *out, size_t *outlen)
{
	static const char named[] = "abfnrtv\\\"'", plain[] = "\a\b\f\n\r\t\v\\\"'";
	const char *e = n && s[0] ? strchr(named, s[0]) : NULL;
	size_t len;
	long v;

	if (e) {
		*out = plain[e - named];
		*outlen = 1;
		return 1;
	}
	if (!n)
		return 0;
	len = s[0] == 'x' ? 3 : s[0] == 'u' ? 5 : s[0] == 'U' ? 9 : 3;
	if (len > n)
		return 0;
	if (s[0] >= '0' && s[0] <= '7')
		v = number(s, 3, 8);	/* a byte */
	else if (s[0] == 'x' || s[0] == 'u' || s[0] == 'U')
		v = number(s + 1, len - 1, 16);
	else
		return 0;
	if (v <= 0 || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)
	 || (s[0] != 'u' && s[0] != 'U' && v > 0xff))
		return 0;
	if (s[0] != 'u' && s[0] != 'U') {
		*out = (char)v;
		*outlen = 1;
	} else {
		*outlen = hm_utf8_put(out, (unsigned)v);
	}
	return len;
}

/* A Go-quoted text at S (N bytes) decoded into OUT (NUL-terminated; room
 * for N bytes): bytes of S used, quotes included; 0 when malformed. */
static size_t go_unquote(const char *s, size_t n, char *out)
{
	size_t i = 1, o = 0, used, k;

	if (!n || s[0] != '"')
		return 0;
	while (i < n && s[i] != '"') {
		if (s[i] != '\\') {
			out[o++] = s[i++];
			continue;
		}
		used = unescape(s + i + 1, n - i - 1, out + o, &k);
		if (!used)
			return 0;
		i += used + 1;
		o += k;
	}
	if (i >= n)
		return 0;
	out[o] = '\0';
	return i + 1;
}

/* Field F's value at S (N bytes) into M (texts into STORE at *USED): the
 * bytes used, 0 when malformed. */
static size_t value_parse(const char *s, size_t n, struct hm_marker *m, int f, char *store,
		size_t *used)
{
	size_t k = 0;
	char *out = store + *used;

	if (fields[f].value == HM_MV_QUOTED) {
		k = go_unquote(s, n, out);
	} else {
		while (k < n && s[k] != ' ')
			k++;
		if (fields[f].value == HM_MV_TIME && hm_utc_parse(s, k, &m->ts))
			return 0;
		if (fields[f].value == HM_MV_INT) {
			m->num = k && k < 19 ? number(s + (s[0] == '-'), k - (s[0] == '-'), 10) : -1;
			if (m->num < 0 || (s[0] == '-' && k == 1))
				return 0;
			if (s[0] == '-')
				m->num = -m->num;
		}
		memcpy(out, s, k);
		out[k] = '\0';
	}
	m->text[f] = out;
	*used += strlen(out) + 1;
	return k;
}

/* Marker KIND at S (N bytes, after "HYPEMAN-") into M; 0 or -1. */
static int parse_kind(const char *s, size_t n, int kind, struct hm_marker *m, char *store,
		size_t cap)
{
	const unsigned char *f = markers[kind].fields;
	size_t pos = strlen(markers[kind].word), used = 0, k;
	int i;

	if (n < pos || memcmp(s, markers[kind].word, pos) || (n > pos && s[pos] != ' ')
	 || cap < n + 1)
		return -1;
	memset(m, 0, sizeof(*m));
	m->kind = kind;
	for (i = 0; i < FIELDS_MAX && f[i]; i++) {
		k = strlen(fields[f[i]].key);
		if (pos + k + 2 > n || s[pos] != ' ' || memcmp(s + pos + 1, fields[f[i]].key, k)
		 || s[pos + k + 1] != '=')
			return -1;
		pos += k + 2;
		k = value_parse(s + pos, n - pos, m, f[i], store, &used);
		if (!k)
			return -1;
		pos += k;
	}
	return 0;
}

int hm_marker_parse(const char *line, size_t len, struct hm_marker *m, char *store,
		size_t cap)
{
	size_t i, p = strlen(PREFIX);
	int kind;

	for (i = 0; i + p <= len; i++) {
		if (memcmp(line + i, PREFIX, p) != 0)
			continue;
		for (kind = 0; kind < HM_MARKER_COUNT; kind++)
			if (parse_kind(line + i + p, len - i - p, kind, m, store, cap) == 0)
				return kind;
	}
	return -1;
}
