/*
 * Phase 8, exec mode (contract: Exec mode): the guest agent (agent-start), then
 * the program as a child (phase exec), and PID 1's duties until it exits:
 * reap every child (orphans too), forward signals, turn stop requests into
 * SIGTERM (SIGKILL after the grace period), then the HYPEMAN-EXIT marker
 * and the shutdown path.
 *
 * All of PID 1's signals stay blocked and are taken synchronously with
 * sigtimedwait: no handlers, no races, and a coalesced SIGCHLD is harmless
 * because every wake-up reaps until waitpid has nothing left.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += exec_mode.o

#include "libbb.h"
#include <sys/signalfd.h>
#include "hypeman.h"
#include "confine.h"
#include "exit_status.h"
#include "interp.h"
#include "marker.h"

#define AGENT_READY_TIMEOUT_MS 10000

/* dup2 and close, failures logged: an x*() would exit() in the child */
static void move_fd(int from, int to)
{
	if (dup2(from, to) != to)
		hm_log_errno(HM_ERROR, "exec", errno, "dup2 of fd %d to %d failed", from, to);
	else
		close(from);
}

/*
 * Child side: never returns. stdin /dev/null, stdout/stderr the console,
 * READY_FD (when >= 0) as HM_AGENT_READY_FD, in the cgroup of CGROUP_FD
 * (when >= 0). A vfork child: until execve it runs on PID 1's memory (PID
 * 1 waits), so it writes only its own stack and calls nothing that
 * allocates or dies; a failure is logged and ends it with _exit.
 */
static void NORETURN exec_child(char **argv, char **env, const char *workdir, int ready_fd,
		int cgroup_fd)
{
	char found[PATH_MAX], why[PATH_MAX + 80];
	int fd, err;

	hm_join_program_cgroup(cgroup_fd);
	setsid();
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0)
		move_fd(fd, STDIN_FILENO);
	if (ready_fd == HM_AGENT_READY_FD)
		fcntl(ready_fd, F_SETFD, 0);	/* dup2 would have cleared close-on-exec */
	else if (ready_fd >= 0)
		move_fd(ready_fd, HM_AGENT_READY_FD);
	if (chdir(workdir) != 0) {
		hm_log_errno(HM_ERROR, "exec", errno, "chdir to workdir %s failed", workdir);
		_exit(126);
	}
	hm_reset_signals();
	if (ready_fd < 0)
		hm_program_start_marker("exec");
	hm_execvpe(argv, env, found, sizeof(found));
	err = errno;
	/* ENOENT for a file that exists: name what is really missing */
	if (found[0] && hm_explain_enoent(found, why, sizeof(why)))
		hm_log_errno(HM_ERROR, "exec", err, "cannot execute %s: %s", found, why);
	else
		hm_log_errno(HM_ERROR, "exec", err, "cannot execute %s", argv[0]);
	_exit(err == EACCES ? 126 : 127);
}

/* The program's env plus the readiness variables (contract: Exec mode). */
static char **agent_env(char **env)
{
	static char fd_var[32];
	char **e;
	int n;

	for (n = 0; env[n]; n++)
		continue;
	e = xzalloc((n + 3) * sizeof(e[0]));
	memcpy(e, env, n * sizeof(env[0]));
	sprintf(fd_var, "HYPEMAN_AGENT_READY_FD=%d", HM_AGENT_READY_FD);
	e[n] = fd_var;
	e[n + 1] = (char *)"HYPEMAN_AGENT_READY_FILE=" HM_AGENT_READY;
	return e;
}

/* Once the readiness pipe reads EOF: how the agent ended, into BUF (it
 * closes the pipe as it exits, a moment before it can be reaped; one that
 * lives on is left to the shutdown that follows). */
static void agent_end(pid_t pid, char *buf, size_t len)
{
	unsigned long long deadline = hm_uptime_ms() + 1000;
	char how[HM_EXIT_MESSAGE_MAX];
	int status;
	pid_t r;

	while ((r = waitpid(pid, &status, WNOHANG)) == 0 && hm_sigchld_wait(deadline))
		continue;
	if (r != pid) {
		snprintf(buf, len, "closed its readiness pipe without signalling");
		return;
	}
	snprintf(buf, len, "exited (%s) before signalling readiness",
		hm_exit_message(status, false, how, sizeof(how)));
}

