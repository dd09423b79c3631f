/*
 * hypeman-init: what the boot phases share.
 *
 * Each phase lives in its own file; applets/hypeman_init.c calls them in
 * SPEC order. A phase returns 0, or -1 after logging an ERROR line; the
 * caller decides whether that is fatal.
 */
#ifndef HYPEMAN_H
#define HYPEMAN_H 1

#include <stdbool.h>
#include <sys/mount.h>
#include <sys/utsname.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include "config.h"
#include "detect.h"

PUSH_AND_SET_FUNCTION_VISIBILITY_TO_HIDDEN

/* Where the initrd puts things (SPEC: Devices, Boot phases). */
#define HM_DEV_ROOTFS    "/dev/vda"
#define HM_DEV_OVERLAY   "/dev/vdb"
#define HM_DEV_CONFIG    "/dev/vdc"
#define HM_LOWER         "/lower"
#define HM_OVERLAY       "/overlay"
#define HM_NEWROOT       "/overlay/newroot"
#define HM_CONFIG_MNT    "/mnt/config"
#define HM_CONFIG_FILE   "/mnt/config/config.json"
#define HM_MODULE_LIST   "/etc/hypeman/modules"
#define HM_AGENT_SRC     "/usr/local/bin/guest-agent"
#define HM_AGENT_DST     "/opt/hypeman/guest-agent"
#define HM_AGENT_READY   "/run/hypeman/guest-agent-ready"
/* After the switch, the image and overlay disks stay reachable here so
 * that shutdown can unmount them (both modes). */
#define HM_DISKS_DIR     "/run/hypeman/disks"
#define HM_DEFAULT_PATH  "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* The initrd's optional bundles (build.sh --gpu-driver, --kernel-headers):
 * a list naming what it holds, and the squashfs image itself. */
#define HM_IMAGE_MODULES  "/etc/hypeman/image-modules"  /* loop, squashfs */
#define HM_GPU_LIST       "/etc/hypeman/gpu"
#define HM_GPU_IMAGE      "/hypeman/gpu.sqfs"
#define HM_HEADERS_LIST   "/etc/hypeman/headers"
#define HM_HEADERS_IMAGE  "/hypeman/headers.sqfs"

/* Device nodes appear asynchronously once the driver binds. */
#define HM_DEVICE_TIMEOUT_MS 5000

/* ---- log.c: JSON Lines on the console (SPEC: Log) ---- */
enum hm_level { HM_INFO, HM_WARN, HM_ERROR };
void hm_log(enum hm_level level, const char *phase, const char *fmt, ...) FAST_FUNC
	__attribute__ ((format (printf, 3, 4)));
/* Same, with "error":strerror(err) */
void hm_log_errno(enum hm_level level, const char *phase, int err, const char *fmt, ...) FAST_FUNC
	__attribute__ ((format (printf, 4, 5)));
/* Phase timing: begin remembers the time; end logs msg with "dur_ms". */
void hm_phase_begin(const char *phase) FAST_FUNC;
void hm_phase_end(const char *phase, const char *fmt, ...) FAST_FUNC
	__attribute__ ((format (printf, 2, 3)));
unsigned long long hm_uptime_ms(void) FAST_FUNC;
/* Time until DEADLINE_MS (hm_uptime_ms clock) in *LEFT; false once past. */
bool hm_time_left(unsigned long long deadline_ms, struct timespec *left) FAST_FUNC;
/* Plain line (markers), written in one write(2). */
void hm_console_line(const char *line) FAST_FUNC;
/* HYPEMAN-PROGRAM-START ts=<RFC3339 UTC, ns> mode=MODE */
void hm_program_start_marker(const char *mode) FAST_FUNC;

/* ---- console.c ---- */
int hm_console_open(void) FAST_FUNC;     /* fd 1 and 2 on the best console */
const char *hm_console_path(void) FAST_FUNC;

/* ---- cmdline.c: kernel command line options ---- */
struct hm_cmdline {
	bool rescue;           /* hypeman.rescue=0 turns the rescue shell off */
	unsigned grace_s;      /* hypeman.grace=SECONDS, default 10 */
};
void hm_cmdline_read(struct hm_cmdline *c) FAST_FUNC;

/* ---- state shared by the phases ---- */
struct hm_boot {
	struct hm_cmdline cmdline;
	struct hm_config cfg;
	bool have_cfg;
	enum hm_mode mode;
	int newroot_fd;         /* O_PATH fd of HM_NEWROOT, for confined paths */
	/* Disk mounts in the initramfs that the root or a volume is made
	 * of; switch_root.c moves them under HM_DISKS_DIR. */
	struct hm_staged { char *path; char *name; } staged[2 + 2 * 32 + 1];  /* + the GPU bundle */
	int n_staged;
};
/* Remember an initramfs mount for the move at switch time. */
void hm_stage_mount(struct hm_boot *b, const char *path, const char *name) FAST_FUNC;

/* ---- the phases, in boot order ---- */
int hm_mount_early(void) FAST_FUNC;                     /* mounts.c */
void hm_load_modules(void) FAST_FUNC;                   /* modules.c */
int hm_mount_overlay(struct hm_boot *b) FAST_FUNC;      /* overlay.c */
int hm_read_config(struct hm_boot *b) FAST_FUNC;        /* config_disk.c */
void hm_mount_volumes(struct hm_boot *b) FAST_FUNC;     /* volumes.c */
void hm_setup_network(struct hm_boot *b) FAST_FUNC;     /* network.c */
void hm_install_egress_ca(struct hm_boot *b) FAST_FUNC; /* egress_ca.c */
void hm_setup_gpu(struct hm_boot *b) FAST_FUNC;         /* gpu.c */
void hm_install_agent(struct hm_boot *b) FAST_FUNC;     /* agent.c */
void hm_prepare_headers(struct hm_boot *b) FAST_FUNC;   /* headers.c */
int hm_switch_root(struct hm_boot *b) FAST_FUNC;        /* switch_root.c */
void hm_start_headers(struct hm_boot *b) FAST_FUNC;     /* headers.c */
void hm_run_exec(struct hm_boot *b) NORETURN FAST_FUNC;     /* exec_mode.c */
void hm_run_systemd(struct hm_boot *b) NORETURN FAST_FUNC;  /* systemd_mode.c */

