/*
 * hypeman-init: what the boot phases share.
 *
 * Each phase lives in its own file; boot() in applets/hypeman_init.c calls
 * them in the order of contract: Boot phases. Every phase brackets
 * itself the same way: it starts with hm_phase_begin(NAME) and, on every
 * path where the boot goes on, ends with one hm_phase_end(NAME, summary)
 * (the line with dur_ms). A phase whose failure is fatal (mount, overlay,
 * config, switch) returns 0, or -1 after logging an ERROR, and boot()
 * calls hm_fatal(); the others return void, their failures logged as
 * ERRORs.
 *
 * Pure modules: json, config, detect, exit_status, envfile, moddep,
 * fstype, confine, logline, cmdline and env use libc only (no libbb.h,
 * no hm_log) and have their own headers, so that they build on the host
 * for the unit tests (tests/unit/run.sh compiles them with busybox's
 * flags too), and json and detect for host/. Everything else is the init's and uses
 * busybox's libbb.
 *
 * Comments: file headers and comments of three lines or more open and
 * close on lines of their own; shorter ones open and close on their text.
 */
#ifndef HM_HYPEMAN_H
#define HM_HYPEMAN_H 1

#include <stdbool.h>
#include <sys/mount.h>
#include <sys/utsname.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include "config.h"
#include "detect.h"
#include "cmdline.h"
#include "env.h"

PUSH_AND_SET_FUNCTION_VISIBILITY_TO_HIDDEN

/* Where the initrd puts things (contract: Boot phases); the disks
 * (contract: Devices) are the contract layer's (disks.h). */
#define HM_LOWER         "/lower"
#define HM_OVERLAY       "/overlay"
/* The overlay's mount point: in the initramfs, not on the overlay disk,
 * where making it would cost a journalled mkdir. */
#define HM_NEWROOT       "/newroot"
#define HM_CONFIG_MNT    "/mnt/config"
#define HM_CONFIG_FILE   "/mnt/config/config.json"
#define HM_MODULE_LIST   "/etc/hypeman/modules"
#define HM_AGENT_SRC     "/usr/local/bin/guest-agent"
#define HM_AGENT_DST     "/opt/hypeman/guest-agent"
#define HM_AGENT_READY   "/run/hypeman/guest-agent-ready"
#define HM_AGENT_READY_FD 3     /* the agent's end of the readiness pipe */
/* After the switch, the image and overlay disks stay reachable here so
 * that shutdown can unmount them (both modes). */
#define HM_DISKS_DIR     "/run/hypeman/disks"
/* The initrd's optional bundles (build.sh --gpu-driver, --kernel-headers):
 * a list naming what it holds, and the squashfs image itself. */
#define HM_IMAGE_MODULES  "/etc/hypeman/image-modules"  /* loop, squashfs */
#define HM_GPU_LIST       "/etc/hypeman/gpu"
#define HM_GPU_IMAGE      "/hypeman/gpu.sqfs"
#define HM_HEADERS_LIST   "/etc/hypeman/headers"
#define HM_HEADERS_IMAGE  "/hypeman/headers.sqfs"

/* Device nodes appear asynchronously once the driver binds. */
#define HM_DEVICE_TIMEOUT_MS 5000
/* Disk mounts staged in the initramfs: vda, vdb, two per overlay volume,
 * the GPU bundle. */
#define HM_MAX_STAGED    (2 + 2 * HM_MAX_VOLUMES + 1)

/* ---- log.c: JSON Lines on the console (contract: Log) ---- */
enum hm_level { HM_INFO, HM_WARN, HM_ERROR };
void hm_log(enum hm_level level, const char *phase, const char *fmt, ...) FAST_FUNC
	__attribute__ ((format (printf, 3, 4)));
/* Same, with "error":strerror(err) */
void hm_log_errno(enum hm_level level, const char *phase, int err, const char *fmt, ...) FAST_FUNC
	__attribute__ ((format (printf, 4, 5)));
/* An INFO line only with hypeman.debug=1: the per-item detail (each
 * module, each disk) under a phase's one summary line. */
void hm_debug(const char *phase, const char *fmt, ...) FAST_FUNC
	__attribute__ ((format (printf, 2, 3)));
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

/* ---- state.c: the state shared by the phases, and its defaults ---- */
struct hm_boot {
	struct hm_cmdline cmdline;
	struct hm_config cfg;
	enum hm_mode mode;
	/* vda's filesystem by its superblock, from the modules phase (which
	 * loads its driver), or NULL: the overlay phase looks itself */
	const char *rootfs_type;
	int newroot_fd;         /* O_PATH fd of HM_NEWROOT, for confined paths */
	/* The initramfs after the switch, until hm_release_initramfs */
	int oldroot_fd;
	/* Disk mounts in the initramfs that the root or a volume is made
	 * of; switch_root.c moves them under HM_DISKS_DIR. */
	struct hm_staged { char *path; char *name; } staged[HM_MAX_STAGED];
	int n_staged;
};
/* The one instance, with every default set (like busybox init's G). */
struct hm_boot *hm_boot_init(void) FAST_FUNC;
extern struct hm_boot *hm_boot_state;   /* for the die hook */
/* The kernel command line's hypeman.* options over the defaults. */
void hm_read_cmdline(struct hm_boot *b) FAST_FUNC;
/* Remember an initramfs mount for the move at switch time. */
void hm_stage_mount(struct hm_boot *b, const char *path, const char *name) FAST_FUNC;

