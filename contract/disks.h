/*
 * Contract layer: the disks the host attaches, in their order (contract:
 * Devices), and the bounds on what they hold.
 */
#ifndef HM_DISKS_H
#define HM_DISKS_H 1

/* virtio block devices, in the order the host attaches them */
#define HM_DEV_ROOTFS    "/dev/vda"	/* the image's root filesystem, read-only */
#define HM_DEV_OVERLAY   "/dev/vdb"	/* ext4, the writable layer */
#define HM_DEV_CONFIG    "/dev/vdc"	/* ext4, holds config.json */
#define HM_DEV_FIRST_VOLUME 3		/* vdd: then the volumes' disks, in order */
/* Names of one letter, vda..vdz: as many disks as hypeman run attaches. */
#define HM_DEV_MAX       26
#define HM_DEV_NAME_MAX  16

/* config.json: at most this size (a larger one is a config error) */
#define HM_CONFIG_MAX_BYTES (1024 * 1024)
/* Volumes the init mounts at most; the rest are an ERROR. */
#define HM_MAX_VOLUMES   32

/* The name of the disk at INDEX (0: vda) into BUF; INDEX < HM_DEV_MAX. */
static inline void hm_dev_name(char buf[HM_DEV_NAME_MAX], unsigned index)
{
	static const char dev[] = "/dev/vd";
	unsigned i;

	for (i = 0; dev[i]; i++)
		buf[i] = dev[i];
	buf[i] = (char)('a' + index);
	buf[i + 1] = '\0';
}

#endif
