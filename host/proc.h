/*
 * hypeman run: child processes (proc.c): mkfs.erofs and mke2fs, found in
 * PATH's absolute directories only.
 */
#ifndef HR_PROC_H
#define HR_PROC_H 1

#include <stdbool.h>

struct hr_meter;

/* PATH when the environment has none. */
#define HR_PROC_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/*
 * Runs argv[0] (looked up in PATH) with stdin from in_fd and stdout to
 * out_fd (-1: /dev/null for either). Its stderr is captured (the last
 * 4 KiB); on return *errtext (when not NULL) holds it, malloc'd, trailing
 * newlines removed. While it runs, m (when not NULL) is ticked with the
 * size of the file watch (the output being made). Returns the exit
 * status 0..255, or -1 when the program could not be run or was killed by
 * a signal (the reason is then in *errtext, or printed when errtext is
 * NULL). SIGINT/SIGTERM received meanwhile are passed on to the child
 * (tool.h).
 */
int hr_proc_run(char *const argv[], int in_fd, int out_fd, char **errtext,
		struct hr_meter *m, const char *watch);
/* True when prog is an executable in PATH. */
bool hr_proc_have(const char *prog);
/* The directory holding this executable (from /proc/self/exe), malloc'd. */
char *hr_proc_self_dir(void);

#endif
