/*
 * hypeman run: what a kernel image is (kimage.c): its format and release.
 */
#ifndef HR_KIMAGE_H
#define HR_KIMAGE_H 1

#include <stddef.h>

/* The kernel image formats, one an architecture. */
enum hr_kimage_format { HR_KIMAGE_BZIMAGE, HR_KIMAGE_ARM64 };

/* The kernel's release ("6.1.0-57-amd64") from its image at PATH, which
 * must be of format FMT (an x86 bzImage; an arm64 Image, maybe gzip'ed).
 * 0, or -1 with the reason in WHY (WHYLEN bytes). */
int hr_kimage_release(enum hr_kimage_format fmt, const char *path, char *rel, size_t rellen,
		char *why, size_t whylen);

#endif
