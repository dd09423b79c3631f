/*
 * hypeman.* options on the kernel command line.
 *   hypeman.rescue=0   no rescue shell on a fatal error: power off at once
 *   hypeman.grace=N    seconds between SIGTERM and SIGKILL at shutdown
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += cmdline.o

#include "libbb.h"
#include "hypeman.h"

void FAST_FUNC hm_cmdline_read(struct hm_cmdline *c)
{
	char buf[4096];
	char *word, *save;
	int fd;
	ssize_t n;

	c->rescue = true;
	c->grace_s = 10;
	fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		hm_log_errno(HM_WARN, "boot", errno, "cannot read /proc/cmdline, using defaults");
		return;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	for (word = strtok_r(buf, " \t\n", &save); word; word = strtok_r(NULL, " \t\n", &save)) {
		if (strcmp(word, "hypeman.rescue=0") == 0) {
			c->rescue = false;
		} else if (is_prefixed_with(word, "hypeman.grace=")) {
			char *end;
			unsigned long v = strtoul(word + 14, &end, 10);
			if (*end || end == word + 14 || v > 3600)
				hm_log(HM_WARN, "boot", "ignoring bad option '%s' (want 0..3600 seconds)", word);
			else
				c->grace_s = v;
		}
	}
}
