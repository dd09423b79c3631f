/*
 * rm -rf by file descriptors, for trees in the untrusted image (see
 * rmtree.h): the kernel-headers worker removes other kernels' module and
 * header directories with it.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += rmtree.o
#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "rmtree.h"

/* Deeper than this is not a kernel tree but an attack on our stack. */
#define MAX_DEPTH 64

static void keep_first(int *err, int e)
{
	if (!*err)
		*err = e;
}

static void remove_at(int dirfd, const char *name, dev_t dev, int depth, int *err);

/* Empties the directory open as FD (on device DEV). */
static void empty_dir(int fd, dev_t dev, int depth, int *err)
{
	DIR *d;
	struct dirent *e;
	int dfd = dup(fd);

	if (dfd < 0 || !(d = fdopendir(dfd))) {
		keep_first(err, errno);
		if (dfd >= 0)
			close(dfd);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		remove_at(fd, e->d_name, dev, depth + 1, err);
	}
	closedir(d);
}

static void remove_at(int dirfd, const char *name, dev_t dev, int depth, int *err)
{
	struct stat st;
	int fd;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno != ENOENT)
			keep_first(err, errno);
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dirfd, name, 0) != 0 && errno != ENOENT)
			keep_first(err, errno);
		return;
	}
	if (st.st_dev != dev) {
		keep_first(err, EXDEV);  /* a mount point: not ours to empty */
		return;
	}
	if (depth >= MAX_DEPTH) {
		keep_first(err, ELOOP);
		return;
	}
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		keep_first(err, errno);
		return;
	}
	empty_dir(fd, dev, depth, err);
	close(fd);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
		keep_first(err, errno);
}

int hm_remove_tree_at(int dirfd, const char *name)
{
	struct stat st;
	int err = 0;

	if (fstat(dirfd, &st) != 0)
		return -1;
	remove_at(dirfd, name, st.st_dev, 0, &err);
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}
