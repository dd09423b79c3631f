/*
 * Contract layer: rm -rf inside an untrusted tree, by file descriptors.
 *
 * Nothing is followed: a symlink (anywhere in the tree) is removed, never
 * its target; every directory is opened with O_NOFOLLOW relative to its
 * parent's fd, so no path is resolved twice. Mount points are not
 * crossed: a directory on another device is left alone (and so are its
 * parents, which then stay non-empty), with EXDEV. What fails does not
 * stop the rest: the result is 0, or -1 with errno of the first failure.
 */
#ifndef HM_RMTREE_H
#define HM_RMTREE_H 1

/* Removes NAME in the directory DIRFD and, when it is a directory, all
 * it holds. A missing NAME is 0. */
int hm_remove_tree_at(int dirfd, const char *name);

/* Removes all that the directory open as DIRFD holds; it stays. */
int hm_remove_tree_contents(int dirfd);

#endif
