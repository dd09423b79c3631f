/*
 * Contract layer: writing to a descriptor, for both programs (the init's
 * files in the image, hypeman run's files and console output).
 */
#ifndef HM_FDIO_H
#define HM_FDIO_H 1

#include <stddef.h>

/* Writes all N bytes of BUF to FD, retrying short writes and EINTR:
 * 0, or -1 with errno. */
int hm_write_all(int fd, const void *buf, size_t n);

#endif
