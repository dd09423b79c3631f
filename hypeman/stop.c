/*
 * Stop requests during boot. PID 1 blocks SIGTERM and SIGINT (Ctrl-Alt-Del)
 * from its start, so a request that comes before the program waits,
 * pending, until boot() reaches a stop point: then the boot ends in the
 * normal shutdown path (clean disks, power off) and the program, or
 * systemd, is never started. No HYPEMAN-EXIT marker then: there was no
 * program to exit. Once the program runs, exec_mode.c takes the requests.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += stop.o

#include "libbb.h"
#include "hypeman.h"

void FAST_FUNC hm_stop_sigset(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
}

void FAST_FUNC hm_stop_point(struct hm_boot *b, const char *where)
{
	static const struct timespec now;
	sigset_t set;
	int sig;

	hm_stop_sigset(&set);
	sig = sigtimedwait(&set, NULL, &now);
	if (sig <= 0)
		return;
	hm_log(HM_INFO, "shutdown", "stop requested (%s) %s: shutting down without starting the program",
		sig == SIGTERM ? "SIGTERM" : "Ctrl-Alt-Del", where);
	hm_shutdown(b->cmdline.grace_s);
}
