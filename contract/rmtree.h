/*
 * hypeman-init: rm -rf inside an untrusted tree, by file descriptors.
 */
#ifndef HM_RMTREE_H
#define HM_RMTREE_H 1

/* Removes NAME in the directory DIRFD and, when it is a directory, all
 * it holds. Nothing is followed: a symlink (anywhere in the tree) is
 * removed, never its target; every directory is opened with O_NOFOLLOW
 * relative to its parent's fd, so no path is resolved twice. Mount points
 * are not crossed: a directory on another device is left alone (and so
 * are its parents, which then stay non-empty). 0, or -1 with errno of the
 * first failure (the rest is still attempted). A missing NAME is 0. */
int hm_remove_tree_at(int dirfd, const char *name);

#endif
