/*
 * Phase 7 (switch): once, for both modes. / made recursively private;
 * /dev, /sys, a fresh /run (mounted in phase mount) and /proc moved into
 * the new root (mount points resolved through confine.c); the new root
 * moved onto /; chroot; chdir /;
 * the disks the root and volumes are made of moved under
 * /run/hypeman/disks (so that shutdown can unmount them). The initramfs's
 * contents are freed later, never crossing into another mount, once the
 * program runs (hm_release_initramfs): freeing megabytes of pages is CPU
 * work the program need not wait for.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += switch_root.o

#include "libbb.h"
#include <sys/statfs.h>
#include <linux/magic.h>
#include "hypeman.h"
#include "confine.h"
#include "rmtree.h"

/* Moves the mount at SRC (a path, or /proc/self/fd/N) onto the directory
 * PATH inside the new root. */
static int move_into(int root_fd, const char *src, const char *path)
{
	char target[32];
	int fd, rc;

	fd = hm_mkdirs_in_root(root_fd, path, 0755);
	if (fd < 0) {
		hm_log_errno(HM_ERROR, "switch", errno, "cannot make %s in the new root", path);
		return -1;
	}
	sprintf(target, "/proc/self/fd/%d", fd);
	rc = mount(src, target, NULL, MS_MOVE, NULL);
	if (rc != 0)
		hm_log_errno(HM_ERROR, "switch", errno, "moving the mount %s to %s failed", src, path);
	close(fd);
	return rc;
}

/* rm -rf of the initramfs, on its own filesystem only (rmtree.c). */
static void free_initramfs(int oldroot_fd, const char *phase)
{
	struct statfs sfs;

	/* Only a ramfs/tmpfs root is ours to empty: refuse anything else
	 * (booted without an initrd, say). */
	if (fstatfs(oldroot_fd, &sfs) != 0
	 || (sfs.f_type != RAMFS_MAGIC && sfs.f_type != TMPFS_MAGIC)) {
		hm_log(HM_WARN, phase, "old root is not an initramfs: not freeing it");
		return;
	}
	if (hm_remove_tree_contents(oldroot_fd) != 0)
		hm_log_errno(HM_WARN, phase, errno, "the initramfs could not be freed entirely");
}

/*
 * The kernel filesystems go on real directories at the top of the image:
 * a symlink there (/run -> /, /proc -> /var/...) would put them somewhere
 * else in the image, or on top of its root. It is replaced.
 */
static void api_dir(int root_fd, const char *name)
{
	struct stat st;

	if (fstatat(root_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISDIR(st.st_mode))
			return;
		hm_log(HM_WARN, "switch", "/%s in the image is not a directory: replacing it with one", name);
		if (unlinkat(root_fd, name, 0) != 0)
			hm_log_errno(HM_WARN, "switch", errno, "cannot remove /%s in the image", name);
	}
	if (mkdirat(root_fd, name, 0755) != 0 && errno != EEXIST)
		hm_log_errno(HM_WARN, "switch", errno, "cannot make /%s in the image", name);
}

/* fchdir into the new root, move it onto /, chroot, chdir /. NULL, or
 * the step that failed (errno set). */
static const char *enter_new_root(int newroot_fd)
{
	if (fchdir(newroot_fd) != 0)
		return "chdir to " HM_NEWROOT;
	if (mount(".", "/", NULL, MS_MOVE, NULL) != 0)
		return "moving " HM_NEWROOT " onto /";
	if (chroot(".") != 0)
		return "chroot into the new root";
	if (chdir("/") != 0)
		return "chdir to / in the new root";
	return NULL;
}

/* The disks, out of the initramfs (OLDROOT_FD) and into the new root's
 * HM_DISKS_DIR. */
static void move_disks(struct hm_boot *b, int oldroot_fd)
{
	int i;

	for (i = 0; i < b->n_staged; i++) {
		char src[32], *dst;
		int fd = openat(oldroot_fd, b->staged[i].path + 1, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			hm_log_errno(HM_WARN, "switch", errno, "cannot find %s in the initramfs", b->staged[i].path);
			continue;
		}
		sprintf(src, "/proc/self/fd/%d", fd);
		dst = concat_path_file(HM_DISKS_DIR, b->staged[i].name);
		move_into(b->newroot_fd, src, dst);
		free(dst);
		close(fd);
	}
}

int FAST_FUNC hm_switch_root(struct hm_boot *b)
{
	/* /proc last: the moves find their targets through /proc/self/fd */
	static const char *const api[] = { "/dev", "/sys", "/run", "/proc" };
	const char *failed;
	int oldroot_fd, i;

	hm_phase_begin("switch");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		hm_log_errno(HM_WARN, "switch", errno, "making / private failed");
	for (i = 0; i < (int)ARRAY_SIZE(api); i++) {
		api_dir(b->newroot_fd, api[i] + 1);
		if (move_into(b->newroot_fd, api[i], api[i]) != 0)
			return -1;
	}

	oldroot_fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (oldroot_fd < 0) {
		hm_log_errno(HM_ERROR, "switch", errno, "open / failed");
		return -1;
	}
	failed = enter_new_root(b->newroot_fd);
	if (failed) {
		hm_log_errno(HM_ERROR, "switch", errno, "%s failed", failed);
		close(oldroot_fd);
		return -1;
	}
	move_disks(b, oldroot_fd);
	b->oldroot_fd = oldroot_fd;
	hm_phase_end("switch", "switched root to the overlay");
	return 0;
}

void FAST_FUNC hm_release_initramfs(struct hm_boot *b, const char *phase)
{
	unsigned long long t0 = hm_uptime_ms();

	if (b->oldroot_fd < 0)
		return;
	/* At the program's priority, not below: a busy program must not keep
	 * the memory (a GPU bundle is 100 MB and more) from being freed. */
	hm_unmount_config(b->oldroot_fd, phase);
	free_initramfs(b->oldroot_fd, phase);
	close(b->oldroot_fd);
	b->oldroot_fd = -1;
	hm_debug(phase, "config disk unmounted, initramfs freed (%llu ms)", hm_uptime_ms() - t0);
}
