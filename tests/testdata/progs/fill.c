/*
 * Fills / (the overlay) with 64 KiB writes until one fails, then fsyncs
 * and reports: "FILL-END errno=<n> written=<bytes> fsync=<0|errno>".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(void)
{
	static char buf[65536];
	long long written = 0;
	int fd, err = 0, fs;
	ssize_t n;

	setvbuf(stdout, NULL, _IONBF, 0);
	memset(buf, 'f', sizeof(buf));
	fd = open("/filled", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) { perror("/filled"); return 2; }
	for (;;) {
		n = write(fd, buf, sizeof(buf));
		if (n <= 0) { err = n < 0 ? errno : ENOSPC; break; }
		written += n;
	}
	fs = fsync(fd) ? errno : 0;
	printf("FILL-END errno=%d written=%lld fsync=%d\n", err, written, fs);
	return 0;
}
