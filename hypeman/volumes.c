/*
 * Phase 5 (volumes): each volume_mounts entry on its path inside the new
 * root. ro: mounted read-only with noload; rw; overlay: the device
 * read-only as lower, overlay_device (ext4) for upper/ and work/. Mount
 * points are made and opened through confine.c, so a hostile image cannot
 * redirect a mount outside its root. A failing volume is an ERROR, not
 * fatal: the program may still be useful without it.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += volumes.o

#include "libbb.h"
#include "hypeman.h"
#include "confine.h"

#define STAGE_DIR "/volumes"

/* Mount onto an O_PATH fd of a confined directory. The kernel follows the
 * /proc/self/fd magic link to exactly that directory. */
static int mount_on_fd(const char *src, int fd, const char *shown, const char *type,
		unsigned long flags, const char *data)
{
	char target[32];

	sprintf(target, "/proc/self/fd/%d", fd);
	if (mount(src, target, type, flags, data) == 0)
		return 0;
	hm_log_errno(HM_ERROR, "volumes", errno, "mount %s on %s (type %s) failed%s", src, shown, type,
		strcmp(type, "ext4") == 0 ? ": expected an ext4 filesystem" : "");
	return -1;
}

/* Base read-only and overlay_device as upper: both staged in the
 * initramfs, then an overlayfs on the target. */
static int mount_overlay_volume(struct hm_boot *b, int idx, const struct hm_volume *v, int fd)
{
	char lower[64], upper[64], opts[256], name[32];

	sprintf(lower, STAGE_DIR "/%d/lower", idx);
	sprintf(upper, STAGE_DIR "/%d/upper", idx);
	if (hm_wait_for("volumes", "overlay device", v->overlay_device, S_IFBLK)
	 || hm_mkdir("volumes", lower, 0755) || hm_mkdir("volumes", upper, 0755)
	 || hm_mount_disk("volumes", "volume", v->device, lower, MS_RDONLY, "noload"))
		return -1;
	sprintf(name, "volume%d-lower", idx);
	hm_stage_mount(b, lower, name);
	if (hm_mount_disk("volumes", "overlay volume's upper disk", v->overlay_device, upper, MS_NOATIME, NULL))
		return -1;
	sprintf(name, "volume%d-upper", idx);
	hm_stage_mount(b, upper, name);
	sprintf(opts, "%s/upper", upper);
	if (hm_mkdir("volumes", opts, 0755))
		return -1;
	sprintf(opts, "%s/work", upper);
	if (hm_mkdir("volumes", opts, 0755))
		return -1;
	snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s/upper,workdir=%s/work", lower, upper, upper);
	return mount_on_fd("overlay", fd, v->path, "overlay", 0, opts);
}

static int mount_volume(struct hm_boot *b, int idx, const struct hm_volume *v)
{
	const char *reason;
	int fd, rc;

	if (!hm_volume_path_valid(v->path, &reason)) {
		hm_log(HM_ERROR, "volumes", "volume %d: refusing path \"%s\": %s", idx, v->path, reason);
		return -1;
	}
	if (hm_wait_for("volumes", "volume device", v->device, S_IFBLK))
		return -1;
	fd = hm_mkdirs_in_root(b->newroot_fd, v->path, 0755);
	if (fd < 0) {
		hm_log_errno(HM_ERROR, "volumes", errno,
			"volume %d: cannot make mount point %s inside the image root", idx, v->path);
		return -1;
	}
	if (strcmp(v->mode, "ro") == 0)
		rc = mount_on_fd(v->device, fd, v->path, "ext4", MS_RDONLY, "noload");
	else if (strcmp(v->mode, "rw") == 0)
		rc = mount_on_fd(v->device, fd, v->path, "ext4", MS_NOATIME, NULL);
	else
		rc = mount_overlay_volume(b, idx, v, fd);
	close(fd);
	if (rc == 0)
		hm_debug("volumes", "mounted %s on %s (%s%s%s)", v->device, v->path, v->mode,
			v->overlay_device ? ", upper on " : "", v->overlay_device ? v->overlay_device : "");
	return rc;
}

void FAST_FUNC hm_mount_volumes(struct hm_boot *b)
{
	int i, ok = 0;

	hm_phase_begin("volumes");
	if (b->cfg.n_volumes > HM_MAX_VOLUMES)
		hm_log(HM_ERROR, "volumes", "%d volumes configured, only the first %d are mounted",
			b->cfg.n_volumes, HM_MAX_VOLUMES);
	for (i = 0; i < b->cfg.n_volumes && i < HM_MAX_VOLUMES; i++)
		ok += (mount_volume(b, i, &b->cfg.volumes[i]) == 0);
	hm_phase_end("volumes", "%d of %d volumes mounted", ok, b->cfg.n_volumes);
}
