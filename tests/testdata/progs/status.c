/*
 * Own signal state, and PID 1's memory, from /proc.
 */
#include <stdio.h>
#include <string.h>
static void show(const char *who, const char *file, const char *const *keys)
{
	char line[256];
	FILE *f = fopen(file, "r");
	const char *const *k;

	printf("STATUS %s", who);
	while (f && fgets(line, sizeof(line), f)) {
		for (k = keys; *k; k++) {
			size_t l = strlen(*k);
			if (strncmp(line, *k, l) == 0 && line[l] == ':') {
				char *v = line + l + 1;
				v += strspn(v, " \t");
				v[strcspn(v, "\n")] = 0;
				printf(" %s=<%s>", *k, v);
			}
		}
	}
	printf("\n");
	if (f)
		fclose(f);
}
int main(void)
{
	static const char *const self[] = { "SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt", NULL };
	static const char *const pid1[] = { "Name", "VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem", NULL };

	setvbuf(stdout, NULL, _IONBF, 0);
	show("self", "/proc/self/status", self);
	show("pid1", "/proc/1/status", pid1);
	return 0;
}
