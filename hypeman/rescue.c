/*
 * contract: Failure. PID 1 never exits (that panics the kernel): a fatal error
 * is logged, a banner printed, and a busybox shell (this same binary) runs
 * on the console; when it ends, or at once with hypeman.rescue=0, the VM
 * powers off.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += rescue.o

#include "libbb.h"
#include <sys/reboot.h>
#include "hypeman.h"

/* The shell's side: its own session with the console as controlling tty,
 * so that ^C and job control work, and a plain environment. */
static void shell_setup(void)
{
	int fd;

	setsid();
	fd = open(hm_console_path(), O_RDWR);
	if (fd >= 0) {
		ioctl(fd, TIOCSCTTY, 0);
		xmove_fd(fd, STDIN_FILENO);
		xdup2(STDIN_FILENO, STDOUT_FILENO);
		xdup2(STDIN_FILENO, STDERR_FILENO);
	}
	clearenv();
	setenv("PATH", "/bin:/sbin:/usr/bin:/usr/sbin", 1);
	setenv("HOME", "/", 1);
	setenv("TERM", "linux", 1);
	setenv("PS1", "rescue# ", 1);
}

static void run_shell(void)
{
	static const char *const argv[] = { "sh", NULL };
	pid_t pid = hm_fork_applet("rescue", argv, shell_setup);

	if (pid < 0)
		return;
	/* Reap whatever dies meanwhile; stop when the shell is gone. */
	for (;;) {
		int status;
		pid_t r = waitpid(-1, &status, 0);
		if (r == pid || (r < 0 && errno == ECHILD))
			break;
	}
	hm_log(HM_INFO, "rescue", "rescue shell ended");
}

void FAST_FUNC hm_fatal(struct hm_boot *b, const char *phase, const char *fmt, ...)
{
	static bool in_rescue;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	hm_log(HM_ERROR, phase, "fatal: %s", msg);
	if (in_rescue)
		hm_poweroff("rescue");
	in_rescue = true;
	hm_phase_begin("rescue");

	hm_console_line("");
	hm_console_line("*** hypeman-init: boot failed");
	hm_console_line(msg);
	if (b && !b->cmdline.rescue) {
		hm_log(HM_INFO, "rescue", "hypeman.rescue=0: powering off without a shell");
		hm_poweroff("rescue");
	}
	hm_console_line("*** rescue shell: exit it to power off the VM");
	hm_console_line("");
	run_shell();
	hm_poweroff("rescue");
}

void FAST_FUNC hm_die_hook(void)
{
	static int dying;

	/* Children reset die_func; this is for PID 1 alone. */
	if (getpid() != 1)
		return;
	/* Dying again on the way out (out of memory, say): stop at once
	 * rather than recurse until the stack overflows. */
	if (dying++) {
		sync();
		reboot(RB_POWER_OFF);
		for (;;)
			pause();
	}
	hm_fatal(hm_boot_state, "rescue", "internal error in a busybox helper");
}
