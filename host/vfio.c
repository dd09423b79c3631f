/*
 * hypeman run --gpu: host PCI devices (GPUs) handed to the guest with
 * QEMU's vfio-pci. VFIO takes only a device that the host has bound to the
 * vfio-pci driver; anything else fails late and obscurely in QEMU, so the
 * binding is checked first, in sysfs ($HYPEMAN_SYSFS, default /sys: the
 * tests point it at a tree of their own).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "util.h"
#include "vfio.h"

/* Exactly n hex digits at s. */
static bool hex_at(const char *s, size_t n, unsigned *v)
{
	size_t i;

	*v = 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isxdigit(c))
			return false;
		*v = *v * 16 + (unsigned)(isdigit(c) ? c - '0' : tolower(c) - 'a' + 10);
	}
	return true;
}

bool hr_vfio_address(const char *arg, char out[HR_PCI_ADDR_LEN])
{
	size_t len = strlen(arg);
	const char *p = arg;
	unsigned dom = 0, bus, dev, fn;

	if (len == 12) {	/* DDDD:BB:DD.F */
		if (!hex_at(p, 4, &dom) || p[4] != ':')
			return false;
		p += 5;
	} else if (len != 7) {	/* BB:DD.F */
		return false;
	}
	if (!hex_at(p, 2, &bus) || p[2] != ':' || !hex_at(p + 3, 2, &dev) || p[5] != '.'
	 || !hex_at(p + 6, 1, &fn) || dev > 0x1f || fn > 7)
		return false;
	snprintf(out, HR_PCI_ADDR_LEN, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
	return true;
}

/* How to hand the device to vfio-pci (the real /sys paths). */
static void how_to_bind(const char *addr, bool bound)
{
	char unbind[96] = "";

	if (bound)
		snprintf(unbind, sizeof(unbind), "    echo %s > /sys/bus/pci/devices/%s/driver/unbind\n",
			addr, addr);
	hr_msg("hand it to vfio-pci first (as root; every device of its IOMMU group too):\n"
		"    modprobe vfio-pci\n"
		"    echo vfio-pci > /sys/bus/pci/devices/%s/driver_override\n"
		"%s"
		"    echo %s > /sys/bus/pci/drivers_probe", addr, unbind, addr);
}

int hr_vfio_check(const char *addr)
{
	const char *sys = getenv("HYPEMAN_SYSFS");
	char *dev, *link, target[PATH_MAX];
	const char *driver = NULL;
	ssize_t n;

	if (!sys || !sys[0])
		sys = "/sys";
	if (sys[0] != '/') {
		hr_msg("HYPEMAN_SYSFS=%s is not an absolute path", sys);
		return 2;
	}
	dev = hr_asprintf("%s/bus/pci/devices/%s", sys, addr);
	link = hr_asprintf("%s/driver", dev);
	if (access(dev, F_OK)) {
		hr_msg("--gpu %s: no such PCI device on this host (%s: %s)", addr, dev, strerror(errno));
		free(dev);
		free(link);
		return 2;
	}
	n = readlink(link, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = 0;
		driver = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
	}
	free(dev);
	free(link);
	if (driver && !strcmp(driver, "vfio-pci"))
		return 0;
	hr_msg("--gpu %s: the host has it bound to %s, not to vfio-pci; QEMU can pass through "
		"only a device bound to vfio-pci", addr, driver ? driver : "no driver");
	how_to_bind(addr, driver != NULL);
	return 2;
}
