/*
 * libFuzzer target: a disk's filesystem type from its first bytes
 * (hypeman/fstype.c), as the modules and overlay phases read vda's.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fstype.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *type = hm_fstype_probe(data, size);

	if (type && strcmp(type, "ext4") != 0 && strcmp(type, "erofs") != 0)
		abort();
	return 0;
}
