/*
 * Writes a file on the overlay and one on the volume, no sync, exits.
 */
#include <stdio.h>
static int fill(const char *path, const char *tag, int lines)
{
	FILE *f = fopen(path, "w");
	int i;

	if (!f) {
		perror(path);
		return 1;
	}
	for (i = 0; i < lines; i++)
		fprintf(f, "%s %06d\n", tag, i);
	return fclose(f) != 0;
}
int main(void)
{
	int bad = fill("/data.txt", "ovl", 30000) | fill("/vol/file", "vol", 30000);
	printf("WRITER-DONE bad=%d\n", bad);
	return bad;
}
