/*
 * Phase 3 (overlay): the image disk (vda, erofs or ext4, read-only) at
 * /lower, the writable disk (vdb, ext4) at /overlay, and an overlayfs of
 * the two at /overlay/newroot, the root the program will see.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += overlay.o

#include "libbb.h"
#include "hypeman.h"

int FAST_FUNC hm_mount_overlay(struct hm_boot *b)
{
	const char *fstype = "erofs";

	hm_phase_begin("overlay");
	if (hm_wait_for("overlay", "image rootfs", HM_DEV_ROOTFS, S_IFBLK)
	 || hm_wait_for("overlay", "overlay disk", HM_DEV_OVERLAY, S_IFBLK))
		return -1;
	if (hm_mkdir("overlay", HM_LOWER, 0755) || hm_mkdir("overlay", HM_OVERLAY, 0755))
		return -1;

	/* erofs first (hypeman's image format), then ext4. noload: a
	 * read-only ext4 must not replay its journal onto the device. */
	if (mount(HM_DEV_ROOTFS, HM_LOWER, "erofs", MS_RDONLY, NULL) != 0) {
		int erofs_err = errno;
		fstype = "ext4";
		if (mount(HM_DEV_ROOTFS, HM_LOWER, "ext4", MS_RDONLY, "noload") != 0) {
			hm_log_errno(HM_ERROR, "overlay", errno,
				"image disk %s: mount on %s failed as erofs (%s) and as ext4: "
				"expected an erofs or ext4 filesystem", HM_DEV_ROOTFS, HM_LOWER, strerror(erofs_err));
			return -1;
		}
	}
	hm_log(HM_INFO, "overlay", "mounted rootfs from %s (%s, read-only)", HM_DEV_ROOTFS, fstype);
	hm_stage_mount(b, HM_LOWER, "lower");

	if (hm_mount_disk("overlay", "overlay disk", HM_DEV_OVERLAY, HM_OVERLAY, MS_NOATIME, NULL))
		return -1;
	hm_stage_mount(b, HM_OVERLAY, "overlay");
	if (hm_mkdir("overlay", HM_OVERLAY "/upper", 0755)
	 || hm_mkdir("overlay", HM_OVERLAY "/work", 0755)
	 || hm_mkdir("overlay", HM_NEWROOT, 0755))
		return -1;
	if (hm_mount("overlay", "overlay", HM_NEWROOT, "overlay", 0,
			"lowerdir=" HM_LOWER ",upperdir=" HM_OVERLAY "/upper,workdir=" HM_OVERLAY "/work"))
		return -1;
	b->newroot_fd = open(HM_NEWROOT, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (b->newroot_fd < 0) {
		hm_log_errno(HM_ERROR, "overlay", errno, "open %s failed", HM_NEWROOT);
		return -1;
	}
	hm_phase_end("overlay", "root is an overlay of %s (%s) and %s (ext4) at %s",
		HM_DEV_ROOTFS, fstype, HM_DEV_OVERLAY, HM_NEWROOT);
	return 0;
}
