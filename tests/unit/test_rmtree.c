// needs: contract/rmtree.c
/* Unit tests for contract/rmtree.c on a real temporary tree: everything
 * below the name goes, nothing a symlink points to is touched, a
 * directory's contents go and it stays, the depth bound holds. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "check.h"
#include "rmtree.h"

static char base[] = "/tmp/hm-rmtree.XXXXXX";

static void put(const char *rel)
{
	char p[512];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", base, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		if (write(fd, "x", 1) != 1)
			perror(p);
		close(fd);
	}
}

static void dir(const char *rel)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", base, rel);
	mkdir(p, 0755);
}

static void link_(const char *target, const char *rel)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", base, rel);
	if (symlink(target, p) != 0)
		perror(p);
}

static int exists(const char *rel)
{
	char p[512];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", base, rel);
	return lstat(p, &st) == 0;
}

/* DIRFD/d/d/... LEVELS deep; the fd of the last one's parent at MID. */
static void make_deep(int dirfd, int levels, int mid_at, int *mid)
{
	int fd = dup(dirfd), next, i;

	for (i = 0; i < levels && fd >= 0; i++) {
		if (i == mid_at)
			*mid = dup(fd);
		mkdirat(fd, "d", 0755);
		next = openat(fd, "d", O_PATH | O_DIRECTORY);
		close(fd);
		fd = next;
	}
	if (fd >= 0)
		close(fd);
}

/* A tree deeper than the bound (4096 levels, one fd each): an error, and
 * what is above the bound stays; deeper than any layer can make (PATH_MAX)
 * but within it: gone. */
static void deep(int root)
{
	struct rlimit rl = { 8192, 8192 };
	int img = openat(root, "image", O_PATH | O_DIRECTORY), mid = -1;

	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		perror("setrlimit (the deep tree may hit EMFILE)");
	make_deep(img, 4100, 2000, &mid);
	CHECK_INT(hm_remove_tree_at(img, "d"), -1);
	CHECK_INT(errno, ELOOP);
	CHECK(exists("image/d/d/d") && exists("keep/file"));
	/* from level 2000 down it is 2100 deep: within the bound */
	CHECK_INT(hm_remove_tree_at(mid, "d"), 0);
	CHECK_INT(hm_remove_tree_at(img, "d"), 0);
	CHECK(!exists("image/d"));
	close(mid);
	close(img);
}

int main(void)
{
	char abs_keep[600];
	int root;

	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 1;
	}
	dir("keep");
	put("keep/file");
	dir("image");
	dir("image/lib");
	dir("image/lib/modules");
	dir("image/lib/modules/old");
	dir("image/lib/modules/old/kernel");
	dir("image/lib/modules/old/kernel/deep");
	put("image/lib/modules/old/kernel/deep/a.ko");
	put("image/lib/modules/old/modules.dep");
	/* symlinks inside the doomed tree: to a dir outside, absolute and
	 * relative, and to a file: removed, targets untouched */
	snprintf(abs_keep, sizeof(abs_keep), "%s/keep", base);
	link_(abs_keep, "image/lib/modules/old/build");
	link_("../../../../keep", "image/lib/modules/old/source");
	link_("../../../../keep/file", "image/lib/modules/old/kernel/f");
	dir("image/lib/modules/current");
	put("image/lib/modules/current/x");
	/* the name itself a symlink: the link goes, not the target */
	link_(abs_keep, "image/lib/modules/linked");

	root = open(base, O_PATH | O_DIRECTORY);
	{
		int mods = openat(root, "image/lib/modules", O_PATH | O_DIRECTORY);
		CHECK_INT(hm_remove_tree_at(mods, "old"), 0);
		CHECK(!exists("image/lib/modules/old"));
		CHECK(exists("image/lib/modules/current/x"));
		CHECK_INT(hm_remove_tree_at(mods, "linked"), 0);
		CHECK(!exists("image/lib/modules/linked"));
		CHECK(exists("keep/file"));
		/* missing: nothing to do */
		CHECK_INT(hm_remove_tree_at(mods, "none"), 0);
		/* a plain file */
		CHECK_INT(hm_remove_tree_at(mods, "current"), 0);
		CHECK(!exists("image/lib/modules/current"));
		close(mods);
	}
	/* the contents of a directory go, it stays */
	dir("image/c");
	dir("image/c/sub");
	put("image/c/sub/f");
	put("image/c/g");
	link_(abs_keep, "image/c/l");
	{
		int c = openat(root, "image/c", O_RDONLY | O_DIRECTORY);
		CHECK_INT(hm_remove_tree_contents(c), 0);
		close(c);
		CHECK(exists("image/c") && !exists("image/c/sub") && !exists("image/c/g")
			&& !exists("image/c/l"));
		CHECK(exists("keep/file"));
	}
	deep(root);
	CHECK_INT(hm_remove_tree_at(root, "image"), 0);
	CHECK(!exists("image"));
	CHECK_INT(hm_remove_tree_at(root, "keep"), 0);
	close(root);
	rmdir(base);
	return check_done();
}
