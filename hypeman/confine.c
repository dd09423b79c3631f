/*
 * Write, create and mount paths inside the untrusted image root without
 * ever leaving it, whatever symlinks the image holds (see confine.h).
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += confine.o
#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "confine.h"
#include "fdio.h"

/* musl hides <linux/openat2.h>: the ABI is stable, so define it here. */
#ifndef SYS_openat2
# define SYS_openat2 437
#endif
#define HM_RESOLVE_NO_MAGICLINKS 0x02
#define HM_RESOLVE_IN_ROOT 0x10
struct hm_open_how {
	uint64_t flags;
	uint64_t mode;
	uint64_t resolve;
};

/*
 * Name of the temp entry we build before renaming it over the target.  A
 * fixed name: init is the only writer, and a stale one (crash during a
 * previous boot, the overlay persists) is removed first.
 */
#define TMP_NAME ".hypeman-init.tmp"
#define COPY_BUF (64 * 1024)

/* The only mutable global: tests force the pre-openat2 walk. */
static int force_walk;

void hm_confine_force_walk(int on)
{
	force_walk = on;
}

/* close() that keeps errno, for error paths */
static void close_keep_errno(int fd)
{
	int e = errno;

	close(fd);
	errno = e;
}

/*
 * Collapse PATH into OUT (PATH_MAX bytes) as "a/b/c": no leading, trailing
 * or double slash, no "." component, ".." drops the previous component but
 * never climbs above the root.  The root itself becomes ".".  Doing ".."
 * here means no later step ever sees one, so a component-wise walk can
 * not climb out of the root.
 */
static int clean_path(const char *path, char *out)
{
	size_t n = 0, len;
	const char *p, *e;

	if (!path || !*path) {
		errno = ENOENT;
		return -1;
	}
	if (strlen(path) >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = path; *p; p = e) {
		while (*p == '/')
			p++;
		e = strchrnul(p, '/');
		len = e - p;
		if (len == 0 || (len == 1 && p[0] == '.'))
			continue;
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			while (n > 0 && out[n - 1] != '/')
				n--;
			if (n > 0)
				n--;
			continue;
		}
		if (n)
			out[n++] = '/';
		memcpy(out + n, p, len);
		n += len;
	}
	if (!n)
		out[n++] = '.';
	out[n] = '\0';
	return 0;
}

/* Open NAME in DFD as an O_PATH directory without following it:
 * ELOOP if it is a symlink, ENOTDIR if it is something else. */
static int open_dir_nofollow(int dfd, const char *name)
{
	struct stat st;
	int fd;

	fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		close_keep_errno(fd);
		return -1;
	}
	if (S_ISDIR(st.st_mode))
		return fd;
	close(fd);
	errno = S_ISLNK(st.st_mode) ? ELOOP : ENOTDIR;
	return -1;
}

/*
 * Kernel without openat2: walk CLEAN (no "." or "..", see clean_path) one
 * component at a time, refusing every symlink.  Safe, not clever: images
 * with symlinked dirs (usr-merge /lib) fail with ELOOP here.
 */
