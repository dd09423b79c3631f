/*
 * Double fork N times: each child forks a grandchild and exits at once, so
 * the grandchildren are orphans (reparented to PID 1). They block on the
 * "go" pipe until the program closes it, report whether their parent is
 * PID 1 on the "done" pipe and exit. EOF on "done" means every grandchild
 * has closed it, i.e. is exiting; then /proc is scanned until no
 * grandchild is left (PID 1 reaped them) or a deadline, and the count of
 * zombies whose parent is PID 1 is printed.
 */
#include <dirent.h>
#include <errno.h>
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

/* zombies: state Z with ppid 1; left: grandchildren still in /proc */
static void scan(int *zombies, int *left)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t self = getpid();

	*zombies = *left = 0;
	while ((e = readdir(d))) {
		char state, comm[64];
		int ppid;

		if (e->d_name[0] < '0' || e->d_name[0] > '9' || atoi(e->d_name) == self)
			continue;
		if (proc_stat(e->d_name, &state, &ppid, comm, sizeof(comm)))
			continue;
		if (state == 'Z' && ppid == 1)
			(*zombies)++;
		if (strcmp(comm, "orphans") == 0)
			(*left)++;
	}
	closedir(d);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000;
	int go[2], done[2], i, failed = 0, orphaned = 0, other = 0, zombies, left, first_z, first_l;
	long long t0;
	char c;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (pipe(go) || pipe(done)) {
		perror("pipe");
		return 2;
	}
	printf("ORPHANS-START n=%d\n", n);
	for (i = 0; i < n; i++) {
		int st;
		pid_t child = fork();
		if (child < 0) {
			perror("fork");
			return 2;
		}
		if (child == 0) {
			close(go[1]);
			close(done[0]);
			if (fork() == 0) {
				while (read(go[0], &c, 1) > 0)
					;
				c = getppid() == 1 ? 'O' : 'X';
				write(done[1], &c, 1);
				_exit(0);
			}
			_exit(0);
		}
		if (waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st))
			failed++;
	}
	close(go[1]);
	close(done[1]);
	for (;;) {
		ssize_t r = read(done[0], &c, 1);
		if (r == 1) {
			if (c == 'O')
				orphaned++;
			else
				other++;
		} else if (r == 0 || errno != EINTR) {
			break;
		}
	}
	scan(&first_z, &first_l);
	t0 = now_ms();
	zombies = first_z;
	left = first_l;
	while (left > 0 && now_ms() - t0 < 20000) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		scan(&zombies, &left);
	}
	printf("ORPHANS-RESULT children_failed=%d reparented=%d not_reparented=%d "
	       "at_eof_zombies=%d at_eof_left=%d zombies=%d left=%d waited_ms=%lld\n",
	       failed, orphaned, other, first_z, first_l, zombies, left, now_ms() - t0);
	return 7;
}
