/*
 * hypeman-init: what the phases wait for, mount and write in the image
 * (devices.c, mounts.c, image_files.c). hypeman.h, which every phase
 * includes, includes it.
 */
#ifndef HM_MOUNTS_H
#define HM_MOUNTS_H 1

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct hm_boot;

/* Device nodes appear asynchronously once the driver binds. */
#define HM_DEVICE_TIMEOUT_MS 5000

PUSH_AND_SET_FUNCTION_VISIBILITY_TO_HIDDEN

/* ---- devices.c ---- */
/*
 * Polls (a few ms per step) until PATH exists with file TYPE (S_IFBLK,
 * S_IFDIR...; symlinks followed). 0, or -1 after HM_DEVICE_TIMEOUT_MS
 * with an ERROR under PHASE: "WHAT PATH did not appear within N ms".
 */
int hm_wait_for(const char *phase, const char *what, const char *path, mode_t type) FAST_FUNC;
/*
 * The modaliases of the devices present on the buses that device patterns
 * starting "PREFIX:" name, for PREFIXES[0..N) ("pci", "virtio", "of"...;
 * N at most HM_MAX_BUSES), each bus read once:
 * /sys/bus/BUS/devices/DEV/modalias, in *MODALIASES (malloc'ed, NULL at
 * the end; the strings are S's). Their count, or -1 without /sys/bus.
 * S keeps what it read, so that a later call (the next round of
 * coldplug) reads only the devices that came since: under TCG each sysfs
 * file opened costs (an ACPI machine has dozens of devices).
 */
struct hm_devscan {
	struct hm_dev *dev;
	int n, hint;
};
#define HM_MAX_BUSES 16
int hm_device_modaliases(struct hm_devscan *s, char *const *prefixes, int n,
		char ***modaliases) FAST_FUNC;
void hm_devscan_free(struct hm_devscan *s) FAST_FUNC;
/* The filesystem on disk DEV by its superblock ("ext4", "erofs"), or NULL
 * (unknown type, or *ERR set: the errno of the open or read). */
const char *hm_disk_fstype(const char *dev, int *err) FAST_FUNC;
/* Whether this machine has a way to power off (x86 needs ACPI for it). */
bool hm_machine_can_power_off(void) FAST_FUNC;

/* ---- mount helpers (mounts.c) ---- */
/* mount(2) with the failure logged (phase, source, target, type). */
int hm_mount(const char *phase, const char *src, const char *target,
		const char *type, unsigned long flags, const char *data) FAST_FUNC;
/* mount(2) of the ext4 disk DEV, a failure logged as "WHAT DEV: ...
 * expected an ext4 filesystem" (WHAT: "overlay disk", "config disk"). */
int hm_mount_disk(const char *phase, const char *what, const char *dev,
		const char *target, unsigned long flags, const char *data) FAST_FUNC;
/* mkdir -p for initramfs paths (ours, trusted). */
int hm_mkdir(const char *phase, const char *path, mode_t mode) FAST_FUNC;

/* ---- image_files.c ---- */
/* Create or replace PATH in the image (confined), failures and replaced
 * symlinks logged under PHASE. 0 or -1. */
int hm_write_in_image(struct hm_boot *b, const char *phase, const char *path,
		const void *data, size_t len, mode_t mode) FAST_FUNC;

POP_SAVED_FUNCTION_VISIBILITY

#endif
