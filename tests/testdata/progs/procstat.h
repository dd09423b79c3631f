/*
 * What the guest programs read of /proc/PID/stat: the state, the parent's
 * PID and the command name. Returns 0, or -1 when the process is gone or
 * the line is not what /proc writes.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int proc_stat(const char *pid, char *state, int *ppid, char *comm, size_t commlen)
{
	char path[64], buf[512], *open_paren, *r;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	open_paren = strchr(buf, '(');
	r = strrchr(buf, ')');
	if (!open_paren || !r || r < open_paren || sscanf(r + 2, "%c %d", state, ppid) != 2)
		return -1;
	snprintf(comm, commlen, "%.*s", (int)(r - open_paren - 1), open_paren + 1);
	return 0;
}
