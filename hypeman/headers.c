/*
 * Phase 6 (headers), unless config skip_kernel_headers and when the initrd
 * carries them (build.sh --kernel-headers): the running kernel's headers
 * for DKMS and `make -C /lib/modules/$(uname -r)/build M=...`, off the
 * boot path.
 *
 * Before the switch PID 1 only opens what the work needs from the
 * initramfs (the headers image and the loop and squashfs modules: open
 * fds keep them when the switch frees the initramfs). After the switch a
 * child, the worker, loads the modules, mounts the image on
 * /run/hypeman/headers, removes other kernels' module and header
 * directories from the image, links the tree's paths into it
 * (/usr/src/linux-headers-$(uname -r), the paths it needs such as
 * Debian's -common tree and kbuild, /lib/modules/$(uname -r)/build) and
 * then, only then, writes /run/hypeman/headers-ready (or headers-failed).
 * The program starts meanwhile. In systemd mode the worker is adopted by
 * systemd, and a runtime unit ordered before dkms.service waits for the
 * marker (this binary's hypeman-headers-wait applet), so nothing that
 * builds modules sees a half-made tree; the unit lives in /run, so a later
 * boot with skip_kernel_headers has none.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += headers.o

#include "libbb.h"
#include <sys/inotify.h>
#include <sys/resource.h>
#include "hypeman.h"
#include "confine.h"
#include "moddep.h"
#include "nvinfo.h"
#include "rmtree.h"

#define MNT          "/run/hypeman/headers"
#define READY        "/run/hypeman/headers-ready"
#define FAILED       "/run/hypeman/headers-failed"
#define UNIT_DIR     "/run/systemd/system"
#define UNIT_NAME    "hypeman-headers.service"
#define WAIT_BINARY  "/run/hypeman/busybox"
#define WAIT_TIMEOUT_MS (600 * 1000)
#define MAX_MODULES 8

static const char unit_text[] =
	"[Unit]\n"
	"Description=Hypeman: kernel headers of the running kernel\n"
	"DefaultDependencies=no\n"
	"Before=dkms.service\n"
	"\n"
	"[Service]\n"
	"Type=oneshot\n"
	"RemainAfterExit=yes\n"
	"ExecStart=" WAIT_BINARY " hypeman-headers-wait\n";

/* What the worker gets from before the switch. */
static struct {
	char *text;			/* the list's text; LIST points into it */
	struct hm_bundle_list list;
	int image_fd;			/* -1: nothing to do */
	int mod_fd[MAX_MODULES];
	int n_mod;
} job = { .image_fd = -1 };

void FAST_FUNC hm_prepare_headers(struct hm_boot *b)
{
	struct utsname uts;
	char err[128];

	job.text = xmalloc_open_read_close(HM_HEADERS_LIST, NULL);
	if (!job.text)
		return;  /* this initrd carries no headers */
	hm_phase_begin("headers");
	if (b->cfg.skip_kernel_headers) {
		hm_phase_end("headers", "skip_kernel_headers: not installing the kernel headers");
		return;
	}
	uname(&uts);
	if (hm_bundle_list_parse(job.text, &job.list, err, sizeof(err)) != 0 || !job.list.release || !job.list.tree) {
		hm_log(HM_ERROR, "headers", "%s: %s", HM_HEADERS_LIST, job.list.release && job.list.tree ? err : "no release or tree");
		return;
	}
	if (strcmp(job.list.release, uts.release) != 0) {
		hm_log(HM_ERROR, "headers", "the initrd's kernel headers are for %s, this kernel is %s: not installed",
			job.list.release, uts.release);
		return;
	}
	job.n_mod = hm_image_modules_open("headers", job.mod_fd, MAX_MODULES);
	if (job.n_mod < 0)
		return;
	job.image_fd = open(HM_HEADERS_IMAGE, O_RDONLY | O_CLOEXEC);
	if (job.image_fd < 0) {
		hm_log_errno(HM_ERROR, "headers", errno, "open %s failed", HM_HEADERS_IMAGE);
		while (job.n_mod > 0)
			close(job.mod_fd[--job.n_mod]);
		return;
	}
	/* logged when the worker starts: a line less before the program */
}

