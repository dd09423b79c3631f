/*
 * hypeman-init: what the GPU and kernel-headers phases read from small text
 * files (the NVIDIA driver's /proc files, /proc/devices, a PCI device's
 * vendor and class in sysfs, the bundle lists build.sh writes into the
 * initrd). Pure: texts in, values out, no I/O.
 */
#ifndef HM_NVINFO_H
#define HM_NVINFO_H 1

#include <stddef.h>

/* The major of the character device NAME in /proc/devices TEXT (the
 * "Character devices:" section only), or -1 when it is not listed. */
int hm_proc_devices_major(const char *text, const char *name);

/* The NVIDIA driver's character major: the first of "nvidia-frontend"
 * (drivers before 550.40), "nvidiactl", "nvidia" (550.40 on) that
 * DEVICES lists, its name in *NAME; else HM_NV_MAJOR and *NAME NULL. */
#define HM_NV_MAJOR 195
int hm_nv_frontend_major(const char *devices, const char **name);

/* /proc/driver/nvidia/params: the nodes' owner and mode as nvidia-modprobe
 * reads them ("DeviceFileUID: 0", "DeviceFileGID: 0", "DeviceFileMode:
 * 438", "ModifyDeviceFiles: 1", decimal). Absent or bad: root, 0666, 1. */
struct hm_nv_params {
	unsigned uid, gid, mode, modify;
};
void hm_nv_params_parse(const char *text, struct hm_nv_params *p);

/* Whether a PCI device's sysfs "vendor" and "class" texts are NVIDIA's
 * (0x10de) and a display controller (0x03xxxx), the devices
 * nvidia-modprobe loads the driver for. */
int hm_pci_nvidia_display(const char *vendor, const char *class);

/* /proc/driver/nvidia/gpus/<pci>/information: "Model:", "Bus Location:"
 * and "Device Minor:" lines (keys as the driver writes them, values with
 * the surrounding blanks dropped). */
struct hm_nv_gpu {
	char model[128];	/* "" when absent */
	char bus[32];		/* "" when absent */
	int minor;		/* -1 when absent or not a number 0..254 */
};
void hm_nv_gpu_parse(const char *text, struct hm_nv_gpu *gpu);

/* /proc/driver/nvidia/capabilities/.../<cap>: "DeviceFileMinor: N" and
 * "DeviceFileMode: M" (decimal, as the driver writes them). 0 with
 * *MINOR (0..HM_NV_CAP_MINOR_MAX, the driver's limit: MIG instances of
 * several GPUs pass 255) and *MODE (07777 bits; 0444 when absent) set, or
 * -1 when there is no valid minor. */
#define HM_NV_CAP_MINOR_MAX 8191
int hm_nv_cap_parse(const char *text, int *minor, unsigned *mode);

/* The initrd's bundle lists (/etc/hypeman/gpu, /etc/hypeman/headers):
 * lines "KEY VALUE", '#' comments and blank lines skipped. Keys:
 *   release R   the kernel release the bundle is for
 *   version V   the NVIDIA driver version (gpu)
 *   tree P      the headers tree (headers): an absolute path in the bundle
 *   path P      another absolute path in the bundle the tree needs
 *               (repeatable, at most HM_BUNDLE_MAX_PATHS)
 * Values are pointers into TEXT, which is changed (NULs written). */
#define HM_BUNDLE_MAX_PATHS 16
struct hm_bundle_list {
	const char *release, *version, *tree;
	const char *paths[HM_BUNDLE_MAX_PATHS];
	int n_paths;
};
/* 0, or -1 with *ERR naming the first bad line ("line 3: unknown key
 * \"foo\""; a static or TEXT-based string) and LIST partly filled.
 * Paths must be absolute, without "." or ".." components. */
int hm_bundle_list_parse(char *text, struct hm_bundle_list *list,
		char *err, size_t errlen);

#endif
