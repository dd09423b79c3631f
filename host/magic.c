/*
 * hypeman run: what the first bytes of a file say it is (see magic.h).
 *
 * The kernel picks an initramfs segment's decompressor by its first two
 * bytes (lib/decompress.c) and the decompressor then checks the rest of
 * its magic; the whole magic is matched here, so that a file is taken
 * only when the decompressor would take it too. lz4 is the kernel's
 * legacy format (lz4 -l); the frame format (what lz4 writes by default)
 * is named, not accepted.
 */
#include <stdio.h>
#include <string.h>
#include "magic.h"

static const struct {
	struct hr_magic m;
	unsigned char len;
	unsigned char bytes[9];
} formats[] = {
	{ { "gzip", "gunzip -k", true }, 3, { 0x1f, 0x8b, 0x08 } },
	{ { "bzip2", "bunzip2 -k", true }, 3, { 'B', 'Z', 'h' } },
	{ { "lzma", "unlzma -k", true }, 3, { 0x5d, 0x00, 0x00 } },
	{ { "xz", "unxz -k", true }, 6, { 0xfd, '7', 'z', 'X', 'Z', 0x00 } },
	{ { "lzo", "lzop -d", true }, 9, { 0x89, 'L', 'Z', 'O', 0x00, 0x0d, 0x0a, 0x1a, 0x0a } },
	{ { "lz4", "lz4 -d", true }, 4, { 0x02, 0x21, 0x4c, 0x18 } },
	{ { "zstd", "unzstd", true }, 4, { 0x28, 0xb5, 0x2f, 0xfd } },
	{ { "lz4 (frame format)", "lz4 -d", false }, 4, { 0x04, 0x22, 0x4d, 0x18 } },
};
#define N_FORMATS (sizeof(formats) / sizeof(formats[0]))

const struct hr_magic *hr_magic_compression(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < N_FORMATS; i++)
		if (n >= formats[i].len && !memcmp(p, formats[i].bytes, formats[i].len))
			return &formats[i].m;
	return NULL;
}

const char *hr_magic_kernel_names(void)
{
	static char names[96];
	size_t i, used = 0;

	if (names[0])
		return names;
	for (i = 0; i < N_FORMATS; i++)
		if (formats[i].m.kernel)
			used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s",
				used ? ", " : "", formats[i].m.name);
	return names;
}

enum hr_magic_cpio hr_magic_cpio(const unsigned char *p, size_t n)
{
	if (n < 6 || memcmp(p, "07070", 5))
		return HR_CPIO_NONE;
	if (p[5] == '1' || p[5] == '2')
		return HR_CPIO_NEWC;
	return p[5] == '7' ? HR_CPIO_ODC : HR_CPIO_NONE;
}
