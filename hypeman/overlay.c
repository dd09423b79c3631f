/*
 * Phase 3 (overlay): the image disk (vda, erofs or ext4, read-only) at
 * /lower, the writable disk (vdb, ext4) at /overlay, and an overlayfs of
 * the two at /newroot, the root the program will see.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += overlay.o

#include "libbb.h"
#include "hypeman.h"

/* vda at HM_LOWER, read-only, as the type its superblock shows (the
 * modules phase read it and loaded that driver): no trial mounts, since
 * mounting a type whose module is absent makes the kernel run
 * /sbin/modprobe. */
static const char *mount_rootfs(struct hm_boot *b)
{
	const char *type = b->rootfs_type, *data;
	int err = 0;

	if (!type)
		type = hm_disk_fstype(HM_DEV_ROOTFS, &err);
	if (!type) {
		if (err)
			hm_log_errno(HM_ERROR, "overlay", err, "image disk %s: cannot read its superblock: "
				"expected an erofs or ext4 filesystem", HM_DEV_ROOTFS);
		else
			hm_log(HM_ERROR, "overlay", "image disk %s: no erofs or ext4 superblock: "
				"expected an erofs or ext4 filesystem", HM_DEV_ROOTFS);
		return NULL;
	}
	/* noload: a read-only ext4 must not replay its journal onto the
	 * device */
	data = strcmp(type, "ext4") == 0 ? "noload" : NULL;
	if (mount(HM_DEV_ROOTFS, HM_LOWER, type, MS_RDONLY, data) != 0) {
		hm_log_errno(HM_ERROR, "overlay", errno, "image disk %s: mount on %s as %s failed: "
			"expected an erofs or ext4 filesystem", HM_DEV_ROOTFS, HM_LOWER, type);
		return NULL;
	}
	return type;
}

int FAST_FUNC hm_mount_overlay(struct hm_boot *b)
{
	const char *fstype;

	hm_phase_begin("overlay");
	if (hm_wait_for("overlay", "image rootfs", HM_DEV_ROOTFS, S_IFBLK)
	 || hm_wait_for("overlay", "overlay disk", HM_DEV_OVERLAY, S_IFBLK))
		return -1;
	if (hm_mkdir("overlay", HM_LOWER, 0755) || hm_mkdir("overlay", HM_OVERLAY, 0755))
		return -1;
	fstype = mount_rootfs(b);
	if (!fstype)
		return -1;
	hm_debug("overlay", "mounted rootfs from %s (%s, read-only)", HM_DEV_ROOTFS, fstype);
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
