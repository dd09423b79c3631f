"""Shared pieces of the fault-matrix VM tests (tests/vm/test_faults_*.py).

  PROGRAMS                 {name: C source} of the guest programs (static, musl)
  build_programs(dir)      {name: binary path}
  boot(vm_factory, tmp, programs, cmd, install=..., ...) -> (vm, guest)
  seeds()                  the power-cut seeds: $HYPEMAN_FAULT_SEEDS ("1,2,3")
  shutdown_report(vm)      the shutdown phase's log lines, checked
  assert_disks_clean(...)  e2fsck -fn clean and no journal left to replay

Timing comes from the console (markers, log lines) and QMP; nothing here
sleeps to synchronise.
"""

import os

from . import disks, images

# Appends numbered 64-byte records to /data/records (the overlay) and
# /vol/records (an rw volume), fsync after each, and prints "ACK n" once
# both are on disk; every 16th record also makes /data/f<n> (a new inode
# and directory entry, the directory fsynced). Forever, until the power
# goes. On a disk that already holds records (the reboot) it prints what
# it finds instead: "RECOVERED data=<last> vol=<last> bad=<lines>".
POWERCUT_C = r"""
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

static int open_rec(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
	if (fd < 0) { perror(path); exit(2); }
	return fd;
}

static void fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0 || fsync(fd)) { perror(dir); exit(2); }
	close(fd);
}

/* last record number in PATH and count of malformed lines */
static void scan(const char *path, long *last, long *bad)
{
	char line[128];
	FILE *f = fopen(path, "r");
	*last = 0;
	*bad = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		long n;
		if (strlen(line) == 64 && sscanf(line, "rec %ld ", &n) == 1 && n == *last + 1)
			*last = n;
		else
			(*bad)++;
	}
	fclose(f);
}

int main(void)
{
	char rec[65];
	long n;
	int a, b;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (access("/data/records", F_OK) == 0) {
		long d, db, v, vb;
		scan("/data/records", &d, &db);
		scan("/vol/records", &v, &vb);
		printf("RECOVERED data=%ld vol=%ld bad=%ld\n", d, v, db + vb);
		return 0;
	}
	mkdir("/data", 0755);
	a = open_rec("/data/records");
	b = open_rec("/vol/records");
	fsync_dir("/data");
	fsync_dir("/vol");
	printf("POWERCUT-WRITING\n");
	for (n = 1;; n++) {
		snprintf(rec, sizeof(rec), "rec %08ld %-50s\n", n, "payload");
		if (write(a, rec, 64) != 64 || write(b, rec, 64) != 64 || fsync(a) || fsync(b)) {
			perror("write/fsync");
			return 3;
		}
		if (n % 16 == 0) {
			char p[64];
			int fd;
			snprintf(p, sizeof(p), "/data/f%ld", n);
			fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
			if (fd < 0 || write(fd, rec, 64) != 64 || fsync(fd)) { perror(p); return 3; }
			close(fd);
			fsync_dir("/data");
		}
		printf("ACK %ld\n", n);
	}
}
"""

# Fills / (the overlay) with 64 KiB writes until one fails, then fsyncs
# and reports: "FILL-END errno=<n> written=<bytes> fsync=<0|errno>".
FILL_C = r"""
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(void)
{
	static char buf[65536];
	long long written = 0;
	int fd, err = 0, fs;
	ssize_t n;

	setvbuf(stdout, NULL, _IONBF, 0);
	memset(buf, 'f', sizeof(buf));
	fd = open("/filled", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) { perror("/filled"); return 2; }
	for (;;) {
		n = write(fd, buf, sizeof(buf));
		if (n <= 0) { err = n < 0 ? errno : ENOSPC; break; }
		written += n;
	}
	fs = fsync(fd) ? errno : 0;
	printf("FILL-END errno=%d written=%lld fsync=%d\n", err, written, fs);
	return 0;
}
"""

# Pauses until a signal ends it (default dispositions): the program the
# stop requests meet.
SLEEPER_C = r"""
#include <stdio.h>
#include <unistd.h>
int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	printf("SLEEPER-RUNNING\n");
	for (;;)
		pause();
}
"""

