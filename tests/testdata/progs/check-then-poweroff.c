/*
 * A PID 1 for systemd mode (the image's "systemd"): runs its arguments
 * (argv[1] onwards) with a plain PATH, waits for them, syncs and powers
 * off.
 */
#include <stdio.h>
#include <sys/reboot.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	static char *const envp[] = { "PATH=/usr/bin:/bin:/usr/sbin:/sbin", NULL };
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: %s PROGRAM [ARG...]\n", argv[0]);
		return 2;
	}
	pid = fork();
	if (pid == 0) {
		execve(argv[1], argv + 1, envp);
		_exit(127);
	}
	waitpid(pid, NULL, 0);
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
