/*
 * hypeman-init: exit code, HYPEMAN-EXIT message and OOM detection for
 * the program started in exec mode (see exit_status.h).
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += exit_status.o

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include "exit_status.h"

int hm_exit_code(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	/* Stopped or continued: waitpid() without WUNTRACED never says so. */
	return 255;
}

const char *hm_signal_name(int sig, char buf[HM_SIGNAME_MAX])
{
	/* Indexed by the libc constants, so the numbering of each arch is right. */
	static const char names[32][7] = {
		[SIGHUP] = "HUP", [SIGINT] = "INT", [SIGQUIT] = "QUIT",
		[SIGILL] = "ILL", [SIGTRAP] = "TRAP", [SIGABRT] = "ABRT",
		[SIGBUS] = "BUS", [SIGFPE] = "FPE", [SIGKILL] = "KILL",
		[SIGUSR1] = "USR1", [SIGSEGV] = "SEGV", [SIGUSR2] = "USR2",
		[SIGPIPE] = "PIPE", [SIGALRM] = "ALRM", [SIGTERM] = "TERM",
#ifdef SIGSTKFLT
		[SIGSTKFLT] = "STKFLT",
#endif
		[SIGCHLD] = "CHLD", [SIGCONT] = "CONT", [SIGSTOP] = "STOP",
		[SIGTSTP] = "TSTP", [SIGTTIN] = "TTIN", [SIGTTOU] = "TTOU",
		[SIGURG] = "URG", [SIGXCPU] = "XCPU", [SIGXFSZ] = "XFSZ",
		[SIGVTALRM] = "VTALRM", [SIGPROF] = "PROF", [SIGWINCH] = "WINCH",
		[SIGIO] = "IO", [SIGPWR] = "PWR", [SIGSYS] = "SYS",
	};

	if (sig > 0 && sig < 32 && names[sig][0])
		snprintf(buf, HM_SIGNAME_MAX, "SIG%.6s", names[sig]);
	else
		snprintf(buf, HM_SIGNAME_MAX, "SIG%d", sig);
	return buf;
}

const char *hm_exit_message(int wstatus, bool oom, char *buf, size_t len)
{
	char name[HM_SIGNAME_MAX];
	int code = hm_exit_code(wstatus), n;

	if (WIFSIGNALED(wstatus))
		n = snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(wstatus),
			hm_signal_name(WTERMSIG(wstatus), name));
	else if (code == 0)
		n = snprintf(buf, len, "success");
	else if (code == 127)
		n = snprintf(buf, len, "command not found");
	else if (code == 126)
		n = snprintf(buf, len, "permission denied (command not executable)");
	else
		n = snprintf(buf, len, "exit code %d", code);
	if (oom && code == 137 && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - n, " - OOM");
	return buf;
}

size_t hm_exit_marker(int wstatus, bool oom, char *buf, size_t len)
{
	struct hm_marker m = { .kind = HM_MARKER_EXIT, .num = hm_exit_code(wstatus) };
	char msg[HM_EXIT_MESSAGE_MAX];

	m.text[HM_MF_MESSAGE] = hm_exit_message(wstatus, oom, msg, sizeof(msg));
	return hm_marker_format(buf, len, &m);
}

/* memmem() is a GNU extension: this is all we need of it. */
static bool contains(const char *s, size_t len, const char *word)
{
	size_t n = strlen(word), i;

	for (i = 0; i + n <= len; i++)
		if (s[i] == word[0] && memcmp(s + i, word, n) == 0)
			return true;
	return false;
}

bool hm_kmsg_shows_oom(const char *log, size_t len)
{
	/*
	 * "Out of memory: Killed process" (older kernels: "Kill process"),
	 * the one-line "oom-kill:constraint=..." summary (4.19+), and the
	 * memory cgroup variant of the first.
	 */
	static const char *const words[] = {
		"Out of memory: Kill", "oom-kill:", "Memory cgroup out of memory"
	};
	unsigned i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (contains(log, len, words[i]))
			return true;
	return false;
}
