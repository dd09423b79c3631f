/*
 * A tiny test harness for the host unit tests (tests/unit/run.sh).
 * Every CHECK is one test case: a failure prints "file:line: why" and
 * check_done() prints "check: N passed, M failed" for run.sh to add up.
 */
#ifndef CHECK_H
#define CHECK_H 1

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define UNUSED __attribute__((unused))

static int check_passed, check_failed;

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

static int UNUSED check_done(void)
{
	printf("check: %d passed, %d failed\n", check_passed, check_failed);
	/* Before LeakSanitizer's exit handler, which may _exit() unflushed. */
	fflush(stdout);
	return check_failed ? 1 : 0;
}

#define CHECK(cond) check_at(__FILE__, __LINE__, !!(cond), "failed: %s", #cond)
#define CHECKF(cond, ...) check_at(__FILE__, __LINE__, !!(cond), __VA_ARGS__)
#define CHECK_STR(got, want) check_str_at(__FILE__, __LINE__, (got), (want), #got)
#define CHECK_INT(got, want) check_long_at(__FILE__, __LINE__, (long)(got), (long)(want), #got)

#endif
