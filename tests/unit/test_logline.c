// needs: contract/logline.c contract/json.c
/*
 * Unit tests for contract/logline.c: the JSON escaping of every byte value,
 * the log line shapes (contract: Log), lines cut to size staying one JSON
 * object (read back with json.c), and lines read back as hypeman run does.
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

/* What contract: Log wants for byte C alone: the JSON escape, C itself, or
 * U+FFFD for a byte that is not UTF-8 on its own. */
static const char *expected_escape(unsigned c, char buf[8])
{
	if (c >= 0x80)
		return "\\ufffd";
	if (c == '"')
		return "\\\"";
	if (c == '\\')
		return "\\\\";
	if (c && strchr("\n\b\f\r\t", (int)c)) {
		snprintf(buf, 8, "\\%c", "nbfrt"[strchr("\n\b\f\r\t", (int)c) - "\n\b\f\r\t"]);
		return buf;
	}
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
		/* ASCII reads back exactly; a lone byte >= 0x80 as U+FFFD */
		hm_logline_format(line, sizeof(line), &l);
		back = member(line, "msg");
		CHECKF(back && strcmp(back, c < 0x80 ? in : "\xef\xbf\xbd") == 0,
			"byte 0x%02x does not read back: %s", c, line);
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
	static const struct { const char *in, *want; } t[] = {
		/* never half a UTF-8 sequence: the euro sign's 3 bytes or none */
		{ "abcde\xe2\x82\xac", "abcde" },
		{ "abcd\xe2\x82\xac", "abcd\xe2\x82\xac" },
		/* a sequence cut short (by vsnprintf, say) is not UTF-8 */
		{ "a\xe2\x82", "a\\ufffd" },
		/* never half an escape: "ab" fits, "\u0001" (6) after it does not */
		{ "ab\x01", "ab" },
		{ "abcde\"", "abcde\\\"" },
		{ "abcdef\"", "abcdef" },
		{ "abcdefghij", "abcdefg" },
	};
	char out[8];
	unsigned i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		CHECK_INT(hm_log_escape(out, sizeof(out), t[i].in), strlen(t[i].want));
		CHECK_STR(out, t[i].want);
	}
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

/*
 * The ERROR of an image whose program file is "#!/", 248 bytes 0x01, the
 * euro sign and a newline, run as /app/entry1 (exec_mode.c's message,
 * interp.c's explanation): the message's escape reaches its room's end
 * inside the euro sign. The line must stay valid JSON.
 */
static void test_cut_in_utf8(void)
{
	char interp[256] = "/", msg[1024], line[HM_LOGLINE_MAX], *back;
	struct hm_logline l;

	memset(interp + 1, 0x01, 248);
	strcpy(interp + 249, "\xe2\x82\xac");
	snprintf(msg, sizeof(msg), "cannot execute %s: its interpreter %s (its #! line) is not "
		"in the image", "/app/entry1", interp);
	l = line_of(msg);
	l.level = "ERROR";
	l.phase = "exec";
	l.error = "No such file or directory";
	hm_logline_format(line, sizeof(line), &l);
	CHECKF(one_object(line), "not one JSON object, the msg ends: ...%.20s",
		strstr(line, "\",\"error\"") ? strstr(line, "\",\"error\"") - 12 : line);
	back = member(line, "msg");
	CHECKF(back && strncmp(back, msg, strlen(back)) == 0 && strlen(back) >= 249 + 40,
		"msg read back as %zu bytes", back ? strlen(back) : 0);
	free(back);
}

