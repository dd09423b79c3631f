/*
 * hypeman-init: the program's exit status as the host sees it
 * (contract: Exec mode, the exit code, and the HYPEMAN-EXIT marker).
 */
#ifndef HM_EXIT_STATUS_H
#define HM_EXIT_STATUS_H 1

#include <stdbool.h>
#include <stddef.h>
#include "marker.h"

#define HM_SIGNAME_MAX 16	/* "SIGVTALRM", "SIG2147483647" */
#define HM_EXIT_MESSAGE_MAX 64
#define HM_EXIT_MARKER_MAX HM_MARKER_MAX

/* From a waitpid() status: the exit code, or 128+N when killed by signal N. */
int hm_exit_code(int wstatus);

/* "SIGKILL" for 9, "SIG<n>" for a signal without a short name. Returns buf. */
const char *hm_signal_name(int sig, char buf[HM_SIGNAME_MAX]);

/*
 * The marker message: "success", "exit code N", "command not found"
 * (127), "permission denied (command not executable)" (126) or "killed
 * by signal N (SIGNAME)"; " - OOM" is appended when the code is 137 and
 * oom says the kernel log showed an OOM kill. Returns buf.
 */
const char *hm_exit_message(int wstatus, bool oom, char *buf, size_t len);

/*
 * The whole marker (contract layer: marker.h), without a newline:
 * HYPEMAN-EXIT code=<n> message="<text>". Returns its length.
 */
size_t hm_exit_marker(int wstatus, bool oom, char *buf, size_t len);

/* True when a kernel log (text of /dev/kmsg records or dmesg lines, len
 * bytes, need not be NUL-terminated) shows an OOM kill. */
bool hm_kmsg_shows_oom(const char *log, size_t len);

#endif
