/*
 * Phase gpu, after the switch: nvidia-persistenced, when the bundle
 * carries it and the driver loaded, started with --uvm-persistence-mode
 * before the program, as kata's GPU guest does (it keeps the GPUs
 * initialised and UVM's state between programs).
 *
 * Exec mode: run like a shell would, chrooted into the image; the
 * daemon forks and its first process exits once the daemon is ready,
 * which init waits for (bounded). The daemon is then PID 1's child
 * (orphans are), reaped like the rest; at shutdown it is stopped first,
 * before everything else gets SIGTERM, and waited for (bounded).
 * Systemd mode: a runtime unit in /run/systemd/system, enabled for
 * multi-user.target, so that it is systemd's to start and stop.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += gpu_persistenced.o

#include "libbb.h"
#include "hypeman.h"
#include "confine.h"

#define DAEMON    "/usr/bin/nvidia-persistenced"
#define PID_FILE  "/var/run/nvidia-persistenced/nvidia-persistenced.pid"
#define UNIT_DIR  "/run/systemd/system"
#define UNIT_NAME "hypeman-nvidia-persistenced.service"
#define START_TIMEOUT_MS 30000
#define STOP_TIMEOUT_MS  10000

static const char unit_text[] =
	"[Service]\n"
	"Type=forking\n"
	"PIDFile=" PID_FILE "\n"
	"ExecStart=" DAEMON " --uvm-persistence-mode\n"
	"[Install]\n"
	"WantedBy=multi-user.target\n";

static pid_t daemon_pid;

static void start_daemon(struct hm_boot *b)
{
	char *const argv[] = { (char *)"nvidia-persistenced", (char *)"--uvm-persistence-mode", NULL };
	int status = hm_run_in_image(b, "gpu", DAEMON, argv, START_TIMEOUT_MS);
	char *pid;

	/* -1: the runner logged why (no fork, a signal, the bound) */
	if (status != 0) {
		if (status > 0)
			hm_log(HM_ERROR, "gpu", "%s failed (exit code %d)", DAEMON, status);
		return;
	}
	pid = xmalloc_open_read_close(PID_FILE, NULL);
	daemon_pid = pid ? bb_strtou(pid, NULL, 10) : 0;
	free(pid);
	if (daemon_pid <= 1)
		daemon_pid = 0;
	hm_log(HM_INFO, "gpu", "%s ready (pid %d)", DAEMON, (int)daemon_pid);
}

void FAST_FUNC hm_gpu_start_persistenced(struct hm_boot *b)
{
	/* the bundle carries it (its image is under HM_DISKS_DIR since the
	 * switch) and the driver loaded */
	if (access(HM_DISKS_DIR "/gpu" DAEMON, X_OK) != 0 || access("/proc/driver/nvidia", F_OK) != 0)
		return;
	if (b->mode != HM_MODE_SYSTEMD) {
		start_daemon(b);
		return;
	}
	if (hm_write_in_image(b, "gpu", UNIT_DIR "/" UNIT_NAME, unit_text, sizeof(unit_text) - 1, 0644) == 0
	 && hm_symlink_in_root(b->newroot_fd, "../" UNIT_NAME, UNIT_DIR "/multi-user.target.wants/" UNIT_NAME) != 0)
		hm_log_errno(HM_ERROR, "gpu", errno, "cannot enable %s", UNIT_NAME);
}

void FAST_FUNC hm_gpu_stop_persistenced(void)
{
	/* it is PID 1's child since its first process exited */
	if (daemon_pid <= 0 || kill(daemon_pid, SIGTERM) != 0)
		return;
	/* past the bound the runner kills it and logs so */
	if (hm_spawn_wait("shutdown", DAEMON, daemon_pid, STOP_TIMEOUT_MS) != -1)
		hm_log(HM_INFO, "shutdown", "stopped %s (pid %d)", DAEMON, (int)daemon_pid);
	daemon_pid = 0;
}
