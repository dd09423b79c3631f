/*
 * Exec mode (SPEC: Exec mode): the guest agent, then the program as a
 * child, and PID 1's duties until it exits: reap every child (orphans
 * too), forward signals, turn stop requests into SIGTERM (SIGKILL after the
 * grace period), then the HYPEMAN-EXIT marker and the shutdown path.
 *
 * All of PID 1's signals stay blocked and are taken synchronously with
 * sigtimedwait: no handlers, no races, and a coalesced SIGCHLD is harmless
 * because every wake-up reaps until waitpid has nothing left.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += exec_mode.o

#include "libbb.h"
#include "hypeman.h"
#include "confine.h"
#include "exit_status.h"

#define AGENT_READY_TIMEOUT_MS 10000

/* Child side: never returns. stdin /dev/null, stdout/stderr the console. */
static void NORETURN exec_child(char **argv, char **env, const char *workdir, int keep_fd)
{
	int fd;

	die_func = NULL;
	setsid();
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0 && fd != STDIN_FILENO) {
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
	if (keep_fd >= 0 && keep_fd != 3) {
		dup2(keep_fd, 3);
		close(keep_fd);
	}
	if (chdir(workdir) != 0) {
		hm_log_errno(HM_ERROR, "exec", errno, "chdir to workdir %s failed", workdir);
		_exit(126);
	}
	hm_reset_signals();
	if (keep_fd < 0)
		hm_program_start_marker("exec");
	hm_execvpe(argv, env);
	hm_log_errno(HM_ERROR, "exec", errno, "cannot execute %s", argv[0]);
	_exit(errno == EACCES ? 126 : 127);
}

/* Starts the agent with the readiness pipe on fd 3 and waits, bounded,
 * for its byte. Returns its pid (or -1). */
static pid_t start_agent(char **env)
{
	char *agent_argv[] = { (char *)HM_AGENT_DST, NULL };
	char **agent_env;
	struct pollfd pfd;
	int pipefd[2], n, rc;
	pid_t pid;
	char c;

	hm_phase_begin("agent");
	if (pipe2(pipefd, O_CLOEXEC) != 0) {
		hm_log_errno(HM_ERROR, "agent", errno, "pipe for the agent's readiness failed");
		return -1;
	}
	for (n = 0; env[n]; n++)
		continue;
	agent_env = xzalloc((n + 3) * sizeof(agent_env[0]));
	memcpy(agent_env, env, n * sizeof(env[0]));
	agent_env[n] = (char *)"HYPEMAN_AGENT_READY_FD=3";
	agent_env[n + 1] = (char *)"HYPEMAN_AGENT_READY_FILE=" HM_AGENT_READY;
	mkdir("/run/hypeman", 0755);

	pid = fork();
	if (pid == 0) {
		close(pipefd[0]);
		/* dup2 onto 3 clears close-on-exec */
		if (pipefd[1] == 3)
			fcntl(3, F_SETFD, 0);
		exec_child(agent_argv, agent_env, "/", pipefd[1]);
	}
	free(agent_env);
	close(pipefd[1]);
	if (pid < 0) {
		hm_log_errno(HM_ERROR, "agent", errno, "fork for the guest agent failed");
		close(pipefd[0]);
		return -1;
	}
	pfd.fd = pipefd[0];
	pfd.events = POLLIN;
	rc = safe_poll(&pfd, 1, AGENT_READY_TIMEOUT_MS);
	n = rc > 0 ? read(pipefd[0], &c, 1) : -1;
	close(pipefd[0]);
	if (n == 1)
		hm_phase_end("agent", "guest agent %s ready (pid %d)", HM_AGENT_DST, (int)pid);
	else if (rc == 0)
		hm_log(HM_ERROR, "agent", "guest agent (pid %d) did not signal readiness within %d ms; starting the program anyway",
			(int)pid, AGENT_READY_TIMEOUT_MS);
	else
		hm_log(HM_ERROR, "agent", "guest agent (pid %d) exited or closed its readiness pipe without signalling; starting the program anyway",
			(int)pid);
	return pid;
}

/* Whether the kernel log shows an OOM kill (SPEC: 137 gets " - OOM"). */
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

static void report_exit(int status)
{
	char line[HM_EXIT_MARKER_MAX + 1];
	bool oom = hm_exit_code(status) == 137 && kernel_log_shows_oom();

	/* The program's last output may lack a newline: the host only finds
	 * the marker at the start of a line. */
	line[0] = '\n';
	hm_exit_marker(status, oom, line + 1, sizeof(line) - 1);
	hm_console_line(line);
}

void FAST_FUNC hm_run_exec(struct hm_boot *b)
{
	char **argv, **env;
	sigset_t set;
	siginfo_t si;
	pid_t prog, agent = -1;
	int status = 0, fd;
	unsigned long long kill_at = 0;  /* SIGKILL deadline after a stop request */
	const char *workdir = b->cfg.workdir ? b->cfg.workdir : "/";

	argv = hm_build_argv(&b->cfg);
	if (!argv)
		hm_fatal(b, "exec", "nothing to exec: entrypoint and cmd are both empty");
	env = hm_build_env(&b->cfg, "exec");
	hm_pid1_sigset(&set);

	/* A missing workdir is made, as container runtimes do (we are
	 * chrooted already: the path cannot leave the image). */
	fd = hm_mkdirs_in_root(b->newroot_fd, workdir, 0755);
	if (fd < 0)
		hm_log_errno(HM_WARN, "exec", errno, "cannot make workdir %s", workdir);
	else
		close(fd);

	if (!b->cfg.skip_guest_agent)
		agent = start_agent(env);

	hm_log(HM_INFO, "exec", "starting %s (workdir %s)", argv[0], workdir);
	prog = fork();
	if (prog == 0)
		exec_child(argv, env, workdir, -1);
	if (prog < 0)
		hm_fatal(b, "exec", "fork for the program failed: %s", strerror(errno));

	for (;;) {
		struct timespec ts, *tsp = NULL;
		int sig;
		pid_t r;

		if (kill_at) {
			if (!hm_time_left(kill_at, &ts)) {
				hm_log(HM_WARN, "exec", "program did not stop within %us: SIGKILL", b->cmdline.grace_s);
				kill(prog, SIGKILL);
				kill_at = 0;
				continue;
			}
			tsp = &ts;
		}
		sig = sigtimedwait(&set, &si, tsp);
		if (sig < 0)
			continue;  /* EAGAIN (deadline: checked above) or EINTR */
		if (sig == SIGCHLD) {
			bool done = false;
			while ((r = waitpid(-1, &status, WNOHANG)) > 0) {
				if (r == prog) {
					done = true;
					break;
				}
				if (r == agent) {
					hm_log(HM_WARN, "agent", "guest agent (pid %d) exited", (int)r);
					agent = -1;
				}
			}
			if (done)
				break;
			continue;
		}
		if (sig == SIGTERM || sig == SIGINT) {
			/* SIGINT is Ctrl-Alt-Del (CAD is off): a stop request too */
			hm_log(HM_INFO, "exec", "stop requested (%s): SIGTERM to the program",
				sig == SIGTERM ? "SIGTERM" : "Ctrl-Alt-Del");
			kill(prog, SIGTERM);
			if (!kill_at)
				kill_at = hm_uptime_ms() + b->cmdline.grace_s * 1000ULL;
			continue;
		}
		kill(prog, sig);
	}
	report_exit(status);
	hm_shutdown(b->cmdline.grace_s);
}
