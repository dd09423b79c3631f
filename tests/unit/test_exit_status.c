// needs: hypeman/exit_status.c contract/marker.c contract/logline.c contract/json.c
/* Unit tests for hypeman/exit_status.c: codes, messages, markers, OOM in the kernel log. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "check.h"
#include "exit_status.h"

/* Real statuses from real children, so the encoding is the kernel's. */
static int status_of_exit(int code)
{
	int st = -1;
	pid_t pid = fork();

	if (pid == 0)
		_exit(code);
	waitpid(pid, &st, 0);
	return st;
}

static int status_of_signal(int sig)
{
	int st = -1;
	pid_t pid = fork();

	if (pid == 0) {
		struct rlimit none = { 0, 0 };
		int null = open("/dev/null", O_WRONLY);

		/* no core file; under qemu-user no "uncaught target signal"
		 * line on the test run's terminal (qemu is this process) */
		setrlimit(RLIMIT_CORE, &none);
		if (null >= 0)
			dup2(null, 2);
		signal(sig, SIG_DFL);
		raise(sig);
		_exit(99);
	}
	waitpid(pid, &st, 0);
	return st;
}

static void check_marker(int line, int st, bool oom, const char *want)
{
	char buf[HM_EXIT_MARKER_MAX];
	int n = hm_exit_marker(st, oom, buf, sizeof(buf));

	check_str_at(__FILE__, line, buf, want, "marker");
	check_at(__FILE__, line, n == (int)strlen(want), "marker length %d", n);
}
#define MARKER(st, oom, want) check_marker(__LINE__, st, oom, want)

static void test_codes_and_markers(void)
{
	int sigkill = status_of_signal(SIGKILL), sigsegv = status_of_signal(SIGSEGV);
	char want[128];

	CHECK_INT(hm_exit_code(status_of_exit(0)), 0);
	CHECK_INT(hm_exit_code(status_of_exit(1)), 1);
	CHECK_INT(hm_exit_code(status_of_exit(42)), 42);
	CHECK_INT(hm_exit_code(status_of_exit(255)), 255);
	CHECK_INT(hm_exit_code(sigkill), 137);
	CHECK_INT(hm_exit_code(sigsegv), 139);
	CHECK_INT(hm_exit_code(status_of_signal(SIGTERM)), 143);

	MARKER(status_of_exit(0), false, "HYPEMAN-EXIT code=0 message=\"success\"");
	MARKER(status_of_exit(1), false, "HYPEMAN-EXIT code=1 message=\"exit code 1\"");
	MARKER(status_of_exit(42), false, "HYPEMAN-EXIT code=42 message=\"exit code 42\"");
	MARKER(status_of_exit(255), false, "HYPEMAN-EXIT code=255 message=\"exit code 255\"");
	MARKER(status_of_exit(127), false, "HYPEMAN-EXIT code=127 message=\"command not found\"");
	MARKER(status_of_exit(126), false,
		"HYPEMAN-EXIT code=126 message=\"permission denied (command not executable)\"");
	MARKER(sigkill, false, "HYPEMAN-EXIT code=137 message=\"killed by signal 9 (SIGKILL)\"");
	MARKER(sigkill, true, "HYPEMAN-EXIT code=137 message=\"killed by signal 9 (SIGKILL) - OOM\"");
	/* SIGSEGV may dump core (bit 0x80): same result. */
	MARKER(sigsegv, false, "HYPEMAN-EXIT code=139 message=\"killed by signal 11 (SIGSEGV)\"");
	MARKER(11 | 0x80, false, "HYPEMAN-EXIT code=139 message=\"killed by signal 11 (SIGSEGV)\"");
	MARKER(status_of_signal(SIGTERM), false,
		"HYPEMAN-EXIT code=143 message=\"killed by signal 15 (SIGTERM)\"");
	MARKER(status_of_signal(SIGINT), false,
		"HYPEMAN-EXIT code=130 message=\"killed by signal 2 (SIGINT)\"");
	/* A shell reports its OOM-killed child as exit code 137. */
	MARKER(status_of_exit(137), false, "HYPEMAN-EXIT code=137 message=\"exit code 137\"");
	MARKER(status_of_exit(137), true, "HYPEMAN-EXIT code=137 message=\"exit code 137 - OOM\"");
	/* The OOM flag only matters for 137. */
	MARKER(status_of_exit(1), true, "HYPEMAN-EXIT code=1 message=\"exit code 1\"");
	MARKER(sigsegv, true, "HYPEMAN-EXIT code=139 message=\"killed by signal 11 (SIGSEGV)\"");
	MARKER(status_of_exit(0), true, "HYPEMAN-EXIT code=0 message=\"success\"");
	/* A signal without a short name (real-time; SIGRTMIN is 34 in glibc,
	 * 35 in musl). */
	snprintf(want, sizeof(want), "HYPEMAN-EXIT code=%d message=\"killed by signal %d (SIG%d)\"",
		128 + SIGRTMIN + 2, SIGRTMIN + 2, SIGRTMIN + 2);
	MARKER(SIGRTMIN + 2, false, want);
}

