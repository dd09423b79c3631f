// needs: contract/logline.c contract/json.c
/*
 * Unit tests for contract/logline.c: the JSON escaping of every byte value,
 * the log line and PROGRAM-START marker shapes (contract: Log; contract: Markers), and
 * lines cut to size staying one JSON object (read back with json.c).
 */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "json.h"
#include "logline.h"

/* 2026-11-26T10:15:30.123456789Z */
static const struct timespec when = { 1795688130, 123456789 };

static struct hm_logline line_of(const char *msg)
{
	struct hm_logline l = { when, "INFO", "overlay", msg, NULL, 5, -1 };

	return l;
}

/* What contract: Log wants for byte C alone: the JSON escape, or C itself. */
static const char *expected_escape(unsigned c, char buf[8])
{
	if (c == '"')
		return "\\\"";
	if (c == '\\')
		return "\\\\";
	if (c == '\n')
		return "\\n";
	if (c < 0x20 || c == 0x7f) {
		snprintf(buf, 8, "\\u%04x", c);
		return buf;
	}
	buf[0] = (char)c;
	buf[1] = '\0';
	return buf;
}

/* The member KEY of the one JSON object in TEXT, as json.c decodes it. */
static char *member(const char *text, const char *key)
{
	struct hm_json j;
	char *k, *v = NULL;

	hm_json_init(&j, text, strlen(text));
	if (hm_json_enter(&j))
		return NULL;
	while (hm_json_next(&j, &k) > 0) {
		int wanted = strcmp(k, key) == 0;

		free(k);
		if (wanted && hm_json_peek(&j) == HM_JSON_STRING)
			return hm_json_string(&j, &v) ? NULL : v;
		if (hm_json_skip(&j))
			return NULL;
	}
	return NULL;
}

/* Whether TEXT is exactly one JSON object and a newline. */
static int one_object(const char *text)
{
	struct hm_json j;
	size_t n = strlen(text);

	if (n < 2 || text[n - 1] != '\n')
		return 0;
	hm_json_init(&j, text, n);
	return hm_json_skip(&j) == 0 && hm_json_end(&j) == 0;
}

static void test_every_byte(void)
{
	char in[2] = "", out[16], want[8], line[HM_LOGLINE_MAX], *back;
	struct hm_logline l = line_of(in);
	unsigned c;

	for (c = 1; c < 256; c++) {
		in[0] = (char)c;
		hm_log_escape(out, sizeof(out), in);
		CHECKF(strcmp(out, expected_escape(c, want)) == 0,
			"byte 0x%02x escaped as \"%s\"", c, out);
		/* ASCII reads back exactly; a lone byte >= 0x80 is not
		 * UTF-8, which json.c rightly refuses */
		if (c >= 0x80)
			continue;
		hm_logline_format(line, sizeof(line), &l);
		back = member(line, "msg");
		CHECKF(back && strcmp(back, in) == 0, "byte 0x%02x does not read back: %s", c, line);
		free(back);
	}
	/* NUL ends a C string: nothing after it is logged */
	hm_log_escape(out, sizeof(out), "a\0b");
	CHECK_STR(out, "a");
	/* UTF-8 passes through and reads back */
	l.msg = "caf\xc3\xa9 \xe2\x9c\x93";
	hm_logline_format(line, sizeof(line), &l);
	back = member(line, "msg");
	CHECK_STR(back, l.msg);
	free(back);
}

static void test_escape_cut(void)
{
	char out[8];

	/* never half an escape: "ab" fits, "\u0001" (6) after it does not */
	CHECK_INT(hm_log_escape(out, sizeof(out), "ab\x01"), 2);
	CHECK_STR(out, "ab");
	CHECK_INT(hm_log_escape(out, sizeof(out), "abcde\""), 7);
	CHECK_STR(out, "abcde\\\"");
	CHECK_INT(hm_log_escape(out, sizeof(out), "abcdef\""), 6);
	CHECK_STR(out, "abcdef");
	CHECK_INT(hm_log_escape(out, sizeof(out), "abcdefghij"), 7);
	CHECK_STR(out, "abcdefg");
	CHECK_INT(hm_log_escape(out, 1, "abc"), 0);
	CHECK_STR(out, "");
}

