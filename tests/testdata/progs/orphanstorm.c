/*
 * BURSTS bursts of N orphans each (double fork: the middle process exits
 * at once, the grandchild a moment later, reparented to PID 1), then
 * /proc is scanned until no zombie with parent PID 1 is left, or 60 s:
 * "STORM-RESULT orphans=<n> fork_failed=<n> zombies=<n> waited_ms=<n>".
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include "procstat.h"
static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}
static int zombies_of_pid1(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int z = 0;
	while ((e = readdir(d))) {
		char state, comm[64];
		int ppid;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		if (proc_stat(e->d_name, &state, &ppid, comm, sizeof(comm)) == 0 &&
		    state == 'Z' && ppid == 1)
			z++;
	}
	closedir(d);
	return z;
}
int main(int argc, char **argv)
{
	int bursts = atoi(argv[1]), n = atoi(argv[2]), b, i, failed = 0, orphans = 0, z;
	long long t0;

	setvbuf(stdout, NULL, _IONBF, 0);
	for (b = 0; b < bursts; b++) {
		for (i = 0; i < n; i++) {
			int st;
			pid_t c = fork();
			if (c < 0) {
				failed++;
				continue;
			}
			if (c == 0) {
				if (fork() == 0)
					_exit(0);
				_exit(0);
			}
			if (waitpid(c, &st, 0) == c)
				orphans++;
		}
		printf("STORM-BURST %d\n", b + 1);
	}
	t0 = now_ms();
	while ((z = zombies_of_pid1()) > 0 && now_ms() - t0 < 60000) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	printf("STORM-RESULT orphans=%d fork_failed=%d zombies=%d waited_ms=%lld\n",
	       orphans, failed, z, now_ms() - t0);
	return 0;
}
