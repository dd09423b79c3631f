/*
 * Contract layer: the init's log lines, formatted and read back (see
 * logline.h). The formatting is pure libc with no allocation.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += logline.o

#ifndef _DEFAULT_SOURCE
# define _DEFAULT_SOURCE	/* timegm */
#endif
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"
#include "logline.h"

/* The fixed parts: keys, quotes, the time, two 64-bit numbers (147 bytes
 * with the NUL at the most). */
#define FIXED_MAX 192
_Static_assert(HM_LOG_PHASE_MAX + HM_LOG_MSG_MAX + HM_LOG_ERROR_MAX + FIXED_MAX
	<= HM_LOGLINE_MAX, "a log line has room for all its strings");

size_t hm_log_escape(char *dst, size_t cap, const char *s)
{
	return hm_escape_bounded(dst, cap, s, false);
}

void hm_utc_format(char *buf, size_t cap, const struct timespec *ts, int digits)
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

	hm_utc_format(when, sizeof(when), &l->now, 3);
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

/* N decimal digits at S, into *V; -1 when they are not digits. */
static int digits(const char *s, int n, int *v)
{
	*v = 0;
	while (n--) {
		if (*s < '0' || *s > '9')
			return -1;
		*v = *v * 10 + (*s++ - '0');
	}
	return 0;
}

int hm_utc_parse(const char *s, size_t len, struct timespec *ts)
{
	struct tm tm;
	size_t i = 19;
	long ns = 0, scale = 100000000;

	memset(&tm, 0, sizeof(tm));
	if (len < 20 || digits(s, 4, &tm.tm_year) || s[4] != '-' || digits(s + 5, 2, &tm.tm_mon)
	 || s[7] != '-' || digits(s + 8, 2, &tm.tm_mday) || s[10] != 'T'
	 || digits(s + 11, 2, &tm.tm_hour) || s[13] != ':' || digits(s + 14, 2, &tm.tm_min)
	 || s[16] != ':' || digits(s + 17, 2, &tm.tm_sec))
		return -1;
	if (s[i] == '.') {
		for (i++; i < len && s[i] >= '0' && s[i] <= '9' && scale; i++, scale /= 10)
			ns += (s[i] - '0') * scale;
		if (i == 20 || (i < len && s[i] >= '0' && s[i] <= '9'))
			return -1;
	}
	if (i + 1 != len || s[i] != 'Z')
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	ts->tv_sec = timegm(&tm);
	ts->tv_nsec = ns;
	return 0;
}

/* A log line being read back. */
struct reading {
	struct hm_logline *l;
	char *store;
	size_t cap, used;
	bool time, uptime;
};

/* The string that comes next, decoded into the store; *DST points there. */
static int take_string(struct hm_json *j, struct reading *r, const char **dst)
{
	char *s;
	size_t n;

	if (hm_json_peek(j) != HM_JSON_STRING || hm_json_string(j, &s))
		return -1;
	n = strlen(s) + 1;
	if (r->used + n > r->cap) {
		free(s);
		return -1;
	}
	*dst = memcpy(r->store + r->used, s, n);
	r->used += n;
	free(s);
	return 0;
}

/* A count that comes next (uptime_ms, dur_ms). */
static int take_count(struct hm_json *j, long long *dst)
{
	const char *lit;
	size_t n;
	long v;

	if (hm_json_peek(j) != HM_JSON_NUMBER || hm_json_number(j, &lit, &n)
	 || hm_json_to_long(lit, n, &v) || v < 0)
		return -1;
	*dst = v;
	return 0;
}

static int take_member(struct hm_json *j, const char *key, struct reading *r)
{
	struct hm_logline *l = r->l;
	const char **str = !strcmp(key, "level") ? &l->level : !strcmp(key, "phase") ? &l->phase
		: !strcmp(key, "msg") ? &l->msg : !strcmp(key, "error") ? &l->error : NULL;
	const char *time;
	long long v;

	if (str)
		return take_string(j, r, str);
	if (!strcmp(key, "time")) {
		r->time = take_string(j, r, &time) == 0 && hm_utc_parse(time, strlen(time), &l->now) == 0;
		return r->time ? 0 : -1;
	}
	if (!strcmp(key, "uptime_ms")) {
		if (take_count(j, &v))
			return -1;
		l->uptime_ms = (unsigned long long)v;
		r->uptime = true;
		return 0;
	}
	if (!strcmp(key, "dur_ms"))
		return take_count(j, &l->dur_ms);
	return hm_json_skip(j);
}

int hm_logline_parse(const char *line, size_t len, struct hm_logline *l, char *store,
		size_t cap)
{
	struct reading r = { l, store, cap, 0, false, false };
	struct hm_json j;
	char *key;
	int rc;

	memset(l, 0, sizeof(*l));
	l->dur_ms = -1;
	hm_json_init(&j, line, len);
	if (hm_json_peek(&j) != HM_JSON_OBJECT || hm_json_enter(&j))
		return -1;
	while ((rc = hm_json_next(&j, &key)) > 0) {
		rc = take_member(&j, key, &r);
		free(key);
		if (rc)
			return -1;
	}
	if (rc < 0 || hm_json_end(&j) || !r.time || !r.uptime || !l->level || !l->phase || !l->msg)
		return -1;
	return 0;
}
