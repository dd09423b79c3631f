/*
 * Touches memory until the kernel's OOM killer ends it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	printf("HOG-RUNNING\n");
	for (;;) {
		char *p = malloc(1 << 20);
		if (p)
			memset(p, 1, 1 << 20);
	}
}
