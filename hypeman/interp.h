/*
 * hypeman-init: the interpreter an executable file asks the kernel for,
 * the "#!" line of a script or PT_INTERP of a dynamic ELF. When it is
 * missing from the image, execve says only ENOENT, as if the program
 * itself were missing; the log names the missing file instead.
 */
#ifndef HM_INTERP_H
#define HM_INTERP_H 1

#include <stddef.h>

enum hm_interp {
	HM_INTERP_NONE,		/* neither (static ELF, unknown format, unreadable) */
	HM_INTERP_SCRIPT,	/* the path of the "#!" line */
	HM_INTERP_ELF,		/* the ELF program interpreter (dynamic loader) */
};

/*
 * Reads the file open as FD (pread from offset 0, the fd's position is
 * untouched) and puts the interpreter's path in BUF (LEN bytes,
 * NUL-terminated, cut to fit). Native or foreign ELF, 32 or 64 bits,
 * either byte order.
 */
enum hm_interp hm_interpreter_of(int fd, char *buf, size_t len);

/*
 * Why PATH, a file that exists, got ENOENT from execve, in words for the
 * log ("its interpreter /bin/bash (its #! line) is not in the image"),
 * in BUF (LEN bytes); a PT_INTERP that starts with a NUL (the kernel
 * opens "") is said to be empty. Paths are looked up as they are (init
 * is chrooted into the image by then). Returns BUF, or NULL when PATH
 * names no interpreter (then the plain error says enough).
 */
const char *hm_explain_enoent(const char *path, char *buf, size_t len);

#endif
