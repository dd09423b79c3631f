/*
 * Phase 6 (headers), unless config skip_kernel_headers and when the initrd
 * carries them (build.sh --kernel-headers): the running kernel's headers
 * for DKMS and `make -C /lib/modules/$(uname -r)/build M=...`, off the
 * boot path, with the protocol today's hypeman host reads
 * (contract: GPU and kernel headers): /run/hypeman/kernel-headers.status
 * going pending, running, then ready or failed, and the
 * HYPEMAN-HEADERS-START, -READY and -FAILED markers on the console.
 *
 * Before the switch PID 1 stages "pending" and only opens what the work
 * needs from the initramfs (the headers image and the loop and squashfs
 * modules: open fds keep them when the switch frees the initramfs).
 * After the switch a child, the worker (nice 10, idle I/O class), keeps
 * an install the image already has for this release; else it loads the
 * modules, mounts the image on /run/hypeman/headers, removes other
 * kernels' module and header directories from the image, links the
 * tree's paths into it (/usr/src/linux-headers-$(uname -r), the paths it
 * needs such as Debian's -common tree and kbuild,
 * /lib/modules/$(uname -r)/build) and only then says ready. The program
 * starts meanwhile. In systemd mode the worker is adopted by systemd, and
 * a runtime unit, hypeman-kernel-headers.service, ordered before
 * dkms.service, waits for the status (this binary's hypeman-headers-wait
 * applet), so nothing that builds modules sees a half-made tree; the
 * unit lives in /run, so a later boot with skip_kernel_headers has none.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += headers.o

#include "libbb.h"
#include <sys/inotify.h>
#include <sys/resource.h>
#include "hypeman.h"
#include "confine.h"
#include "marker.h"
#include "nvinfo.h"
#include "rmtree.h"

#define MNT          "/run/hypeman/headers"
#define STATUS       "/run/hypeman/kernel-headers.status"
#define UNIT_DIR     "/run/systemd/system"
#define UNIT_NAME    "hypeman-kernel-headers.service"
#define WAIT_BINARY  "/run/hypeman/busybox"
#define WAIT_TIMEOUT_MS (600 * 1000)
#define MAX_MODULES 8
/* ioprio_set(2): the idle class, as `ionice -c 3` */
#define IOPRIO_IDLE (3 << 13)

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
	char error[256];		/* the first failure, for the FAILED marker */
} job;	/* in .bss: hm_prepare_headers sets image_fd first */

