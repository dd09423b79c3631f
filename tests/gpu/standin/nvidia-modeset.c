// SPDX-License-Identifier: GPL-2.0
/* Stand-in for nvidia-modeset.ko; needs nvidia. */
#include <linux/module.h>

extern const char *hm_standin_nvidia_version(void);

const char *hm_standin_modeset_version(void)
{
	return hm_standin_nvidia_version();
}
EXPORT_SYMBOL(hm_standin_modeset_version);

static int __init modeset_init(void)
{
	pr_info("nvidia-modeset-standin: driver %s\n", hm_standin_nvidia_version());
	return 0;
}

static void __exit modeset_exit(void)
{
}

module_init(modeset_init);
module_exit(modeset_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("hypeman-init test stand-in for nvidia-modeset.ko");
