/*
 * Pauses until a signal ends it (default dispositions): the program the
 * stop requests meet.
 */
#include <stdio.h>
#include <unistd.h>
int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	printf("SLEEPER-RUNNING\n");
	for (;;)
		pause();
}