/* hm_logline_parse reads back what hm_logline_format wrote. */
static void check_round_trip(int at, const struct hm_logline *l)
{
	char line[HM_LOGLINE_MAX], store[HM_LOGLINE_MAX];
	struct hm_logline back;
	size_t n = hm_logline_format(line, sizeof(line), l);

	if (!check_at(__FILE__, at, hm_logline_parse(line, n - 1, &back, store, sizeof(store)) == 0,
			"not read back: %s", line))
		return;
	check_at(__FILE__, at, back.now.tv_sec == l->now.tv_sec
		&& back.now.tv_nsec == l->now.tv_nsec / 1000000 * 1000000, "time %lld.%09ld",
		(long long)back.now.tv_sec, back.now.tv_nsec);
	check_str_at(__FILE__, at, back.level, l->level, "level");
	check_str_at(__FILE__, at, back.phase, l->phase, "phase");
	check_str_at(__FILE__, at, back.msg, l->msg, "msg");
	check_str_at(__FILE__, at, back.error, l->error, "error");
	check_at(__FILE__, at, back.uptime_ms == l->uptime_ms && back.dur_ms == l->dur_ms,
		"uptime_ms %llu, dur_ms %lld", back.uptime_ms, back.dur_ms);
}
#define ROUND_TRIP(l) check_round_trip(__LINE__, &(l))

static void test_parse(void)
{
	static const char *const not_lines[] = {
		"", "{}", "[1]", "{\"level\":\"INFO\"}", "plain text",
		/* no uptime_ms; a bad time; a wrong type; trailing data */
		"{\"time\":\"2026-11-26T10:15:30.123Z\",\"level\":\"INFO\",\"phase\":\"p\",\"msg\":\"m\"}",
		"{\"time\":\"2026-11-26 10:15:30Z\",\"level\":\"INFO\",\"phase\":\"p\",\"msg\":\"m\",\"uptime_ms\":1}",
		"{\"time\":\"2026-11-26T10:15:30.1234567891Z\",\"level\":\"I\",\"phase\":\"p\",\"msg\":\"m\",\"uptime_ms\":1}",
		"{\"time\":\"2026-11-26T10:15:30Z\",\"level\":\"I\",\"phase\":\"p\",\"msg\":5,\"uptime_ms\":1}",
		"{\"time\":\"2026-11-26T10:15:30Z\",\"level\":\"I\",\"phase\":\"p\",\"msg\":\"m\",\"uptime_ms\":-1}",
		"{\"time\":\"2026-11-26T10:15:30Z\",\"level\":\"I\",\"phase\":\"p\",\"msg\":\"m\",\"uptime_ms\":1} x",
	};
	static const char other[] = "{\"x\":[1,{}],\"time\":\"2026-11-26T10:15:30Z\",\"level\":\"WARN\","
		"\"phase\":\"a\",\"phase\":\"b\",\"msg\":\"\\u00e9\",\"uptime_ms\":7}";
	char store[sizeof(other)];
	struct hm_logline l = line_of("mounted \"x\"\n\x01 caf\xc3\xa9"), back;
	size_t i;

	ROUND_TRIP(l);
	l.error = "No such file";
	l.dur_ms = 0;
	l.uptime_ms = 9223372036854775807ULL;
	ROUND_TRIP(l);
	l.now.tv_nsec = 999999999;
	l.level = "";
	ROUND_TRIP(l);
	for (i = 0; i < sizeof(not_lines) / sizeof(not_lines[0]); i++)
		CHECKF(hm_logline_parse(not_lines[i], strlen(not_lines[i]), &back, store,
			sizeof(store)) != 0, "read as a log line: %s", not_lines[i]);
	/* unknown keys skipped, the last repeated one counts, no error key */
	CHECK(hm_logline_parse(other, strlen(other), &back, store, sizeof(store)) == 0);
	CHECK_STR(back.phase, "b");
	CHECK_STR(back.msg, "\xc3\xa9");
	CHECK(back.error == NULL && back.dur_ms == -1 && back.uptime_ms == 7);
	CHECK(back.now.tv_sec == 1795688130 && back.now.tv_nsec == 0);
}

int main(void)
{
	CHECK_CASE(test_every_byte());
	CHECK_CASE(test_escape_cut());
	CHECK_CASE(test_line_shapes());
	CHECK_CASE(test_line_cut());
	CHECK_CASE(test_cut_in_utf8());
	CHECK_CASE(test_parse());
	return check_done();
}
