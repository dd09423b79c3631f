// needs: contract/marker.c contract/logline.c contract/json.c
/*
 * Unit tests for contract/marker.c: the marker shapes (contract: Markers),
 * Go's %q quoting of every byte, texts cut to fit, and markers found and
 * read back as hypeman run does, also from the middle of a line.
 */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "marker.h"

/* 2026-11-26T10:15:30.123456789Z */
static const struct timespec when = { 1795688130, 123456789 };

static void test_shapes(void)
{
	struct hm_marker m = { .kind = HM_MARKER_PROGRAM_START, .ts = when };
	char buf[HM_MARKER_MAX];
	size_t n;

	m.text[HM_MF_MODE] = "exec";
	n = hm_marker_format(buf, sizeof(buf), &m);
	CHECK_STR(buf, "HYPEMAN-PROGRAM-START ts=2026-11-26T10:15:30.123456789Z mode=exec");
	CHECK_INT(n, strlen(buf));
	m.ts.tv_nsec = 5;
	m.text[HM_MF_MODE] = "systemd";
	hm_marker_format(buf, sizeof(buf), &m);
	CHECK_STR(buf, "HYPEMAN-PROGRAM-START ts=2026-11-26T10:15:30.000000005Z mode=systemd");

	memset(&m, 0, sizeof(m));
	m.kind = HM_MARKER_EXIT;
	m.num = 137;
	m.text[HM_MF_MESSAGE] = "killed by signal 9 (SIGKILL) - OOM";
	hm_marker_format(buf, sizeof(buf), &m);
	CHECK_STR(buf, "HYPEMAN-EXIT code=137 message=\"killed by signal 9 (SIGKILL) - OOM\"");
	m.num = 78;
	m.text[HM_MF_MESSAGE] = "egress proxy CA certificate setup failed: \"x\\y\"\n";
	hm_marker_format(buf, sizeof(buf), &m);
	CHECK_STR(buf, "HYPEMAN-EXIT code=78 message=\"egress proxy CA certificate setup failed: "
		"\\\"x\\\\y\\\"\\n\"");
	/* small buffers: cut, NUL-terminated */
	CHECK_INT(hm_marker_format(buf, 10, &m), 9);
	CHECK_STR(buf, "HYPEMAN-E");
	CHECK_INT(hm_marker_format(buf, 1, &m), 0);
	CHECK_STR(buf, "");
}

/* What Go's %q makes of byte C alone. */
static const char *go_escape(unsigned c, char buf[8])
{
	static const char plain[] = "\a\b\f\n\r\t\v\"\\", named[] = "abfnrtv\"\\";
	const char *e = strchr(plain, (int)c);

	if (c && e)
		snprintf(buf, 8, "\\%c", named[e - plain]);
	else if (c < 0x20 || c >= 0x7f)
		snprintf(buf, 8, "\\x%02x", c);
	else
		snprintf(buf, 8, "%c", c);
	return buf;
}

static void test_go_quote(void)
{
	char in[2] = "", out[32], want[16], esc[8];
	unsigned c;

	for (c = 1; c < 256; c++) {
		in[0] = (char)c;
		hm_go_quote(out, sizeof(out), in);
		snprintf(want, sizeof(want), "\"%s\"", go_escape(c, esc));
		CHECKF(strcmp(out, want) == 0, "byte 0x%02x quoted as %s, want %s", c, out, want);
	}
	/* UTF-8 as it is; a sequence cut short as bytes */
	hm_go_quote(out, sizeof(out), "caf\xc3\xa9 \xe2\x82");
	CHECK_STR(out, "\"caf\xc3\xa9 \\xe2\\x82\"");
	/* cut to fit, closed: never half an escape or a sequence */
	CHECK_INT(hm_go_quote(out, 8, "abcd\xe2\x82\xac"), 6);
	CHECK_STR(out, "\"abcd\"");
	CHECK_INT(hm_go_quote(out, 9, "abc\xe2\x82\xac"), 8);
	CHECK_STR(out, "\"abc\xe2\x82\xac\"");
	CHECK_INT(hm_go_quote(out, 8, "abcd\n"), 6);
	CHECK_STR(out, "\"abcd\"");
	CHECK_INT(hm_go_quote(out, 3, "abc"), 2);
	CHECK_STR(out, "\"\"");
	CHECK_INT(hm_go_quote(out, 2, "abc"), 0);
	CHECK_STR(out, "");
}

/* A marker of every kind, every field set, read back from LINE. */
static void test_every_kind(void)
{
	char line[HM_MARKER_MAX + 16], store[sizeof(line)];
	struct hm_marker m, back;
	int kind, f;

	for (kind = 0; kind < HM_MARKER_COUNT; kind++) {
		memset(&m, 0, sizeof(m));
		m.kind = kind;
		m.ts = when;
		m.num = -42;
		for (f = 1; f < HM_MF_COUNT; f++)
			m.text[f] = "a\"b c\\d\x01";
		m.text[HM_MF_MODE] = "systemd";
		strcpy(line, "[ 1.5] ");
		hm_marker_format(line + 7, sizeof(line) - 7, &m);
		CHECKF(hm_marker_parse(line, strlen(line), &back, store, sizeof(store)) == kind,
			"not read back: %s", line);
		CHECKF(back.kind == (enum hm_marker_kind)kind, "kind %d", back.kind);
	}
}

