// needs: host/serial.c host/util.c host/tool.c contract/logline.c contract/marker.c contract/json.c contract/rmtree.c contract/fdio.c
/*
 * Unit tests for host/serial.c, the guest's console as hypeman run shows
 * it: the init's log lines made readable and kept raw, other text passed
 * through (also when it comes in pieces), the markers and the kernel's
 * last words noted, read through the contract layer.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "check.h"
#include "serial.h"

/* What FD (a memfd) holds, NUL-terminated; static. */
static const char *contents(int fd)
{
	static char buf[8192];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* Feeds TEXT to C in pieces of STEP bytes, stdout going to OUT. */
static void feed(struct hr_serial *c, const char *text, size_t step, int out)
{
	int saved = dup(1);
	size_t i, n = strlen(text);

	dup2(out, 1);
	for (i = 0; i < n; i += step)
		hr_serial_feed(c, text + i, n - i < step ? n - i : step);
	hr_serial_end(c);
	dup2(saved, 1);
	close(saved);
}

static const char console[] =
	"[    1.234] virtio_blk virtio1: [vda] 1024 512-byte logical blocks\n"
	"{\"time\":\"2026-11-26T10:15:30.123Z\",\"level\":\"INFO\",\"phase\":\"overlay\","
	"\"msg\":\"mounted rootfs from /dev/vda\",\"uptime_ms\":412,\"dur_ms\":14}\r\n"
	"{\"time\":\"2026-11-26T10:15:30.200Z\",\"level\":\"WARN\",\"phase\":\"network\","
	"\"msg\":\"no eth0\",\"error\":\"No such device\",\"uptime_ms\":480}\n"
	"{not a log line}\n"
	"HYPEMAN-PROGRAM-START ts=2026-11-26T10:15:30.300000000Z mode=exec\n"
	"hello from the program, no newline"
	"\nHYPEMAN-EXIT code=3 message=\"exit code 3 \\\"q\\\"\"\n"
	"[    2.000] reboot: Power down\n";

static void check_console(size_t step)
{
	int out = memfd_create("out", 0), log = memfd_create("log", 0);
	struct hr_serial c;
	const char *shown, *raw;

	hr_serial_init(&c, log);
	c.color = false;
	feed(&c, console, step, out);
	shown = contents(out);
	CHECKF(strstr(shown, "[    1.234] virtio_blk virtio1: [vda]") != NULL, "%s", shown);
	CHECKF(strstr(shown, "10:15:30.123 INFO  overlay: mounted rootfs from /dev/vda (14 ms)\n")
		!= NULL, "step %zu: %s", step, shown);
	CHECKF(strstr(shown, "10:15:30.200 WARN  network: no eth0: No such device\n") != NULL,
		"%s", shown);
	CHECKF(strstr(shown, "{not a log line}") && strstr(shown, "hello from the program")
		&& !strstr(shown, "\"uptime_ms\""), "%s", shown);
	raw = contents(log);
	CHECKF(strstr(raw, "\"phase\":\"overlay\"") && strstr(raw, "\"phase\":\"network\"")
		&& !strstr(raw, "not a log line"), "%s", raw);
	CHECK(c.program_started && !strcmp(c.mode, "exec"));
	CHECK(c.have_exit && c.exit_code == 3);
	CHECK_STR(c.exit_message, "exit code 3 \"q\"");
	CHECK(c.kernel_end == HR_END_POWEROFF && !c.panicked);
	CHECK(c.n_phases == 1 && !strcmp(c.phases[0].name, "overlay") && c.phases[0].dur_ms == 14);
	CHECK(c.first_uptime == 412 && c.last_uptime == 480 && c.prog_uptime == 480);
	close(out);
	close(log);
}

static void test_console(void)
{
	check_console(4096);
	check_console(7);	/* lines in pieces */
	check_console(1);
}

static void test_panic_and_reboot(void)
{
	int out = memfd_create("out", 0);
	struct hr_serial c;

	hr_serial_init(&c, -1);
	feed(&c, "Kernel panic - not syncing: Attempted to kill init!\n"
		"reboot: Restarting system\nHYPEMAN-EXIT code=x message=\"m\"\n", 4096, out);
	CHECK(c.panicked && c.kernel_end == HR_END_REBOOT && !c.have_exit && !c.program_started);
	close(out);
}

/* A kernel message written into the middle of a log line and of the exit
 * marker (the kernel's console write does not wait for the tty): both are
 * read whole, the kernel's lines seen as lines of their own. */
static void test_kernel_message_inside_a_line(void)
{
	static const char text[] =
		"{\"time\":\"2026-11-26T10:15:30.123Z\",\"level\":\"INFO\",\"phase\":\"overlay\","
		"\"msg\":\"mounted\",\"upt[    3.706997] systemd[1]: Failed to find module 'autofs4'\r\n"
		"ime_ms\":412,\"dur_ms\":14}[    3.800000] a\r\n\r\n"
		"HYPEMAN-EXIT code=7 mess[   12.000001] Kernel panic - not syncing: x\r\nage=\"seven\"\n";
	size_t steps[] = { 1, 7, sizeof(text) };
	size_t i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		int out = memfd_create("out", 0), log = memfd_create("log", 0);
		struct hr_serial c;

		hr_serial_init(&c, log);
		c.color = false;
		feed(&c, text, steps[i], out);
		CHECK(c.n_phases == 1 && c.phases[0].dur_ms == 14 && c.first_uptime == 412);
		CHECK(c.have_exit && c.exit_code == 7);
		CHECK_STR(c.exit_message, "seven");
		CHECK(c.panicked);
		CHECKF(strstr(contents(out), "[    3.706997] systemd[1]: Failed to find module 'autofs4'\n")
		       != NULL, "%s", contents(out));
		CHECKF(strstr(contents(out), "10:15:30.123 INFO  overlay: mounted (14 ms)\n") != NULL,
		       "%s", contents(out));
		close(out);
		close(log);
	}
}

int main(void)
{
	CHECK_CASE(test_console());
	CHECK_CASE(test_panic_and_reboot());
	CHECK_CASE(test_kernel_message_inside_a_line());
	return check_done();
}
