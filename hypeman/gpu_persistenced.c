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
	"[Unit]\n"
	"Description=Hypeman: NVIDIA persistence daemon (UVM persistence mode)\n"
	"\n"
	"[Service]\n"
	"Type=forking\n"
	"PIDFile=" PID_FILE "\n"
	"ExecStart=" DAEMON " --uvm-persistence-mode\n"
	"\n"
	"[Install]\n"
	"WantedBy=multi-user.target\n";

static bool wanted;
static pid_t daemon_pid;

void FAST_FUNC hm_gpu_note_persistenced(const char *bundle)
{
	char *path = concat_path_file(bundle, DAEMON);

	wanted = access(path, X_OK) == 0;
	free(path);
}

/* The daemon's pid from its pid file, or 0. */
static pid_t read_pid(void)
{
	char *text = xmalloc_open_read_close(PID_FILE, NULL);
	pid_t pid = text ? bb_strtou(text, NULL, 10) : 0;

	free(text);
	return pid > 1 ? pid : 0;
}

static void start_daemon(struct hm_boot *b)
{
	char *const argv[] = { (char *)"nvidia-persistenced", (char *)"--uvm-persistence-mode", NULL };
	int status = hm_gpu_run(b, DAEMON, argv, START_TIMEOUT_MS);

	if (status == -1) {
		hm_log(HM_ERROR, "gpu", "%s did not get ready within %u ms: killed", DAEMON, START_TIMEOUT_MS);
	} else if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		hm_log(HM_ERROR, "gpu", "%s --uvm-persistence-mode failed (wait status 0x%x)", DAEMON, status);
	} else {
		daemon_pid = read_pid();
		hm_log(HM_INFO, "gpu", "%s --uvm-persistence-mode ready (pid %d)", DAEMON, (int)daemon_pid);
	}
}

void FAST_FUNC hm_gpu_start_persistenced(struct hm_boot *b)
{
	if (!wanted)
		return;
	if (b->mode != HM_MODE_SYSTEMD) {
		start_daemon(b);
		return;
	}
	if (hm_write_in_image(b, "gpu", UNIT_DIR "/" UNIT_NAME, unit_text, sizeof(unit_text) - 1, 0644) == 0) {
		if (hm_symlink_in_root(b->newroot_fd, "../" UNIT_NAME, UNIT_DIR "/multi-user.target.wants/" UNIT_NAME) != 0)
			hm_log_errno(HM_ERROR, "gpu", errno, "cannot enable %s", UNIT_NAME);
		else
			hm_log(HM_INFO, "gpu", "%s starts %s --uvm-persistence-mode", UNIT_NAME, DAEMON);
	}
}

void FAST_FUNC hm_gpu_stop_persistenced(void)
{
	/* it is PID 1's child since its first process exited */
	if (daemon_pid <= 0 || kill(daemon_pid, SIGTERM) != 0)
		return;
	if (hm_gpu_wait(daemon_pid, STOP_TIMEOUT_MS) == -1)
		hm_log(HM_WARN, "shutdown", "%s (pid %d) did not stop within %u ms of SIGTERM: killed", DAEMON,
			(int)daemon_pid, STOP_TIMEOUT_MS);
	else
		hm_log(HM_INFO, "shutdown", "stopped %s (pid %d)", DAEMON, (int)daemon_pid);
	daemon_pid = 0;
}
