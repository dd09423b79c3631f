/*
 * hypeman run: the steps of the command, in the order README.md gives
 * them (run.c), on options main.c has parsed and checked.
 */
#ifndef HR_RUN_H
#define HR_RUN_H 1

#include <stdbool.h>
#include <stddef.h>
#include "config.h"		/* struct hm_config */
#include "unpack.h"		/* struct hr_limits */
#include "util.h"

struct hr_target;

struct hr_opts {
	/*
	 * config.json as the options set it (contract: config.json):
	 * network_enabled and QEMU's addresses, volume_mounts' paths and
	 * modes, init_mode (NULL: auto), skip_guest_agent, has_gpu. An
	 * option for a new field sets it here; hr_run() adds what the image
	 * and the disks give.
	 */
	struct hm_config config;
	char **volume_disks;		/* --volume: the disk of each volume */
	const struct hr_target *target;	/* --arch, else the machine's */
	struct hr_strv env;		/* --env K=V, in order, over the image's */
	struct hr_strv gpus;		/* --gpu, as "dddd:bb:dd.f" */
	bool interactive, no_boot, timings, print_qemu;
	const char *kernel, *initrd, *keep, *rootfs_fs, *append, *log;
	unsigned memory, cpus, timeout;
	struct hr_limits limits;
	const char *image;
	char **command;			/* after IMAGE, or NULL */
};

/* The steps of `hypeman run`, completing o->config; the exit status. */
int hr_run(struct hr_opts *o);

#endif
