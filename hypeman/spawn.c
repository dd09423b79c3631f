/*
 * Children of PID 1, through one runner: a busybox applet (ip, the rescue
 * sh), a program of the image run chrooted into it (an image's ldconfig),
 * a function of init's own (a worker). Applet mains keep static state,
 * leak fds and exit() on errors, an image's program is anything: none of
 * that may touch PID 1, a child can take it.
 *
 * The child never returns into init: die_func reset (a failing x*() ends
 * the child, not a second copy of init), default signals and an empty
 * mask, the work, _exit. The wait can be bounded: past its deadline the
 * child is killed and reaped. Applets run without exec: the child already
 * is busybox, and this works before /proc or PATH exist.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += spawn.o

#include "libbb.h"
#include "hypeman.h"

static void NORETURN child(int (*fn)(void *arg), void *arg)
{
	die_func = NULL;
	xfunc_error_retval = 1;
	hm_reset_signals();
	_exit(fn(arg));
}

pid_t FAST_FUNC hm_spawn(const char *phase, const char *what, int (*fn)(void *arg), void *arg)
{
	pid_t pid = fork();

	if (pid == 0)
		child(fn, arg);
	if (pid < 0)
		hm_log_errno(HM_ERROR, phase, errno, "fork for %s failed", what);
	return pid;
}

bool FAST_FUNC hm_sigchld_wait(unsigned long long deadline_ms)
{
	struct timespec left;
	sigset_t chld;

	if (!hm_time_left(deadline_ms, &left))
		return false;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigtimedwait(&chld, NULL, &left);
	return true;
}

int FAST_FUNC hm_spawn_wait(const char *phase, const char *what, pid_t pid, unsigned timeout_ms)
{
	unsigned long long deadline = hm_uptime_ms() + timeout_ms;
	sigset_t chld, old;
	int status;
	pid_t r;

	/* SIGCHLD blocked while waiting, so that its arrival can be awaited
	 * (it is in PID 1 anyway; a worker has an empty mask) */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	while ((r = safe_waitpid(pid, &status, timeout_ms ? WNOHANG : 0)) == 0
	 && hm_sigchld_wait(deadline))
		continue;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (r == 0) {
		kill(pid, SIGKILL);
		safe_waitpid(pid, &status, 0);
		hm_log(HM_ERROR, phase, "%s did not finish within %u ms: killed", what, timeout_ms);
		return -1;
	}
	if (r < 0) {
		hm_log_errno(HM_ERROR, phase, errno, "waiting for %s failed", what);
		return -1;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	hm_log(HM_ERROR, phase, "%s killed by signal %d", what, WTERMSIG(status));
	return -1;
}

struct applet_job {
	int applet;
	const char *const *argv;
	void (*setup)(void);
};

static int applet_child(void *arg)
{
	struct applet_job *j = arg;
	char **copy;
	int n;

	if (j->setup)
		j->setup();
	GETOPT_RESET();
	/* applets write into their argv: give them their own */
	for (n = 0; j->argv[n]; n++)
		continue;
	copy = xzalloc((n + 1) * sizeof(copy[0]));
	while (--n >= 0)
		copy[n] = xstrdup(j->argv[n]);
	run_applet_no_and_exit(j->applet, copy[0], copy);
}

pid_t FAST_FUNC hm_fork_applet(const char *phase, const char *const *argv, void (*setup)(void))
{
	struct applet_job j = { find_applet_by_name(argv[0]), argv, setup };

	if (j.applet < 0) {
		hm_log(HM_ERROR, phase, "applet %s is not in this busybox", argv[0]);
		return -1;
	}
	return hm_spawn(phase, argv[0], applet_child, &j);
}

int FAST_FUNC hm_run_applet(const char *phase, const char *const *argv)
{
	pid_t pid = hm_fork_applet(phase, argv, NULL);

	return pid < 0 ? -1 : hm_spawn_wait(phase, argv[0], pid, 0);
}

struct image_job {
	const char *phase, *path;
	char *const *argv;
	int root_fd;
};

static int image_child(void *arg)
{
	static char *const no_env[] = { NULL };
	struct image_job *j = arg;
	int fd = open("/dev/null", O_RDONLY);

	/* before the chroot: the image's /dev may not be mounted yet */
	if (fd >= 0)
		xmove_fd(fd, STDIN_FILENO);
	if (fchdir(j->root_fd) != 0 || chroot(".") != 0 || chdir("/") != 0) {
		hm_log_errno(HM_ERROR, j->phase, errno, "cannot chroot into the image for %s", j->path);
		return 127;
	}
	execve(j->path, j->argv, no_env);
	hm_log_errno(HM_ERROR, j->phase, errno, "cannot execute the image's %s", j->path);
	return 127;
}

int FAST_FUNC hm_run_in_image(struct hm_boot *b, const char *phase, const char *path,
		char *const argv[], unsigned timeout_ms)
{
	struct image_job j = { phase, path, argv, b->newroot_fd };
	char *what = xasprintf("the image's %s", path);
	pid_t pid = hm_spawn(phase, what, image_child, &j);
	int rc = pid < 0 ? -1 : hm_spawn_wait(phase, what, pid, timeout_ms);

	free(what);
	return rc;
}
