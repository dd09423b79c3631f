/*
 * Appends numbered 64-byte records to /data/records (the overlay) and
 * /vol/records (an rw volume), fsync after each, and prints "ACK n" once
 * both are on disk; every 16th record also makes /data/f<n> (a new inode
 * and directory entry, the directory fsynced). Forever, until the power
 * goes. On a disk that already holds records (the reboot) it prints what
 * it finds instead: "RECOVERED data=<last> vol=<last> bad=<lines>".
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

static int open_rec(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
	if (fd < 0) { perror(path); exit(2); }
	return fd;
}

static void fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0 || fsync(fd)) { perror(dir); exit(2); }
	close(fd);
}

/* last record number in PATH and count of malformed lines */
static void scan(const char *path, long *last, long *bad)
{
	char line[128];
	FILE *f = fopen(path, "r");
	*last = 0;
	*bad = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		long n;
		if (strlen(line) == 64 && sscanf(line, "rec %ld ", &n) == 1 && n == *last + 1)
			*last = n;
		else
			(*bad)++;
	}
	fclose(f);
}

int main(void)
{
	char rec[65];
	long n;
	int a, b;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (access("/data/records", F_OK) == 0) {
		long d, db, v, vb;
		scan("/data/records", &d, &db);
		scan("/vol/records", &v, &vb);
		printf("RECOVERED data=%ld vol=%ld bad=%ld\n", d, v, db + vb);
		return 0;
	}
	mkdir("/data", 0755);
	a = open_rec("/data/records");
	b = open_rec("/vol/records");
	fsync_dir("/data");
	fsync_dir("/vol");
	printf("POWERCUT-WRITING\n");
	for (n = 1;; n++) {
		snprintf(rec, sizeof(rec), "rec %08ld %-50s\n", n, "payload");
		if (write(a, rec, 64) != 64 || write(b, rec, 64) != 64 || fsync(a) || fsync(b)) {
			perror("write/fsync");
			return 3;
		}
		if (n % 16 == 0) {
			char p[64];
			int fd;
			snprintf(p, sizeof(p), "/data/f%ld", n);
			fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
			if (fd < 0 || write(fd, rec, 64) != 64 || fsync(fd)) { perror(p); return 3; }
			close(fd);
			fsync_dir("/data");
		}
		printf("ACK %ld\n", n);
	}
}