/* ---- image_files.c ---- */
/* Create or replace PATH in the image (confined), failures and replaced
 * symlinks logged under PHASE. 0 or -1. */
int hm_write_in_image(struct hm_boot *b, const char *phase, const char *path,
		const void *data, size_t len, mode_t mode) FAST_FUNC;

/* ---- devices.c ---- */
/* Poll (a few ms per step) until PATH exists with file TYPE (S_IFBLK,
 * S_IFDIR...; symlinks followed). 0, or -1 after TIMEOUT_MS. */
int hm_wait_for(const char *path, mode_t type, unsigned timeout_ms) FAST_FUNC;

/* ---- mount helpers (mounts.c) ---- */
/* mount(2) with the failure logged (phase, source, target, type). */
int hm_mount(const char *phase, const char *src, const char *target,
		const char *type, unsigned long flags, const char *data) FAST_FUNC;
/* mkdir -p for initramfs paths (ours, trusted). */
int hm_mkdir(const char *phase, const char *path, mode_t mode) FAST_FUNC;

/* ---- environment for the program (env.c) ---- */
/* NULL-terminated "K=V" array: config env (invalid keys dropped with a
 * WARN) plus PATH and HOME when absent. */
char **hm_build_env(const struct hm_config *cfg, const char *phase) FAST_FUNC;
/* argv = entrypoint + cmd; NULL when both are empty. */
char **hm_build_argv(const struct hm_config *cfg) FAST_FUNC;
/* Child side before exec: default dispositions, empty mask. */
void hm_reset_signals(void) FAST_FUNC;
/* execve with the PATH of ENV (not init's) for a bare name. Returns only
 * on failure, with errno EACCES when some candidate was not executable. */
void hm_execvpe(char **argv, char **env) FAST_FUNC;
/* The signals PID 1 keeps blocked and takes with sigwaitinfo. */
void hm_pid1_sigset(sigset_t *set) FAST_FUNC;

/* ---- spawn.c: busybox applets in a child ---- */
/* Runs applet ARGV[0] in a forked child (no exec); returns its exit status
 * (0..255), or -1 when it could not run or was killed. */
int hm_run_applet(const char *phase, const char *const *argv) FAST_FUNC;

/* ---- GPU and kernel headers (gpu*.c, headers.c, initrd_image.c) ---- */
struct hm_modplan;
/* The load plan for WANTED from DIR's depmod files; a missing module is
 * an ERROR under PHASE. 0 or -1; free PLAN with hm_modplan_free either way. */
int hm_plan_modules(const char *phase, const char *dir, char *const *wanted,
		int n_wanted, struct hm_modplan *plan) FAST_FUNC;
/* finit_module of each planned module under DIR, with OPTIONS(name)
 * (may be NULL); stops at the first required one that fails. 0 or -1. */
int hm_load_plan(const char *phase, const char *dir, const struct hm_modplan *plan,
		const char *(*options)(const char *name)) FAST_FUNC;
/* Opens the files of the modules that mounting an image needs (the list
 * HM_IMAGE_MODULES, in load order), at most MAX: the count, or -1 (logged). */
int hm_image_modules_open(const char *phase, int *fds, int max) FAST_FUNC;
/* finit_module of each of FDS[0..N) (closed); 0 or -1 (logged). */
int hm_image_modules_load(const char *phase, int *fds, int n) FAST_FUNC;
/* Mounts the squashfs image open as FD read-only on TARGET (made) through
 * an autoclear loop device. 0 or -1 (logged). */
int hm_mount_initrd_image(const char *phase, int fd, const char *target) FAST_FUNC;
/* The /dev/nvidia* nodes; the number of GPUs, or -1 (logged). */
int hm_gpu_make_nodes(void) FAST_FUNC;
/* The bundle mounted at BUNDLE: its userspace into the image. */
void hm_gpu_inject(struct hm_boot *b, const char *bundle) FAST_FUNC;
/* The hypeman-headers-wait applet: exit status. */
int hm_headers_wait(void) FAST_FUNC;

/* ---- shutdown.c ---- */
/* Kill everything, unmount, power off. Never returns. */
void hm_shutdown(unsigned grace_s) NORETURN FAST_FUNC;
/* The last steps only: sync, unmount what is left, power off. */
void hm_poweroff(const char *phase) NORETURN FAST_FUNC;
/* The same with reboot(2)'s CMD (RB_POWER_OFF, RB_AUTOBOOT, RB_HALT_SYSTEM). */
void hm_poweroff_cmd(const char *phase, int cmd) NORETURN FAST_FUNC;

/* ---- rescue.c: SPEC Failure ---- */
void hm_fatal(struct hm_boot *b, const char *phase, const char *fmt, ...) NORETURN FAST_FUNC
	__attribute__ ((format (printf, 3, 4)));
/* die_func for busybox's x*() helpers inside PID 1. */
void hm_die_hook(void) FAST_FUNC;
extern struct hm_boot *hm_boot_state;

POP_SAVED_FUNCTION_VISIBILITY

#endif