static int walk_open(int root_fd, const char *clean, int flags, mode_t mode)
{
	char buf[PATH_MAX];
	char *p = buf, *slash;
	int dfd = root_fd, fd;
	struct stat st;

	strcpy(buf, clean);
	while ((slash = strchr(p, '/')) != NULL) {
		*slash = '\0';
		fd = open_dir_nofollow(dfd, p);
		if (dfd != root_fd)
			close(dfd);
		if (fd < 0)
			return -1;
		dfd = fd;
		p = slash + 1;
	}
	fd = openat(dfd, p, flags | O_NOFOLLOW, mode);
	/* O_PATH|O_NOFOLLOW opens a symlink itself instead of failing, and
	 * O_DIRECTORY fails with ENOTDIR: say ELOOP for both */
	if (fd >= 0 && (flags & O_PATH)
	 && (fstat(fd, &st) < 0 || S_ISLNK(st.st_mode))) {
		close(fd);
		fd = -1;
		errno = ELOOP;
	} else if (fd < 0 && errno == ENOTDIR
	 && fstatat(dfd, p, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
		errno = ELOOP;
	}
	if (dfd != root_fd)
		close_keep_errno(dfd);
	return fd;
}

/* Open an already cleaned path confined to the root. */
static int open_clean(int root_fd, const char *clean, int flags, mode_t mode)
{
	struct hm_open_how how;
	int fd, tries = 0;

	flags |= O_CLOEXEC;
	if (force_walk)
		return walk_open(root_fd, clean, flags, mode);
	memset(&how, 0, sizeof(how));
	how.flags = (unsigned)flags;
	/* openat2 rejects a mode without O_CREAT/O_TMPFILE */
	if (flags & O_CREAT)
		how.mode = mode;
#ifdef O_TMPFILE
	if ((flags & O_TMPFILE) == O_TMPFILE)
		how.mode = mode;
#endif
	how.resolve = HM_RESOLVE_IN_ROOT | HM_RESOLVE_NO_MAGICLINKS;
	/* EAGAIN: a concurrent rename raced a ".." lookup; just retry */
	do
		fd = syscall(SYS_openat2, root_fd, clean, &how, sizeof(how));
	while (fd < 0 && (errno == EAGAIN || errno == EINTR) && ++tries < 32);
	if (fd < 0 && errno == ENOSYS)
		return walk_open(root_fd, clean, flags, mode);
	return fd;
}

int hm_openat_in_root(int root_fd, const char *path, int flags, mode_t mode)
{
	char clean[PATH_MAX];

	if (clean_path(path, clean) < 0)
		return -1;
	return open_clean(root_fd, clean, flags, mode);
}

/*
 * mkdir -p of a cleaned path.  The existing part is opened confined in one
 * go (symlinked dirs followed inside the root); each missing component is
 * then made with mkdirat() in the fd of its parent and opened without
 * following, so nothing is re-resolved from a string.
 */
static int mkdirs_clean(int root_fd, const char *clean, mode_t mode)
{
	char buf[PATH_MAX];
	char *p, *slash;
	size_t n;
	int fd, nfd;

	fd = open_clean(root_fd, clean, O_PATH | O_DIRECTORY, 0);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	/* find the longest prefix that exists; buf[0..n) */
	strcpy(buf, clean);
	n = strlen(buf);
	do {
		while (n > 0 && buf[n - 1] != '/')
			n--;
		if (n > 0)
			n--;
		buf[n] = '\0';
		fd = open_clean(root_fd, n ? buf : ".", O_PATH | O_DIRECTORY, 0);
	} while (fd < 0 && errno == ENOENT && n > 0);
	if (fd < 0)
		return -1;
	strcpy(buf, clean + (n ? n + 1 : 0));
	for (p = buf;; p = slash + 1) {
		slash = strchr(p, '/');
		if (slash)
			*slash = '\0';
		/* EEXIST: something is there (a dangling symlink, a file,
		 * or a dir made meanwhile): open_dir_nofollow() decides */
		if (mkdirat(fd, p, mode) < 0 && errno != EEXIST) {
			close_keep_errno(fd);
			return -1;
		}
		nfd = open_dir_nofollow(fd, p);
		close_keep_errno(fd);
		if (nfd < 0 || !slash)
			return nfd;
		fd = nfd;
	}
}

int hm_mkdirs_in_root(int root_fd, const char *path, mode_t mode)
{
	char clean[PATH_MAX];

	if (clean_path(path, clean) < 0)
		return -1;
	return mkdirs_clean(root_fd, clean, mode);
}

/* How replace_entry() makes the temp entry TMP_NAME in DFD. */
struct maker {
	int (*make)(int dfd, const struct maker *m);
	const void *data;	/* file content, or symlink target */
	size_t len;
	int src_fd;		/* or content read from here (data NULL) */
	mode_t mode;
};

/* read(2)/write(2) through a buffer, for sources sendfile cannot read */
static int copy_through_buffer(int dst, int src)
{
	char *buf = malloc(COPY_BUF);
	ssize_t r;
	int ret = -1;

	if (!buf)
		return -1;
	for (;;) {
		r = read(src, buf, COPY_BUF);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				ret = 0;
			break;
		}
		if (hm_write_all(dst, buf, r) < 0)
			break;
	}
	free(buf);
	return ret;
}

