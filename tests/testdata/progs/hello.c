#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	char cwd[4096], in[4096];
	ssize_t n;
	int i;

	setvbuf(stdout, NULL, _IONBF, 0);
	printf("HELLO-FROM-STATIC argc=%d\n", argc);
	for (i = 0; i < argc; i++)
		printf("HELLO argv[%d]=<%s>\n", i, argv[i]);
	printf("HELLO cwd=<%s>\n", getcwd(cwd, sizeof(cwd)) ? cwd : "?");
	n = readlink("/proc/self/fd/0", in, sizeof(in) - 1);
	in[n > 0 ? n : 0] = 0;
	printf("HELLO stdin=<%s>\n", in);
	printf("HELLO PATH=<%s>\n", getenv("PATH") ? getenv("PATH") : "(unset)");
	printf("HELLO HOME=<%s>\n", getenv("HOME") ? getenv("HOME") : "(unset)");
	printf("HELLO GREETING=<%s>\n", getenv("GREETING") ? getenv("GREETING") : "(unset)");
	fprintf(stderr, "HELLO-STDERR reaches the console\n");
	return 0;
}
