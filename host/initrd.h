/*
 * hypeman run: what an initrd is (the kernel unpacks it, or refuses it)
 * and what it carries (initrd.c), read once from its first archive.
 */
#ifndef HR_INITRD_H
#define HR_INITRD_H 1

#include <stdbool.h>

struct hr_initrd_info {
	char releases[512];	/* lib/modules/<release>, ", "-separated */
	unsigned elf_machine;	/* e_machine of its init or bin/busybox; 0: unknown */
	bool has_gpu;		/* etc/hypeman/gpu: a GPU driver bundle */
	bool scanned;		/* its first archive was read (the fields above) */
	const char *format;	/* "cpio" (uncompressed), or the compression's name */
	char why[256];		/* why it is not an initrd */
};

/* 0: the kernel would unpack it (what it carries as far as this libarchive
 * reads it); 1: it would not ("Initramfs unpacking failed"), info->why says
 * why; -1: it cannot be opened (errno). */
int hr_initrd_scan(const char *path, struct hr_initrd_info *info);

#endif
