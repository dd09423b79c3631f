/*
 * hypeman run --gpu (vfio.c): host PCI devices passed through with VFIO.
 */
#ifndef HR_VFIO_H
#define HR_VFIO_H 1

#include <stdbool.h>

#define HR_PCI_ADDR_LEN 13	/* "0000:01:00.0" and its NUL */

/* "DDDD:BB:DD.F" or "BB:DD.F" (hex) as "dddd:bb:dd.f"; false when malformed. */
bool hr_vfio_address(const char *arg, char out[HR_PCI_ADDR_LEN]);
/* 0 when the host's device addr is bound to vfio-pci (read in
 * $HYPEMAN_SYSFS, default /sys); else 2 after saying why and what to do. */
int hr_vfio_check(const char *addr);

#endif
