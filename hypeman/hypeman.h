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
 * Pure modules use libc only (no libbb.h, no hm_log) and have their own
 * headers, so that they build on the host for the unit tests
 * (tests/unit/run.sh compiles them with busybox's flags too): here
 * exit_status, envfile, moddep, fstype, confine, cmdline, env, interp,
 * nvinfo and pem; and the contract layer (contract/: json, config, detect,
 * logline, marker, rmtree, disks.h), which host/ compiles too. Everything
 * else here is the init's and uses busybox's libbb.
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
#include "log.h"
#include "mounts.h"
#include "shutdown.h"
#include "spawn.h"
#include "bundles.h"

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

/* Disk mounts staged in the initramfs: vda, vdb, two per overlay volume,
 * the GPU bundle. */
#define HM_MAX_STAGED    (2 + 2 * HM_MAX_VOLUMES + 1)

/* ---- state.c: the state shared by the phases, and its defaults ---- */
struct hm_boot {
	struct hm_cmdline cmdline;
	/* /proc/cmdline as read at boot ("" when unreadable): the modules
	 * phase takes each module's options from it */
	const char *cmdline_text;
	struct hm_config cfg;
	enum hm_mode mode;
	/* vda's filesystem by its superblock, from the modules phase (which
	 * loads its driver), or NULL: the overlay phase looks itself */
	const char *rootfs_type;
	int newroot_fd;         /* O_PATH fd of HM_NEWROOT, for confined paths */
	bool no_agent;          /* the initrd carries no guest agent (phase agent) */
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
void hm_update_ca_certificates(struct hm_boot *b) FAST_FUNC; /* egress_ca.c: egress-ca (after it) */
/* What the switch left for later, off the program's path: the config
 * disk unmounted (config_disk.c), the initramfs's files freed
 * (switch_root.c). PHASE: the one under way, for its WARNs. */
void hm_release_initramfs(struct hm_boot *b, const char *phase) FAST_FUNC;
void hm_unmount_config(int oldroot_fd, const char *phase) FAST_FUNC;
void hm_run_exec(struct hm_boot *b) NORETURN FAST_FUNC;     /* exec_mode.c: agent-start, exec */
/* exec_mode.c: the HYPEMAN-EXIT marker of CODE and MESSAGE (contract: Markers) */
void hm_exit_marker_out(int code, const char *message) FAST_FUNC;
void hm_run_systemd(struct hm_boot *b) NORETURN FAST_FUNC;  /* systemd_mode.c: systemd */

/* ---- pids_limit.c: hypeman.pids_max ---- */
/* The program's cgroup with pids.max PIDS_MAX (0: none): its
 * cgroup.procs open for writing, or -1 (no limit, or an ERROR logged). */
int hm_program_cgroup(unsigned pids_max) FAST_FUNC;
/* Child side: move the caller into that cgroup (PROCS_FD < 0: nothing). */
void hm_join_program_cgroup(int procs_fd) FAST_FUNC;

POP_SAVED_FUNCTION_VISIBILITY

#endif