static void test_line_shapes(void)
{
	char line[HM_LOGLINE_MAX];
	struct hm_logline l = line_of("mounted rootfs from /dev/vda");
	size_t n;

	n = hm_logline_format(line, sizeof(line), &l);
	CHECK_STR(line, "{\"time\":\"2026-11-26T10:15:30.123Z\",\"level\":\"INFO\",\"phase\":\"overlay\","
		"\"msg\":\"mounted rootfs from /dev/vda\",\"uptime_ms\":5}\n");
	CHECK_INT(n, strlen(line));

	l.level = "ERROR";
	l.phase = "egress-ca";
	l.msg = "cannot write \"/etc/x\"";
	l.error = "No such file or directory";
	l.uptime_ms = 18446744073709551615ULL;
	l.dur_ms = 0;
	hm_logline_format(line, sizeof(line), &l);
	CHECK_STR(line, "{\"time\":\"2026-11-26T10:15:30.123Z\",\"level\":\"ERROR\",\"phase\":\"egress-ca\","
		"\"msg\":\"cannot write \\\"/etc/x\\\"\",\"error\":\"No such file or directory\","
		"\"uptime_ms\":18446744073709551615,\"dur_ms\":0}\n");

	/* milliseconds are truncated, not rounded, and zero-padded */
	l = line_of("m");
	l.now.tv_nsec = 7999999;
	l.dur_ms = 1234;
	hm_logline_format(line, sizeof(line), &l);
	CHECK_STR(line, "{\"time\":\"2026-11-26T10:15:30.007Z\",\"level\":\"INFO\",\"phase\":\"overlay\","
		"\"msg\":\"m\",\"uptime_ms\":5,\"dur_ms\":1234}\n");
}

/* Strings far over their room: cut, and the line stays one object. */
static void test_line_cut(void)
{
	static char big[4 * HM_LOGLINE_MAX];
	char line[HM_LOGLINE_MAX], *back;
	struct hm_logline l = line_of(big);
	size_t n;

	memset(big, '\x01', sizeof(big) - 1);
	l.phase = big;
	l.error = big;
	l.dur_ms = 9;
	n = hm_logline_format(line, sizeof(line), &l);
	CHECKF(n < sizeof(line) && one_object(line), "cut line is not one JSON object: %.80s...", line);
	CHECKF(strstr(line, ",\"uptime_ms\":5,\"dur_ms\":9}\n") != NULL, "tail lost: %s", line + n - 40);
	back = member(line, "msg");
	CHECKF(back && strlen(back) == (HM_LOG_MSG_MAX - 1) / 6, "msg cut to %zu bytes",
		back ? strlen(back) : 0);
	free(back);
	back = member(line, "error");
	CHECKF(back && strlen(back) == (HM_LOG_ERROR_MAX - 1) / 6, "error cut to %zu bytes",
		back ? strlen(back) : 0);
	free(back);
}

static void test_program_start(void)
{
	char buf[128];
	struct timespec t = { 1795688130, 5 };
	int n;

	n = hm_program_start_format(buf, sizeof(buf), &when, "exec");
	CHECK_STR(buf, "HYPEMAN-PROGRAM-START ts=2026-11-26T10:15:30.123456789Z mode=exec");
	CHECK_INT(n, strlen(buf));
	hm_program_start_format(buf, sizeof(buf), &t, "systemd");
	CHECK_STR(buf, "HYPEMAN-PROGRAM-START ts=2026-11-26T10:15:30.000000005Z mode=systemd");
}

int main(void)
{
	CHECK_CASE(test_every_byte());
	CHECK_CASE(test_escape_cut());
	CHECK_CASE(test_line_shapes());
	CHECK_CASE(test_line_cut());
	CHECK_CASE(test_program_start());
	return check_done();
}
