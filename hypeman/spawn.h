/*
 * hypeman-init: children of PID 1, through one runner (spawn.c).
 * hypeman.h, which every phase includes, includes it.
 */
#ifndef HM_SPAWN_H
#define HM_SPAWN_H 1

#include <stdbool.h>
#include <sys/types.h>

struct hm_boot;

PUSH_AND_SET_FUNCTION_VISIBILITY_TO_HIDDEN

/* ---- spawn.c: children, through one runner ---- */
/*
 * Forks a child that runs FN(ARG) and _exits with what it returns, after
 * die_func is reset (an x*() failure ends the child) and the signals are
 * back to their defaults with an empty mask. Its pid, or -1 after an
 * ERROR under PHASE ("fork for WHAT failed").
 */
pid_t hm_spawn(const char *phase, const char *what, int (*fn)(void *arg), void *arg) FAST_FUNC;
/*
 * Waits for the child PID (WHAT names it): its exit status (0..255), or
 * -1 after an ERROR under PHASE when it was killed by a signal, when
 * TIMEOUT_MS (0: no bound) passed (it is then killed with SIGKILL and
 * reaped) or when waitpid failed.
 */
int hm_spawn_wait(const char *phase, const char *what, pid_t pid, unsigned timeout_ms) FAST_FUNC;
/* Until a SIGCHLD comes (it must be blocked) or DEADLINE_MS (the
 * hm_uptime_ms clock) passes: false once it has. */
bool hm_sigchld_wait(unsigned long long deadline_ms) FAST_FUNC;
/* Applet ARGV[0] of this busybox in a child (no exec), SETUP (may be
 * NULL) run in it first: its pid, or -1 after an ERROR under PHASE. */
pid_t hm_fork_applet(const char *phase, const char *const *argv, void (*setup)(void)) FAST_FUNC;
/* The same, waited for without a bound: as hm_spawn_wait. */
int hm_run_applet(const char *phase, const char *const *argv) FAST_FUNC;
/*
 * The image's program PATH (ARGV, an empty environment, stdin /dev/null,
 * stdout and stderr the console) chrooted into the new root
 * (B->newroot_fd, before or after the switch), waited for at most
 * TIMEOUT_MS: as hm_spawn_wait ("the image's PATH" in its messages).
 */
int hm_run_in_image(struct hm_boot *b, const char *phase, const char *path,
		char *const argv[], unsigned timeout_ms) FAST_FUNC;

POP_SAVED_FUNCTION_VISIBILITY

#endif
