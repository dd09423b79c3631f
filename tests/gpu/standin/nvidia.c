// SPDX-License-Identifier: GPL-2.0
/*
 * Stand-in for nvidia.ko in hypeman-init's tests: what init and a program
 * see of the real driver without a GPU. It registers the character major
 * 195 (nvidiactl is minor 255, GPU N minor N) under the names of its
 * generation (HM_NV_GEN, a build option): "nvidia-frontend" before driver
 * 550.40, "nvidia" (minors 0-254) and "nvidiactl" (255) from it on; a
 * dynamic "nvidia-caps" major; and the /proc files nvidia-modprobe reads:
 * driver/nvidia/gpus/0000:00:05.0/information, driver/nvidia/version,
 * driver/nvidia/params (the nodes' owner and mode: root and 0666 in the
 * 535 generation, gid 44 and 0660 in the 550 one, so that both the
 * default and others are seen) and driver/nvidia/capabilities/mig/
 * {config,monitor} and gpu0/mig/gi{1,2}/access (minors 1, 2, 300, 8191:
 * MIG minors pass 255). Like the real driver
 * it reads its GSP firmware (nvidia/<version>/gsp_*.bin) when a program
 * first opens a GPU, long after init's switch root: opening /dev/nvidia0
 * fails with ENOENT when the firmware cannot be found.
 */
#include <linux/module.h>
#include <linux/fs.h>
#include <linux/firmware.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>

#define NV_MAJOR 195
#if HM_NV_GEN >= 550
# define NV_NAME "nvidia"
# define NV_GID 44
# define NV_MODE 0660
#else
# define NV_NAME "nvidia-frontend"
# define NV_GID 0
# define NV_MODE 0666
#endif
#define FIRMWARE "nvidia/" HM_NV_VERSION "/gsp_standin.bin"
#define GPU_DIR "driver/nvidia/gpus/0000:00:05.0"

static int caps_major;
static struct proc_dir_entry *proc_root;

const char *hm_standin_nvidia_version(void)
{
	return HM_NV_VERSION;
}
EXPORT_SYMBOL(hm_standin_nvidia_version);

static int nv_open(struct inode *inode, struct file *file)
{
	const struct firmware *fw;
	int rc;

	if (iminor(inode) >= 254)
		return 0;	/* nvidiactl, nvidia-modeset */
	rc = request_firmware_direct(&fw, FIRMWARE, NULL);
	if (rc) {
		pr_err("nvidia-standin: firmware %s: error %d\n", FIRMWARE, rc);
		return -ENOENT;
	}
	pr_info("nvidia-standin: firmware %s: %zu bytes\n", FIRMWARE, fw->size);
	release_firmware(fw);
	return 0;
}

static const struct file_operations nv_fops = {
	.owner = THIS_MODULE,
	.open = nv_open,
};

static int info_show(struct seq_file *m, void *v)
{
	seq_puts(m, "Model: \t\t Hypeman Stand-in GPU\n"
		"IRQ:   \t\t 0\n"
		"GPU UUID: \t GPU-00000000-0000-0000-0000-000000000000\n"
		"Bus Type: \t PCIe\n"
		"Bus Location: \t 0000:00:05.0\n"
		"Device Minor: \t 0\n"
		"GPU Excluded:\t No\n");
	return 0;
}

static int version_show(struct seq_file *m, void *v)
{
	seq_printf(m, "NVRM version: hypeman stand-in %s\n", HM_NV_VERSION);
	return 0;
}

static int params_show(struct seq_file *m, void *v)
{
	/* the start of the real file, as the driver writes it (decimal) */
	seq_printf(m, "ResmanDebugLevel: 4294967295\nRmLogonRC: 1\nModifyDeviceFiles: 1\n"
		"DeviceFileUID: 0\nDeviceFileGID: %d\nDeviceFileMode: %d\n"
		"InitializeSystemMemoryAllocations: 1\nRegistryDwords: \"\"\n", NV_GID, NV_MODE);
	return 0;
}

static int cap_show(struct seq_file *m, void *v)
{
	/* as the driver writes them: minor and mode in decimal */
	seq_printf(m, "DeviceFileMinor: %d\nDeviceFileMode: %d\nDeviceFileModify: 1\n",
		(int)(long)m->private, (int)(long)m->private == 1 ? 0400 : 0444);
	return 0;
}

static int register_nv(void)
{
#if HM_NV_GEN >= 550
	int rc = __register_chrdev(NV_MAJOR, 0, 255, "nvidia", &nv_fops);

	if (rc < 0)
		return rc;
	rc = __register_chrdev(NV_MAJOR, 255, 1, "nvidiactl", &nv_fops);
	if (rc < 0)
		__unregister_chrdev(NV_MAJOR, 0, 255, "nvidia");
	return rc < 0 ? rc : 0;
#else
	return register_chrdev(NV_MAJOR, NV_NAME, &nv_fops);
#endif
}

static void unregister_nv(void)
{
#if HM_NV_GEN >= 550
	__unregister_chrdev(NV_MAJOR, 255, 1, "nvidiactl");
	__unregister_chrdev(NV_MAJOR, 0, 255, "nvidia");
#else
	unregister_chrdev(NV_MAJOR, NV_NAME);
#endif
}

static int __init nv_init(void)
{
	int rc = register_nv();

	if (rc)
		return rc;
	/* all minors: capabilities of MIG instances go up to 8191 */
	caps_major = __register_chrdev(0, 0, 8192, "nvidia-caps", &nv_fops);
	if (caps_major < 0) {
		unregister_nv();
		return caps_major;
	}
	proc_root = proc_mkdir("driver/nvidia", NULL);
	proc_mkdir("driver/nvidia/gpus", NULL);
	proc_mkdir(GPU_DIR, NULL);
	proc_create_single(GPU_DIR "/information", 0444, NULL, info_show);
	proc_create_single("driver/nvidia/version", 0444, NULL, version_show);
	proc_mkdir("driver/nvidia/capabilities", NULL);
	proc_mkdir("driver/nvidia/capabilities/mig", NULL);
	proc_create_single_data("driver/nvidia/capabilities/mig/config", 0444, NULL, cap_show, (void *)1L);
	proc_create_single_data("driver/nvidia/capabilities/mig/monitor", 0444, NULL, cap_show, (void *)2L);
	proc_mkdir("driver/nvidia/capabilities/gpu0", NULL);
	proc_mkdir("driver/nvidia/capabilities/gpu0/mig", NULL);
	proc_mkdir("driver/nvidia/capabilities/gpu0/mig/gi1", NULL);
	proc_mkdir("driver/nvidia/capabilities/gpu0/mig/gi2", NULL);
	proc_create_single_data("driver/nvidia/capabilities/gpu0/mig/gi1/access", 0444, NULL, cap_show, (void *)300L);
	proc_create_single_data("driver/nvidia/capabilities/gpu0/mig/gi2/access", 0444, NULL, cap_show, (void *)8191L);
	proc_create_single("driver/nvidia/params", 0444, NULL, params_show);
	return 0;
}

static void __exit nv_exit(void)
{
	proc_remove(proc_root);
	__unregister_chrdev(caps_major, 0, 8192, "nvidia-caps");
	unregister_nv();
}

module_init(nv_init);
module_exit(nv_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("hypeman-init test stand-in for nvidia.ko");
