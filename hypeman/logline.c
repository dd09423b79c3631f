/*
 * hypeman-init: console line shapes (see logline.h). Pure: libc only, no
 * allocation, so that logging works when everything else has failed.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += logline.o

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "logline.h"

/* The fixed parts: keys, quotes, the time, two 64-bit numbers (147 bytes
 * with the NUL at the most). */
#define FIXED_MAX 192
_Static_assert(HM_LOG_PHASE_MAX + HM_LOG_MSG_MAX + HM_LOG_ERROR_MAX + FIXED_MAX
	<= HM_LOGLINE_MAX, "a log line has room for all its strings");

size_t hm_log_escape(char *dst, size_t cap, const char *s)
{
	size_t len = 0;
	char seq[8];
	int n;

	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\' || c == '\n') {
			seq[0] = '\\';
			seq[1] = c == '\n' ? 'n' : c;
			n = 2;
		} else if (c < 0x20 || c == 0x7f) {
			n = sprintf(seq, "\\u%04x", c);
		} else {
			seq[0] = c;
			n = 1;
		}
		if (len + n >= cap)
			break;
		memcpy(dst + len, seq, n);
		len += n;
	}
	dst[len] = '\0';
	return len;
}

/* 2026-11-26T10:15:30 followed by DIGITS (3 or 9) of the fraction and Z */
static void utc_time(char *buf, size_t cap, const struct timespec *ts, int digits)
{
	struct tm tm;
	long frac = ts->tv_nsec;
	size_t n;
	int i;

	gmtime_r(&ts->tv_sec, &tm);
	n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	for (i = digits; i < 9; i++)
		frac /= 10;
	snprintf(buf + n, cap - n, ".%0*ldZ", digits, frac);
}

size_t hm_logline_format(char *buf, size_t cap, const struct hm_logline *l)
{
	char when[40], phase[HM_LOG_PHASE_MAX], msg[HM_LOG_MSG_MAX];
	char error[HM_LOG_ERROR_MAX], dur[32] = "";
	int n;

	utc_time(when, sizeof(when), &l->now, 3);
	hm_log_escape(phase, sizeof(phase), l->phase);
	hm_log_escape(msg, sizeof(msg), l->msg);
	hm_log_escape(error, sizeof(error), l->error ? l->error : "");
	if (l->dur_ms >= 0)
		snprintf(dur, sizeof(dur), ",\"dur_ms\":%lld", l->dur_ms);
	n = snprintf(buf, cap, "{\"time\":\"%s\",\"level\":\"%s\",\"phase\":\"%s\","
		"\"msg\":\"%s\"%s%s%s,\"uptime_ms\":%llu%s}\n",
		when, l->level, phase, msg,
		l->error ? ",\"error\":\"" : "", error, l->error ? "\"" : "",
		l->uptime_ms, dur);
	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

int hm_program_start_format(char *buf, size_t cap, const struct timespec *now,
		const char *mode)
{
	char when[40];

	utc_time(when, sizeof(when), now, 9);
	return snprintf(buf, cap, "HYPEMAN-PROGRAM-START ts=%s mode=%s", when, mode);
}

size_t hm_go_quote(char *dst, size_t cap, const char *s)
{
	static const char letters[] = "abtnvfr";	/* \a (7) to \r (13) */
	size_t len = 1;
	char seq[8];
	int n;

	if (cap < 3) {
		if (cap)
			dst[0] = '\0';
		return 0;
	}
	dst[0] = '"';
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\') {
			seq[0] = '\\';
			seq[1] = c;
			n = 2;
		} else if (c >= 7 && c <= 13) {
			seq[0] = '\\';
			seq[1] = letters[c - 7];
			n = 2;
		} else if (c < 0x20 || c >= 0x7f) {
			n = sprintf(seq, "\\x%02x", c);
		} else {
			seq[0] = c;
			n = 1;
		}
		/* room for the closing quote and the NUL */
		if (len + n + 2 > cap)
			break;
		memcpy(dst + len, seq, n);
		len += n;
	}
	dst[len++] = '"';
	dst[len] = '\0';
	return len;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t hm_go_unquote(char *dst, size_t cap, const char *src)
{
	static const char letters[] = "abtnvfr";
	const char *p = src + 1, *l;
	size_t len = 0;

	if (src[0] != '"' || cap == 0)
		return 0;
	while (*p != '"') {
		int c = (unsigned char)*p++;

		if (c == '\0' || c == '\n')
			return 0;
		if (c == '\\') {
			c = *p++;
			if (c == 'x' && hex_digit(p[0]) >= 0 && hex_digit(p[1]) >= 0) {
				c = hex_digit(p[0]) * 16 + hex_digit(p[1]);
				p += 2;
			} else if (c && (l = strchr(letters, c)) != NULL) {
				c = 7 + (l - letters);
			} else if (c != '"' && c != '\\') {
				return 0;
			}
		}
		if (len + 1 >= cap)
			return 0;
		dst[len++] = c;
	}
	dst[len] = '\0';
	return p + 1 - src;
}

static int headers_marker(char *buf, size_t cap, const struct timespec *now,
		const char *state, const char *error)
{
	char when[40], quoted[HM_LOG_ERROR_MAX];

	utc_time(when, sizeof(when), now, 9);
	if (!error)
		return snprintf(buf, cap, "HYPEMAN-HEADERS-%s ts=%s", state, when);
	hm_go_quote(quoted, sizeof(quoted), error);
	return snprintf(buf, cap, "HYPEMAN-HEADERS-%s ts=%s error=%s", state, when, quoted);
}

int hm_headers_start_format(char *buf, size_t cap, const struct timespec *now)
{
	return headers_marker(buf, cap, now, "START", NULL);
}

int hm_headers_ready_format(char *buf, size_t cap, const struct timespec *now)
{
	return headers_marker(buf, cap, now, "READY", NULL);
}

int hm_headers_failed_format(char *buf, size_t cap, const struct timespec *now,
		const char *error)
{
	return headers_marker(buf, cap, now, "FAILED", error);
}

/* Copies the word at S (up to a space or the end) into DST; its end, or
 * NULL when it does not fit or is empty. */
static const char *word(char *dst, size_t cap, const char *s)
{
	size_t n = strcspn(s, " \r\n");

	if (n == 0 || n >= cap)
		return NULL;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return s + n;
}

/* The tail of S after PREFIX, or NULL (busybox's is_prefixed_with). */
static const char *after(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);

	return s && strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

int hm_headers_marker_parse(const char *line, struct hm_headers_marker *m)
{
	const char *p = after(strstr(line, "HYPEMAN-HEADERS-"), "HYPEMAN-HEADERS-");
	bool failed;

	if (!p || !(p = word(m->state, sizeof(m->state), p)))
		return -1;
	failed = strcmp(m->state, "FAILED") == 0;
	if (!failed && strcmp(m->state, "START") != 0 && strcmp(m->state, "READY") != 0)
		return -1;
	p = after(p, " ts=");
	if (!p || !(p = word(m->ts, sizeof(m->ts), p)))
		return -1;
	m->error[0] = '\0';
	if (!failed)
		return *p == '\0' || *p == '\r' || *p == '\n' ? 0 : -1;
	p = after(p, " error=");
	return p && hm_go_unquote(m->error, sizeof(m->error), p) ? 0 : -1;
}
