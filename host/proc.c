/*
 * hypeman run: child processes (tar, mke2fs, mkfs.erofs) and signals.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "hypeman.h"

volatile sig_atomic_t hm_interrupted;
static volatile pid_t current_child;

static void on_signal(int sig)
{
	hm_interrupted = sig;
	/* Ctrl-C reaches the child through the terminal anyway; a SIGTERM
	 * sent to us alone is passed on so the step ends promptly. */
	if (current_child > 0)
		kill(current_child, SIGTERM);
}

void install_signal_handlers(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static char *slurp_fd(int fd)
{
	size_t n = 0, cap = 4096;
	char *s = xmalloc(cap);
	ssize_t r;

	lseek(fd, 0, SEEK_SET);
	for (;;) {
		if (n + 1 >= cap)
			s = xrealloc(s, cap *= 2);
		r = read(fd, s + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += r;
	}
	while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
		n--;
	s[n] = 0;
	return s;
}

void child_default_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
}

int run_cmd(char *const argv[], int in_fd, int out_fd, char **errtext)
{
	char tmpl[] = "/tmp/hypeman-stderr.XXXXXX";
	int efd, status, nullfd;
	pid_t pid, w;
	char *text;

	if (errtext)
		*errtext = NULL;
	efd = mkostemp(tmpl, O_CLOEXEC);
	if (efd < 0) {
		msg("cannot create a temporary file: %s", strerror(errno));
		return -1;
	}
	unlink(tmpl);
	pid = fork();
	if (pid < 0) {
		msg("fork: %s", strerror(errno));
		close(efd);
		return -1;
	}
	if (pid == 0) {
		child_default_signals();
		nullfd = open("/dev/null", O_RDWR);
		if (dup2(in_fd >= 0 ? in_fd : nullfd, 0) < 0
		 || dup2(out_fd >= 0 ? out_fd : nullfd, 1) < 0
		 || dup2(efd, 2) < 0)
			_exit(126);
		setenv("LC_ALL", "C", 1);
		execvp(argv[0], argv);
		dprintf(2, "cannot run %s: %s", argv[0], strerror(errno));
		_exit(127);
	}
	current_child = pid;
	while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	current_child = 0;
	text = slurp_fd(efd);
	close(efd);
	if (w < 0) {
		free(text);
		text = xasprintf("waitpid: %s", strerror(errno));
		status = -1;
	} else if (WIFEXITED(status)) {
		status = WEXITSTATUS(status);
	} else {
		char *t = xasprintf("%s%s%s killed by signal %d", text, text[0] ? "\n" : "",
			argv[0], WTERMSIG(status));

		free(text);
		text = t;
		status = -1;
	}
	if (errtext)
		*errtext = text;
	else {
		if (status != 0 && text[0])
			msg("%s", text);
		free(text);
	}
	return status;
}

bool have_program(const char *prog)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL;
	bool found = false;

	if (strchr(prog, '/'))
		return access(prog, X_OK) == 0;
	copy = xstrdup(path && *path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	for (dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
		char *p = xasprintf("%s/%s", dir, prog);
		struct stat st;

		found = stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
		free(p);
	}
	free(copy);
	return found;
}

char *self_dir(void)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	char *slash;

	if (n <= 0)
		return xstrdup(".");
	buf[n] = 0;
	slash = strrchr(buf, '/');
	if (slash)
		*slash = 0;
	return xstrdup(buf[0] ? buf : "/");
}
