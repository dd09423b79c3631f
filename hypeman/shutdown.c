/*
 * contract: Exec mode, its exit path. SIGTERM to everything, a grace period, SIGKILL,
 * reap, sync, unmount in reverse order (read-only remount when busy), power
 * off. hm_poweroff is also the end of the rescue path.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += shutdown.o

#include "libbb.h"
#include <sys/reboot.h>
#include <sys/statfs.h>
#include "hypeman.h"

/*
 * Reap until no child is left or the deadline passes; 1 when none left.
 * *REAPED counts. RESEND (0: none) is sent to everything again at each
 * wake-up: a fork bomb makes children faster than one kill(-1) reaches.
 */
static int reap_all_until(unsigned long long deadline_ms, int resend, unsigned *reaped)
{
	for (;;) {
		pid_t r;
		while ((r = waitpid(-1, NULL, WNOHANG)) > 0)
			(*reaped)++;
		if (r < 0 && errno == ECHILD)
			return 1;
		if (resend)
			kill(-1, resend);
		/* SIGCHLD is blocked in PID 1 (hm_shutdown): wait for it, bounded */
		if (!hm_sigchld_wait(deadline_ms))
			return 0;
	}
}

void FAST_FUNC hm_shutdown(unsigned grace_s)
{
	sigset_t chld;
	unsigned reaped = 0, killed = 0;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	hm_phase_begin("shutdown");
	hm_gpu_stop_persistenced();
	hm_log(HM_INFO, "shutdown", "sending SIGTERM to all processes, grace period %us", grace_s);
	kill(-1, SIGTERM);
	kill(-1, SIGCONT);
	if (!reap_all_until(hm_uptime_ms() + grace_s * 1000ULL, 0, &reaped)) {
		hm_log(HM_WARN, "shutdown", "processes left after %us, sending SIGKILL", grace_s);
		kill(-1, SIGKILL);
		/* bounded: a process stuck in the kernel must not hang the VM */
		if (!reap_all_until(hm_uptime_ms() + 5000, SIGKILL, &killed))
			hm_log(HM_WARN, "shutdown", "processes still alive after SIGKILL");
	}
	hm_log(HM_INFO, "shutdown", "reaped %u processes (%u after SIGKILL)", reaped + killed, killed);
	hm_poweroff("shutdown");
}

struct mnt {
	char *target;
	char *fstype;
	char *source;
	bool ro;
};

/* /proc/self/mounts escapes space, tab, newline and backslash as \ooo */
static void unescape(char *s)
{
	char *d = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7'
				&& s[3] >= '0' && s[3] <= '7') {
			*d++ = ((s[1] - '0') << 6) | ((s[2] - '0') << 3) | (s[3] - '0');
			s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = '\0';
}

/* The mounts in the kernel's order (parents before children). */
static int read_mounts(struct mnt **out)
{
	FILE *f = fopen("/proc/self/mounts", "r");
	char line[4096];
	struct mnt *v = NULL;
	int n = 0;

	if (!f) {
		hm_log_errno(HM_WARN, "shutdown", errno, "cannot read /proc/self/mounts");
		*out = NULL;
		return 0;
	}
	while (fgets(line, sizeof(line), f)) {
		/* source target fstype options 0 0 */
		char *save, *src = strtok_r(line, " ", &save), *target = strtok_r(NULL, " ", &save);
		char *type = strtok_r(NULL, " ", &save), *opts = strtok_r(NULL, " ", &save), *ro;

		if (!opts)
			continue;
		v = xrealloc(v, (n + 1) * sizeof(v[0]));
		unescape(src);
		unescape(target);
		v[n].source = xstrdup(src);
		v[n].target = xstrdup(target);
		v[n].fstype = xstrdup(type);
		/* the options start "ro," or are "ro" */
		ro = is_prefixed_with(opts, "ro");
		v[n].ro = ro && (*ro == ',' || !*ro);
		n++;
	}
	fclose(f);
	*out = v;
	return n;
}

static void free_mounts(struct mnt *v, int n)
{
	while (--n >= 0) {
		free(v[n].target);
		free(v[n].fstype);
		free(v[n].source);
	}
	free(v);
}

