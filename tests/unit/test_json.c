// needs: contract/json.c
/* Unit tests for contract/json.c: syntax, strings, numbers, nesting, the pull API. */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "json.h"

static char errbuf[128];

static int valid(const char *doc)
{
	return hm_json_validate(doc, strlen(doc), errbuf, sizeof(errbuf)) == 0;
}

#define VALID(doc) CHECKF(valid(doc), "should be valid: %s (%s)", #doc, errbuf)
#define INVALID(doc) CHECKF(!valid(doc), "should be invalid: %s", #doc)
/* Buffers with NULs or odd bytes: explicit length. */
#define INVALID_N(doc, n) CHECKF(hm_json_validate(doc, n, errbuf, sizeof(errbuf)) != 0, \
		"should be invalid: %s", #doc)

/* Decodes a document that is one string; NULL (and errbuf) on error. */
static char *decode(const char *doc, size_t len)
{
	struct hm_json j;
	char *s = NULL;

	hm_json_init(&j, doc, len);
	errbuf[0] = '\0';
	if (hm_json_string(&j, &s) || hm_json_end(&j)) {
		snprintf(errbuf, sizeof(errbuf), "%s", j.err);
		free(s);
		return NULL;
	}
	return s;
}

static void check_decode(int line, const char *doc, const char *want)
{
	char *got = decode(doc, strlen(doc));

	check_str_at(__FILE__, line, got, want, doc);
	free(got);
}
#define DECODE(doc, want) check_decode(__LINE__, doc, want)

static void check_decode_fails(int line, const char *doc, size_t len, const char *reason)
{
	char *got = decode(doc, len);

	check_at(__FILE__, line, got == NULL && strstr(errbuf, reason) != NULL,
		"decoding %s: want error containing \"%s\", got \"%s\"", doc, reason,
		got ? got : errbuf);
	free(got);
}
#define DECODE_FAILS(doc, reason) check_decode_fails(__LINE__, doc, sizeof(doc) - 1, reason)

static void test_literals_and_numbers(void)
{
	VALID("null");
	VALID("true");
	VALID("false");
	VALID("0");
	VALID("-0");
	VALID("42");
	VALID("-17");
	VALID("1.5");
	VALID("1e3");
	VALID("1E+3");
	VALID("-2.5e-10");
	VALID("123456789012345678901234567890");
	VALID("\"\"");
	VALID("{}");
	VALID("[]");
	VALID(" \t\r\n[ 1 , 2 ]\n ");
	VALID("{\"a\":[1,{\"b\":null}],\"c\":\"d\",\"e\":{}}");

	INVALID("");
	INVALID("   ");
	INVALID("nul");
	INVALID("nulll");
	INVALID("tru");
	INVALID("True");
	INVALID("FALSE");
	INVALID("01");
	INVALID("-01");
	INVALID("1.");
	INVALID(".5");
	INVALID("-");
	INVALID("+1");
	INVALID("1e");
	INVALID("1e+");
	INVALID("0x10");
	INVALID("NaN");
	INVALID("Infinity");
	INVALID("1 2");
	INVALID("[1 2]");
	INVALID("[1,]");
	INVALID("[,1]");
	INVALID("[,]");
	INVALID("{,}");
	INVALID("{\"a\":1,}");
	INVALID("{\"a\" 1}");
	INVALID("{\"a\":}");
	INVALID("{a:1}");
	INVALID("{'a':1}");
	INVALID("{1:1}");
	INVALID("[1}");
	INVALID("{\"a\":1]");
	INVALID("[");
	INVALID("]");
	INVALID("{} {}");
	INVALID("[] x");
	INVALID("\"abc");
	INVALID("'abc'");
	/* Only space, tab, CR and LF are whitespace (RFC 8259 section 2). */
	INVALID("\f[]");
	INVALID("[]\v");
	INVALID("\xc2\xa0[]");
	/* A BOM is not accepted either. */
	INVALID("\xef\xbb\xbf{}");
	INVALID_N("[1]\0", 4);
	INVALID_N("[\0]", 3);
}

