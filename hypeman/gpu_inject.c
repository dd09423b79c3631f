/*
 * Phase 6 (gpu): the bundle's userspace into the image, through confine.c
 * like every write there: the libraries (usr/lib of the bundle, real
 * files and their .so.1/.so symlinks) into the multiarch library
 * directory the image uses, its tools (nvidia-smi) into /usr/bin, an
 * /etc/ld.so.conf.d entry naming the library directory, and the image's
 * own ldconfig (when it has one) run in a child chrooted into the image,
 * so that the dynamic linker finds them by soname.
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

struct copy_job {
	struct hm_boot *b;
	const char *dst;
	mode_t mode;
	int copied, failed;
};

/* One entry of the bundle's directory: a file copied, a symlink made. */
static int FAST_FUNC copy_entry(const char *dir, struct dirent *de, void *arg)
{
	struct copy_job *j = arg;
	char *src = concat_path_file(dir, de->d_name);
	char *dst = concat_path_file(j->dst, de->d_name);
	char *target = NULL;
	int fd = -1, rc = -1;
	struct stat st;

	if (lstat(src, &st) != 0)
		goto out;
	if (S_ISLNK(st.st_mode)) {
		target = xmalloc_readlink(src);
		rc = target ? hm_symlink_in_root(j->b->newroot_fd, target, dst) : -1;
	} else if (S_ISREG(st.st_mode)) {
		fd = open(src, O_RDONLY | O_CLOEXEC);
		rc = fd < 0 ? -1 : hm_copy_fd_in_root(j->b->newroot_fd, dst, fd, j->mode, NULL);
	} else {
		rc = 0;	/* directories and the rest: not part of a bundle */
	}
	if (rc != 0) {
		hm_log_errno(HM_ERROR, "gpu", errno, "cannot install %s as %s in the image", src, dst);
		j->failed++;
	} else if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
		j->copied++;
	}
 out:
	if (fd >= 0)
		close(fd);
	free(target);
	free(src);
	free(dst);
	return 0;
}

static void copy_dir(struct hm_boot *b, const char *src, const char *dst, mode_t mode)
{
	struct copy_job j = { b, dst, mode, 0, 0 };

	if (access(src, F_OK) != 0)
		return;
	iterate_on_dir(src, copy_entry, &j);
	hm_log(HM_INFO, "gpu", "installed %d file(s) from the bundle's %s in %s%s", j.copied,
		src, dst, j.failed ? " (with errors)" : "");
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

/* The image's ldconfig, chrooted into the image, in a child. */
static void run_ldconfig(struct hm_boot *b)
{
	static const char *const paths[] = { "/sbin/ldconfig", "/usr/sbin/ldconfig" };
	const char *path = NULL;
	unsigned i;
	pid_t pid;
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
	pid = fork();
	if (pid == 0) {
		static char *const argv[] = { (char *)"ldconfig", NULL };
		static char *const envp[] = { NULL };
		die_func = NULL;
		hm_reset_signals();
		if (fchdir(b->newroot_fd) == 0 && chroot(".") == 0 && chdir("/") == 0)
			execve(path, argv, envp);
		_exit(127);
	}
	if (pid < 0) {
		hm_log_errno(HM_ERROR, "gpu", errno, "fork for ldconfig failed");
		return;
	}
	status = hm_wait_bounded(pid, LDCONFIG_TIMEOUT_MS);
	if (status == -1)
		hm_log(HM_ERROR, "gpu", "the image's %s did not finish within %u ms: killed", path, LDCONFIG_TIMEOUT_MS);
	else if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		hm_log(HM_ERROR, "gpu", "the image's %s failed (wait status 0x%x)", path, status);
	else
		hm_log(HM_INFO, "gpu", "ran the image's %s", path);
}

void FAST_FUNC hm_gpu_inject(struct hm_boot *b, const char *bundle)
{
	const char *libdir = library_dir(b);
	char *src, *conf;

	src = concat_path_file(bundle, "usr/lib");
	copy_dir(b, src, libdir, 0755);
	free(src);
	src = concat_path_file(bundle, "usr/bin");
	copy_dir(b, src, "/usr/bin", 0755);
	free(src);
	conf = xasprintf("%s\n", libdir);
	hm_write_in_image(b, "gpu", LD_CONF, conf, strlen(conf), 0644);
	free(conf);
	run_ldconfig(b);
}