/* Mounts the kernel needs to the end, or that cannot go. */
static bool keep(const struct mnt *m)
{
	return index_in_strings("/\0/proc\0/sys\0/dev\0", m->target) >= 0
		|| strcmp(m->fstype, "rootfs") == 0;
}

/* Filesystems with nothing on a disk to flush. */
static bool in_memory(const struct mnt *m)
{
	static const char names[] ALIGN1 =
		"tmpfs\0devtmpfs\0devpts\0proc\0sysfs\0cgroup2\0cgroup\0mqueue\0"
		"debugfs\0tracefs\0securityfs\0pstore\0bpf\0configfs\0hugetlbfs\0"
		"fusectl\0autofs\0binfmt_misc\0ramfs\0";
	return index_in_strings(names, m->fstype) >= 0;
}

/*
 * A read-only remount flushes a filesystem and marks it clean (ext4: no
 * journal replay next time), even while something still uses it: the
 * overlay root keeps its upper disk alive after that disk's own mount
 * point is gone, so unmounting alone would leave it dirty.
 */
static int remount_ro(const char *target)
{
	return mount(NULL, target, NULL, MS_REMOUNT | MS_RDONLY, NULL);
}

/* A writable disk with no block left for unprivileged writes (ext4 keeps
 * a reserve for root) is named: the program's last writes to it may have
 * failed with ENOSPC. */
static void warn_full_disks(void)
{
	struct statfs sfs;
	struct mnt *v;
	int n, i;

	n = read_mounts(&v);
	for (i = 0; i < n; i++) {
		if (v[i].ro || in_memory(&v[i]) || !is_prefixed_with(v[i].source, "/dev/"))
			continue;
		if (statfs(v[i].target, &sfs) == 0 && sfs.f_blocks && sfs.f_bavail == 0)
			hm_log(HM_WARN, "shutdown", "disk %s (%s on %s) is full: %llu of %llu blocks free, "
				"none left for writes", v[i].source, v[i].fstype, v[i].target,
				(unsigned long long)sfs.f_bfree, (unsigned long long)sfs.f_blocks);
	}
	free_mounts(v, n);
}

static void unmount_all(void)
{
	struct mnt *v;
	int n, i, pass, progress;

	warn_full_disks();

	/* Children before parents; a busy one may become free once another
	 * is gone, so go round while something changes. */
	for (pass = 0; pass < 4; pass++) {
		progress = 0;
		n = read_mounts(&v);
		for (i = n - 1; i >= 0; i--) {
			if (keep(&v[i]))
				continue;
			if (!in_memory(&v[i]))
				remount_ro(v[i].target);
			if (umount2(v[i].target, 0) == 0)
				progress++;
		}
		free_mounts(v, n);
		if (!progress)
			break;
	}
	/* What is left is busy (the root and what it is made of). */
	if (remount_ro("/") != 0 && errno != EINVAL)
		hm_log_errno(HM_WARN, "shutdown", errno, "remount / read-only failed");
	n = read_mounts(&v);
	for (i = n - 1; i >= 0; i--) {
		if (in_memory(&v[i]) || strcmp(v[i].target, "/") == 0)
			continue;
		if (remount_ro(v[i].target) == 0)
			hm_log(HM_INFO, "shutdown", "%s (%s) busy: remounted read-only", v[i].target, v[i].fstype);
		else
			hm_log_errno(HM_WARN, "shutdown", errno, "%s (%s) busy and read-only remount failed",
				v[i].target, v[i].fstype);
	}
	free_mounts(v, n);
}

void FAST_FUNC hm_poweroff(const char *phase)
{
	hm_poweroff_cmd(phase, RB_POWER_OFF);
}

void FAST_FUNC hm_poweroff_cmd(const char *phase, int cmd)
{
	const char *doing = "powering off", *what = "power off";

	if (cmd == RB_AUTOBOOT)
		doing = "rebooting", what = "reboot";
	else if (cmd == RB_HALT_SYSTEM)
		doing = "halting", what = "halt";
	sync();
	unmount_all();
	sync();
	hm_phase_end(phase, "%s", doing);
	reboot(cmd);
	hm_log_errno(HM_ERROR, phase, errno, "%s failed; stopping here", what);
	/* PID 1 must not exit */
	for (;;)
		pause();
}
