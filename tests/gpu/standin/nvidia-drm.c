// SPDX-License-Identifier: GPL-2.0
/* Stand-in for nvidia-drm.ko: needs nvidia-modeset and, like the real
 * one, the kernel's drm (a module of Debian's kernel, which build.sh must
 * find as a dependency); has the modeset parameter init sets to 1. */
#include <linux/module.h>
#include <drm/drm_fourcc.h>

extern const char *hm_standin_modeset_version(void);

static bool modeset;
module_param(modeset, bool, 0400);
MODULE_PARM_DESC(modeset, "Enable atomic kernel modesetting (1 = enable, 0 = disable (default))");

static int __init drm_standin_init(void)
{
	const struct drm_format_info *f = drm_format_info(DRM_FORMAT_XRGB8888);

	pr_info("nvidia-drm-standin: modeset=%d, driver %s, %u bytes per XRGB8888 pixel\n",
		modeset, hm_standin_modeset_version(), f ? f->cpp[0] : 0);
	return 0;
}

static void __exit drm_standin_exit(void)
{
}

module_init(drm_standin_init);
module_exit(drm_standin_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("hypeman-init test stand-in for nvidia-drm.ko");
