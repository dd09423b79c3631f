/*
 * Paths inside an untrusted root (the image, before we chroot into it).
 *
 * Every function takes ROOT_FD, a directory fd of the new root (e.g.
 * open("/newroot", O_PATH|O_DIRECTORY|O_CLOEXEC)), and a PATH that is
 * interpreted inside it: "/etc/x", "etc/x" and "../../etc/x" all name
 * ROOT/etc/x.  Nothing is ever read, written, created or mounted outside
 * ROOT, whatever symlinks the image holds.
 *
 * Path rules:
 * - "." and ".." in PATH itself are resolved lexically first and clamped at
 *   the root (like Go's filepath.Clean); ".." inside a symlink target is
 *   resolved by the kernel, also clamped at the root.
 * - Symlinks in the image (absolute or relative) are followed as if ROOT were
 *   "/" (openat2 RESOLVE_IN_ROOT); magic links (/proc/N/fd/...) are refused.
 * - Kernels without openat2 (before 5.6): a component-by-component walk that
 *   refuses every symlink with ELOOP. Safe rather than clever.
 * - Files we create are never written through a symlink: the last component
 *   is always handled with *at() calls on the fd of its confined parent.
 * - All fds returned are O_CLOEXEC.  Errors: -1 and errno.
 *
 * Mounting on a confined directory: take the O_PATH fd from
 * hm_mkdirs_in_root() and mount on "/proc/self/fd/N" (proc must be mounted);
 * the kernel then mounts on exactly that directory, no path is re-resolved.
 */
#ifndef HM_CONFINE_H
#define HM_CONFINE_H 1

#include <stddef.h>
#include <sys/types.h>
#include "config.h"	/* hm_volume_path_valid, the contract's rule for paths */

/*
 * open(2) PATH inside the root; FLAGS/MODE as for openat (O_CLOEXEC added).
 * With O_CREAT and a last component that is a symlink, the symlink is
 * followed inside the root: pass O_NOFOLLOW to refuse it.
 */
int hm_openat_in_root(int root_fd, const char *path, int flags, mode_t mode);

/*
 * mkdir -p PATH inside the root (new dirs get MODE & ~umask).  Returns an
 * O_PATH|O_DIRECTORY fd of the final directory.  Existing symlinked dirs are
 * followed (confined); a dangling symlink on the way fails (ELOOP), a regular
 * file on the way fails (ENOTDIR/EEXIST).
 */
int hm_mkdirs_in_root(int root_fd, const char *path, mode_t mode);

/*
 * Atomically create or replace the regular file PATH with DATA/LEN, MODE
 * exactly (not masked).  Parent dirs are created (0755).  An existing last
 * component that is not a regular file (a symlink: never followed; an empty
 * dir; a fifo...) is replaced and *REPLACED (may be NULL) is set to 1 so the
 * caller can log it; else 0.  Written to a temp file in the same dir,
 * fsync'ed, then renamed over PATH: never a partial file.
 */
int hm_write_file_in_root(int root_fd, const char *path, const void *data,
		size_t len, mode_t mode, int *replaced);

/* The same, with the content read from SRC_FD until EOF. */
int hm_copy_fd_in_root(int root_fd, const char *path, int src_fd,
		mode_t mode, int *replaced);

/* Create (or atomically replace) the symlink LINKPATH -> TARGET inside the
 * root; TARGET is stored as given, never resolved.  Parent dirs created. */
int hm_symlink_in_root(int root_fd, const char *target, const char *linkpath);

/* Tests only: 1 forces the no-openat2 walk, 0 restores auto-detection. */
void hm_confine_force_walk(int on);

#endif
