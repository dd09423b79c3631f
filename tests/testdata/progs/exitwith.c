#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	const char *how = argc > 1 ? argv[1] : "0";

	setvbuf(stdout, NULL, _IONBF, 0);
	printf("EXITWITH-RUNNING %s\n", how);
	if (strcmp(how, "kill") == 0)
		kill(getpid(), SIGKILL);
	else if (strcmp(how, "segv") == 0)
		raise(SIGSEGV);
	else if (strcmp(how, "oom") == 0)
		for (;;) {  /* touch memory until the kernel's OOM killer ends us */
			char *p = malloc(1 << 20);
			if (p)
				memset(p, 1, 1 << 20);
		}
	else
		exit(atoi(how));
	printf("EXITWITH-STILL-ALIVE\n");
	return 99;
}
