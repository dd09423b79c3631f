/*
 * hypeman-init: filesystem type from superblock magic (see fstype.h).
 * Pure: the caller reads the disk.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += fstype.o

#include <stdint.h>
#include "fstype.h"

/* Both superblocks start 1024 bytes into the disk; fields little-endian. */
#define SB_OFFSET        1024
#define EXT_MAGIC_OFF    (SB_OFFSET + 0x38)	/* s_magic, 16 bits */
#define EXT_MAGIC        0xEF53
#define EROFS_MAGIC_OFF  SB_OFFSET		/* magic, 32 bits */
#define EROFS_MAGIC      0xE0F5E1E2u

static uint32_t le(const unsigned char *p, int bytes)
{
	uint32_t v = 0;

	while (bytes--)
		v = v << 8 | p[bytes];
	return v;
}

const char *hm_fstype_probe(const unsigned char *buf, size_t len)
{
	if (len >= EROFS_MAGIC_OFF + 4 && le(buf + EROFS_MAGIC_OFF, 4) == EROFS_MAGIC)
		return "erofs";
	if (len >= EXT_MAGIC_OFF + 2 && le(buf + EXT_MAGIC_OFF, 2) == EXT_MAGIC)
		return "ext4";
	return NULL;
}
