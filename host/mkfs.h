/*
 * hypeman run: the disk images (mkfs.c), made with mkfs.erofs and mke2fs,
 * no loop mounts.
 */
#ifndef HR_MKFS_H
#define HR_MKFS_H 1

#include <stdint.h>

/* The rootfs disk IMG from the tree ROOT; FS: "erofs", "ext4" or NULL
 * (erofs when mkfs.erofs exists). *USED is set to the file system made.
 * 0, or -1 after printing why. */
int hr_mkfs_rootfs(const char *root, const char *img, const char *fs, const char **used);
/* An empty ext4 disk (the overlay, an overlay volume's upper disk). */
int hr_mkfs_empty(const char *img, uint64_t size, const char *label);
/* An ext4 disk holding the files of DIR (the config disk). */
int hr_mkfs_from_dir(const char *img, const char *dir, uint64_t size, const char *label);

#endif
