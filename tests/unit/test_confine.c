// needs: hypeman/confine.c contract/fdio.c
/* Unit tests for hypeman/confine.c: hostile image trees (absolute and
 * "../.." symlinks, loops, final-component symlinks to outside files, files
 * where dirs should be) must never lead a write outside the root.  Every
 * case runs twice: with openat2, and with the forced pre-openat2 walk. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "confine.h"
#include "check.h"

static const char *mode_name = "";

/* CHECKF with the mode (openat2 or walk) and the condition in the message */
#define CK(cond, fmt, ...) \
	CHECKF(cond, "[%s] %s: " fmt, mode_name, #cond, ##__VA_ARGS__)

static char top[64];	/* temp dir: root/ and outside/ */
static char rootp[128];
static char outp[128];
static int rootfd = -1;

#define SECRET "SECRET\n"

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static void put(const char *rel, const char *content)
{
	char p[PATH_MAX];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", top, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, content, strlen(content)) != (ssize_t)strlen(content))
		die(p);
	close(fd);
}

static void mkd(const char *rel)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", top, rel);
	if (mkdir(p, 0755) < 0)
		die(p);
}

static void lnk(const char *target, const char *rel)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", top, rel);
	if (symlink(target, p) < 0)
		die(p);
}

/* content of TOP/REL, "" if missing, "<dir>" / "<link:T>" for those */
static const char *get(const char *rel)
{
	static char buf[4096];
	char p[PATH_MAX];
	struct stat st;
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "%s/%s", top, rel);
	if (lstat(p, &st) < 0)
		return "<none>";
	if (S_ISDIR(st.st_mode))
		return "<dir>";
	if (S_ISLNK(st.st_mode)) {
		strcpy(buf, "<link:");
		n = readlink(p, buf + 6, sizeof(buf) - 8);
		if (n < 0)
			n = 0;
		strcpy(buf + 6 + n, ">");
		return buf;
	}
	fd = open(p, O_RDONLY);
	if (fd < 0)
		return "<unreadable>";
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

static mode_t mode_of(const char *rel)
{
	char p[PATH_MAX];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", top, rel);
	if (lstat(p, &st) < 0)
		return (mode_t)-1;
	return st.st_mode;
}

static void rm_rf(const char *p)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p);
	if (system(cmd) != 0)
		die(cmd);
}