static void test_error_messages(void)
{
	valid("{\"a\":1 \"b\":2}");
	CHECK_STR(errbuf, "offset 7: expected ',' or '}'");
	valid("[1 2]");
	CHECK_STR(errbuf, "offset 3: expected ',' or ']'");
	valid("{\"a\":1,}");
	CHECK_STR(errbuf, "offset 7: expected '\"'");
	valid("{ x");
	CHECK_STR(errbuf, "offset 2: expected '\"' or '}'");
	valid("{\"a\" 1}");
	CHECK_STR(errbuf, "offset 5: expected ':'");
	valid("[1,");
	CHECK_STR(errbuf, "offset 3: unexpected end of input");
	valid("[@]");
	CHECK_STR(errbuf, "offset 1: unexpected character '@'");
	valid("[\x01]");
	CHECK_STR(errbuf, "offset 1: unexpected byte 0x01");
	valid("{} x");
	CHECK_STR(errbuf, "offset 3: unexpected data after the top-level value");
	valid("[tru]");
	CHECK_STR(errbuf, "offset 1: invalid literal");
	valid("[1.]");
	CHECK_STR(errbuf, "offset 3: invalid number");
	valid("\"a\x80\"");
	CHECK_STR(errbuf, "offset 2: invalid UTF-8 in string");
	valid("\"\\q\"");
	CHECK_STR(errbuf, "offset 2: invalid escape in string");
}