/* sendfile(2) first: page to page in the kernel, no copy through PID 1 */
static int copy_fd(int dst, int src)
{
	ssize_t r;
	off_t copied = 0;

	while ((r = sendfile(dst, src, NULL, COPY_BUF)) > 0 || (r < 0 && errno == EINTR))
		copied += r > 0 ? r : 0;
	if (r == 0)
		return 0;
	if (copied == 0 && (errno == EINVAL || errno == ENOSYS))
		return copy_through_buffer(dst, src);
	return -1;
}

static int make_file(int dfd, const struct maker *m)
{
	int fd, ret;

	/* O_EXCL|O_NOFOLLOW: never open something the image put there */
	fd = openat(dfd, TMP_NAME, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW
			| O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (m->data)
		ret = hm_write_all(fd, m->data, m->len);
	else
		ret = copy_fd(fd, m->src_fd);
	/* fchmod: the open mode is masked by umask, MODE must be exact */
	if (ret == 0)
		ret = fchmod(fd, m->mode);
	if (ret == 0)
		ret = fsync(fd);
	if (ret < 0) {
		close_keep_errno(fd);
		return -1;
	}
	return close(fd);
}

static int make_symlink(int dfd, const struct maker *m)
{
	return symlinkat(m->data, dfd, TMP_NAME);
}

/*
 * Create PATH by building TMP_NAME next to it and renaming it over: the
 * rename replaces a symlink or other entry without following it, and
 * readers see either the old or the new entry, never a partial one.
 */
static int replace_entry(int root_fd, const char *path, const struct maker *m,
		int *replaced)
{
	char clean[PATH_MAX];
	const char *base;
	char *slash;
	struct stat st;
	int dfd, rep = 0;

	if (replaced)
		*replaced = 0;
	if (clean_path(path, clean) < 0)
		return -1;
	if (strcmp(clean, ".") == 0) {
		errno = EISDIR;
		return -1;
	}
	slash = strrchr(clean, '/');
	base = clean;
	if (slash) {
		*slash = '\0';
		base = slash + 1;
	}
	dfd = mkdirs_clean(root_fd, slash ? clean : ".", 0755);
	if (dfd < 0)
		return -1;
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		rep = !S_ISREG(st.st_mode);
		/* rename can not replace a dir: remove it if empty */
		if (S_ISDIR(st.st_mode) && unlinkat(dfd, base, AT_REMOVEDIR) < 0)
			goto fail;
	}
	if (unlinkat(dfd, TMP_NAME, 0) < 0 && errno == EISDIR)
		unlinkat(dfd, TMP_NAME, AT_REMOVEDIR);
	if (m->make(dfd, m) < 0) {
		unlinkat(dfd, TMP_NAME, 0);
		goto fail;
	}
	if (renameat(dfd, TMP_NAME, dfd, base) < 0) {
		int e = errno;

		unlinkat(dfd, TMP_NAME, 0);
		errno = e;
		goto fail;
	}
	close(dfd);
	if (replaced)
		*replaced = rep;
	return 0;
 fail:
	close_keep_errno(dfd);
	return -1;
}

int hm_write_file_in_root(int root_fd, const char *path, const void *data,
		size_t len, mode_t mode, int *replaced)
{
	struct maker m;

	memset(&m, 0, sizeof(m));
	m.make = make_file;
	m.data = data ? data : "";
	m.len = data ? len : 0;
	m.mode = mode;
	return replace_entry(root_fd, path, &m, replaced);
}

int hm_copy_fd_in_root(int root_fd, const char *path, int src_fd,
		mode_t mode, int *replaced)
{
	struct maker m;

	memset(&m, 0, sizeof(m));
	m.make = make_file;
	m.src_fd = src_fd;
	m.mode = mode;
	return replace_entry(root_fd, path, &m, replaced);
}

int hm_symlink_in_root(int root_fd, const char *target, const char *linkpath)
{
	struct maker m;

	if (!target || !*target) {
		errno = ENOENT;
		return -1;
	}
	memset(&m, 0, sizeof(m));
	m.make = make_symlink;
	m.data = target;
	return replace_entry(root_fd, linkpath, &m, NULL);
}
