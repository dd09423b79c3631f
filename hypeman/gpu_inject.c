/*
 * Phase 6 (gpu): the bundle's userspace into the image, read-only, as
 * libnvidia-container does it: each library (usr/lib of the bundle) is
 * bind-mounted onto a file of that name in the multiarch library
 * directory the image uses, each tool (usr/bin: nvidia-smi,
 * nvidia-modprobe, nvidia-persistenced...) onto /usr/bin, the OpenCL ICD
 * file onto /etc/OpenCL/vendors; the bundle's soname symlinks become
 * symlinks. The overlay gets only empty mount points, the symlinks, an
 * /etc/ld.so.conf.d entry naming the library directory and the cache of
 * the image's own ldconfig, run on that directory in a child chrooted
 * into the image. Every path is resolved confined (confine.c); the binds
 * keep the bundle mount's read-only, nosuid, nodev flags.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += gpu_inject.o

#include "libbb.h"
#include "hypeman.h"
#include "confine.h"

#if defined(__x86_64__)
# define MULTIARCH "x86_64-linux-gnu"
#elif defined(__aarch64__)
# define MULTIARCH "aarch64-linux-gnu"
#else
# define MULTIARCH ""
#endif
#define LD_CONF "/etc/ld.so.conf.d/hypeman-nvidia.conf"
#define LDCONFIG_TIMEOUT_MS 60000

struct bind_job {
	struct hm_boot *b;
	const char *dst;
	int bound, linked, failed;
};

/* DST in the image as a regular file to mount on (an empty one made when
 * there is none; anything else there replaced): its O_PATH fd, or -1. */
static int mount_point(struct hm_boot *b, const char *dst)
{
	int fd = hm_openat_in_root(b->newroot_fd, dst, O_PATH | O_NOFOLLOW, 0);
	struct stat st;

	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		return fd;
	if (fd >= 0)
		close(fd);
	if (hm_write_file_in_root(b->newroot_fd, dst, "", 0, 0644, NULL) != 0)
		return -1;
	return hm_openat_in_root(b->newroot_fd, dst, O_PATH | O_NOFOLLOW, 0);
}

/* SRC bind-mounted onto DST in the image. */
static int bind_file(struct hm_boot *b, const char *src, const char *dst)
{
	char target[32];
	int fd = mount_point(b, dst), rc;

	if (fd < 0)
		return -1;
	sprintf(target, "/proc/self/fd/%d", fd);
	rc = mount(src, target, NULL, MS_BIND, NULL);
	close(fd);
	return rc;
}

/* One entry of the bundle's directory: a file bound, a symlink made. */
static int FAST_FUNC bind_entry(const char *dir, struct dirent *de, void *arg)
{
	struct bind_job *j = arg;
	char *src = concat_path_file(dir, de->d_name);
	char *dst = concat_path_file(j->dst, de->d_name);
	char *target = NULL;
	int rc = 0;
	struct stat st;

	if (lstat(src, &st) != 0) {
		rc = -1;
	} else if (S_ISLNK(st.st_mode)) {
		target = xmalloc_readlink(src);
		rc = target ? hm_symlink_in_root(j->b->newroot_fd, target, dst) : -1;
		j->linked += rc == 0;
	} else if (S_ISREG(st.st_mode)) {
		rc = bind_file(j->b, src, dst);
		j->bound += rc == 0;
	}	/* directories and the rest: not part of a bundle */
	if (rc != 0) {
		hm_log_errno(HM_ERROR, "gpu", errno, "cannot put %s in the image as %s", src, dst);
		j->failed++;
	}
	free(target);
	free(src);
	free(dst);
	return 0;
}

static void bind_dir(struct hm_boot *b, const char *bundle, const char *sub, const char *dst)
{
	struct bind_job j = { b, dst, 0, 0, 0 };
	char *src = concat_path_file(bundle, sub);

	if (access(src, F_OK) == 0) {
		iterate_on_dir(src, bind_entry, &j);
		hm_log(HM_INFO, "gpu", "%d file(s) of the bundle's %s mounted read-only in %s, %d symlink(s)%s",
			j.bound, sub, dst, j.linked, j.failed ? " (with errors)" : "");
	}
	free(src);
}

/* The image's multiarch library directory, else /usr/lib64, else /usr/lib. */
static const char *library_dir(struct hm_boot *b)
{
	static const char *const dirs[] = { "/usr/lib/" MULTIARCH, "/usr/lib64", "/usr/lib" };
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(dirs) - 1; i++) {
		int fd = hm_openat_in_root(b->newroot_fd, dirs[i], O_PATH | O_DIRECTORY, 0);
		if (fd >= 0) {
			close(fd);
			return dirs[i];
		}
	}
	return dirs[i];
}

/* The image's ldconfig on LIBDIR, chrooted into the image, in a child. */
static void run_ldconfig(struct hm_boot *b, const char *libdir)
{
	static const char *const paths[] = { "/sbin/ldconfig", "/usr/sbin/ldconfig" };
	char *const argv[] = { (char *)"ldconfig", (char *)libdir, NULL };
	const char *path = NULL;
	unsigned i;
	int status;

	for (i = 0; i < ARRAY_SIZE(paths) && !path; i++) {
		int fd = hm_openat_in_root(b->newroot_fd, paths[i], O_PATH, 0);
		struct stat st;
		if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
			path = paths[i];
		if (fd >= 0)
			close(fd);
	}
	if (!path) {
		hm_log(HM_INFO, "gpu", "the image has no ldconfig: %s names the libraries' directory", LD_CONF);
		return;
	}
	/* a failure to run it, a signal or the bound: logged by the runner */
	status = hm_run_in_image(b, "gpu", path, argv, LDCONFIG_TIMEOUT_MS);
	if (status > 0)
		hm_log(HM_ERROR, "gpu", "the image's %s %s failed (exit code %d)", path, libdir, status);
	else if (status == 0)
		hm_log(HM_INFO, "gpu", "ran the image's %s %s", path, libdir);
}

void FAST_FUNC hm_gpu_inject(struct hm_boot *b, const char *bundle)
{
	const char *libdir = library_dir(b);
	char *conf;

	bind_dir(b, bundle, "usr/lib", libdir);
	bind_dir(b, bundle, "usr/bin", "/usr/bin");
	bind_dir(b, bundle, "etc/OpenCL/vendors", "/etc/OpenCL/vendors");
	conf = xasprintf("%s\n", libdir);
	hm_write_in_image(b, "gpu", LD_CONF, conf, strlen(conf), 0644);
	free(conf);
	run_ldconfig(b, libdir);
}