/*
 * Waits, bounded, for the agent's byte on FD or a stop request (left
 * pending for hm_stop_point). 0 when it is ready or a stop is pending;
 * -1 after an ERROR naming the agent and the cause.
 */
static int await_agent(int fd, pid_t pid)
{
	struct pollfd pfd[2] = { { .fd = fd, .events = POLLIN }, { .fd = -1, .events = POLLIN } };
	char why[128];
	sigset_t stop;
	int rc;
	char c;

	hm_stop_sigset(&stop);
	/* readable while a stop signal is pending; poll skips fd -1 */
	pfd[1].fd = signalfd(-1, &stop, SFD_CLOEXEC);
	rc = safe_poll(pfd, 2, AGENT_READY_TIMEOUT_MS);
	if (pfd[1].fd >= 0)
		close(pfd[1].fd);
	if (rc > 0 && !pfd[0].revents) {
		hm_phase_end("agent-start", "stop requested before the guest agent (pid %d) was ready", (int)pid);
		return 0;
	}
	if (rc > 0 && read(fd, &c, 1) == 1) {
		hm_phase_end("agent-start", "guest agent %s ready (pid %d)", HM_AGENT_DST, (int)pid);
		return 0;
	}
	if (rc == 0)
		snprintf(why, sizeof(why), "did not signal readiness within %d ms", AGENT_READY_TIMEOUT_MS);
	else
		agent_end(pid, why, sizeof(why));
	hm_log(HM_ERROR, "agent-start", "guest agent %s (pid %d) %s: not starting the program; powering off",
		HM_AGENT_DST, (int)pid, why);
	return -1;
}

/*
 * Phase agent-start: the agent with the readiness pipe on
 * HM_AGENT_READY_FD, and the strict gate of today's hypeman: no program
 * without its readiness. Returns its pid; on failure the VM shuts down.
 */
static pid_t start_agent(struct hm_boot *b, char **env)
{
	char *argv[] = { (char *)HM_AGENT_DST, NULL };
	char **e;
	int pipefd[2];
	pid_t pid;

	hm_phase_begin("agent-start");
	if (pipe2(pipefd, O_CLOEXEC) != 0) {
		hm_log_errno(HM_ERROR, "agent-start", errno, "pipe for the agent's readiness failed: powering off");
		hm_shutdown(b->cmdline.grace_s);
	}
	e = agent_env(env);
	mkdir("/run/hypeman", 0755);
	pid = vfork();
	if (pid == 0) {
		close(pipefd[0]);
		exec_child(argv, e, "/", pipefd[1], -1);
	}
	free(e);
	close(pipefd[1]);
	if (pid < 0)
		hm_log_errno(HM_ERROR, "agent-start", errno, "vfork for the guest agent failed: powering off");
	if (pid < 0 || await_agent(pipefd[0], pid) != 0)
		hm_shutdown(b->cmdline.grace_s);
	close(pipefd[0]);
	return pid;
}

/* Whether the kernel log shows an OOM kill (contract: Exec mode; 137 gets " - OOM"). */
static bool kernel_log_shows_oom(void)
{
	char *buf = xmalloc(64 * 1024);
	size_t len = 0;
	bool oom = false;
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0) {
		/* one record per read; EAGAIN at the end of the buffer */
		for (;;) {
			ssize_t n = read(fd, buf + len, 64 * 1024 - 1 - len);
			if (n < 0 && errno == EPIPE)
				continue;  /* record overwritten: go on */
			if (n <= 0)
				break;
			len += n;
			buf[len] = '\0';
			if (hm_kmsg_shows_oom(buf, len)) {
				oom = true;
				break;
			}
			if (len > 60 * 1024)
				len = 0;
		}
		close(fd);
	}
	free(buf);
	return oom;
}

void FAST_FUNC hm_exit_marker_out(int code, const char *message)
{
	struct hm_marker m = { .kind = HM_MARKER_EXIT, .num = code };

	m.text[HM_MF_MESSAGE] = message;
	hm_marker_out(&m);
}

