/*
 * hypeman run: placing the entries of a layer in the rootfs tree, with the
 * semantics of `umoci unpack` (and containerd's applier):
 *
 *  - the parent directory of an entry is resolved as in a chroot: a
 *    symlink in the tree is followed, inside the root (openat2
 *    RESOLVE_IN_ROOT); missing directories are made (0755), also where a
 *    dangling symlink points;
 *  - whatever is at the entry's path is removed first, unless both are
 *    directories (then the directory stays and takes the entry's metadata):
 *    a later entry of the same name wins, in the same layer too;
 *  - a hard link may point to a file of this layer or of a lower one;
 *  - a whiteout .wh.NAME removes NAME, .wh..wh..opq the directory's
 *    content, but never what this layer has written (the "upper" paths);
 *  - adding or removing entries does not change the parent directory's
 *    times: they are put back as they were (so a directory's mtime is the
 *    one its entry gives, wherever its children come in the archive);
 *  - owner, mode (after the owner: chown clears set-id bits), extended
 *    attributes and times come from the tar header; security.selinux,
 *    system.nfs4_acl and trusted.* (the guest kernel's own) are not set;
 *  - the root's own metadata (the image's "/") is set at the end: until
 *    then the root stays 0700, so other users cannot reach the image's
 *    set-id files or device nodes.
 * Every name is a single component under a directory fd resolved inside
 * the root, so no image name or symlink can lead a write outside it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <archive.h>
#include <archive_entry.h>
#include "pathset.h"
#include "rmtree.h"
#include "tool.h"
#include "tree.h"
#include "util.h"

#define WH ".wh."
#define WH_OPQ ".wh..wh..opq"
#define MAX_HOPS 40		/* symlinks followed making one directory */

struct hr_tree {
	int rootfd;
	char *rootpath;		/* realpath of the root */
	size_t rootlen;
	const char *what;	/* "layer 2/3 (sha256:...)" */
	struct hr_pathset upper;	/* paths this layer wrote, and their parents */
	bool xattr_warned;
	/* The parent directory of the last entry, kept while entries share it. */
	char *pname;		/* as the archive names it ("" for the root) */
	char *preal;		/* where it resolved, relative to the root */
	int pfd;
	struct stat pst;	/* its times before this layer's entries went in */
	bool pmarked;		/* preal and its parents are in upper */
	bool pacl;		/* it has a default ACL: new entries inherit one */
	struct archive_entry *root;	/* the image's "/" entry, set at the end */
};

static char *join(const char *a, const char *b)
{
	return a[0] ? hr_asprintf("%s/%s", a, b) : hr_strdup(b);
}

/*
 * A member name made relative and canonical ("./a//b/" -> "a/b", "/etc"
 * -> "etc"; the root is ""), as umoci and GNU tar take them. NULL for a
 * name with a ".." component: refused, it could only mean to climb out.
 */
static char *normalize(const char *name)
{
	char *out = hr_malloc(strlen(name) + 1), *o = out;
	const char *p = name;

	while (*p) {
		size_t n;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			free(out);
			return NULL;
		}
		if (n && !(n == 1 && p[0] == '.')) {
			if (o != out)
				*o++ = '/';
			memcpy(o, p, n);
			o += n;
		}
		p += n;
	}
	*o = 0;
	return out;
}

static int open_in_root(const struct hr_tree *t, const char *rel)
{
	struct open_how how;

	if (!rel[0])
		return fcntl(t->rootfd, F_DUPFD_CLOEXEC, 0);
	memset(&how, 0, sizeof(how));
	how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
	how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
	return (int)syscall(SYS_openat2, t->rootfd, rel, &how, sizeof(how));
}

/* The path of directory fd relative to the root, or NULL. */
static char *rel_of_fd(const struct hr_tree *t, int fd)
{
	char link[64], buf[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, sizeof(buf) - 1);
	if (n <= 0)
		return NULL;
	buf[n] = 0;
	if (strncmp(buf, t->rootpath, t->rootlen))
		return NULL;
	if (buf[t->rootlen] == 0)
		return hr_strdup("");
	return buf[t->rootlen] == '/' ? hr_strdup(buf + t->rootlen + 1) : NULL;
}

/*
 * The directory rel, resolved inside the root; with create, missing
 * directories on the way are made, where a dangling symlink points too
 * (as umoci's MkdirAll through SecureJoin). An fd, or -1 with errno.
 */
