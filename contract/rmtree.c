/*
 * Contract layer: rm -rf by file descriptors (see rmtree.h), the one of
 * both programs: the init frees the initramfs with it and its headers
 * worker removes other kernels' trees from the image; hypeman run
 * replaces and whites out entries of the image's layers and removes its
 * work directory.
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

/*
 * Deeper than this is no tree a layer can make (its paths stay under
 * PATH_MAX, 4096 bytes, so under 2048 levels) but an attack on the stack.
 * Each level holds one descriptor.
 */
#define MAX_DEPTH 4096

static void keep_first(int *err, int e)
{
	if (!*err)
		*err = e;
}

static void remove_at(int dirfd, const char *name, dev_t dev, int depth, int *err);

/* Empties the directory open as FD (on device DEV), and closes FD. */
static void empty_dir(int fd, dev_t dev, int depth, int *err)
{
	struct dirent *e;
	DIR *d = fdopendir(fd);

	if (!d) {
		keep_first(err, errno);
		close(fd);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		remove_at(dirfd(d), e->d_name, dev, depth + 1, err);
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
	if (unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
		keep_first(err, errno);
}

/* 0, or -1 with errno ERR (the first failure). */
static int outcome(int err)
{
	if (!err)
		return 0;
	errno = err;
	return -1;
}

int hm_remove_tree_at(int dirfd, const char *name)
{
	struct stat st;
	int err = 0;

	if (fstat(dirfd, &st) != 0)
		return -1;
	remove_at(dirfd, name, st.st_dev, 0, &err);
	return outcome(err);
}

int hm_remove_tree_contents(int dirfd)
{
	struct stat st;
	int err = 0, fd;

	if (fstat(dirfd, &st) != 0 || (fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0)) < 0)
		return -1;
	empty_dir(fd, st.st_dev, 0, &err);
	return outcome(err);
}
