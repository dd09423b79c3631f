// needs: contract/rmtree.c
/* Unit tests for contract/rmtree.c on a real temporary tree: everything
 * below the name goes, nothing a symlink points to is touched. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	/* a very deep tree stops at the depth bound, with an error */
	{
		char rel[4096] = "image/d";
		int i;
		dir("image/d");
		for (i = 0; i < 70; i++) {
			strcat(rel, "/d");
			dir(rel);
		}
		CHECK_INT(hm_remove_tree_at(root, "image"), -1);
		CHECK_INT(errno, ELOOP);
		CHECK(exists("keep/file"));
		/* clean up what the bound left: from the middle down */
		{
			int mid = openat(root, "image/d/d/d/d/d/d/d/d/d/d", O_PATH | O_DIRECTORY);
			CHECK_INT(hm_remove_tree_at(mid, "d"), 0);
			close(mid);
		}
		CHECK_INT(hm_remove_tree_at(root, "image"), 0);
		CHECK(!exists("image"));
	}
	CHECK_INT(hm_remove_tree_at(root, "keep"), 0);
	close(root);
	rmdir(base);
	return check_done();
}