/* ---- the phases, in boot order ---- */
int hm_mount_early(void) FAST_FUNC;                     /* mounts.c: mount */
void hm_load_modules(struct hm_boot *b) FAST_FUNC;      /* modules.c: modules */
int hm_mount_overlay(struct hm_boot *b) FAST_FUNC;      /* overlay.c: overlay */
int hm_read_config(struct hm_boot *b) FAST_FUNC;        /* config_disk.c: config */
void hm_mount_volumes(struct hm_boot *b) FAST_FUNC;     /* volumes.c: volumes */
void hm_setup_network(struct hm_boot *b) FAST_FUNC;     /* network.c: network */
void hm_install_egress_ca(struct hm_boot *b) FAST_FUNC; /* egress_ca.c: egress-ca */
void hm_setup_gpu(struct hm_boot *b) FAST_FUNC;         /* gpu.c: gpu */
void hm_install_agent(struct hm_boot *b) FAST_FUNC;     /* agent.c: agent */
void hm_prepare_headers(struct hm_boot *b) FAST_FUNC;   /* headers.c: headers (before the switch) */
int hm_switch_root(struct hm_boot *b) FAST_FUNC;        /* switch_root.c: switch */
void hm_start_headers(struct hm_boot *b) FAST_FUNC;     /* headers.c: headers (after it) */
/* What the switch left for later, off the program's path: the config
 * disk unmounted (config_disk.c), the initramfs's files freed
 * (switch_root.c). PHASE: the one under way, for its WARNs. */
void hm_release_initramfs(struct hm_boot *b, const char *phase) FAST_FUNC;
void hm_unmount_config(int oldroot_fd, const char *phase) FAST_FUNC;
void hm_run_exec(struct hm_boot *b) NORETURN FAST_FUNC;     /* exec_mode.c: agent-start, exec */
void hm_run_systemd(struct hm_boot *b) NORETURN FAST_FUNC;  /* systemd_mode.c: systemd */

/* ---- stop.c: stop requests before the program ---- */
/* SIGTERM and SIGINT (Ctrl-Alt-Del): the signals that ask for a stop. */
void hm_stop_sigset(sigset_t *set) FAST_FUNC;
/* When a stop request is pending, log it (WHERE: "after the modules"...)
 * and shut down; else return at once. */
void hm_stop_point(struct hm_boot *b, const char *where) FAST_FUNC;

/* ---- pids_limit.c: hypeman.pids_max ---- */
/* The program's cgroup with pids.max PIDS_MAX (0: none): its
 * cgroup.procs open for writing, or -1 (no limit, or an ERROR logged). */
int hm_program_cgroup(unsigned pids_max) FAST_FUNC;
/* Child side: move the caller into that cgroup (PROCS_FD < 0: nothing). */
void hm_join_program_cgroup(int procs_fd) FAST_FUNC;

/* ---- image_files.c ---- */
/* Create or replace PATH in the image (confined), failures and replaced
 * symlinks logged under PHASE. 0 or -1. */
int hm_write_in_image(struct hm_boot *b, const char *phase, const char *path,
		const void *data, size_t len, mode_t mode) FAST_FUNC;

/* ---- devices.c ---- */
/*
 * Polls (a few ms per step) until PATH exists with file TYPE (S_IFBLK,
 * S_IFDIR...; symlinks followed). 0, or -1 after HM_DEVICE_TIMEOUT_MS
 * with an ERROR under PHASE: "WHAT PATH did not appear within N ms".
 */
int hm_wait_for(const char *phase, const char *what, const char *path, mode_t type) FAST_FUNC;
/*
 * The modaliases of the devices present on the buses that device patterns
 * starting "PREFIX:" name, for PREFIXES[0..N) ("pci", "virtio", "of"...):
 * /sys/bus/BUS/devices/DEV/modalias, malloc'ed, in *MODALIASES (NULL at
 * the end). Their count, or -1 without /sys/bus.
 */
int hm_device_modaliases(char *const *prefixes, int n, char ***modaliases) FAST_FUNC;
/* The filesystem on disk DEV by its superblock ("ext4", "erofs"), or NULL
 * (unknown type, or *ERR set: the errno of the open or read). */
const char *hm_disk_fstype(const char *dev, int *err) FAST_FUNC;

/* ---- mount helpers (mounts.c) ---- */
/* mount(2) with the failure logged (phase, source, target, type). */
int hm_mount(const char *phase, const char *src, const char *target,
		const char *type, unsigned long flags, const char *data) FAST_FUNC;
/* mount(2) of the ext4 disk DEV, a failure logged as "WHAT DEV: ...
 * expected an ext4 filesystem" (WHAT: "overlay disk", "config disk"). */
int hm_mount_disk(const char *phase, const char *what, const char *dev,
		const char *target, unsigned long flags, const char *data) FAST_FUNC;
/* mkdir -p for initramfs paths (ours, trusted). */
int hm_mkdir(const char *phase, const char *path, mode_t mode) FAST_FUNC;

/* ---- spawn.c: busybox applets in a child ---- */
/*
 * Forks a child that runs applet ARGV[0] of this busybox (no exec), with
 * SETUP (may be NULL) run in it first. Returns the child's pid, or -1
 * after an ERROR under PHASE.
 */
pid_t hm_fork_applet(const char *phase, const char *const *argv, void (*setup)(void)) FAST_FUNC;
/* The same, waited for: its exit status (0..255), or -1 when it could not
 * run or was killed. */
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

/* ---- rescue.c: contract: Failure ---- */
void hm_fatal(struct hm_boot *b, const char *phase, const char *fmt, ...) NORETURN FAST_FUNC
	__attribute__ ((format (printf, 3, 4)));
/* die_func for busybox's x*() helpers inside PID 1. */
void hm_die_hook(void) FAST_FUNC;

POP_SAVED_FUNCTION_VISIBILITY

#endif
