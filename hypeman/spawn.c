/*
 * Running a busybox applet (ip, the rescue sh) in a forked child of PID 1.
 *
 * Applet mains keep static state, leak fds and exit() on errors, none of
 * which PID 1 can afford; a child can. No exec: the child already is
 * busybox, and this works before /proc or PATH exist.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += spawn.o

#include "libbb.h"
#include "hypeman.h"

/* Child side: never returns. */
static void NORETURN run_in_child(int applet, const char *const *argv, void (*setup)(void))
{
	char **copy;
	int n;

	/* A failing x*() in the child must exit the child, not jump into a
	 * second copy of init. */
	die_func = NULL;
	xfunc_error_retval = 1;
	hm_reset_signals();
	if (setup)
		setup();
	GETOPT_RESET();
	/* applets write into their argv: give them their own */
	for (n = 0; argv[n]; n++)
		continue;
	copy = xzalloc((n + 1) * sizeof(copy[0]));
	while (--n >= 0)
		copy[n] = xstrdup(argv[n]);
	run_applet_no_and_exit(applet, copy[0], copy);
}

pid_t FAST_FUNC hm_fork_applet(const char *phase, const char *const *argv, void (*setup)(void))
{
	int applet = find_applet_by_name(argv[0]);
	pid_t pid;

	if (applet < 0) {
		hm_log(HM_ERROR, phase, "applet %s is not in this busybox", argv[0]);
		return -1;
	}
	pid = fork();
	if (pid == 0)
		run_in_child(applet, argv, setup);
	if (pid < 0)
		hm_log_errno(HM_ERROR, phase, errno, "fork for %s failed", argv[0]);
	return pid;
}

int FAST_FUNC hm_run_applet(const char *phase, const char *const *argv)
{
	pid_t pid = hm_fork_applet(phase, argv, NULL);
	int status;

	if (pid < 0)
		return -1;
	if (safe_waitpid(pid, &status, 0) < 0) {
		hm_log_errno(HM_ERROR, phase, errno, "waiting for %s failed", argv[0]);
		return -1;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	hm_log(HM_ERROR, phase, "%s killed by signal %d", argv[0], WTERMSIG(status));
	return -1;
}

int FAST_FUNC hm_wait_bounded(pid_t pid, unsigned timeout_ms)
{
	unsigned long long deadline = hm_uptime_ms() + timeout_ms;
	struct timespec ts;
	sigset_t chld;
	int status;
	pid_t r;

	/* SIGCHLD is blocked in PID 1: wait for it, bounded */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	while ((r = waitpid(pid, &status, WNOHANG)) != pid) {
		if (r < 0 && errno != EINTR)
			return -2;
		if (!hm_time_left(deadline, &ts)) {
			/* its process group too, when it made one */
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		sigtimedwait(&chld, NULL, &ts);
	}
	return status;
}
