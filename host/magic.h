/*
 * hypeman run: what the first bytes of a file say it is (magic.c): the
 * compressed formats the kernel unpacks an initramfs from (the table of
 * lib/decompress.c, with each format's whole magic, as its decompressor
 * checks it), lz4's frame format, and cpio's headers. Pure: initrd.c
 * checks an --initrd with it, layout.c names a compressed image archive.
 */
#ifndef HR_MAGIC_H
#define HR_MAGIC_H 1

#include <stdbool.h>
#include <stddef.h>

struct hr_magic {
	const char *name;	/* "gzip": also the kernel's CONFIG_RD_<NAME> */
	const char *unpack;	/* a command that decompresses FILE beside it */
	bool kernel;		/* the kernel unpacks an initramfs from it */
};

/* The compressed format the N bytes at P start with, or NULL. */
const struct hr_magic *hr_magic_compression(const unsigned char *p, size_t n);
/* The kernel's formats, ", "-separated ("gzip, bzip2, ..."), for messages. */
const char *hr_magic_kernel_names(void);

enum hr_magic_cpio {
	HR_CPIO_NONE,		/* no cpio header */
	HR_CPIO_NEWC,		/* "070701" or "070702": what the kernel reads */
	HR_CPIO_ODC,		/* "070707": the kernel refuses it */
};
enum hr_magic_cpio hr_magic_cpio(const unsigned char *p, size_t n);

#endif
