/*
 * Becomes a child subreaper, makes 40 orphans of its own (20 that exit
 * at once and stay zombies, since it never waits for them, and 20 that
 * pause), then exits: all 40 fall to PID 1.
 */
#include <stdio.h>
#include <unistd.h>
#include <sys/prctl.h>
int main(void)
{
	int i;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
		perror("PR_SET_CHILD_SUBREAPER");
		return 2;
	}
	for (i = 0; i < 40; i++) {
		if (fork() == 0) {
			if (fork() == 0) {
				if (i % 2)
					for (;;)
						pause();
				_exit(0);
			}
			_exit(0);
		}
	}
	printf("SUBREAPER-READY\n");
	return 0;
}
