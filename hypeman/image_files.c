/*
 * Files init writes into the image (resolv.conf, the agent unit and env
 * file, the egress CA), through confine.c, with the outcome logged the
 * same way everywhere: an ERROR when it fails, a WARN when something that
 * was not a regular file (a symlink, say) had to be replaced.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += image_files.o

#include "libbb.h"
#include "hypeman.h"
#include "confine.h"

int FAST_FUNC hm_write_in_image(struct hm_boot *b, const char *phase, const char *path,
		const void *data, size_t len, mode_t mode)
{
	int replaced = 0;

	if (hm_write_file_in_root(b->newroot_fd, path, data, len, mode, &replaced) != 0) {
		hm_log_errno(HM_ERROR, phase, errno, "cannot write %s in the image", path);
		return -1;
	}
	if (replaced)
		hm_log(HM_WARN, phase, "%s in the image was not a regular file: replaced it", path);
	return 0;
}