/* PATH in the image becomes a symlink to TARGET; a directory there (the
 * image's own copy) is removed first. PATH is absolute (bundle list). */
static int link_path(struct hm_boot *b, const char *path, const char *target)
{
	const char *base = strrchr(path, '/') + 1;
	char *parent = xstrndup(path, base - path);
	struct stat st;
	int pfd;

	pfd = hm_mkdirs_in_root(b->newroot_fd, parent, 0755);
	free(parent);
	if (pfd < 0) {
		hm_log_errno(HM_ERROR, "headers", errno, "cannot make the directory of %s in the image", path);
		return -1;
	}
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
		hm_log(HM_INFO, "headers", "replacing the image's %s", path);
		if (hm_remove_tree_at(pfd, base) != 0)
			hm_log_errno(HM_WARN, "headers", errno, "removing the image's %s", path);
	}
	close(pfd);
	if (hm_symlink_in_root(b->newroot_fd, target, path) != 0) {
		hm_log_errno(HM_ERROR, "headers", errno, "cannot link %s -> %s in the image", path, target);
		return -1;
	}
	return 0;
}

/* Whether NAME in /usr/src is one of the bundle's trees. */
static bool ours(const char *name)
{
	int i;

	if (strcmp(name, strrchr(job.list.tree, '/') + 1) == 0)
		return true;
	for (i = 0; i < job.list.n_paths; i++)
		if (is_prefixed_with(job.list.paths[i], "/usr/src/") && strcmp(job.list.paths[i] + 9, name) == 0)
			return true;
	return false;
}

/* Removes the entries of DIR in the image that start with PREFIX, but
 * KEEP and (for a PREFIX) the bundle's own trees: /lib/modules/<other>,
 * /usr/src/linux-headers-<other>. */
static void remove_others(struct hm_boot *b, const char *dir, const char *prefix, const char *keep)
{
	int fd = hm_openat_in_root(b->newroot_fd, dir, O_RDONLY | O_DIRECTORY, 0);
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return;  /* the image has no such directory */
	d = fdopendir(dup(fd));
	while (d && (de = readdir(d)) != NULL) {
		if (DOT_OR_DOTDOT(de->d_name) || !is_prefixed_with(de->d_name, prefix)
		 || strcmp(de->d_name, keep) == 0 || (prefix[0] && ours(de->d_name)))
			continue;
		if (hm_remove_tree_at(fd, de->d_name) == 0)
			hm_log(HM_INFO, "headers", "removed %s/%s (not the running kernel's)", dir, de->d_name);
		else
			hm_log_errno(HM_ERROR, "headers", errno, "removing %s/%s", dir, de->d_name);
	}
	if (d)
		closedir(d);
	close(fd);
}

/* The tree and the paths it needs, linked into the image. */
static int link_all(struct hm_boot *b, const char *release)
{
	char *std = xasprintf("/usr/src/linux-headers-%s", release);
	char *build = xasprintf("/lib/modules/%s/build", release);
	char *target;
	int i, rc = 0;

	for (i = -1; i < job.list.n_paths; i++) {
		const char *p = i < 0 ? job.list.tree : job.list.paths[i];
		target = concat_path_file(MNT, p);
		rc |= link_path(b, p, target);
		free(target);
	}
	/* the tree under the name DKMS expects, when it has another */
	if (strcmp(std, job.list.tree) != 0)
		rc |= link_path(b, std, job.list.tree);
	rc |= link_path(b, build, std);
	free(std);
	free(build);
	return rc;
}

