/*
 * hypeman-init: the hypeman.* options of the kernel command line.
 *   hypeman.rescue=0   no rescue shell on a fatal error: power off at once
 *   hypeman.grace=N    seconds between SIGTERM and SIGKILL at shutdown,
 *                      0..HM_GRACE_MAX_S
 *   hypeman.pids_max=N at most N processes and threads in the exec-mode
 *                      program's cgroup (pids.max), 1..HM_PIDS_MAX_MAX;
 *                      default: no limit
 *   hypeman.debug=1    one log line per item as well (each module loaded
 *                      or skipped, each disk mounted), not only each
 *                      phase's summary; hypeman.debug=0 is the default
 *   hypeman.ca_timeout=N  seconds the image's update-ca-certificates may
 *                      take (egress proxy CA), 1..HM_GRACE_MAX_S
 */
#ifndef HM_CMDLINE_H
#define HM_CMDLINE_H 1

#include <stdbool.h>

#define HM_GRACE_DEFAULT_S 10
#define HM_GRACE_MAX_S     3600
#define HM_PIDS_MAX_MAX    4194304  /* the kernel's PID_MAX_LIMIT */
/* Debian's update-ca-certificates takes about 1 s under KVM, 20 s under
 * TCG, 130-160 s under TCG on a 2-core host with a load of 16 */
#define HM_CA_TIMEOUT_DEFAULT_S 300

struct hm_cmdline {
	bool rescue;		/* default true */
	unsigned grace_s;	/* default HM_GRACE_DEFAULT_S */
	unsigned pids_max;	/* 0 (the default): no limit */
	bool debug;		/* default false */
	unsigned ca_timeout_s;	/* default HM_CA_TIMEOUT_DEFAULT_S */
};

/*
 * Applies the options found in TEXT (the words of /proc/cmdline, separated
 * by spaces, tabs or newlines) to C; what TEXT does not set keeps its
 * value. For an option with a bad value, C is left as it was and BAD (may
 * be NULL) gets the word (LEN bytes, not NUL-terminated) and what was
 * wanted.
 */
void hm_cmdline_parse(const char *text, struct hm_cmdline *c,
		void (*bad)(const char *word, int len, const char *wanted));

#endif