/* The outside world: must look exactly like this after every test. */
static void check_outside(void)
{
	DIR *d;
	struct dirent *e;
	int n = 0;

	CK(strcmp(get("outside/secret"), SECRET) == 0, "outside/secret now %s", get("outside/secret"));
	CK(strcmp(get("outside/dir"), "<dir>") == 0, "outside/dir");
	d = opendir(outp);
	while (d && (e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	if (d)
		closedir(d);
	CK(n == 2, "outside/ has %d entries, want 2", n);
	d = opendir(top);
	n = 0;
	while (d && (e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	if (d)
		closedir(d);
	CK(n == 2, "top dir has %d entries, want 2", n);
}

/* A fresh hostile image in TOP/root, with a victim tree in TOP/outside. */
static void build_tree(void)
{
	char t[512];

	rm_rf(rootp);
	rm_rf(outp);
	mkd("outside");
	mkd("outside/dir");
	put("outside/secret", SECRET);
	mkd("root");
	mkd("root/etc");
	mkd("root/usr");
	mkd("root/usr/lib");
	put("root/etc/passwd", "root:x:0:0\n");
	put("root/file", "plain file\n");
	/* final components pointing outside, absolute and relative */
	snprintf(t, sizeof(t), "%s/secret", outp);
	lnk(t, "root/etc/resolv.conf");
	lnk("../../outside/secret", "root/etc/hosts");
	lnk("/etc/passwd", "root/etc/abs-passwd");
	/* dirs pointing outside */
	lnk(outp, "root/absdir");
	lnk("../../../../../../../..", "root/up");
	lnk("/", "root/slash");
	lnk("etc/../../../outside", "root/mid");
	snprintf(t, sizeof(t), "%s/../../../../../..%s", rootp, outp);
	lnk(t, "root/deepabs");
	/* loops */
	lnk("loop2", "root/loop1");
	lnk("loop1", "root/loop2");
	lnk("self", "root/self");
	/* benign usr-merge style link */
	lnk("usr/lib", "root/lib");
	/* dangling */
	snprintf(t, sizeof(t), "%s/nonexistent", outp);
	lnk(t, "root/dangling");
	/* proc magic link: inside the root it is just a path */
	lnk("/proc/self/root", "root/me");
	/* dirs where files will be written */
	mkd("root/etc/emptydir");
	mkd("root/etc/fulldir");
	put("root/etc/fulldir/keep", "keep\n");
}

static int open_root(void)
{
	int fd = open(rootp, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		die(rootp);
	return fd;
}

static int wr(const char *path, const char *s, int *rep)
{
	return hm_write_file_in_root(rootfd, path, s, strlen(s), 0644, rep);
}

/* fd -> path relative to TOP (via /proc/self/fd), "" on error */
static const char *fd_rel(int fd)
{
	static char buf[PATH_MAX];
	char p[64];
	ssize_t n;
	size_t tl = strlen(top);

	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	n = readlink(p, buf, sizeof(buf) - 1);
	if (n < 0)
		return "";
	buf[n] = '\0';
	if (strncmp(buf, top, tl) != 0)
		return buf;
	return buf[tl] == '/' ? buf + tl + 1 : buf + tl;
}

static void test_final_symlinks(int walk)
{
	int rep = -1, r;

	(void)walk;
	r = wr("/etc/resolv.conf", "nameserver 10.0.0.1\n", &rep);
	CK(r == 0, "errno %d", errno);
	CK(rep == 1, "replaced=%d", rep);
	CK(strcmp(get("root/etc/resolv.conf"), "nameserver 10.0.0.1\n") == 0, "%s", get("root/etc/resolv.conf"));
	CK((mode_of("root/etc/resolv.conf") & 07777) == 0644, "mode %o", mode_of("root/etc/resolv.conf"));

	rep = -1;
	r = wr("etc/hosts", "127.0.0.1 localhost\n", &rep);
	CK(r == 0 && rep == 1, "r=%d rep=%d errno %d", r, rep, errno);
	CK(S_ISREG(mode_of("root/etc/hosts")), "hosts not regular");

	/* the link target inside the root must not be touched either */
	r = wr("etc/abs-passwd", "x\n", &rep);
	CK(r == 0 && rep == 1, "r=%d", r);
	CK(strcmp(get("root/etc/passwd"), "root:x:0:0\n") == 0, "passwd changed");

	/* a regular file: replaced, not flagged */
	rep = -1;
	r = wr("etc/passwd", "new\n", &rep);
	CK(r == 0 && rep == 0, "r=%d rep=%d", r, rep);
	CK(strcmp(get("root/etc/passwd"), "new\n") == 0, "%s", get("root/etc/passwd"));

	/* dir in place of the file: empty one replaced, full one kept */
	r = wr("etc/emptydir", "f\n", &rep);
	CK(r == 0 && rep == 1, "r=%d errno %d", r, errno);
	CK(strcmp(get("root/etc/emptydir"), "f\n") == 0, "%s", get("root/etc/emptydir"));
	r = wr("etc/fulldir", "f\n", &rep);
	CK(r < 0, "wrote over a full dir");
	CK(strcmp(get("root/etc/fulldir/keep"), "keep\n") == 0, "fulldir changed");
	CK(strcmp(get("root/etc/.hypeman-init.tmp"), "<none>") == 0, "tmp left: %s", get("root/etc/.hypeman-init.tmp"));

	/* a hostile stale temp entry */
	lnk("../../outside/secret", "root/etc/.hypeman-init.tmp");
	r = wr("etc/new", "n\n", &rep);
	CK(r == 0 && rep == 0, "r=%d errno %d", r, errno);
	CK(strcmp(get("root/etc/new"), "n\n") == 0, "%s", get("root/etc/new"));
	CK(strcmp(get("root/etc/.hypeman-init.tmp"), "<none>") == 0, "tmp left");
	check_outside();
}

static void test_dir_symlinks(int walk)
{
	char p[512];
	int r, fd, rep;

	/* absolute link to an outside dir: resolved inside the root, where
	 * it dangles; a write must fail, not land in outside/ */
	r = wr("absdir/x", "x\n", &rep);
	CK(r < 0, "write through absdir succeeded");
	r = wr("absdir/dir/x", "x\n", &rep);
	CK(r < 0, "write through absdir/dir succeeded");
	fd = hm_mkdirs_in_root(rootfd, "absdir/newdir", 0755);
	CK(fd < 0, "mkdirs through absdir: %s", fd_rel(fd));
	if (fd >= 0)
		close(fd);

	/* "../../.." and "/" resolve to the root itself.  The paths written
	 * through them spell TOP/outside, so that an escape would land in
	 * the watched outside/ dir, not somewhere on the host */
	snprintf(p, sizeof(p), "up%s/fromup", outp);
	r = wr(p, "u\n", &rep);
	if (walk)
		CK(r < 0 && errno == ELOOP, "walk: r=%d errno %d", r, errno);
	else {
		CK(r == 0, "errno %d", errno);
		snprintf(p, sizeof(p), "root%s/fromup", outp);
		CK(strcmp(get(p), "u\n") == 0, "%s", get(p));
	}
	snprintf(p, sizeof(p), "slash%s/fromslash", outp);
	r = wr(p, "s\n", &rep);
	if (walk)
		CK(r < 0 && errno == ELOOP, "walk: r=%d errno %d", r, errno);
	else {
		CK(r == 0, "errno %d", errno);
		snprintf(p, sizeof(p), "root%s/fromslash", outp);
		CK(strcmp(get(p), "s\n") == 0, "%s", get(p));
	}
	/* ".." in the middle of a link target, and the absolute path of the
	 * outside dir spelled through many ".." */
	r = wr("mid/secret", "m\n", &rep);
	CK(r < 0, "mid/secret written");
	r = wr("deepabs/secret", "d\n", &rep);
	CK(r < 0, "deepabs/secret written");
	check_outside();
	/* now give the root its own "outside": the write lands there */
	mkd("root/outside");
	r = wr("mid/secret", "m\n", &rep);
	if (walk)
		CK(r < 0 && errno == ELOOP, "walk: r=%d errno %d", r, errno);
	else {
		CK(r == 0, "errno %d", errno);
		CK(strcmp(get("root/outside/secret"), "m\n") == 0, "%s", get("root/outside/secret"));
	}

	/* loops */
	r = wr("loop1/x", "x\n", &rep);
	CK(r < 0 && errno == ELOOP, "loop: r=%d errno %d", r, errno);
	fd = hm_mkdirs_in_root(rootfd, "self/a/b", 0755);
	CK(fd < 0 && errno == ELOOP, "self loop: fd=%d errno %d", fd, errno);
	/* a loop as the last component is just replaced */
	r = wr("loop2", "not a loop\n", &rep);
	CK(r == 0 && rep == 1, "r=%d rep=%d errno %d", r, rep, errno);

	/* a file where a dir is needed */
	r = wr("file/sub/x", "x\n", &rep);
	CK(r < 0 && (errno == ENOTDIR || errno == EEXIST), "file/sub: r=%d errno %d", r, errno);
	CK(strcmp(get("root/file"), "plain file\n") == 0, "file changed");

	/* dangling link on the way */
	fd = hm_mkdirs_in_root(rootfd, "dangling/sub", 0755);
	CK(fd < 0, "mkdirs through dangling");
	snprintf(p, sizeof(p), "root%s/nonexistent", outp);
	CK(strcmp(get(p), "<none>") == 0, "created %s", get(p));

	/* magic link name inside the image is only a path */
	fd = hm_openat_in_root(rootfd, "me/etc/passwd", O_RDONLY, 0);
	CK(fd < 0, "opened %s", fd_rel(fd));
	if (fd >= 0)
		close(fd);

	/* benign usr-merge link: followed with openat2, refused by the walk */
	fd = hm_mkdirs_in_root(rootfd, "/lib/modules/6.1", 0755);
	if (walk)
		CK(fd < 0 && errno == ELOOP, "walk: fd=%d errno %d", fd, errno);
	else {
		CK(fd >= 0, "errno %d", errno);
		CK(strcmp(fd_rel(fd), "root/usr/lib/modules/6.1") == 0, "%s", fd_rel(fd));
		CK(strcmp(get("root/usr/lib/modules/6.1"), "<dir>") == 0, "not made");
	}
	if (fd >= 0)
		close(fd);
	check_outside();
}

static void test_paths(void)
{
	char *big;
	int fd, r, rep, i;
	char p[PATH_MAX];

	/* ".." in the argument clamps at the root */
	r = wr("../../../../outside/secret", "in root\n", &rep);
	CK(r == 0, "errno %d", errno);
	CK(strcmp(get("root/outside/secret"), "in root\n") == 0, "%s", get("root/outside/secret"));
	r = wr("/etc/../../etc/./x//y/../z", "z\n", &rep);
	CK(r == 0 && strcmp(get("root/etc/x/z"), "z\n") == 0, "r=%d %s", r, get("root/etc/x/z"));
	CK(strcmp(get("root/etc/x/y"), "<none>") == 0, "y made");

	/* the root itself */
	fd = hm_openat_in_root(rootfd, "/", O_PATH | O_DIRECTORY, 0);
	CK(fd >= 0 && strcmp(fd_rel(fd), "root") == 0, "%s", fd_rel(fd));
	if (fd >= 0)
		close(fd);
	fd = hm_openat_in_root(rootfd, "/..", O_RDONLY | O_DIRECTORY, 0);
	CK(fd >= 0 && strcmp(fd_rel(fd), "root") == 0, "%s", fd_rel(fd));
	if (fd >= 0)
		close(fd);
	fd = hm_mkdirs_in_root(rootfd, "///", 0755);
	CK(fd >= 0 && strcmp(fd_rel(fd), "root") == 0, "%s", fd_rel(fd));
	if (fd >= 0)
		close(fd);
	r = wr("/", "x", &rep);
	CK(r < 0 && errno == EISDIR, "r=%d errno %d", r, errno);
	r = wr("..", "x", &rep);
	CK(r < 0 && errno == EISDIR, "r=%d errno %d", r, errno);
	fd = hm_openat_in_root(rootfd, "", O_RDONLY, 0);
	CK(fd < 0 && errno == ENOENT, "empty path");
	fd = hm_openat_in_root(rootfd, NULL, O_RDONLY, 0);
	CK(fd < 0 && errno == ENOENT, "NULL path");

	/* O_CREAT through hm_openat_in_root, O_CLOEXEC added */
	fd = hm_openat_in_root(rootfd, "etc/created", O_WRONLY | O_CREAT | O_EXCL, 0600);
	CK(fd >= 0, "errno %d", errno);
	if (fd >= 0) {
		CK(fcntl(fd, F_GETFD) & FD_CLOEXEC, "no cloexec");
		close(fd);
	}
	CK(S_ISREG(mode_of("root/etc/created")), "not created");

	/* too long */
	big = malloc(PATH_MAX + 10);
	if (!big)
		die("malloc");
	memset(big, 'a', PATH_MAX + 9);
	big[PATH_MAX + 9] = '\0';
	fd = hm_mkdirs_in_root(rootfd, big, 0755);
	CK(fd < 0 && errno == ENAMETOOLONG, "fd=%d errno %d", fd, errno);
	r = wr(big, "x", &rep);
	CK(r < 0 && errno == ENAMETOOLONG, "r=%d errno %d", r, errno);
	big[300] = '\0';	/* one component > NAME_MAX */
	r = wr(big, "x", &rep);
	CK(r < 0 && errno == ENAMETOOLONG, "r=%d errno %d", r, errno);
	/* deep but legal: 1500 components, ~3000 bytes */
	for (i = 0; i < 1500; i++)
		memcpy(big + 2 * i, "d/", 2);
	strcpy(big + 3000, "f");
	r = wr(big, "deep\n", &rep);
	CK(r == 0, "deep write errno %d", errno);
	fd = hm_openat_in_root(rootfd, big, O_RDONLY, 0);
	CK(fd >= 0, "deep open errno %d", errno);
	if (fd >= 0) {
		r = read(fd, p, sizeof(p));
		CK(r == 5 && memcmp(p, "deep\n", 5) == 0, "deep content");
		close(fd);
	}
	free(big);
	check_outside();
}

static void test_mkdirs(void)
{
	int fd, fd2;
	struct stat st;

	fd = hm_mkdirs_in_root(rootfd, "/mnt/vol/data", 0755);
	CK(fd >= 0, "errno %d", errno);
	if (fd >= 0) {
		CK(fstat(fd, &st) == 0 && S_ISDIR(st.st_mode), "not a dir");
		CK((fcntl(fd, F_GETFL) & O_PATH) != 0, "not O_PATH");
		CK(strcmp(fd_rel(fd), "root/mnt/vol/data") == 0, "%s", fd_rel(fd));
		close(fd);
	}
	/* existing: same dir again */
	fd2 = hm_mkdirs_in_root(rootfd, "mnt/vol/data/", 0755);
	CK(fd2 >= 0 && strcmp(fd_rel(fd2), "root/mnt/vol/data") == 0, "%s", fd_rel(fd2));
	if (fd2 >= 0)
		close(fd2);
	/* an existing file as the last component */
	fd = hm_mkdirs_in_root(rootfd, "file", 0755);
	CK(fd < 0 && errno == ENOTDIR, "fd=%d errno %d", fd, errno);
}

static void test_copy_and_symlink(void)
{
	char src[PATH_MAX];
	char *data, *back;
	size_t n = 3 * 1024 * 1024 + 17, i;
	int fd, r, rep = -1;
	ssize_t got;

	data = malloc(n);
	back = malloc(n + 1);
	if (!data || !back)
		die("malloc");
	for (i = 0; i < n; i++)
		data[i] = (char)(i * 31 + i / 4096);
	snprintf(src, sizeof(src), "%s/agent.src", top);
	fd = open(src, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, data, n) != (ssize_t)n)
		die(src);
	lseek(fd, 0, SEEK_SET);
	lnk("/etc/passwd", "root/opt");	/* /opt is a symlink: must be followed inside */
	r = hm_copy_fd_in_root(rootfd, "/opt/hypeman/guest-agent", fd, 0755, &rep);
	close(fd);
	unlink(src);
	/* root/opt -> /etc/passwd, a file inside the root: no dir there */
	CK(r < 0 && (errno == ENOTDIR || errno == ELOOP), "copy r=%d errno %d", r, errno);
	CK(strcmp(get("root/etc/passwd"), "root:x:0:0\n") == 0, "passwd changed");
	{
		char p[PATH_MAX];

		snprintf(p, sizeof(p), "%s/root/opt", top);
		unlink(p);
	}
	mkd("root/opt");
	r = hm_copy_fd_in_root(rootfd, "/opt/hypeman/guest-agent", -1, 0755, &rep);
	CK(r < 0 && errno == EBADF, "bad fd: r=%d errno %d", r, errno);
	CK(strcmp(get("root/opt/hypeman/.hypeman-init.tmp"), "<none>") == 0, "tmp left");
	fd = open(src, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, data, n) != (ssize_t)n)
		die(src);
	lseek(fd, 0, SEEK_SET);
	r = hm_copy_fd_in_root(rootfd, "/opt/hypeman/guest-agent", fd, 0755, &rep);
	close(fd);
	unlink(src);
	CK(r == 0 && rep == 0, "copy r=%d rep=%d errno %d", r, rep, errno);
	CK((mode_of("root/opt/hypeman/guest-agent") & 07777) == 0755, "mode %o", mode_of("root/opt/hypeman/guest-agent"));
	snprintf(src, sizeof(src), "%s/root/opt/hypeman/guest-agent", top);
	fd = open(src, O_RDONLY);
	got = fd < 0 ? -1 : read(fd, back, n + 1);
	if (fd >= 0)
		close(fd);
	CK(got == (ssize_t)n && memcmp(data, back, n) == 0, "content differs (%zd bytes)", got);
	/* a source sendfile cannot read (a pipe): copied through a buffer */
	{
		int pfd[2];
		size_t small = 60000;	/* fits in the pipe */

		if (pipe(pfd) != 0 || write(pfd[1], data, small) != (ssize_t)small)
			die("pipe");
		close(pfd[1]);
		r = hm_copy_fd_in_root(rootfd, "/opt/hypeman/guest-agent", pfd[0], 0755, &rep);
		close(pfd[0]);
		CK(r == 0, "copy from a pipe r=%d errno %d", r, errno);
		fd = open(src, O_RDONLY);
		got = fd < 0 ? -1 : read(fd, back, n + 1);
		if (fd >= 0)
			close(fd);
		CK(got == (ssize_t)small && memcmp(data, back, small) == 0,
			"content from a pipe differs (%zd bytes)", got);
	}
	free(data);
	free(back);

	/* systemd enablement link, created then replaced */
	r = hm_symlink_in_root(rootfd, "../hypeman-agent.service",
		"/etc/systemd/system/multi-user.target.wants/hypeman-agent.service");
	CK(r == 0, "errno %d", errno);
	CK(strcmp(get("root/etc/systemd/system/multi-user.target.wants/hypeman-agent.service"),
		"<link:../hypeman-agent.service>") == 0, "%s",
		get("root/etc/systemd/system/multi-user.target.wants/hypeman-agent.service"));
	r = hm_symlink_in_root(rootfd, "../other.service",
		"/etc/systemd/system/multi-user.target.wants/hypeman-agent.service");
	CK(r == 0 && strcmp(get("root/etc/systemd/system/multi-user.target.wants/hypeman-agent.service"),
		"<link:../other.service>") == 0, "replace link");
	/* over an outside-pointing link and over a file */
	r = hm_symlink_in_root(rootfd, "target", "etc/hosts");
	CK(r == 0 && strcmp(get("root/etc/hosts"), "<link:target>") == 0, "%s", get("root/etc/hosts"));
	r = hm_symlink_in_root(rootfd, "target", "file");
	CK(r == 0 && strcmp(get("root/file"), "<link:target>") == 0, "%s", get("root/file"));
	r = hm_symlink_in_root(rootfd, "", "etc/l");
	CK(r < 0, "empty target accepted");
	check_outside();
}


static void run_suite(int walk)
{
	mode_name = walk ? "walk" : "openat2";
	hm_confine_force_walk(walk);
	build_tree();
	rootfd = open_root();
	test_final_symlinks(walk);
	close(rootfd);

	build_tree();
	rootfd = open_root();
	test_dir_symlinks(walk);
	close(rootfd);

	build_tree();
	rootfd = open_root();
	test_paths();
	test_mkdirs();
	test_copy_and_symlink();
	close(rootfd);
	hm_confine_force_walk(0);
}

/* qemu-user (the aarch64 unit run on an x86 host) has no openat2: only
 * the walk can be tested there. */
static int have_openat2(void)
{
	unsigned long long how[3] = { O_RDONLY | O_CLOEXEC, 0, 0 };
	long fd = syscall(SYS_openat2, AT_FDCWD, "/", how, sizeof(how));

	if (fd >= 0)
		close(fd);
	return !(fd < 0 && errno == ENOSYS);
}

int main(void)
{
	umask(077);	/* modes must be exact regardless */
	snprintf(top, sizeof(top), "/tmp/test_confine.XXXXXX");
	if (!mkdtemp(top))
		die("mkdtemp");
	snprintf(rootp, sizeof(rootp), "%s/root", top);
	snprintf(outp, sizeof(outp), "%s/outside", top);
	if (have_openat2())
		CHECK_CASE(run_suite(0));
	else
		printf("openat2: ENOSYS here (qemu-user?): only the walk is tested\n");
	CHECK_CASE(run_suite(1));
	if (!check_failed)
		rm_rf(top);
	else
		printf("tree kept in %s\n", top);
	return check_done();
}
