/*
 * hypeman run: child processes (mkfs.erofs, mke2fs), see proc.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "meter.h"
#include "proc.h"
#include "tool.h"
#include "util.h"

#define ERR_TAIL 4096		/* what is kept of a child's stderr */

/* The last ERR_TAIL bytes written to fd, trailing newlines removed. */
static char *tail_of(int fd)
{
	char *s = hr_malloc(ERR_TAIL + 1);
	off_t end = lseek(fd, 0, SEEK_END);
	ssize_t n;

	n = pread(fd, s, ERR_TAIL, end > ERR_TAIL ? end - ERR_TAIL : 0);
	if (n < 0)
		n = 0;
	while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
		n--;
	s[n] = 0;
	return s;
}

static pid_t spawn(char *const argv[], int in_fd, int out_fd, int err_fd)
{
	pid_t pid = fork();
	int nullfd;

	if (pid != 0)
		return pid;
	hr_tool_child_signals();
	nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (dup2(in_fd >= 0 ? in_fd : nullfd, 0) < 0
	 || dup2(out_fd >= 0 ? out_fd : nullfd, 1) < 0
	 || dup2(err_fd, 2) < 0)
		_exit(126);
	setenv("LC_ALL", "C", 1);
	execvp(argv[0], argv);
	dprintf(2, "cannot run %s: %s", argv[0], strerror(errno));
	_exit(127);
}

/* Waits for pid, ticking m with the size of watch about once a second. */
static int wait_child(pid_t pid, int *status, struct hr_meter *m, const char *watch)
{
	int pfd = m ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
	pid_t w;

	while (pfd >= 0) {
		struct pollfd p = { pfd, POLLIN, 0 };
		struct stat st;

		if (poll(&p, 1, 1000) != 0)
			break;	/* exited (or a signal: waitpid below decides) */
		/* Blocks, not the size: mke2fs's image is sparse from the start. */
		hr_meter_tick(m, watch && stat(watch, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0, 0);
	}
	if (pfd >= 0)
		close(pfd);
	while ((w = waitpid(pid, status, 0)) < 0 && errno == EINTR)
		;
	return w < 0 ? -1 : 0;
}

int hr_proc_run(char *const argv[], int in_fd, int out_fd, char **errtext,
		struct hr_meter *m, const char *watch)
{
	int efd, status;
	pid_t pid;
	char *text;

	if (errtext)
		*errtext = NULL;
	efd = memfd_create("stderr", MFD_CLOEXEC);
	if (efd < 0) {
		hr_msg("memfd_create: %s", strerror(errno));
		return -1;
	}
	pid = spawn(argv, in_fd, out_fd, efd);
	if (pid < 0) {
		hr_msg("fork: %s", strerror(errno));
		close(efd);
		return -1;
	}
	hr_tool.child = pid;
	if (wait_child(pid, &status, m, watch)) {
		status = -1;
		text = hr_asprintf("waitpid: %s", strerror(errno));
	} else {
		text = tail_of(efd);
		if (WIFEXITED(status)) {
			status = WEXITSTATUS(status);
		} else {
			char *t = hr_asprintf("%s%s%s killed by signal %d", text,
				text[0] ? "\n" : "", argv[0], WTERMSIG(status));

			free(text);
			text = t;
			status = -1;
		}
	}
	hr_tool.child = 0;
	close(efd);
	if (errtext) {
		*errtext = text;
	} else {
		if (status != 0 && text[0])
			hr_msg("%s", text);
		free(text);
	}
	return status;
}

bool hr_proc_have(const char *prog)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL;
	bool found = false;

	if (strchr(prog, '/'))
		return access(prog, X_OK) == 0;
	copy = hr_strdup(path && *path ? path : HR_PROC_DEFAULT_PATH);
	for (dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
		char *p;
		struct stat st;

		if (dir[0] != '/')
			continue;	/* a relative PATH entry is the cwd's */
		p = hr_asprintf("%s/%s", dir, prog);
		found = stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
		free(p);
	}
	free(copy);
	return found;
}

char *hr_proc_self_dir(void)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	char *slash;

	if (n <= 0)
		return NULL;
	buf[n] = 0;
	slash = strrchr(buf, '/');
	if (!slash)
		return NULL;
	*slash = 0;
	return hr_strdup(buf[0] ? buf : "/");
}