# Fork bomb: every process forks as fast as it can, for ever; children
# ignore SIGTERM (so that only SIGKILL ends them). The first process
# prints its cgroup and pids.max, then "BOMB-LIMITED" once fork fails
# with EAGAIN (the limit bites), then goes on forking too.
BOMB_C = r"""
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
static void show(const char *what, const char *path)
{
	char buf[256];
	FILE *f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof(buf), f))
		strcpy(buf, "?\n");
	if (f)
		fclose(f);
	printf("BOMB-%s %s", what, buf);
}
int main(void)
{
	int told = 0;

	setvbuf(stdout, NULL, _IONBF, 0);
	show("CGROUP", "/proc/self/cgroup");
	show("PIDSMAX", "/sys/fs/cgroup/hypeman-program/pids.max");
	for (;;) {
		pid_t p = fork();
		if (p == 0) {
			signal(SIGTERM, SIG_IGN);
			continue;
		}
		if (p < 0 && errno == EAGAIN && !told) {
			told = 1;
			printf("BOMB-LIMITED\n");
		}
	}
}
"""

# BURSTS bursts of N orphans each (double fork: the middle process exits
# at once, the grandchild a moment later, reparented to PID 1), then
# /proc is scanned until no zombie with parent PID 1 is left, or 60 s:
# "STORM-RESULT orphans=<n> fork_failed=<n> zombies=<n> waited_ms=<n>".
ORPHAN_STORM_C = r"""
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}
static int zombies_of_pid1(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int z = 0;
	while ((e = readdir(d))) {
		char path[64], buf[512], *r, state;
		int fd, ppid;
		ssize_t n;
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = 0;
		r = strrchr(buf, ')');
		if (r && sscanf(r + 2, "%c %d", &state, &ppid) == 2 && state == 'Z' && ppid == 1)
			z++;
	}
	closedir(d);
	return z;
}
int main(int argc, char **argv)
{
	int bursts = atoi(argv[1]), n = atoi(argv[2]), b, i, failed = 0, orphans = 0, z;
	long long t0;

	setvbuf(stdout, NULL, _IONBF, 0);
	for (b = 0; b < bursts; b++) {
		for (i = 0; i < n; i++) {
			int st;
			pid_t c = fork();
			if (c < 0) {
				failed++;
				continue;
			}
			if (c == 0) {
				if (fork() == 0)
					_exit(0);
				_exit(0);
			}
			if (waitpid(c, &st, 0) == c)
				orphans++;
		}
		printf("STORM-BURST %d\n", b + 1);
	}
	t0 = now_ms();
	while ((z = zombies_of_pid1()) > 0 && now_ms() - t0 < 60000) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	printf("STORM-RESULT orphans=%d fork_failed=%d zombies=%d waited_ms=%lld\n",
	       orphans, failed, z, now_ms() - t0);
	return 0;
}
"""

# The console as a program may treat it. "close": closes 0, 1 and 2 and
# exits. "reopen": closes them and opens PID 1's console device itself
# (without O_NOCTTY: as a session leader it takes it as its controlling
# tty), writes to it and exits.
CONSOLE_C = r"""
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	char dev[256];
	ssize_t n = readlink("/proc/1/fd/1", dev, sizeof(dev) - 1);
	int fd;

	dev[n > 0 ? n : 0] = 0;
	printf("CONSOLE-PROGRAM %s console=%s\n", argv[1], dev);
	fflush(stdout);
	close(0);
	close(1);
	close(2);
	if (strcmp(argv[1], "reopen") == 0) {
		fd = open(dev, O_RDWR);
		if (fd < 0)
			return 4;
		dup2(fd, 1);
		dup2(fd, 2);
		dprintf(1, "CONSOLE-REOPENED ctty=%d\n", tcgetpgrp(1) > 0);
	}
	return 3;
}
"""

# Becomes a child subreaper, makes 40 orphans of its own (20 that exit
# at once and stay zombies, since it never waits for them, and 20 that
# pause), then exits: all 40 fall to PID 1.
SUBREAPER_C = r"""
#include <stdio.h>
#include <unistd.h>
#include <sys/prctl.h>
int main(void)
{
	int i;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
		perror("PR_SET_CHILD_SUBREAPER");
		return 2;
	}
	for (i = 0; i < 40; i++) {
		if (fork() == 0) {
			if (fork() == 0) {
				if (i % 2)
					for (;;)
						pause();
				_exit(0);
			}
			_exit(0);
		}
	}
	printf("SUBREAPER-READY\n");
	return 0;
}
"""

