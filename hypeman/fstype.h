/*
 * hypeman-init: which filesystem a disk holds, from its superblock magic,
 * so that init loads and mounts exactly that type (no trial mounts: a
 * mount of a type whose module is not loaded makes the kernel run
 * /sbin/modprobe).
 */
#ifndef HM_FSTYPE_H
#define HM_FSTYPE_H 1

#include <stddef.h>

/* Bytes from the start of a disk that hm_fstype_probe looks at. */
#define HM_FSTYPE_PROBE_BYTES 2048

/*
 * The type to mount the disk whose first LEN bytes are BUF as: "ext4"
 * (ext2, ext3 and ext4 superblocks: the ext4 driver mounts all three) or
 * "erofs"; NULL for anything else or a short read.
 */
const char *hm_fstype_probe(const unsigned char *buf, size_t len);

#endif
