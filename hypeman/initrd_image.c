/*
 * The initrd's large optional parts (the GPU driver bundle, the kernel
 * headers) are squashfs images that build.sh appends to the initrd in an
 * uncompressed cpio: the kernel only copies them into the initramfs,
 * compressed, and they cost a boot that does not use them no unpacking.
 * A boot that uses one mounts it read-only through a loop device; the
 * loop and squashfs modules are in the initrd's module tree but not in
 * the boot list: build.sh lists their files in load order
 * (/etc/hypeman/image-modules), and they are loaded here, on demand, from
 * fds (the headers' worker runs after the switch has freed the files).
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += initrd_image.o

#include "libbb.h"
#include "../../modutils/modutils.h"
#include "hypeman.h"
#include "moddep.h"

static char *read_index(const char *dir, const char *name)
{
	char *path = concat_path_file(dir, name);
	char *text = xmalloc_open_read_close(path, NULL);

	free(path);
	return text;
}

int FAST_FUNC hm_plan_modules(const char *phase, const char *dir,
		char *const *wanted, int n_wanted, struct hm_modplan *plan)
{
	char *idx[4];
	static const char *const names[4] = {
		"modules.dep", "modules.softdep", "modules.alias", "modules.builtin"
	};
	int i, rc;

	for (i = 0; i < 4; i++)
		idx[i] = read_index(dir, names[i]);
	rc = idx[0] ? hm_modplan_build(idx[0], idx[1], idx[2], idx[3], wanted, n_wanted, plan) : -1;
	if (!idx[0])
		hm_log(HM_ERROR, phase, "no %s/modules.dep", dir);
	else if (rc != 0)
		hm_log(HM_ERROR, phase, "cannot resolve the dependencies of the modules in %s", dir);
	for (i = 0; rc == 0 && i < plan->n_missing; i++) {
		hm_log(HM_ERROR, phase, "module %s: not in %s and not built in", plan->missing[i], dir);
		rc = -1;
	}
	for (i = 0; i < 4; i++)
		free(idx[i]);
	return rc;
}

/* finit_module(2) once: bb_init_module() retries a failed load with
 * init_module(2), which reads a 60 MB nvidia.ko a second time only to
 * fail again (no GPU: ENODEV). 0 or an errno. */
static int load_module(const char *path, const char *options)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return errno;
	rc = syscall(__NR_finit_module, fd, options, 0) == 0 ? 0 : errno;
	close(fd);
	if (rc == ENOSYS)
		rc = bb_init_module(path, options);
	return rc;
}

int FAST_FUNC hm_load_plan(const char *phase, const char *dir, const struct hm_modplan *plan,
		const char *(*options)(const char *name))
{
	int i, rc;

	for (i = 0; i < plan->n; i++) {
		const struct hm_modload *m = &plan->items[i];
		char *path = concat_path_file(dir, m->path);

		rc = load_module(path, options ? options(m->name) : "");
		free(path);
		if (rc == 0 || rc == EEXIST) {
			hm_debug(phase, "loaded %s%s", m->name, rc ? " (already loaded)" : "");
			continue;
		}
		rc = rc < 0 ? -rc : rc;
		hm_log_errno(m->optional ? HM_WARN : HM_ERROR, phase, rc, "loading %s (%s/%s) failed",
			m->name, dir, m->path);
		if (!m->optional) {
			/* the modules after it depend on it, or were asked for
			 * after it: loading them would only fail again */
			if (i + 1 < plan->n)
				hm_log(HM_ERROR, phase, "not loading the %d module(s) after %s", plan->n - i - 1, m->name);
			return -1;
		}
	}
	return 0;
}

int FAST_FUNC hm_image_modules_open(const char *phase, int *fds, int max)
{
	struct utsname uts;
	char *text = xmalloc_open_read_close(HM_IMAGE_MODULES, NULL);
	char **paths = NULL;
	int n, i, count = 0;

	if (!text)
		return 0;  /* an initrd without modules: the kernel has them built in */
	uname(&uts);
	n = hm_modlist_parse(text, &paths);
	for (i = 0; i < n && count < max; i++) {
		char *path = xasprintf("/lib/modules/%s/%s", uts.release, paths[i]);
		fds[count] = open(path, O_RDONLY | O_CLOEXEC);
		if (fds[count] < 0) {
			hm_log_errno(HM_ERROR, phase, errno, "open %s failed", path);
			n = -1;
		} else {
			count++;
		}
		free(path);
	}
	free(paths);
	free(text);
	if (n < 0) {
		while (count > 0)
			close(fds[--count]);
		return -1;
	}
	return count;
}

int FAST_FUNC hm_image_modules_load(const char *phase, int *fds, int n)
{
	int i, rc = 0;

	for (i = 0; i < n; i++) {
		if (syscall(__NR_finit_module, fds[i], "", 0) != 0 && errno != EEXIST) {
			hm_log_errno(HM_ERROR, phase, errno, "loading module %d of %d in %s failed", i + 1, n, HM_IMAGE_MODULES);
			rc = -1;
		}
		close(fds[i]);
	}
	return rc;
}

int FAST_FUNC hm_mount_initrd_image(const char *phase, int fd, const char *target)
{
	char src[32];
	char *dev = NULL;
	int lfd, rc;

	if (hm_mkdir(phase, target, 0755))
		return -1;
	/* the file may be unlinked already (the initramfs is freed at the
	 * switch): its fd's magic link still opens it */
	sprintf(src, "/proc/self/fd/%d", fd);
	lfd = set_loop(&dev, src, 0, 0, BB_LO_FLAGS_READ_ONLY | BB_LO_FLAGS_AUTOCLEAR);
	if (lfd < 0) {
		hm_log_errno(HM_ERROR, phase, errno, "no loop device for the initrd image (fd %d) to mount on %s", fd, target);
		free(dev);
		return -1;
	}
	/* autoclear: the loop device goes when the mount does; lfd may only
	 * be closed after the mount holds it */
	rc = hm_mount(phase, dev, target, "squashfs", MS_RDONLY | MS_NODEV | MS_NOSUID, NULL);
	close(lfd);
	free(dev);
	return rc;
}
