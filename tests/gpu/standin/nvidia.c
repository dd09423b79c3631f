// SPDX-License-Identifier: GPL-2.0
/*
 * Stand-in for nvidia.ko in hypeman-init's tests: what init and a program
 * see of the real driver without a GPU. It registers the character major
 * 195 as "nvidia-frontend" (nvidiactl is minor 255, GPU N minor N), a
 * dynamic "nvidia-caps" major, and the /proc files nvidia-modprobe reads:
 * driver/nvidia/gpus/0000:00:05.0/information, driver/nvidia/version and
 * driver/nvidia/capabilities/mig/{config,monitor}. Like the real driver
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

static int cap_show(struct seq_file *m, void *v)
{
	/* as the driver writes them: minor and mode in decimal */
	seq_printf(m, "DeviceFileMinor: %d\nDeviceFileMode: %d\nDeviceFileModify: 1\n",
		(int)(long)m->private, (int)(long)m->private == 1 ? 0400 : 0444);
	return 0;
}

static int __init nv_init(void)
{
	int rc = register_chrdev(NV_MAJOR, "nvidia-frontend", &nv_fops);

	if (rc)
		return rc;
	caps_major = register_chrdev(0, "nvidia-caps", &nv_fops);
	if (caps_major < 0) {
		unregister_chrdev(NV_MAJOR, "nvidia-frontend");
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
	return 0;
}

static void __exit nv_exit(void)
{
	proc_remove(proc_root);
	unregister_chrdev(caps_major, "nvidia-caps");
	unregister_chrdev(NV_MAJOR, "nvidia-frontend");
}

module_init(nv_init);
module_exit(nv_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("hypeman-init test stand-in for nvidia.ko");
