/*
 * Contract layer: writing to a descriptor (see fdio.h).
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += fdio.o

#include <errno.h>
#include <unistd.h>
#include "fdio.h"

int hm_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	ssize_t w;

	while (n) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= w;
	}
	return 0;
}