# Starts 5 daemons (double fork, own session) that ignore SIGTERM and
# append to /data/daemon-<i> with fsync, then exits 0.
DAEMONS_C = r"""
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
int main(void)
{
	int i;

	setvbuf(stdout, NULL, _IONBF, 0);
	mkdir("/data", 0755);
	signal(SIGTERM, SIG_IGN);	/* inherited: no window before the daemons ignore it */
	for (i = 0; i < 5; i++) {
		pid_t c = fork();
		if (c == 0) {
			setsid();
			if (fork() == 0) {
				char path[32];
				int fd;
				snprintf(path, sizeof(path), "/data/daemon-%d", i);
				fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
				for (;;) {
					write(fd, "tick\n", 5);
					fsync(fd);
					usleep(100000);
				}
			}
			_exit(0);
		}
		waitpid(c, NULL, 0);
	}
	printf("DAEMONS-STARTED 5\n");
	return 0;
}
"""

# Touches memory until the kernel's OOM killer ends it.
HOG_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	printf("HOG-RUNNING\n");
	for (;;) {
		char *p = malloc(1 << 20);
		if (p)
			memset(p, 1, 1 << 20);
	}
}
"""

PROGRAMS = {"powercut": POWERCUT_C, "fill": FILL_C, "sleeper": SLEEPER_C,
            "bomb": BOMB_C, "orphanstorm": ORPHAN_STORM_C, "console": CONSOLE_C,
            "subreaper": SUBREAPER_C, "daemons": DAEMONS_C, "hog": HOG_C}


def build_programs(d):
    """{name: path of the static binary} for PROGRAMS, built into D."""
    return {n: images.static_program(src, os.path.join(str(d), n))
            for n, src in PROGRAMS.items()}


def boot(vm_factory, tmp, programs, cmd, install=(), config=None, volumes=(),
         files=None, overlay_mb=64, start=True, **vm_kw):
    """An image holding the programs INSTALL (names, at /<name>) and
    Debian's busybox, config cmd=CMD (+CONFIG; the agent is skipped unless
    CONFIG says otherwise), the extra disks VOLUMES. Returns (vm, guest)."""
    f = dict(files or {})
    for name in install:
        with open(programs[name], "rb") as fh:
            f["/" + name] = (fh.read(), 0o755)
    root = images.rootfs(os.path.join(str(tmp), "root"), files=f)
    cfg = {"cmd": cmd, "skip_guest_agent": True}
    cfg.update(config or {})
    guest = images.Guest(os.path.join(str(tmp), "disks"), root, cfg, volumes=volumes,
                         overlay_mb=overlay_mb)
    vm = vm_factory(disks=guest.disks, start=start, **vm_kw)
    return vm, guest


def seeds():
    """The seeds of the randomised tests: $HYPEMAN_FAULT_SEEDS (comma
    separated integers), default 1,2,3."""
    text = os.environ.get("HYPEMAN_FAULT_SEEDS") or "1,2,3"
    return [int(s) for s in text.split(",") if s.strip()]


def logs(vm, phase=None, level=None):
    return [l for l in vm.log_lines()
            if (phase is None or l.get("phase") == phase)
            and (level is None or l.get("level") == level)]


def log_lines_with(vm, text):
    """The log objects whose msg contains TEXT."""
    return [l for l in vm.log_lines() if text in l.get("msg", "")]


def log_summary(vm):
    return "\n".join("%s %s %s %s" % (l.get("uptime_ms"), l.get("level"), l.get("phase"),
                                      l.get("msg")) for l in vm.log_lines())


def powered_off(vm, timeout=60):
    """QEMU ended by itself with rc 0 (the guest powered off), no panic,
    the shutdown phase (or rescue) ended with its dur_ms line."""
    rc = vm.wait_exit(timeout=timeout)
    vm.assert_no_panic()
    assert rc == 0, "QEMU exit code %r" % rc
    ends = [l for l in vm.log_lines() if "dur_ms" in l
            and l.get("phase") in ("shutdown", "rescue")]
    assert ends and ends[-1]["msg"] == "powering off", \
        "no 'powering off' end line:\n" + log_summary(vm)
    assert vm.malformed_log_lines() == []


def reaped(vm):
    """(all, after SIGKILL) from the shutdown's "reaped N processes" line."""
    import re
    for l in logs(vm, "shutdown"):
        m = re.fullmatch(r"reaped (\d+) processes \((\d+) after SIGKILL\)", l["msg"])
        if m:
            return int(m.group(1)), int(m.group(2))
    raise AssertionError("no 'reaped' line in phase shutdown:\n" + log_summary(vm))


def assert_disks_clean(*imgs):
    """Each ext4 image: e2fsck -fn finds nothing, no journal to replay,
    state clean."""
    bad = {}
    for img in imgs:
        ok, report = disks.e2fsck_clean(img)
        if not ok:
            bad[img] = report
    assert not bad, "\n".join("%s not clean:\n%s" % kv for kv in bad.items())
