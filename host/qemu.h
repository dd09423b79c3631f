/*
 * hypeman run: booting the microVM in QEMU and watching it to the end
 * (qemu.c).
 */
#ifndef HR_QEMU_H
#define HR_QEMU_H 1

#include <stdbool.h>
#include <stddef.h>
#include "serial.h"		/* HR_HOST_STEPS */

struct hr_target;

struct hr_disk {
	const char *path;
	bool readonly;
};

/* What to boot, and how. */
struct hr_vm {
	const struct hr_target *target;
	const char *kernel, *initrd, *append_extra;
	struct hr_disk *disks;	/* vda, vdb, ... in this order */
	size_t n_disks;
	bool network, interactive, systemd, timings;
	unsigned mem_mb, cpus;
	unsigned timeout_s;	/* 0: none */
	const char *sockdir;	/* QMP and agent sockets */
	bool skip_guest_agent;	/* no port for the guest agent */
	const char *log_path;	/* the init's JSON log lines go there */
	const char *program;	/* argv[0] of the program, for the notices */
	char *const *gpus;	/* host PCI addresses for vfio-pci */
	size_t n_gpus;
	bool print_only;	/* --print-qemu: print the command, do not run it */
	double host_s[HR_HOST_STEPS];	/* --timings: the host steps (seconds) */
};

/* Boots the VM, shows its console, returns the exit status for
 * `hypeman run` (see README.md). With print_only, prints QEMU's command
 * line (shell-quoted, one line) on stdout instead and returns 0. */
int hr_qemu_run(const struct hr_vm *b);

#endif