/* STATUS becomes VALUE (atomically: a reader sees one whole value). */
static void set_status(const char *value)
{
	char text[16];
	int fd = open(STATUS ".tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int ok = fd >= 0 && full_write(fd, text, sprintf(text, "%s\n", value)) >= 0;

	if (fd >= 0 && close(fd) != 0)
		ok = 0;
	if (!ok || rename(STATUS ".tmp", STATUS) != 0)
		hm_log_errno(HM_ERROR, "headers", errno, "cannot write %s", STATUS);
	else
		hm_debug("headers", "%s: %s", STATUS, value);
}

/* A failure: logged, and the first one kept for the FAILED marker. -1. */
static int failure(int err, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (err)
		hm_log_errno(HM_ERROR, "headers", err, "%s", msg);
	else
		hm_log(HM_ERROR, "headers", "%s", msg);
	if (!job.error[0])
		snprintf(job.error, sizeof(job.error), "%s%s%s", msg, err ? ": " : "", err ? strerror(err) : "");
	return -1;
}

/* START, READY or FAILED (with job.error), as the host reads them. */
static void headers_marker(enum hm_marker_kind kind)
{
	struct hm_marker m = { .kind = kind };

	m.text[HM_MF_ERROR] = job.error;
	hm_marker_out(&m);
}

/* The end of an install that failed: status, marker, the phase's end. */
static void headers_failed(void)
{
	set_status("failed");
	headers_marker(HM_MARKER_HEADERS_FAILED);
	hm_phase_end("headers", "kernel headers not installed");
}

static void close_job(void)
{
	if (job.image_fd >= 0)
		close(job.image_fd);
	job.image_fd = -1;
	while (job.n_mod > 0)
		close(job.mod_fd[--job.n_mod]);
}

/* What the worker will need, opened before the initramfs goes: 0 or -1. */
static int open_job(void)
{
	struct utsname uts;
	char err[128];

	uname(&uts);
	if (hm_bundle_list_parse(job.text, &job.list, err, sizeof(err)) != 0)
		return failure(0, "%s: %s", HM_HEADERS_LIST, err);
	if (!job.list.release || !job.list.tree)
		return failure(0, "%s: no release or tree", HM_HEADERS_LIST);
	if (strcmp(job.list.release, uts.release) != 0)
		return failure(0, "the initrd's kernel headers are for %s, this kernel is %s",
			job.list.release, uts.release);
	job.n_mod = hm_image_modules_open("headers", job.mod_fd, MAX_MODULES);
	if (job.n_mod < 0) {
		job.n_mod = 0;
		return failure(0, "cannot open the loop and squashfs modules");
	}
	job.image_fd = open(HM_HEADERS_IMAGE, O_RDONLY | O_CLOEXEC);
	if (job.image_fd < 0)
		return failure(errno, "open %s failed", HM_HEADERS_IMAGE);
	return 0;
}

void FAST_FUNC hm_prepare_headers(struct hm_boot *b)
{
	job.image_fd = -1;
	job.text = xmalloc_open_read_close(HM_HEADERS_LIST, NULL);
	if (!job.text)
		return;  /* this initrd carries no headers */
	hm_phase_begin("headers");
	if (b->cfg.skip_kernel_headers) {
		hm_phase_end("headers", "skip_kernel_headers: not installing the kernel headers");
		return;
	}
	/* the image's /run, moved there by the switch */
	if (hm_mkdir("headers", "/run/hypeman", 0755) != 0) {
		hm_phase_end("headers", "kernel headers not installed");
		return;
	}
	set_status("pending");
	if (open_job() != 0) {
		close_job();
		headers_failed();
	}
	/* else logged when the worker starts: a line less before the program */
}

/* PATH in the image becomes a symlink to TARGET; a directory there (the
 * image's own copy) is removed first. PATH is absolute (bundle list). */
static int link_path(struct hm_boot *b, const char *path, const char *target)
{
	const char *base = bb_basename(path);
	char *parent = xstrndup(path, base - path);
	struct stat st;
	int pfd;

	pfd = hm_mkdirs_in_root(b->newroot_fd, parent, 0755);
	free(parent);
	if (pfd < 0)
		return failure(errno, "cannot make the directory of %s in the image", path);
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
		hm_log(HM_INFO, "headers", "replacing the image's %s", path);
		if (hm_remove_tree_at(pfd, base) != 0)
			hm_log_errno(HM_WARN, "headers", errno, "removing the image's %s", path);
	}
	close(pfd);
	if (hm_symlink_in_root(b->newroot_fd, target, path) != 0)
		return failure(errno, "cannot link %s -> %s in the image", path, target);
	return 0;
}

