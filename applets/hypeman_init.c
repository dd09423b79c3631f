/* vi: set sw=4 ts=4: */
/*
 * hypeman-init: PID 1 of a hypeman microVM.
 *
 * Assembles the image's root (read-only image disk + writable overlay
 * disk), reads the config disk, mounts volumes, sets up the network,
 * installs the guest agent, switches root once, then runs the program
 * (exec mode: as its PID 1) or hands PID 1 to the image's systemd.
 * The contract is docs/guest-contract.md; each phase is a file in hypeman/.
 *
 * Licensed under GPLv2, see file LICENSE in this source tree.
 */
//config:config HYPEMAN_INIT
//config:	bool "hypeman-init (PID 1 of hypeman microVMs)"
//config:	default y
//config:	select PLATFORM_LINUX
//config:	help
//config:	The init of hypeman microVMs: mounts the image rootfs as an
//config:	overlay, reads /config.json from the config disk, sets up
//config:	volumes and network, installs the guest agent, switches root
//config:	and runs the program (exec mode) or the image's systemd.
//config:	Also answers to "init" (the kernel runs /init) and to
//config:	"shutdown" (systemd-shutdown's /run/initramfs/shutdown) and to
//config:	"hypeman-headers-wait" (the kernel headers' systemd unit).

//applet:IF_HYPEMAN_INIT(APPLET_ODDNAME(hypeman-init, hypeman_init, BB_DIR_SBIN, BB_SUID_DROP, hypeman_init))
//applet:IF_HYPEMAN_INIT(APPLET_ODDNAME(init, hypeman_init, BB_DIR_ROOT, BB_SUID_DROP, hypeman_init))
//applet:IF_HYPEMAN_INIT(APPLET_ODDNAME(shutdown, hypeman_init, BB_DIR_SBIN, BB_SUID_DROP, hypeman_init))
//applet:IF_HYPEMAN_INIT(APPLET_ODDNAME(hypeman-headers-wait, hypeman_init, BB_DIR_SBIN, BB_SUID_DROP, hypeman_init))

//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += hypeman_init.o

//usage:#define hypeman_init_trivial_usage
//usage:       ""
//usage:#define hypeman_init_full_usage "\n\n"
//usage:       "PID 1 of a hypeman microVM (run by the kernel as /init).\n"
//usage:       "Kernel command line: hypeman.rescue=0 (no rescue shell),\n"
//usage:       "hypeman.grace=SECONDS (SIGTERM to SIGKILL at shutdown, default 10),\n"
//usage:       "hypeman.pids_max=N (at most N processes in the exec-mode program),\n"
//usage:       "hypeman.ca_timeout=SECONDS (the image's update-ca-certificates, default 300),\n"
//usage:       "hypeman.debug=1 (a log line per module, disk and volume too)"

#include "libbb.h"
#include <sys/reboot.h>
#include "../hypeman/hypeman.h"

/* contract: Boot phases. One order for both modes; each phase brackets its
 * own log (see hypeman.h). */
static void NORETURN boot(struct hm_boot *b)
{
	if (hm_mount_early() != 0)
		hm_fatal(b, "mount", "cannot mount the kernel filesystems");
	hm_read_cmdline(b);

	hm_load_modules(b);
	/* virtio_console may have brought hvc0, the preferred console */
	hm_console_open();
	/* A stop request during boot ends it at the next stop point. */
	hm_stop_point(b, "before the disks were mounted");

	if (hm_mount_overlay(b) != 0)
		hm_fatal(b, "overlay", "no root filesystem");
	if (hm_read_config(b) != 0)
		hm_fatal(b, "config", "no usable config");
	hm_mount_volumes(b);
	hm_setup_network(b);
	hm_install_egress_ca(b);
	hm_setup_gpu(b);
	hm_install_agent(b);
	/* what the headers need from the initramfs, before the switch frees it */
	hm_prepare_headers(b);
	if (hm_switch_root(b) != 0)
		hm_fatal(b, "switch", "switch root failed");
	hm_stop_point(b, "during boot");
	/* the headers' worker, off the boot path */
	hm_start_headers(b);
	/* the image's own tool, now that the image is the root; its failure
	 * ends the boot (contract: Egress proxy CA) */
	hm_update_ca_certificates(b);
	/* needs the image's root: after the switch, before the program */
	hm_gpu_start_persistenced(b);

	if (b->mode == HM_MODE_SYSTEMD) {
		/* systemd will be PID 1: nothing of ours runs later */
		hm_release_initramfs(b, "systemd");
		hm_run_systemd(b);
	}
	/* frees the initramfs once the program runs */
	hm_run_exec(b);
}

/* systemd-shutdown's way back (see systemd_mode.c): argv[1] is the verb. */
static void NORETURN final_shutdown(char **argv)
{
	int cmd = RB_POWER_OFF;

	if (argv[1] && strcmp(argv[1], "reboot") == 0)
		cmd = RB_AUTOBOOT;
	else if (argv[1] && strcmp(argv[1], "halt") == 0)
		cmd = RB_HALT_SYSTEM;
	hm_phase_begin("shutdown");
	hm_log(HM_INFO, "shutdown", "back from systemd-shutdown (%s)", argv[1] ? argv[1] : "poweroff");
	hm_poweroff_cmd("shutdown", cmd);
}

int hypeman_init_main(int argc, char **argv) MAIN_EXTERNALLY_VISIBLE;
int hypeman_init_main(int argc UNUSED_PARAM, char **argv)
{
	struct hm_boot *b;
	sigset_t set;

	/* the runtime unit that orders dkms.service after the headers */
	if (strcmp(applet_name, "hypeman-headers-wait") == 0)
		return hm_headers_wait();
	if (getpid() != 1) {
		bb_simple_error_msg("must run as PID 1 (the kernel's /init)");
		return EXIT_FAILURE;
	}
	/* From here on nothing may end this process: busybox helpers that
	 * die go to the rescue path instead. */
	b = hm_boot_init();
	die_func = hm_die_hook;
	umask(022);
	/* PID 1's signals are taken synchronously (exec_mode.c); block them
	 * now so that none is lost before then. */
	hm_pid1_sigset(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);
	/* Ctrl-Alt-Del becomes SIGINT to PID 1: a graceful stop */
	reboot(RB_DISABLE_CAD);

	if (strcmp(applet_name, "shutdown") == 0)
		final_shutdown(argv);

	hm_log(HM_INFO, "boot", "hypeman-init starting");
	boot(b);
}
