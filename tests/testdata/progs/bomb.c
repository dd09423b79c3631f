/*
 * Fork bomb: every process forks as fast as it can, for ever; children
 * ignore SIGTERM (so that only SIGKILL ends them). The first process
 * prints its cgroup and pids.max, then "BOMB-LIMITED" once fork fails
 * with EAGAIN (the limit bites), then goes on forking too.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
static void show(const char *what, const char *path)
{
	char buf[256];
	FILE *f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof(buf), f))
		strcpy(buf, "?\n");
	if (f)
		fclose(f);
	printf("BOMB-%s %s", what, buf);
}
int main(void)
{
	int told = 0;

	setvbuf(stdout, NULL, _IONBF, 0);
	show("CGROUP", "/proc/self/cgroup");
	show("PIDSMAX", "/sys/fs/cgroup/hypeman-program/pids.max");
	for (;;) {
		pid_t p = fork();
		if (p == 0) {
			signal(SIGTERM, SIG_IGN);
			continue;
		}
		if (p < 0 && errno == EAGAIN && !told) {
			told = 1;
			printf("BOMB-LIMITED\n");
		}
	}
}
