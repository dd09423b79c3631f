// SPDX-License-Identifier: GPL-2.0
/* Stand-in for nvidia-uvm.ko: a dynamic "nvidia-uvm" character major
 * (minors 0: nvidia-uvm, 1: nvidia-uvm-tools); needs nvidia. */
#include <linux/module.h>
#include <linux/fs.h>

extern const char *hm_standin_nvidia_version(void);
static int major;

static const struct file_operations uvm_fops = { .owner = THIS_MODULE };

static int __init uvm_init(void)
{
	major = register_chrdev(0, "nvidia-uvm", &uvm_fops);
	if (major < 0)
		return major;
	pr_info("nvidia-uvm-standin: major %d, driver %s\n", major, hm_standin_nvidia_version());
	return 0;
}

static void __exit uvm_exit(void)
{
	unregister_chrdev(major, "nvidia-uvm");
}

module_init(uvm_init);
module_exit(uvm_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("hypeman-init test stand-in for nvidia-uvm.ko");