static void check_parse(int at, const char *line, int kind, long num, const char *text)
{
	char store[256];
	struct hm_marker m;
	int got = hm_marker_parse(line, strlen(line), &m, store, sizeof(store));

	check_at(__FILE__, at, got == kind, "%s: kind %d, want %d", line, got, kind);
	if (got != kind || kind < 0)
		return;
	if (kind == HM_MARKER_EXIT) {
		check_at(__FILE__, at, m.num == num, "code %ld, want %ld", m.num, num);
		check_str_at(__FILE__, at, m.text[HM_MF_MESSAGE], text, line);
	} else {
		check_str_at(__FILE__, at, m.text[HM_MF_MODE], text, line);
		check_at(__FILE__, at, m.ts.tv_sec == when.tv_sec, "ts %lld", (long long)m.ts.tv_sec);
	}
}
#define PARSE(line, kind, num, text) check_parse(__LINE__, line, kind, num, text)

static void test_parse(void)
{
	PARSE("HYPEMAN-EXIT code=0 message=\"success\"", HM_MARKER_EXIT, 0, "success");
	PARSE("program output HYPEMAN-EXIT code=143 message=\"killed by signal 15 (SIGTERM)\"",
		HM_MARKER_EXIT, 143, "killed by signal 15 (SIGTERM)");
	PARSE("HYPEMAN-PROGRAM-START ts=2026-11-26T10:15:30.123456789Z mode=systemd",
		HM_MARKER_PROGRAM_START, 0, "systemd");
	/* what Go's %q writes */
	PARSE("HYPEMAN-EXIT code=78 message=\"caf\\u00e9 \\U0001f600 \\303\\251 \\x41\\t\\\"q\\\"\"",
		HM_MARKER_EXIT, 78, "caf\xc3\xa9 \xf0\x9f\x98\x80 \xc3\xa9 A\t\"q\"");
	PARSE("HYPEMAN-EXIT code=-1 message=\"\"", HM_MARKER_EXIT, -1, "");
	/* a broken marker first, a good one after it */
	PARSE("HYPEMAN-EXIT code=x HYPEMAN-EXIT code=3 message=\"m\"", HM_MARKER_EXIT, 3, "m");
	/* none */
	PARSE("", -1, 0, NULL);
	PARSE("HYPEMAN-EXIT", -1, 0, NULL);
	PARSE("HYPEMAN-EXITS code=1 message=\"m\"", -1, 0, NULL);
	PARSE("HYPEMAN-EXIT code= message=\"m\"", -1, 0, NULL);
	PARSE("HYPEMAN-EXIT code=- message=\"m\"", -1, 0, NULL);
	PARSE("HYPEMAN-EXIT code=1x message=\"m\"", -1, 0, NULL);
	PARSE("HYPEMAN-EXIT code=1 message=m", -1, 0, NULL);
	PARSE("HYPEMAN-EXIT code=1 message=\"m", -1, 0, NULL);
	PARSE("HYPEMAN-EXIT code=1  message=\"m\"", -1, 0, NULL);
	PARSE("HYPEMAN-EXIT message=\"m\" code=1", -1, 0, NULL);
	PARSE("HYPEMAN-EXIT code=1 message=\"\\q\"", -1, 0, NULL);
	PARSE("HYPEMAN-EXIT code=1 message=\"\\x4\"", -1, 0, NULL);
	PARSE("HYPEMAN-EXIT code=1 message=\"\\u0000\"", -1, 0, NULL);
	PARSE("HYPEMAN-EXIT code=1 message=\"\\000\"", -1, 0, NULL);
	PARSE("HYPEMAN-EXIT code=1 message=\"\\400\"", -1, 0, NULL);
	PARSE("HYPEMAN-EXIT code=1 message=\"\\ud800\"", -1, 0, NULL);
	PARSE("HYPEMAN-EXIT code=1 message=\"\\U00110000\"", -1, 0, NULL);
	PARSE("HYPEMAN-EXIT code=1 message=\"\\", -1, 0, NULL);
	PARSE("HYPEMAN-EXIT code=1234567890123456789 message=\"m\"", -1, 0, NULL);
	PARSE("HYPEMAN-PROGRAM-START ts=2026-11-26 mode=exec", -1, 0, NULL);
	PARSE("HYPEMAN-PROGRAM-START ts=2026-11-26T10:15:30.123456789Z mode=", -1, 0, NULL);
	PARSE("HYPEMAN-PROGRAM-START mode=exec", -1, 0, NULL);
}

/* Random texts (any byte but NUL) quoted, found and unquoted exactly. */
static void test_round_trip(void)
{
	char text[200], line[HM_MARKER_MAX], store[HM_MARKER_MAX];
	struct hm_marker m = { .kind = HM_MARKER_EXIT }, back;
	int i, k, n;

	srand(7);
	for (i = 0; i < 2000; i++) {
		n = rand() % 100;
		for (k = 0; k < n; k++)
			text[k] = (char)(1 + rand() % 255);
		text[n] = '\0';
		m.num = rand() % 256;
		m.text[HM_MF_MESSAGE] = text;
		hm_marker_format(line, sizeof(line), &m);
		if (!CHECKF(hm_marker_parse(line, strlen(line), &back, store, sizeof(store))
				== HM_MARKER_EXIT, "not found: %s", line))
			break;
		if (!CHECKF(back.num == m.num && strcmp(back.text[HM_MF_MESSAGE], text) == 0,
				"round %d: %s", i, line))
			break;
	}
}

int main(void)
{
	CHECK_CASE(test_shapes());
	CHECK_CASE(test_go_quote());
	CHECK_CASE(test_every_kind());
	CHECK_CASE(test_parse());
	CHECK_CASE(test_round_trip());
	return check_done();
}
