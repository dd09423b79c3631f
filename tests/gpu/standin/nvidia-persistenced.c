/*
 * Stand-in for nvidia-persistenced (tests only): what init sees of the
 * real daemon. With --uvm-persistence-mode (anything else: exit 2) it
 * forks; the daemon writes its pid to
 * /var/run/nvidia-persistenced/nvidia-persistenced.pid, says on the
 * console that it is ready, and only then does the first process exit 0,
 * as the real one exits once its daemon is set up. On SIGTERM the daemon
 * says so, removes its pid file and exits 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DIR "/var/run/nvidia-persistenced"
#define PID_FILE DIR "/nvidia-persistenced.pid"

static double uptime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int p[2], sig;
	sigset_t set;
	FILE *f;
	char c;

	if (argc != 2 || strcmp(argv[1], "--uvm-persistence-mode") != 0) {
		fprintf(stderr, "nvidia-persistenced stand-in: want --uvm-persistence-mode only\n");
		return 2;
	}
	if (pipe(p) != 0)
		return 1;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	switch (fork()) {
	case -1:
		return 1;
	case 0:
		break;
	default:
		close(p[1]);
		return read(p[0], &c, 1) == 1 ? 0 : 1;
	}
	close(p[0]);
	setsid();
	mkdir(DIR, 0755);
	f = fopen(PID_FILE, "w");
	if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0) {
		fprintf(stderr, "nvidia-persistenced stand-in: %s: %s\n", PID_FILE, strerror(errno));
		return 1;
	}
	printf("nvidia-persistenced stand-in: ready, pid %d, uptime %.3f\n", (int)getpid(), uptime());
	fflush(stdout);
	if (write(p[1], "r", 1) != 1)
		return 1;
	close(p[1]);
	while (sigwait(&set, &sig) != 0)
		continue;
	printf("nvidia-persistenced stand-in: SIGTERM at uptime %.3f, stopping\n", uptime());
	unlink(PID_FILE);
	return 0;
}
