/*
 * Unit tests for hypeman/interp.c: the interpreter of a script's #! line
 * and of a dynamic ELF (a real one: the compiler's own output, 64 and, when
 * gcc can make them, 32 bits), and the log text for a missing one.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "check.h"
#include "interp.h"

static char dir[64];

static const char *put(const char *name, const void *data, size_t len)
{
	static char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	if (!CHECKF(fd >= 0, "create %s", path))
		return path;
	CHECK(write(fd, data, len) == (ssize_t)len);
	close(fd);
	return path;
}

/* hm_interpreter_of on the file at PATH: KIND and, when not NONE, WANT. */
static void check_file(int line, const char *path, enum hm_interp kind, const char *want)
{
	char buf[64];
	int fd = open(path, O_RDONLY);
	enum hm_interp got;

	if (!check_at(__FILE__, line, fd >= 0, "open %s", path))
		return;
	got = hm_interpreter_of(fd, buf, sizeof(buf));
	check_long_at(__FILE__, line, got, kind, path);
	if (kind != HM_INTERP_NONE)
		check_str_at(__FILE__, line, buf, want, path);
	/* pread only: the position stays at 0 */
	check_long_at(__FILE__, line, lseek(fd, 0, SEEK_CUR), 0, "position");
	close(fd);
}
#define SCRIPT(text, kind, want) check_file(__LINE__, put("s", text, strlen(text)), kind, want)

static void test_scripts(void)
{
	SCRIPT("#!/bin/bash\necho\n", HM_INTERP_SCRIPT, "/bin/bash");
	SCRIPT("#! \t/usr/bin/env python3\n", HM_INTERP_SCRIPT, "/usr/bin/env");
	SCRIPT("#!/bin/sh -e\n", HM_INTERP_SCRIPT, "/bin/sh");
	SCRIPT("#!/no/newline", HM_INTERP_SCRIPT, "/no/newline");
	/* longer than BUF (64): cut to 63 bytes, still terminated */
	SCRIPT("#!/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
		HM_INTERP_SCRIPT, "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	SCRIPT("#!\n", HM_INTERP_NONE, NULL);
	SCRIPT("#!   \n", HM_INTERP_NONE, NULL);
	SCRIPT("echo no shebang\n", HM_INTERP_NONE, NULL);
	SCRIPT("", HM_INTERP_NONE, NULL);
	SCRIPT("\x7f" "ELF", HM_INTERP_NONE, NULL);	/* too short for a header */
}

/* Compiles a C program with FLAGS into NAME: its path, or NULL. */
static const char *compiled(const char *name, const char *flags)
{
	static char path[128];
	char cmd[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(cmd, sizeof(cmd), "printf 'int main(void){return 0;}\\n' | "
		"${CC:-gcc} %s -x c -o %s - 2>/dev/null", flags, path);
	return system(cmd) == 0 ? path : NULL;
}

static void test_elf(void)
{
	const char *p;

	p = compiled("dyn", "-Wl,--dynamic-linker=/lib/hm-test-loader.so.1");
	if (CHECKF(p != NULL, "cannot compile a dynamic test program"))
		check_file(__LINE__, p, HM_INTERP_ELF, "/lib/hm-test-loader.so.1");
	p = compiled("static", "-static");
	if (CHECKF(p != NULL, "cannot compile a static test program"))
		check_file(__LINE__, p, HM_INTERP_NONE, NULL);
	/* 32-bit only where the toolchain has the multilib */
	p = compiled("dyn32", "-m32 -Wl,--dynamic-linker=/lib/hm-test-ld32.so");
	if (p)
		check_file(__LINE__, p, HM_INTERP_ELF, "/lib/hm-test-ld32.so");
}

/* An ELF whose PT_INTERP starts with a NUL (the kernel opens "": ENOENT)
 * names no interpreter: the message says what is wrong instead. */
static void test_explain_nul_interp(char *buf, size_t len)
{
	static const char loader[] = "/lib/hm-test-loader.so.1";
	const char *p = compiled("dyn", "-Wl,--dynamic-linker=/lib/hm-test-loader.so.1");
	char *data = NULL, *at;
	size_t n = 0;
	FILE *f = p ? fopen(p, "rb") : NULL;

	if (!CHECKF(f != NULL, "no dynamic test program"))
		return;
	data = malloc(1 << 20);
	n = fread(data, 1, 1 << 20, f);
	fclose(f);
	at = memmem(data, n, loader, sizeof(loader));
	if (CHECKF(at != NULL, "no PT_INTERP text in the test program")) {
		at[0] = '\0';
		p = put("nulinterp", data, n);
		check_file(__LINE__, p, HM_INTERP_ELF, "");
		CHECK_STR(hm_explain_enoent(p, buf, len), "its ELF interpreter (dynamic loader) is "
			"an empty path: its PT_INTERP starts with a NUL byte");
	}
	free(data);
}

static void test_explain(void)
{
	char buf[256];
	const char *p;

	p = put("noint", "#!/nonexistent/sh\n", 18);
	CHECK_STR(hm_explain_enoent(p, buf, sizeof(buf)),
		"its interpreter /nonexistent/sh (its #! line) is not in the image");
	/* an interpreter that exists: it is the one that fails */
	p = put("present", "#!/bin/sh\n", 10);
	CHECK_STR(hm_explain_enoent(p, buf, sizeof(buf)),
		"its interpreter /bin/sh (its #! line) cannot be started either");
	p = compiled("dyn", "-Wl,--dynamic-linker=/lib/hm-test-loader.so.1");
	if (p)
		CHECK_STR(hm_explain_enoent(p, buf, sizeof(buf)),
			"its ELF interpreter (dynamic loader) /lib/hm-test-loader.so.1 is not in the image");
	p = put("plain", "data", 4);
	CHECK(hm_explain_enoent(p, buf, sizeof(buf)) == NULL);
	test_explain_nul_interp(buf, sizeof(buf));
	CHECK(hm_explain_enoent("/nonexistent/file", buf, sizeof(buf)) == NULL);
	/* a short buffer: cut, still terminated */
	p = put("noint", "#!/nonexistent/sh\n", 18);
	CHECK_STR(hm_explain_enoent(p, buf, 10), "its inter");
}

int main(void)
{
	char cmd[128];

	snprintf(dir, sizeof(dir), "%s/hm-interp.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!CHECKF(mkdtemp(dir) != NULL, "mkdtemp %s", dir))
		return check_done();
	CHECK_CASE(test_scripts());
	CHECK_CASE(test_elf());
	CHECK_CASE(test_explain());
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		CHECKF(0, "rm -rf %s", dir);
	return check_done();
}
