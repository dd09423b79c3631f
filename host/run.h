/*
 * hypeman run: the steps of the command, in the order README.md gives
 * them (run.c), on options main.c has parsed and checked.
 */
#ifndef HR_RUN_H
#define HR_RUN_H 1

#include <stdbool.h>
#include <stddef.h>
#include "unpack.h"		/* struct hr_limits */
#include "util.h"

struct hm_volume;
struct hr_target;

struct hr_opts {
	const struct hr_target *target;	/* --arch, else the machine's */
	const char *init_mode;		/* auto, exec, systemd; NULL: auto */
	struct hr_strv env;		/* --env K=V, in order */
	/* --volume: path and mode (devices are the run's to give), and the
	 * disk file of each */
	struct hm_volume *volumes;
	char **volume_disks;
	size_t n_volumes;
	struct hr_strv gpus;		/* --gpu, as "dddd:bb:dd.f" */
	bool network, interactive, skip_guest_agent, no_boot, timings, print_qemu;
	const char *kernel, *initrd, *keep, *rootfs_fs, *append, *log;
	unsigned memory, cpus, timeout;
	struct hr_limits limits;
	const char *image;
	char **command;			/* after IMAGE, or NULL */
};

/* The steps of `hypeman run`; the exit status. */
int hr_run(const struct hr_opts *o);

#endif
