/*
 * hypeman-init: the ends of a boot: stop requests, shutdown, rescue
 * (stop.c, shutdown.c, rescue.c). hypeman.h, which every phase includes,
 * includes it.
 */
#ifndef HM_SHUTDOWN_H
#define HM_SHUTDOWN_H 1

#include <signal.h>

struct hm_boot;

PUSH_AND_SET_FUNCTION_VISIBILITY_TO_HIDDEN

/* ---- stop.c: stop requests before the program ---- */
/* SIGTERM and SIGINT (Ctrl-Alt-Del): the signals that ask for a stop. */
void hm_stop_sigset(sigset_t *set) FAST_FUNC;
/* When a stop request is pending, log it (WHERE: "after the modules"...)
 * and shut down; else return at once. */
void hm_stop_point(struct hm_boot *b, const char *where) FAST_FUNC;

/* ---- shutdown.c ---- */
/* Kill everything, unmount, power off. Never returns. */
void hm_shutdown(unsigned grace_s) NORETURN FAST_FUNC;
/* The last steps only: sync, unmount what is left, power off. */
void hm_poweroff(const char *phase) NORETURN FAST_FUNC;
/* The same with reboot(2)'s CMD (RB_POWER_OFF, RB_AUTOBOOT, RB_HALT_SYSTEM). */
void hm_poweroff_cmd(const char *phase, int cmd) NORETURN FAST_FUNC;

/* ---- rescue.c: contract: Failure ---- */
void hm_fatal(struct hm_boot *b, const char *phase, const char *fmt, ...) NORETURN FAST_FUNC
	__attribute__ ((format (printf, 3, 4)));
/* die_func for busybox's x*() helpers inside PID 1. */
void hm_die_hook(void) FAST_FUNC;

POP_SAVED_FUNCTION_VISIBILITY

#endif
