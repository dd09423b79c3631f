/*
 * Starts 5 daemons (double fork, own session) that ignore SIGTERM and
 * append to /data/daemon-<i> with fsync, then exits 0.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
int main(void)
{
	int i;

	setvbuf(stdout, NULL, _IONBF, 0);
	mkdir("/data", 0755);
	signal(SIGTERM, SIG_IGN);	/* inherited: no window before the daemons ignore it */
	for (i = 0; i < 5; i++) {
		pid_t c = fork();
		if (c == 0) {
			setsid();
			if (fork() == 0) {
				char path[32];
				int fd;
				snprintf(path, sizeof(path), "/data/daemon-%d", i);
				fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
				for (;;) {
					write(fd, "tick\n", 5);
					fsync(fd);
					usleep(100000);
				}
			}
			_exit(0);
		}
		waitpid(c, NULL, 0);
	}
	printf("DAEMONS-STARTED 5\n");
	return 0;
}