static void test_signal_names(void)
{
	char buf[HM_SIGNAME_MAX];
	int sig;

	CHECK_STR(hm_signal_name(SIGHUP, buf), "SIGHUP");
	CHECK_STR(hm_signal_name(SIGKILL, buf), "SIGKILL");
	CHECK_STR(hm_signal_name(SIGSEGV, buf), "SIGSEGV");
	CHECK_STR(hm_signal_name(SIGTERM, buf), "SIGTERM");
	CHECK_STR(hm_signal_name(SIGVTALRM, buf), "SIGVTALRM");
	CHECK_STR(hm_signal_name(SIGSYS, buf), "SIGSYS");
	CHECK_STR(hm_signal_name(SIGWINCH, buf), "SIGWINCH");
	CHECK_STR(hm_signal_name(0, buf), "SIG0");
	CHECK_STR(hm_signal_name(-1, buf), "SIG-1");
	CHECK_STR(hm_signal_name(64, buf), "SIG64");
	CHECK_STR(hm_signal_name(2147483647, buf), "SIG2147483647");
	/* Every classic signal has a real name. */
	for (sig = 1; sig < 32; sig++) {
		hm_signal_name(sig, buf);
		CHECKF(strncmp(buf, "SIG", 3) == 0 && buf[3] >= 'A' && buf[3] <= 'Z',
			"signal %d: %s", sig, buf);
	}
}

static void test_small_buffers(void)
{
	char buf[10];
	int n;

	memset(buf, 'x', sizeof(buf));
	n = hm_exit_marker(9, true, buf, sizeof(buf));
	CHECK_STR(buf, "HYPEMAN-E");
	CHECK_INT(n, 9);
	hm_exit_message(9, true, buf, sizeof(buf));
	CHECK_STR(buf, "killed by");
	hm_exit_message(9, true, buf, 1);
	CHECK_STR(buf, "");
	/* The longest message fits HM_EXIT_MESSAGE_MAX. */
	{
		char msg[HM_EXIT_MESSAGE_MAX];

		hm_exit_message(SIGVTALRM, true, msg, sizeof(msg));
		CHECK_STR(msg, "killed by signal 26 (SIGVTALRM)");
	}
}

#define OOM(text) hm_kmsg_shows_oom(text, sizeof(text) - 1)

static void test_kmsg(void)
{
	/* /dev/kmsg records (prio,seq,usec,flags;text). */
	CHECK(OOM("6,1,0,-;Linux version 6.1.0\n"
		"3,812,5123456,-;Out of memory: Killed process 123 (stress) total-vm:1049100kB, "
		"anon-rss:1040000kB, file-rss:4kB, shmem-rss:0kB, UID:0 pgtables:2100kB oom_score_adj:0\n"));
	CHECK(OOM("6,811,5123400,-;oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,"
		"mems_allowed=0,global_oom,task_memcg=/,task=stress,pid=123,uid=0\n"));
	CHECK(OOM("3,900,9,-;Memory cgroup out of memory: Killed process 55 (java) total-vm:9kB\n"));
	/* dmesg lines, and the wording of older kernels. */
	CHECK(OOM("[   12.345678] Out of memory: Kill process 123 (x) score 900 or sacrifice child\n"));
	CHECK(OOM("[    1.000000] oom-kill:constraint=CONSTRAINT_MEMCG\n"));
	/* A match past a NUL byte still counts: the length bounds the scan. */
	CHECK(OOM("boot\0\0Out of memory: Killed process 1 (a)"));

	CHECK(!OOM(""));
	CHECK(!OOM("6,1,0,-;Linux version 6.1.0\n6,2,0,-;Command line: console=hvc0\n"));
	CHECK(!OOM("4,5,0,-;stress invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE)\n"));
	CHECK(!OOM("6,5,0,-;[  pid  ]   uid  tgid total_vm      rss oom_score_adj name\n"));
	CHECK(!OOM("6,7,0,-;out of memory: killed process 1\n"));
	/* A pattern cut by the end of the buffer does not count. */
	CHECK(!hm_kmsg_shows_oom("Out of memory: Killed", 12));
	CHECK(!hm_kmsg_shows_oom("oom-kill:", 8));
	CHECK(!hm_kmsg_shows_oom(NULL, 0));
}

int main(void)
{
	CHECK_CASE(test_codes_and_markers());
	CHECK_CASE(test_signal_names());
	CHECK_CASE(test_small_buffers());
	CHECK_CASE(test_kmsg());
	return check_done();
}