static int resolve_dir(const struct hr_tree *t, const char *rel, bool create, int hops)
{
	int fd = open_in_root(t, rel), ufd, e;
	char *up, *last, target[PATH_MAX];
	ssize_t n;

	if (fd >= 0 || !create || errno != ENOENT)
		return fd;
	if (hops > MAX_HOPS) {
		errno = ELOOP;
		return -1;
	}
	last = strrchr(rel, '/');
	up = last ? hr_strndup(rel, last - rel) : hr_strdup("");
	last = last ? last + 1 : (char *)rel;
	ufd = resolve_dir(t, up, true, hops);
	free(up);
	if (ufd < 0)
		return -1;
	if (strcmp(last, ".") && strcmp(last, "..") && mkdirat(ufd, last, 0755) && errno == EEXIST
	 && (n = readlinkat(ufd, last, target, sizeof(target) - 1)) > 0) {
		char *here = rel_of_fd(t, ufd), *to;

		target[n] = 0;
		to = target[0] == '/' || !here ? hr_strdup(target) : join(here, target);
		fd = resolve_dir(t, to[0] == '/' ? to + 1 : to, true, hops + 1);
		if (fd >= 0)
			close(fd);
		free(here);
		free(to);
	}
	e = errno;
	close(ufd);
	fd = open_in_root(t, rel);	/* the kernel has the last word */
	if (fd < 0 && errno == ENOENT)
		errno = e;
	return fd;
}

/* ---- metadata ------------------------------------------------------------- */

static bool skipped_xattr(const char *name)
{
	return !strcmp(name, "security.selinux") || !strcmp(name, "system.nfs4_acl")
		|| !strncmp(name, "trusted.", 8);
}

static void xattr_warn(struct hr_tree *t, const char *name, const char *rel, int err)
{
	char shown[300];

	if (err == ENOTSUP && t->xattr_warned)
		return;
	t->xattr_warned |= err == ENOTSUP;
	hr_msg("warning: %s: extended attribute %s of /%s not set: %s", t->what, name,
		hr_printable(rel, shown, sizeof(shown)), strerror(err));
}

/* fd: the entry (regular file or directory), or -1: then at is the
 * /proc/self/fd path of a symlink or node (never followed). */
static void clear_xattrs(int fd, const char *at)
{
	char names[65536];
	ssize_t n = fd >= 0 ? flistxattr(fd, names, sizeof(names)) : llistxattr(at, names, sizeof(names));
	ssize_t off;

	for (off = 0; n > 0 && off < n; off += strlen(names + off) + 1)
		if (!skipped_xattr(names + off))
			(void)(fd >= 0 ? fremovexattr(fd, names + off) : lremovexattr(at, names + off));
}

static void set_xattrs(struct hr_tree *t, struct archive_entry *e, int fd, const char *at,
		const char *rel)
{
	const char *name;
	const void *value;
	size_t size;

	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
		int r;

		if (skipped_xattr(name))
			continue;
		r = fd >= 0 ? fsetxattr(fd, name, value, size, 0) : lsetxattr(at, name, value, size, 0);
		if (r)
			xattr_warn(t, name, rel, errno);
	}
}

static void entry_times(struct archive_entry *e, struct timespec ts[2])
{
	if (archive_entry_mtime_is_set(e)) {
		ts[1].tv_sec = archive_entry_mtime(e);
		ts[1].tv_nsec = archive_entry_mtime_nsec(e);
	} else {
		ts[1].tv_sec = 0;
		ts[1].tv_nsec = UTIME_NOW;
	}
	if (archive_entry_atime_is_set(e)) {
		ts[0].tv_sec = archive_entry_atime(e);
		ts[0].tv_nsec = archive_entry_atime_nsec(e);
	} else {
		ts[0] = ts[1];
	}
}

/* Owner, mode, xattrs, times of the entry open as fd. */
static int meta_fd(struct hr_tree *t, int fd, struct archive_entry *e, bool clear, const char *rel)
{
	struct timespec ts[2];

	entry_times(e, ts);
	if (fchown(fd, archive_entry_uid(e), archive_entry_gid(e))
	 || fchmod(fd, archive_entry_perm(e) & 07777))
		return -1;
	if (clear)
		clear_xattrs(fd, NULL);
	set_xattrs(t, e, fd, NULL, rel);
	return futimens(fd, ts);
}

/* The same for a symlink or device node `base` in the parent (no fd). */
static int meta_at(struct hr_tree *t, const char *base, struct archive_entry *e, bool clear,
		const char *rel)
{
	struct timespec ts[2];
	char at[PATH_MAX];
	bool link = archive_entry_filetype(e) == AE_IFLNK;

	entry_times(e, ts);
	snprintf(at, sizeof(at), "/proc/self/fd/%d/%s", t->pfd, base);
	if (fchownat(t->pfd, base, archive_entry_uid(e), archive_entry_gid(e), AT_SYMLINK_NOFOLLOW)
	 || (!link && fchmodat(t->pfd, base, archive_entry_perm(e) & 07777, 0)))
		return -1;
	if (clear)
		clear_xattrs(-1, at);
	set_xattrs(t, e, -1, at, rel);
	return utimensat(t->pfd, base, ts, AT_SYMLINK_NOFOLLOW);
}

