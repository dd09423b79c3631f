/*
 * The console as a program may treat it. "close": closes 0, 1 and 2 and
 * exits. "reopen": closes them and opens PID 1's console device itself
 * (without O_NOCTTY: as a session leader it takes it as its controlling
 * tty), writes to it and exits.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	char dev[256];
	ssize_t n = readlink("/proc/1/fd/1", dev, sizeof(dev) - 1);
	int fd;

	dev[n > 0 ? n : 0] = 0;
	printf("CONSOLE-PROGRAM %s console=%s\n", argv[1], dev);
	fflush(stdout);
	close(0);
	close(1);
	close(2);
	if (strcmp(argv[1], "reopen") == 0) {
		fd = open(dev, O_RDWR);
		if (fd < 0)
			return 4;
		dup2(fd, 1);
		dup2(fd, 2);
		dprintf(1, "CONSOLE-REOPENED ctty=%d\n", tcgetpgrp(1) > 0);
	}
	return 3;
}