static void marker(const char *path, const char *text)
{
	char *tmp = xasprintf("%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || full_write(fd, text, strlen(text)) < 0 || close(fd) != 0 || rename(tmp, path) != 0)
		hm_log_errno(HM_ERROR, "headers", errno, "cannot write %s", path);
	free(tmp);
}

static void NORETURN worker(struct hm_boot *b)
{
	const char *release = job.list.release;
	char *tree;
	int rc;

	die_func = NULL;  /* an x*() failure ends the worker, not PID 1 */
	hm_reset_signals();
	setpriority(PRIO_PROCESS, 0, 10);
	hm_phase_begin("headers");
	rc = hm_image_modules_load("headers", job.mod_fd, job.n_mod);
	job.n_mod = 0;
	tree = concat_path_file(MNT, job.list.tree);
	if (rc == 0)
		rc = hm_mount_initrd_image("headers", job.image_fd, MNT);
	if (rc == 0 && access(tree, F_OK) != 0) {
		hm_log_errno(HM_ERROR, "headers", errno, "the headers image has no %s", job.list.tree);
		rc = -1;
	}
	if (rc == 0) {
		char *std = xasprintf("linux-headers-%s", release);
		remove_others(b, "/lib/modules", "", release);
		remove_others(b, "/usr/src", "linux-headers-", std);
		free(std);
		rc = link_all(b, release);
	}
	if (rc == 0) {
		char *text = xasprintf("%s\n", release);
		marker(READY, text);
		hm_phase_end("headers", "kernel headers of %s ready: /lib/modules/%s/build", release, release);
	} else {
		marker(FAILED, "failed\n");
		hm_log(HM_ERROR, "headers", "kernel headers not installed (%s)", FAILED);
	}
	_exit(rc == 0 ? 0 : 1);
}

/* systemd mode: a runtime unit that waits for the worker, before dkms. */
static void add_wait_unit(struct hm_boot *b)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || hm_copy_fd_in_root(b->newroot_fd, WAIT_BINARY, fd, 0755, NULL) != 0)
		hm_log_errno(HM_ERROR, "headers", errno, "cannot copy this binary to %s", WAIT_BINARY);
	if (fd >= 0)
		close(fd);
	if (hm_write_in_image(b, "headers", UNIT_DIR "/" UNIT_NAME, unit_text, sizeof(unit_text) - 1, 0644) == 0
	 && hm_symlink_in_root(b->newroot_fd, "../" UNIT_NAME, UNIT_DIR "/sysinit.target.wants/" UNIT_NAME) != 0)
		hm_log_errno(HM_ERROR, "headers", errno, "cannot enable %s", UNIT_NAME);
}

void FAST_FUNC hm_start_headers(struct hm_boot *b)
{
	pid_t pid;
	int i;

	if (job.image_fd < 0)
		return;
	hm_phase_begin("headers");
	if (hm_mkdir("headers", "/run/hypeman", 0755) != 0)
		return;
	if (b->mode == HM_MODE_SYSTEMD)
		add_wait_unit(b);
	pid = fork();
	if (pid == 0)
		worker(b);
	if (pid < 0) {
		hm_log_errno(HM_ERROR, "headers", errno, "fork for the headers worker failed");
		marker(FAILED, "fork failed\n");
	} else {
		hm_phase_end("headers", "kernel headers of %s: worker started (pid %d), %s when done",
			job.list.release, (int)pid, READY);
	}
	close(job.image_fd);
	job.image_fd = -1;
	for (i = 0; i < job.n_mod; i++)
		close(job.mod_fd[i]);
	job.n_mod = 0;
}

/* The applet hypeman-headers-wait (the systemd unit's ExecStart): 0 once
 * READY exists, 1 when FAILED does or after WAIT_TIMEOUT_MS. */
int FAST_FUNC hm_headers_wait(void)
{
	unsigned long long deadline = hm_uptime_ms() + WAIT_TIMEOUT_MS;
	struct timespec left;
	struct pollfd pfd;
	char buf[4096];

	pfd.fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	pfd.events = POLLIN;
	if (pfd.fd < 0 || inotify_add_watch(pfd.fd, "/run/hypeman", IN_CREATE | IN_MOVED_TO) < 0) {
		hm_log_errno(HM_ERROR, "headers", errno, "cannot watch /run/hypeman");
		return 1;
	}
	for (;;) {
		if (access(READY, F_OK) == 0) {
			hm_log(HM_INFO, "headers", "kernel headers ready");
			return 0;
		}
		if (access(FAILED, F_OK) == 0) {
			hm_log(HM_ERROR, "headers", "the kernel headers worker failed");
			return 1;
		}
		if (!hm_time_left(deadline, &left)) {
			hm_log(HM_ERROR, "headers", "no %s after %d s", READY, WAIT_TIMEOUT_MS / 1000);
			return 1;
		}
		if (poll(&pfd, 1, left.tv_sec * 1000 + left.tv_nsec / 1000000) > 0)
			while (read(pfd.fd, buf, sizeof(buf)) > 0)
				continue;
	}
}
