/*
 * The console (contract: Devices): the first of hvc0, ttyAMA0, ttyS0 that
 * opens, else /dev/console. Opening a tty driver with no port behind it
 * fails (ENODEV/EIO), so a successful open is the test.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += console.o

#include "libbb.h"
#include "hypeman.h"

static const char *const candidates[] = {
	"/dev/hvc0", "/dev/ttyAMA0", "/dev/ttyS0", "/dev/console",
};

static const char *current = "/dev/console";

const char* FAST_FUNC hm_console_path(void)
{
	return current;
}

int FAST_FUNC hm_console_open(void)
{
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(candidates); i++) {
		int fd;

		/* on it already: only a better one, come since, would do
		 * (opening a tty again costs a millisecond under TCG) */
		if (candidates[i] == current)
			return 0;
		/* O_NOCTTY: PID 1 must not get a controlling tty, or a
		 * hangup or ^C on the console would signal it. */
		fd = open(candidates[i], O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (fd < 0)
			continue;
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		close(fd);
		current = candidates[i];
		return 0;
	}
	return -1;
}
