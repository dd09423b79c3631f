/*
 * Prints every forwarded signal (with the sender's pid); on SIGTERM it dies
 * of SIGTERM (default action). "ignore-term": SIGTERM ignored, waits forever.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
static const char *name(int s)
{
	switch (s) {
	case SIGHUP: return "SIGHUP";
	case SIGINT: return "SIGINT";
	case SIGQUIT: return "SIGQUIT";
	case SIGUSR1: return "SIGUSR1";
	case SIGUSR2: return "SIGUSR2";
	case SIGWINCH: return "SIGWINCH";
	case SIGTERM: return "SIGTERM";
	}
	return "?";
}
int main(int argc, char **argv)
{
	static const int sigs[] = { SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGTERM };
	sigset_t set;
	siginfo_t si;
	unsigned i;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc > 1 && strcmp(argv[1], "ignore-term") == 0) {
		signal(SIGTERM, SIG_IGN);
		printf("SIGPROG-READY ignoring SIGTERM\n");
		for (;;)
			pause();
	}
	sigemptyset(&set);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&set, sigs[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
	printf("SIGPROG-READY pid=%d\n", (int)getpid());
	for (;;) {
		int s = sigwaitinfo(&set, &si);
		if (s < 0)
			continue;
		printf("SIGPROG-GOT %s from pid=%d\n", name(s), (int)si.si_pid);
		if (s == SIGTERM) {
			signal(SIGTERM, SIG_DFL);
			sigprocmask(SIG_UNBLOCK, &set, NULL);
			raise(SIGTERM);
			printf("SIGPROG-SURVIVED-SIGTERM\n");
			return 1;
		}
	}
}