static void report_exit(int status)
{
	char msg[HM_EXIT_MESSAGE_MAX];
	bool oom = hm_exit_code(status) == 137 && kernel_log_shows_oom();

	hm_exit_marker_out(hm_exit_code(status), hm_exit_message(status, oom, msg, sizeof(msg)));
}

/* Reaps every child that has exited: true when PROG was one (its wait
 * status in *STATUS). The agent's end is a WARN. */
static bool reap(pid_t prog, pid_t *agent, int *status)
{
	pid_t r;

	while ((r = waitpid(-1, status, WNOHANG)) > 0) {
		if (r == prog)
			return true;
		if (r == *agent) {
			hm_log(HM_WARN, "exec", "guest agent (pid %d) exited", (int)r);
			*agent = -1;
		}
	}
	return false;
}

/*
 * PID 1's duties until the program exits: reap, forward signals, turn a
 * stop request into SIGTERM, then SIGKILL after GRACE_S. Returns the
 * program's wait status.
 */
static int supervise(pid_t prog, pid_t agent, unsigned grace_s)
{
	unsigned long long kill_at = 0;  /* SIGKILL deadline after a stop request */
	sigset_t set;
	siginfo_t si;
	int status = 0;

	hm_pid1_sigset(&set);
	for (;;) {
		struct timespec ts, *tsp = NULL;
		int sig;

		if (kill_at) {
			if (!hm_time_left(kill_at, &ts)) {
				hm_log(HM_WARN, "exec", "program did not stop within %us: SIGKILL", grace_s);
				kill(prog, SIGKILL);
				kill_at = 0;
				continue;
			}
			tsp = &ts;
		}
		sig = sigtimedwait(&set, &si, tsp);
		if (sig == SIGCHLD) {
			if (reap(prog, &agent, &status))
				return status;
		} else if (sig == SIGTERM || sig == SIGINT) {
			/* SIGINT is Ctrl-Alt-Del (CAD is off): a stop request too */
			hm_log(HM_INFO, "exec", "stop requested (%s): SIGTERM to the program",
				sig == SIGTERM ? "SIGTERM" : "Ctrl-Alt-Del");
			kill(prog, SIGTERM);
			if (!kill_at)
				kill_at = hm_uptime_ms() + grace_s * 1000ULL;
		} else if (sig > 0) {
			kill(prog, sig);
		}
		/* sig < 0: EAGAIN (the deadline, checked above) or EINTR */
	}
}

/* A missing workdir is made, as container runtimes do (we are chrooted
 * already: the path cannot leave the image). */
static void make_workdir(struct hm_boot *b, const char *workdir)
{
	int fd = hm_mkdirs_in_root(b->newroot_fd, workdir, 0755);

	if (fd < 0)
		hm_log_errno(HM_WARN, "exec", errno, "cannot make workdir %s", workdir);
	else
		close(fd);
}

void FAST_FUNC hm_run_exec(struct hm_boot *b)
{
	const char *workdir = b->cfg.workdir ? b->cfg.workdir : "/";
	char **argv = hm_build_argv(&b->cfg), **env = hm_build_env(&b->cfg);
	pid_t prog, agent = -1;
	int cgroup_fd;

	if (!argv || !env)
		bb_die_memory_exhausted();
	if (!argv[0])
		hm_fatal(b, "exec", "nothing to exec: entrypoint and cmd are both empty");
	/* an initrd without an agent said so in phase agent */
	if (!b->cfg.skip_guest_agent && !b->no_agent)
		agent = start_agent(b, env);
	hm_stop_point(b, "before the program started");

	hm_phase_begin("exec");
	make_workdir(b, workdir);
	cgroup_fd = hm_program_cgroup(b->cmdline.pids_max);
	hm_phase_end("exec", "starting %s (workdir %s)", argv[0], workdir);
	/* vfork: no copy of PID 1's memory, and PID 1 goes on once the
	 * program has started */
	prog = vfork();
	if (prog == 0)
		exec_child(argv, env, workdir, -1, cgroup_fd);
	if (cgroup_fd >= 0)
		close(cgroup_fd);
	if (prog < 0)
		hm_fatal(b, "exec", "vfork for the program failed: %s", strerror(errno));
	hm_release_initramfs(b, "exec");
	report_exit(supervise(prog, agent, b->cmdline.grace_s));
	hm_shutdown(b->cmdline.grace_s);
}