static void test_strings(void)
{
	DECODE("\"\"", "");
	DECODE("\"plain text\"", "plain text");
	DECODE("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t");
	DECODE("\"a\\u0041b\"", "aAb");
	DECODE("\"\\u007f\"", "\x7f");
	DECODE("\"\\u0080\"", "\xc2\x80");
	DECODE("\"\\u00e9\\u00E9\"", "\xc3\xa9\xc3\xa9");
	DECODE("\"\\u07ff\"", "\xdf\xbf");
	DECODE("\"\\u0800\"", "\xe0\xa0\x80");
	DECODE("\"\\u20ac\"", "\xe2\x82\xac");
	DECODE("\"\\uffff\"", "\xef\xbf\xbf");
	/* Surrogate pairs: U+1F600 and the first and last supplementary code points. */
	DECODE("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80");
	DECODE("\"\\uD83D\\uDE00\"", "\xf0\x9f\x98\x80");
	DECODE("\"\\ud800\\udc00\"", "\xf0\x90\x80\x80");
	DECODE("\"\\udbff\\udfff\"", "\xf4\x8f\xbf\xbf");
	/* Raw UTF-8 passes through unchanged. */
	DECODE("\"\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"", "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	DECODE("\"\xf4\x8f\xbf\xbf\"", "\xf4\x8f\xbf\xbf");
	DECODE("\"\xef\xbb\xbf\"", "\xef\xbb\xbf");

	DECODE_FAILS("\"\\ud83d\"", "lone surrogate");
	DECODE_FAILS("\"\\ud83dx\"", "lone surrogate");
	DECODE_FAILS("\"\\ud83d\\u0041\"", "lone surrogate");
	DECODE_FAILS("\"\\ud83d\\ud83d\"", "lone surrogate");
	DECODE_FAILS("\"\\ude00\"", "lone surrogate");
	DECODE_FAILS("\"\\ude00\\ud83d\"", "lone surrogate");
	DECODE_FAILS("\"\\u0000\"", "\\u0000 is not allowed");
	DECODE_FAILS("\"a\\u0000b\"", "\\u0000 is not allowed");
	DECODE_FAILS("\"\\u12\"", "invalid \\u escape");
	DECODE_FAILS("\"\\u12G4\"", "invalid \\u escape");
	DECODE_FAILS("\"\\U0041\"", "invalid escape");
	DECODE_FAILS("\"\\x41\"", "invalid escape");
	DECODE_FAILS("\"\\'\"", "invalid escape");
	DECODE_FAILS("\"\\", "unexpected end of input");
	DECODE_FAILS("\"\\u00", "unexpected end of input");
	DECODE_FAILS("\"abc", "unexpected end of input");
	DECODE_FAILS("\"a\tb\"", "control character");
	DECODE_FAILS("\"a\nb\"", "control character");
	DECODE_FAILS("\"a\0b\"", "control character");
	/* Invalid UTF-8: stray continuation, overlongs, surrogates, > U+10FFFF, truncation. */
	DECODE_FAILS("\"\x80\"", "invalid UTF-8");
	DECODE_FAILS("\"\xbf\"", "invalid UTF-8");
	DECODE_FAILS("\"\xc0\x80\"", "invalid UTF-8");
	DECODE_FAILS("\"\xc1\xbf\"", "invalid UTF-8");
	DECODE_FAILS("\"\xe0\x80\x80\"", "invalid UTF-8");
	DECODE_FAILS("\"\xe0\x9f\xbf\"", "invalid UTF-8");
	DECODE_FAILS("\"\xf0\x8f\xbf\xbf\"", "invalid UTF-8");
	DECODE_FAILS("\"\xed\xa0\x80\"", "invalid UTF-8");
	DECODE_FAILS("\"\xed\xbf\xbf\"", "invalid UTF-8");
	DECODE_FAILS("\"\xf4\x90\x80\x80\"", "invalid UTF-8");
	DECODE_FAILS("\"\xf5\x80\x80\x80\"", "invalid UTF-8");
	DECODE_FAILS("\"\xf8\x88\x80\x80\x80\"", "invalid UTF-8");
	DECODE_FAILS("\"\xfe\"", "invalid UTF-8");
	DECODE_FAILS("\"\xff\"", "invalid UTF-8");
	DECODE_FAILS("\"\xe2\x82\"", "invalid UTF-8");
	DECODE_FAILS("\"\xe2\x82", "invalid UTF-8");
	DECODE_FAILS("\"\xf0\x9f\x98\"", "invalid UTF-8");
	DECODE_FAILS("\"\xc3\"", "invalid UTF-8");
	DECODE_FAILS("\"\xc3", "invalid UTF-8");
	DECODE_FAILS("\"\xc3\xa9\xa9\"", "invalid UTF-8");
	/* Invalid UTF-8 in a key or a skipped string is caught too. */
	INVALID_N("{\"\xff\":1}", 7);
	INVALID_N("[\"ok\",\"\xc0\xaf\"]", 11);
	/* Outside strings only ASCII is allowed. */
	INVALID("[\xc3\xa9]");
}

static void test_depth(void)
{
	static char buf[200001];
	int i;

	for (i = 0; i < 64; i++) {
		buf[i] = '[';
		buf[64 + i] = ']';
	}
	CHECKF(hm_json_validate(buf, 128, errbuf, sizeof(errbuf)) == 0, "64 levels: %s", errbuf);

	memset(buf, '[', 65);
	memset(buf + 65, ']', 65);
	CHECK(hm_json_validate(buf, 130, errbuf, sizeof(errbuf)) != 0);
	CHECK_STR(errbuf, "offset 64: nesting deeper than 64 levels");

	/* Objects count too, mixed with arrays. */
	for (i = 0; i < 65; i++)
		memcpy(buf + 5 * i, "{\"a\":", 5);
	CHECK(hm_json_validate(buf, 5 * 65, errbuf, sizeof(errbuf)) != 0);
	CHECK(strstr(errbuf, "nesting deeper than 64") != NULL);

	/* 100000 '[' (and a balanced version): an error, never a stack overflow. */
	memset(buf, '[', 100000);
	CHECK(hm_json_validate(buf, 100000, errbuf, sizeof(errbuf)) != 0);
	CHECK_STR(errbuf, "offset 64: nesting deeper than 64 levels");
	memset(buf + 100000, ']', 100000);
	CHECK(hm_json_validate(buf, 200000, errbuf, sizeof(errbuf)) != 0);
}

static void test_to_long(void)
{
	long v = 7;

	CHECK(hm_json_to_long("0", 1, &v) == 0 && v == 0);
	CHECK(hm_json_to_long("-0", 2, &v) == 0 && v == 0);
	CHECK(hm_json_to_long("32", 2, &v) == 0 && v == 32);
	CHECK(hm_json_to_long("-5", 2, &v) == 0 && v == -5);
	CHECK(hm_json_to_long("9223372036854775807", 19, &v) == 0 && v == 9223372036854775807L);
	CHECK(hm_json_to_long("9223372036854775808", 19, &v) != 0);
	CHECK(hm_json_to_long("99999999999999999999", 20, &v) != 0);
	CHECK(hm_json_to_long("1.5", 3, &v) != 0);
	CHECK(hm_json_to_long("1.0", 3, &v) != 0);
	CHECK(hm_json_to_long("1e3", 3, &v) != 0);
	CHECK(hm_json_to_long("-", 1, &v) != 0);
	CHECK(hm_json_to_long("", 0, &v) != 0);
	/* Only len bytes count. */
	CHECK(hm_json_to_long("123", 2, &v) == 0 && v == 12);
}

/* Walks a document by hand with the pull API. */
static void test_pull_api(void)
{
	static const char doc[] = " {\"a\": [1.5, \"x\", {\"b\": null}, true], \"c\": false, \"d\": [] } ";
	struct hm_json j;
	const char *lit = NULL;
	size_t n = 0;
	char *key = NULL, *s = NULL;
	bool b = true;

	hm_json_init(&j, doc, strlen(doc));
	CHECK(hm_json_peek(&j) == HM_JSON_OBJECT);
	CHECK(hm_json_enter(&j) == 0);
	CHECK(hm_json_next(&j, &key) == 1);
	CHECK_STR(key, "a");
	free(key);
	CHECK(hm_json_peek(&j) == HM_JSON_ARRAY);
	CHECK(hm_json_enter(&j) == 0);
	CHECK(hm_json_next(&j, NULL) == 1);
	CHECK(hm_json_peek(&j) == HM_JSON_NUMBER);
	CHECK(hm_json_number(&j, &lit, &n) == 0);
	CHECK(n == 3 && memcmp(lit, "1.5", 3) == 0);
	CHECK(hm_json_next(&j, NULL) == 1);
	CHECK(hm_json_string(&j, &s) == 0);
	CHECK_STR(s, "x");
	free(s);
	CHECK(hm_json_next(&j, NULL) == 1);
	CHECK(hm_json_skip(&j) == 0);
	CHECK(hm_json_next(&j, NULL) == 1);
	CHECK(hm_json_bool(&j, &b) == 0 && b == true);
	CHECK(hm_json_next(&j, NULL) == 0);
	CHECK(j.depth == 1);
	CHECK(hm_json_next(&j, &key) == 1);
	CHECK_STR(key, "c");
	free(key);
	CHECK(hm_json_bool(&j, &b) == 0 && b == false);
	CHECK(hm_json_next(&j, NULL) == 1);
	CHECK(hm_json_peek(&j) == HM_JSON_ARRAY);
	CHECK(hm_json_enter(&j) == 0);
	CHECK(hm_json_next(&j, NULL) == 0);
	CHECK(hm_json_next(&j, NULL) == 0);
	CHECK(j.depth == 0);
	CHECK(hm_json_end(&j) == 0);
	CHECK_STR(j.err, "");

	/* Reading the wrong type is an error, and errors stick. */
	hm_json_init(&j, "[1]", 3);
	CHECK(hm_json_string(&j, &s) == -1);
	CHECK_STR(j.err, "offset 0: expected string");
	CHECK(hm_json_enter(&j) == -1);
	CHECK(hm_json_peek(&j) == HM_JSON_ERROR);
	CHECK(hm_json_next(&j, NULL) == -1);

	/* The member name is freed when the ':' is missing. */
	hm_json_init(&j, "{\"k\" 1}", 7);
	key = NULL;
	CHECK(hm_json_enter(&j) == 0);
	CHECK(hm_json_next(&j, &key) == -1);
	CHECK(key == NULL);

	CHECK_STR(hm_json_type_name(HM_JSON_NULL), "null");
	CHECK_STR(hm_json_type_name(HM_JSON_BOOL), "boolean");
	CHECK_STR(hm_json_type_name(HM_JSON_NUMBER), "number");
	CHECK_STR(hm_json_type_name(HM_JSON_STRING), "string");
	CHECK_STR(hm_json_type_name(HM_JSON_ARRAY), "array");
	CHECK_STR(hm_json_type_name(HM_JSON_OBJECT), "object");
}

/* Every strict prefix of a valid document is an error (and never a crash). */
static void test_prefixes(void)
{
	static const char doc[] = "{\"a\":[1,-2.5e+3,true,false,null,\"s\\u00e9\\ud83d\\ude00\\n\"],"
		"\"b\":{\"c\":{}},\"\xc3\xa9\":[[]]}";
	size_t len = sizeof(doc) - 1, i;
	char *copy;

	CHECK(valid(doc));
	for (i = 0; i < len; i++) {
		/* An exact-size heap copy, so ASan catches any read past the end. */
		copy = malloc(i ? i : 1);
		memcpy(copy, doc, i);
		CHECKF(hm_json_validate(copy, i, errbuf, sizeof(errbuf)) != 0,
			"prefix of %zu bytes accepted", i);
		free(copy);
	}
}

int main(void)
{
	CHECK_CASE(test_literals_and_numbers());
	CHECK_CASE(test_error_messages());
	CHECK_CASE(test_strings());
	CHECK_CASE(test_depth());
	CHECK_CASE(test_to_long());
	CHECK_CASE(test_pull_api());
	CHECK_CASE(test_prefixes());
	return check_done();
}