/* Whether NAME in /usr/src is one of the bundle's trees. */
static bool ours(const char *name)
{
	const char *tail;
	int i;

	if (strcmp(name, bb_basename(job.list.tree)) == 0)
		return true;
	for (i = 0; i < job.list.n_paths; i++) {
		tail = is_prefixed_with(job.list.paths[i], "/usr/src/");
		if (tail && strcmp(tail, name) == 0)
			return true;
	}
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

/*
 * The fast path: the image already holds this release's headers as its
 * own directory /usr/src/linux-headers-RELEASE (a Makefile in it) with
 * /lib/modules/RELEASE/build leading there. Our links of an earlier boot
 * do not count: they lead into MNT, not mounted yet.
 */
static bool installed(const char *release)
{
	char *dir = xasprintf("/usr/src/linux-headers-%s", release);
	char *build = xasprintf("/lib/modules/%s/build", release);
	char *makefile = concat_path_file(dir, "Makefile");
	struct stat d, l;
	bool yes = lstat(dir, &d) == 0 && S_ISDIR(d.st_mode) && stat(build, &l) == 0
		&& l.st_dev == d.st_dev && l.st_ino == d.st_ino && access(makefile, F_OK) == 0;

	free(dir);
	free(build);
	free(makefile);
	return yes;
}

/* The install proper: 0 or -1 (job.error says why). */
static int install(struct hm_boot *b, const char *release)
{
	char *tree, *std;
	int rc;

	if (installed(release)) {
		hm_log(HM_INFO, "headers", "the image has the kernel headers of %s already: kept", release);
		return 0;
	}
	if (hm_image_modules_load("headers", job.mod_fd, job.n_mod) != 0)
		return failure(0, "cannot load the loop and squashfs modules");
	job.n_mod = 0;
	if (hm_mount_initrd_image("headers", job.image_fd, MNT) != 0)
		return failure(0, "cannot mount the headers image on %s", MNT);
	tree = concat_path_file(MNT, job.list.tree);
	rc = access(tree, F_OK);
	free(tree);
	if (rc != 0)
		return failure(errno, "the headers image has no %s", job.list.tree);
	std = xasprintf("linux-headers-%s", release);
	remove_others(b, "/lib/modules", "", release);
	remove_others(b, "/usr/src", "linux-headers-", std);
	free(std);
	return link_all(b, release);
}

/* The worker, in a child of PID 1 (hm_spawn: an x*() failure ends it). */
static int worker(void *arg)
{
	struct hm_boot *b = arg;
	const char *release = job.list.release;

	hm_phase_begin("headers");
	headers_marker(HM_MARKER_HEADERS_START);
	set_status("running");
	setpriority(PRIO_PROCESS, 0, 10);
	syscall(__NR_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, IOPRIO_IDLE);
	if (install(b, release) != 0) {
		headers_failed();
		return 1;
	}
	set_status("ready");
	headers_marker(HM_MARKER_HEADERS_READY);
	hm_phase_end("headers", "kernel headers of %s ready: /lib/modules/%s/build", release, release);
	return 0;
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

	if (job.image_fd < 0)
		return;
	hm_phase_begin("headers");
	if (b->mode == HM_MODE_SYSTEMD)
		add_wait_unit(b);
	pid = hm_spawn("headers", "the headers worker", worker, b);
	if (pid < 0) {
		/* the ERROR is hm_spawn's */
		snprintf(job.error, sizeof(job.error), "fork for the headers worker failed");
		headers_failed();
	} else {
		hm_phase_end("headers", "kernel headers of %s: worker started (pid %d), %s says when done",
			job.list.release, (int)pid, STATUS);
	}
	close_job();
}

/* What STATUS says now: 0 ready, 1 failed, -1 neither (yet). */
static int status_now(void)
{
	char buf[16];
	ssize_t n = open_read_close(STATUS, buf, sizeof(buf) - 1);

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (is_prefixed_with(buf, "ready\n"))
		return 0;
	return is_prefixed_with(buf, "failed\n") ? 1 : -1;
}

/* The applet hypeman-headers-wait (the systemd unit's ExecStart): 0 once
 * the status is ready, 1 when it is failed or after WAIT_TIMEOUT_MS. */
int FAST_FUNC hm_headers_wait(void)
{
	unsigned long long deadline = hm_uptime_ms() + WAIT_TIMEOUT_MS;
	struct timespec left;
	struct pollfd pfd;
	char buf[4096];
	int rc;

	pfd.fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	pfd.events = POLLIN;
	if (pfd.fd < 0 || inotify_add_watch(pfd.fd, "/run/hypeman", IN_MOVED_TO) < 0) {
		hm_log_errno(HM_ERROR, "headers", errno, "cannot watch /run/hypeman");
		return 1;
	}
	for (;;) {
		rc = status_now();
		if (rc >= 0) {
			hm_log(rc ? HM_ERROR : HM_INFO, "headers", "kernel headers %s", rc ? "failed" : "ready");
			return rc;
		}
		if (!hm_time_left(deadline, &left)) {
			hm_log(HM_ERROR, "headers", "%s not ready after %d s", STATUS, WAIT_TIMEOUT_MS / 1000);
			return 1;
		}
		if (poll(&pfd, 1, left.tv_sec * 1000 + left.tv_nsec / 1000000) > 0)
			while (read(pfd.fd, buf, sizeof(buf)) > 0)
				continue;
	}
}