/* ---- the parent directory ----------------------------------------------- */

/* Puts the parent's times back (the root's are set at the end). */
static void leave_parent(struct hr_tree *t)
{
	if (t->pfd >= 0 && t->preal && t->preal[0])
		futimens(t->pfd, (struct timespec[2]){ t->pst.st_atim, t->pst.st_mtim });
	if (t->pfd >= 0)
		close(t->pfd);
	t->pfd = -1;
	free(t->pname);
	free(t->preal);
	t->pname = t->preal = NULL;
}

/* Makes pname the current parent; 0, or -1 with errno. */
static int enter_parent(struct hr_tree *t, const char *pname, bool create)
{
	if (t->pfd >= 0 && !strcmp(t->pname, pname))
		return 0;
	leave_parent(t);
	t->pfd = resolve_dir(t, pname, create, 0);
	if (t->pfd < 0)
		return -1;
	t->preal = rel_of_fd(t, t->pfd);
	if (!t->preal || fstat(t->pfd, &t->pst)) {
		close(t->pfd);
		t->pfd = -1;
		free(t->preal);
		t->preal = NULL;
		errno = EXDEV;
		return -1;
	}
	t->pname = hr_strdup(pname);
	t->pmarked = false;
	t->pacl = fgetxattr(t->pfd, "system.posix_acl_default", NULL, 0) >= 0;
	return 0;
}

/* The entry base of the parent is now this layer's (and so are its parents). */
static void mark_upper(struct hr_tree *t, const char *base)
{
	char *p = join(t->preal, base), *slash;

	hr_pathset_add(&t->upper, p);
	if (!t->pmarked) {
		/* "a/b/c": then "a/b", "a", until one is already there. */
		while ((slash = strrchr(p, '/')) != NULL) {
			*slash = 0;
			if (!hr_pathset_add(&t->upper, p))
				break;
		}
		t->pmarked = true;
	}
	free(p);
}

/* ---- whiteouts ---------------------------------------------------------------- */

static int wipe_children(struct hr_tree *t, int dfd, const char *drel);

/* Removes name in dfd (tree path drel) unless this layer wrote it; in a
 * directory of this layer, what lower layers left below it. */
static int wipe(struct hr_tree *t, int dfd, const char *drel, const char *name)
{
	char *rel = join(drel, name), shown[300];
	struct stat st;
	int rc = 0, cfd;

	if (!hr_pathset_has(&t->upper, rel)) {
		rc = hm_remove_tree_at(dfd, name);
		if (rc)
			hr_msg("%s: whiteout of /%s: %s", t->what, hr_printable(rel, shown, sizeof(shown)),
				strerror(errno));
	} else if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
		cfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		rc = cfd < 0 ? 0 : wipe_children(t, cfd, rel);
		if (cfd >= 0)
			close(cfd);
	}
	free(rel);
	return rc;
}

