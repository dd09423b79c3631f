/*
 * What a container's /dev holds (contract: Devices, /dev): the links Docker
 * makes, written through; mqueue and shm mounted; a pty from /dev/ptmx.
 * As PID 1 (systemd mode's program) it powers off itself.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/reboot.h>
#include <sys/statfs.h>
#include <unistd.h>
static const char *fs(const char *path)
{
	struct statfs sf;
	if (statfs(path, &sf) != 0)
		return "none";
	return sf.f_type == 0x19800202 ? "mqueue" : sf.f_type == 0x01021994 ? "tmpfs" : "other";
}
int main(void)
{
	static const char *const links[] = { "/dev/fd", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/core" };
	char buf[256], *pts;
	unsigned i;
	int fd;

	setvbuf(stdout, NULL, _IONBF, 0);
	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		ssize_t n = readlink(links[i], buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = 0;
		printf("DEVCHECK link %s -> %s\n", links[i], n > 0 ? buf : "(none)");
	}
	fd = open("/dev/stdout", O_WRONLY | O_APPEND);
	dprintf(fd, "DEVCHECK written to /dev/stdout\n");
	fd = open("/dev/stderr", O_WRONLY | O_APPEND);
	dprintf(fd, "DEVCHECK written to /dev/stderr\n");
	printf("DEVCHECK fs /dev/mqueue %s /dev/shm %s\n", fs("/dev/mqueue"), fs("/dev/shm"));
	fd = posix_openpt(O_RDWR | O_NOCTTY);
	pts = fd >= 0 && grantpt(fd) == 0 && unlockpt(fd) == 0 ? ptsname(fd) : NULL;
	printf("DEVCHECK ptmx %s\n", pts ? pts : "failed");
	printf("DEVCHECK done\n");
	if (getpid() == 1) {
		sync();
		reboot(RB_POWER_OFF);
	}
	return 0;
}
