/*
 * hypeman-init: console line shapes (see logline.h). Pure: libc only, no
 * allocation, so that logging works when everything else has failed.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += logline.o

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
