/*
 * libFuzzer target: the interpreter of an executable file of the image
 * (hypeman/interp.c): the input is the file, read through a memfd as the
 * init reads the program (pread), with buffers of several sizes; then the
 * ERROR text for it (hm_explain_enoent, through /proc/self/fd).
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "interp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t sizes[] = { 1, 2, 16, 256, 4096 };
	char buf[4096], why[4096 + 160], path[64];
	int fd = memfd_create("fuzz-interp", MFD_CLOEXEC);
	size_t i;

	if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (hm_interpreter_of(fd, buf, sizes[i]) != HM_INTERP_NONE
		 && strlen(buf) >= sizes[i])
			abort();	/* not terminated within the buffer */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	hm_explain_enoent(path, why, sizeof(why));
	close(fd);
	return 0;
}
