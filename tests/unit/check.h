/*
 * A tiny test harness for the host unit tests (tests/unit/run.sh).
 * A test case is one function that main() runs with CHECK_CASE(fn());
 * it fails when any of its CHECKs (assertions) fails. A failed CHECK
 * prints "file:line: why". The checks main() makes outside any case count
 * as one more case. check_done() prints "check: N passed, M failed"
 * (cases) and "assertions: N passed, M failed" for run.sh to add up.
 */
#ifndef CHECK_H
#define CHECK_H 1

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define UNUSED __attribute__((unused))

static int check_passed, check_failed;		/* assertions */
static int check_cases_passed, check_cases_failed;
static int check_in_cases_passed, check_in_cases_failed;	/* assertions in cases */

static int UNUSED check_at(const char *file, int line, int ok, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int UNUSED check_at(const char *file, int line, int ok, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		check_passed++;
		return 1;
	}
	check_failed++;
	printf("%s:%d: ", file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	return 0;
}

/* Prints s as a C string literal, so failures with odd bytes stay readable. */
static void UNUSED check_print_str(const char *s)
{
	if (!s) {
		printf("NULL");
		return;
	}
	putchar('"');
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static int UNUSED check_str_at(const char *file, int line, const char *got,
		const char *want, const char *expr)
{
	int ok = (got && want) ? strcmp(got, want) == 0 : got == want;

	if (ok)
		return check_at(file, line, 1, "%s", "");
	check_failed++;
	printf("%s:%d: %s: got ", file, line, expr);
	check_print_str(got);
	printf(", want ");
	check_print_str(want);
	putchar('\n');
	fflush(stdout);
	return 0;
}

static int UNUSED check_long_at(const char *file, int line, long got, long want,
		const char *expr)
{
	return check_at(file, line, got == want, "%s: got %ld, want %ld", expr, got, want);
}

/* Ends the case NAME that started when the counts were PASSED0, FAILED0. */
static void UNUSED check_case_end(const char *name, int passed0, int failed0)
{
	check_in_cases_passed += check_passed - passed0;
	check_in_cases_failed += check_failed - failed0;
	if (check_failed == failed0) {
		check_cases_passed++;
		return;
	}
	check_cases_failed++;
	printf("case %s: FAILED (%d of its assertions)\n", name, check_failed - failed0);
	fflush(stdout);
}

#define CHECK_CASE(call) do { \
		int passed0_ = check_passed, failed0_ = check_failed; \
		call; \
		check_case_end(#call, passed0_, failed0_); \
	} while (0)

static int UNUSED check_done(void)
{
	int out_passed = check_passed - check_in_cases_passed;
	int out_failed = check_failed - check_in_cases_failed;

	/* main()'s own checks: one case */
	if (out_failed)
		check_cases_failed++;
	else if (out_passed)
		check_cases_passed++;
	printf("check: %d passed, %d failed\n", check_cases_passed, check_cases_failed);
	printf("assertions: %d passed, %d failed\n", check_passed, check_failed);
	/* Before LeakSanitizer's exit handler, which may _exit() unflushed. */
	fflush(stdout);
	return check_failed ? 1 : 0;
}

#define CHECK(cond) check_at(__FILE__, __LINE__, !!(cond), "failed: %s", #cond)
#define CHECKF(cond, ...) check_at(__FILE__, __LINE__, !!(cond), __VA_ARGS__)
#define CHECK_STR(got, want) check_str_at(__FILE__, __LINE__, (got), (want), #got)
#define CHECK_INT(got, want) check_long_at(__FILE__, __LINE__, (long)(got), (long)(want), #got)

#endif
