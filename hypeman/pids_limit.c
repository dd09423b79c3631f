/*
 * hypeman.pids_max=N (cmdline.h): the exec-mode program and everything it
 * starts run in a cgroup of their own whose pids.max is N, so that a fork
 * bomb gets EAGAIN from fork instead of filling the process table. PID 1
 * and the guest agent stay outside it and keep working: the stop path
 * needs no fork, and the agent must still answer.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += pids_limit.o

#include "libbb.h"
#include "hypeman.h"

#define CG_ROOT    "/sys/fs/cgroup"
#define CG_PROGRAM CG_ROOT "/hypeman-program"

static int write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n = -1;

	if (fd >= 0) {
		n = write(fd, text, strlen(text));
		close(fd);
	}
	if (n == (ssize_t)strlen(text))
		return 0;
	hm_log_errno(HM_ERROR, "exec", errno, "pids limit: writing \"%s\" to %s failed", text, path);
	return -1;
}

int FAST_FUNC hm_program_cgroup(unsigned pids_max)
{
	char num[sizeof(int) * 3 + 1];
	int fd;

	if (!pids_max)
		return -1;
	if (mkdir(CG_PROGRAM, 0755) != 0 && errno != EEXIST) {
		hm_log_errno(HM_ERROR, "exec", errno, "pids limit: mkdir %s failed; the program runs without a limit",
			CG_PROGRAM);
		return -1;
	}
	sprintf(num, "%u", pids_max);
	if (write_text(CG_ROOT "/cgroup.subtree_control", "+pids")
	 || write_text(CG_PROGRAM "/pids.max", num))
		return -1;
	fd = open(CG_PROGRAM "/cgroup.procs", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		hm_log_errno(HM_ERROR, "exec", errno, "pids limit: cannot open %s", CG_PROGRAM "/cgroup.procs");
	else
		hm_log(HM_INFO, "exec", "the program runs in %s with pids.max %u", CG_PROGRAM, pids_max);
	return fd;
}

void FAST_FUNC hm_join_program_cgroup(int procs_fd)
{
	/* "0": the writer itself, before it execs or forks anything */
	if (procs_fd >= 0 && write(procs_fd, "0", 1) != 1)
		hm_log_errno(HM_ERROR, "exec", errno, "pids limit: cannot move the program into %s",
			CG_PROGRAM);
}
