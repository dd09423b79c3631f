/*
 * hypeman run: what an initrd carries (initrd.c), read once from its
 * first cpio archive.
 */
#ifndef HR_INITRD_H
#define HR_INITRD_H 1

#include <stdbool.h>

struct hr_initrd_info {
	char releases[512];	/* lib/modules/<release>, ", "-separated */
	unsigned elf_machine;	/* e_machine of its init or bin/busybox; 0: unknown */
	bool has_gpu;		/* etc/hypeman/gpu: a GPU driver bundle */
};

/* 0, or -1 when it cannot be read as a cpio archive (QEMU will say why). */
int hr_initrd_scan(const char *path, struct hr_initrd_info *info);

#endif
