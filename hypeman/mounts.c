/*
 * Phase 1 (mount): the kernel filesystems, mounted by the applet itself,
 * the /dev a container gets from Docker, the /run the switch moves into
 * the image, then stdout/stderr on the console. Also the two small
 * helpers every phase uses to mount and make directories with their
 * failures logged.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += mounts.o

#include "libbb.h"
#include "hypeman.h"

int FAST_FUNC hm_mount(const char *phase, const char *src, const char *target,
		const char *type, unsigned long flags, const char *data)
{
	if (mount(src, target, type, flags, data) == 0)
		return 0;
	hm_log_errno(HM_ERROR, phase, errno, "mount %s on %s (type %s, options %s) failed",
		src ? src : "none", target, type ? type : "none", data ? data : "none");
	return -1;
}

int FAST_FUNC hm_mount_disk(const char *phase, const char *what, const char *dev,
		const char *target, unsigned long flags, const char *data)
{
	if (mount(dev, target, "ext4", flags, data) == 0)
		return 0;
	hm_log_errno(HM_ERROR, phase, errno, "%s %s: mount on %s failed: expected an ext4 filesystem%s",
		what, dev, target, (flags & MS_RDONLY) ? "" : " (writable)");
	return -1;
}

int FAST_FUNC hm_mkdir(const char *phase, const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	struct stat st;

	/* One mkdir when the parent is there (the usual case: each mkdir
	 * on the fresh overlay disk is journalled). The umask (022) leaves
	 * the modes used here as they are. */
	if (mkdir(path, mode) == 0 || (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode)))
		return 0;
	/* bb_make_directory writes into its argument */
	safe_strncpy(tmp, path, sizeof(tmp));
	if (bb_make_directory(tmp, mode, FILEUTILS_RECUR | FILEUTILS_IGNORE_CHMOD_ERR) == 0)
		return 0;
	hm_log_errno(HM_ERROR, phase, errno, "mkdir %s failed", path);
	return -1;
}

struct early_mount {
	const char *src, *target, *type, *data;
	unsigned long flags;
	mode_t dir_mode;
	bool optional;  /* failure is a WARN, boot goes on */
};

static const struct early_mount early[] = {
	{ "proc", "/proc", "proc", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC, 0555, false },
	{ "sysfs", "/sys", "sysfs", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC, 0555, false },
	{ "devtmpfs", "/dev", "devtmpfs", "mode=0755", MS_NOSUID, 0755, false },
	{ "devpts", "/dev/pts", "devpts", "gid=5,mode=620,ptmxmode=666", MS_NOSUID | MS_NOEXEC, 0755, true },
	{ "shm", "/dev/shm", "tmpfs", "mode=1777", MS_NOSUID | MS_NODEV, 01777, true },
	{ "mqueue", "/dev/mqueue", "mqueue", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC, 01777, true },
	{ "cgroup2", "/sys/fs/cgroup", "cgroup2", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC, 0755, true },
	/* the image's /run (contract: Boot phases, switch), here so that
	 * phases before the switch can leave state there */
	{ "tmpfs", "/run", "tmpfs", "mode=0755", MS_NOSUID | MS_NODEV, 0755, false },
};

/* What Docker links in a container's /dev: images rely on them (nginx
 * logs to /dev/stdout). devtmpfs has none of them. */
static const char *const dev_links[][2] = {
	{ "/proc/self/fd", "/dev/fd" },
	{ "/proc/self/fd/0", "/dev/stdin" },
	{ "/proc/self/fd/1", "/dev/stdout" },
	{ "/proc/self/fd/2", "/dev/stderr" },
	{ "/proc/kcore", "/dev/core" },
};

/* Fatal only when proc, sys or dev cannot be mounted. */
int FAST_FUNC hm_mount_early(void)
{
	unsigned i;
	int rc = 0;

	hm_phase_begin("mount");
	for (i = 0; i < ARRAY_SIZE(early); i++) {
		const struct early_mount *m = &early[i];
		/* devtmpfs may already be there (CONFIG_DEVTMPFS_MOUNT does
		 * not apply to initramfs, but be tolerant) */
		mkdir(m->target, m->dir_mode);
		if (mount(m->src, m->target, m->type, m->flags, m->data) == 0)
			continue;
		if (errno == EBUSY)
			continue;
		hm_log_errno(m->optional ? HM_WARN : HM_ERROR, "mount", errno,
			"mount %s on %s failed", m->type, m->target);
		if (!m->optional)
			rc = -1;
	}
	if (rc != 0)
		return rc;
	for (i = 0; i < ARRAY_SIZE(dev_links); i++)
		if (symlink(dev_links[i][0], dev_links[i][1]) != 0 && errno != EEXIST)
			hm_log_errno(HM_WARN, "mount", errno, "symlink %s -> %s failed", dev_links[i][1], dev_links[i][0]);
	hm_console_open();
	hm_phase_end("mount", "kernel filesystems mounted, console %s", hm_console_path());
	return 0;
}