static int wipe_children(struct hr_tree *t, int dfd, const char *drel)
{
	int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0), rc = 0;
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;

	if (!d) {
		if (fd >= 0)
			close(fd);
		hr_msg("%s: reading /%s: %s", t->what, drel, strerror(errno));
		return -1;
	}
	/* Removing while reading is fine for a directory only we change. */
	while (rc == 0 && (de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rc = wipe(t, dfd, drel, de->d_name);
	closedir(d);
	return rc;
}

static int whiteout(struct hr_tree *t, const char *pname, const char *base)
{
	const char *victim = base + strlen(WH);

	if (enter_parent(t, pname, false)) {
		char shown[300];

		if (errno == ENOENT || errno == ENOTDIR)
			return 0;	/* nothing below to hide */
		hr_msg("%s: whiteout in /%s: %s", t->what, hr_printable(pname, shown, sizeof(shown)),
			strerror(errno));
		return -1;
	}
	if (!strcmp(base, WH_OPQ))
		return wipe_children(t, t->pfd, t->preal);
	if (!strncmp(base, WH WH, 2 * strlen(WH)))
		return 0;	/* other aufs metadata (.wh..wh.plnk ...) */
	if (!victim[0] || !strcmp(victim, ".") || !strcmp(victim, ".."))
		return 0;
	return wipe(t, t->pfd, t->preal, victim);
}

/* ---- making entries ---------------------------------------------------- */

static int pwrite_all(int fd, const char *buf, size_t n, off_t off)
{
	while (n) {
		ssize_t w = pwrite(fd, buf, n, off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		buf += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

/* The data of a regular file (holes of sparse files stay holes); the end
 * of the data written, -1 after a message, or HR_TREE_EREAD. */
static long long write_data(struct hr_tree *t, struct archive *a, int fd, const char *rel)
{
	const void *buf;
	size_t n;
	la_int64_t off, end = 0;
	int r;
	char shown[300];

	while ((r = archive_read_data_block(a, &buf, &n, &off)) == ARCHIVE_OK) {
		if (pwrite_all(fd, buf, n, off)) {
			hr_msg("%s: writing /%s: %s%s", t->what, hr_printable(rel, shown, sizeof(shown)),
				strerror(errno), errno == ENOSPC ? " (the work directory is full)" : "");
			return -1;
		}
		if (off + (la_int64_t)n > end)
			end = off + (la_int64_t)n;
		if (hr_tool.interrupted)
			return -1;
	}
	if (r != ARCHIVE_EOF)
		return HR_TREE_EREAD;
	return end;
}

static int make_file(struct hr_tree *t, struct archive *a, struct archive_entry *e,
		const char *base, const char *rel)
{
	int fd = openat(t->pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	la_int64_t size = archive_entry_size(e);
	long long end;

	if (fd < 0)
		return -1;
	end = write_data(t, a, fd, rel);
	if (end < 0) {
		close(fd);
		return end == HR_TREE_EREAD ? HR_TREE_EREAD : -2;
	}
	if ((end < size && ftruncate(fd, size))	/* a trailing hole */
	 || meta_fd(t, fd, e, t->pacl, rel)) {
		int err = errno;

		close(fd);
		errno = err;
		return -1;
	}
	return close(fd);
}

static int make_dir(struct hr_tree *t, struct archive_entry *e, const char *base, bool existed,
		const char *rel)
{
	int fd, rc;

	if (!existed && mkdirat(t->pfd, base, 0700))
		return -1;
	fd = openat(t->pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = meta_fd(t, fd, e, existed || t->pacl, rel);
	close(fd);
	return rc;
}

static int make_hardlink(struct hr_tree *t, struct archive_entry *e, const char *base,
		const char *rel)
{
	char *target = normalize(archive_entry_hardlink(e)), *slash, shown[300], tshown[300];
	char *tdir;
	int tfd, rc;

	if (!target || !target[0]) {
		hr_msg("%s: refusing hard link /%s to \"%s\": %s", t->what,
			hr_printable(rel, shown, sizeof(shown)),
			hr_printable(archive_entry_hardlink(e), tshown, sizeof(tshown)),
			target ? "the root" : "\"..\" in the path");
		free(target);
		return -2;
	}
	slash = strrchr(target, '/');
	tdir = slash ? hr_strndup(target, slash - target) : hr_strdup("");
	tfd = resolve_dir(t, tdir, false, 0);
	rc = tfd < 0 ? -1 : linkat(tfd, slash ? slash + 1 : target, t->pfd, base, 0);
	if (rc) {
		int err = errno;

		hr_msg("%s: hard link /%s -> /%s: %s", t->what, hr_printable(rel, shown, sizeof(shown)),
			hr_printable(target, tshown, sizeof(tshown)),
			err == ENOENT || err == ENOTDIR ? "the target is not in this layer or a lower one"
			: err == EPERM ? "the target is a directory" : strerror(err));
		rc = -2;
	}
	if (tfd >= 0)
		close(tfd);
	free(tdir);
	free(target);
	return rc;
}

/* Makes the entry at base in the current parent. 0, -1 (errno: the
 * caller says what failed), -2 (message printed) or HR_TREE_EREAD. */
static int make(struct hr_tree *t, struct archive *a, struct archive_entry *e, const char *base,
		bool dir_existed, const char *rel)
{
	mode_t type = archive_entry_filetype(e);
	const char *target;

	if (archive_entry_hardlink(e))
		return make_hardlink(t, e, base, rel);
	switch (type) {
	case AE_IFREG:
		return make_file(t, a, e, base, rel);
	case AE_IFDIR:
		return make_dir(t, e, base, dir_existed, rel);
	case AE_IFLNK:
		target = archive_entry_symlink(e);
		if (!target || symlinkat(target, t->pfd, base))
			return -1;
		return meta_at(t, base, e, t->pacl, rel);
	case AE_IFCHR: case AE_IFBLK: case AE_IFIFO:
		if (mknodat(t->pfd, base, type | 0600, archive_entry_rdev(e)))
			return -1;
		return meta_at(t, base, e, t->pacl, rel);
	}
	errno = EOPNOTSUPP;
	return -1;
}

/* A non-whiteout entry at pname/base (rel). */
static int place(struct hr_tree *t, struct archive *a, struct archive_entry *e,
		const char *pname, const char *base, const char *rel)
{
	bool isdir = archive_entry_filetype(e) == AE_IFDIR && !archive_entry_hardlink(e);
	char shown[300];
	struct stat st;
	bool exists;
	int rc;

	if (enter_parent(t, pname, true)) {
		int err = errno;

		hr_msg("%s: cannot make the directory for /%s: %s", t->what,
			hr_printable(rel, shown, sizeof(shown)),
			err == ENOTDIR ? "a file is in the way" : strerror(err));
		return -1;
	}
	exists = fstatat(t->pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (exists && !(S_ISDIR(st.st_mode) && isdir) && hm_remove_tree_at(t->pfd, base)) {
		int err = errno;

		hr_msg("%s: replacing /%s: %s", t->what, hr_printable(rel, shown, sizeof(shown)),
			strerror(err));
		return -1;
	}
	rc = make(t, a, e, base, exists && isdir && S_ISDIR(st.st_mode), rel);
	if (rc == -1) {
		int err = errno;

		hr_msg("%s: making /%s: %s", t->what, hr_printable(rel, shown, sizeof(shown)),
			strerror(err));
	}
	if (rc)
		return rc == HR_TREE_EREAD ? rc : -1;
	mark_upper(t, base);
	return 0;
}

/* ---- the interface ------------------------------------------------------- */

int hr_tree_entry(struct hr_tree *t, struct archive *a, struct archive_entry *e)
{
	const char *name = archive_entry_pathname(e), *base;
	char *rel, *pname, *slash, shown[300];
	int rc;

	if (!name) {
		hr_msg("%s: an entry's name cannot be read", t->what);
		return -1;
	}
	rel = normalize(name);
	if (!rel) {
		hr_msg("%s: refusing entry \"%s\": \"..\" in the path", t->what,
			hr_printable(name, shown, sizeof(shown)));
		return -1;
	}
	if (!rel[0]) {
		free(rel);
		if (archive_entry_filetype(e) != AE_IFDIR || archive_entry_hardlink(e)) {
			hr_msg("%s: refusing entry \"%s\": it would make the root a non-directory",
				t->what, hr_printable(name, shown, sizeof(shown)));
			return -1;
		}
		archive_entry_free(t->root);
		t->root = archive_entry_clone(e);
		return 0;
	}
	slash = strrchr(rel, '/');
	pname = slash ? hr_strndup(rel, slash - rel) : hr_strdup("");
	base = slash ? slash + 1 : rel;
	if (!strncmp(base, WH, strlen(WH)))
		rc = whiteout(t, pname, base);
	else
		rc = place(t, a, e, pname, base, rel);
	free(pname);
	free(rel);
	return rc;
}

struct hr_tree *hr_tree_open(const char *root)
{
	struct hr_tree *t = hr_calloc(1, sizeof(*t));

	t->pfd = -1;
	t->rootpath = realpath(root, NULL);
	t->rootfd = t->rootpath ? open(t->rootpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (t->rootfd < 0) {
		hr_msg("%s: %s", root, strerror(errno));
		free(t->rootpath);
		free(t);
		return NULL;
	}
	t->rootlen = strlen(t->rootpath);
	return t;
}

void hr_tree_layer(struct hr_tree *t, const char *what)
{
	leave_parent(t);
	hr_pathset_clear(&t->upper);
	t->what = what;
	t->xattr_warned = false;
}

void hr_tree_layer_end(struct hr_tree *t)
{
	leave_parent(t);
	hr_pathset_clear(&t->upper);
}

int hr_tree_finish(struct hr_tree *t)
{
	struct archive_entry *e = t->root;

	if (!e) {	/* no layer names "/": what a container runtime makes */
		if (fchown(t->rootfd, 0, 0) == 0 && fchmod(t->rootfd, 0755) == 0)
			return 0;
	} else if (meta_fd(t, t->rootfd, e, true, "") == 0) {
		return 0;
	}
	hr_msg("%s: setting the root's owner and mode: %s", t->rootpath, strerror(errno));
	return -1;
}

void hr_tree_close(struct hr_tree *t)
{
	if (!t)
		return;
	leave_parent(t);
	hr_pathset_clear(&t->upper);
	archive_entry_free(t->root);
	close(t->rootfd);
	free(t->rootpath);
	free(t);
}
