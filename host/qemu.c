/*
 * hypeman run: booting the microVM in QEMU and watching it to the end.
 *
 * QEMU's stdout (the guest's console) is a pipe to us, shown by console.c.
 * A stop request (SIGINT, SIGTERM, --timeout) presses Ctrl-Alt-Del through
 * QMP once the program runs: in exec mode the init forwards SIGTERM to the
 * program and powers off, systemd reboots (which ends QEMU: -no-reboot).
 * A second request, or no end within the grace period, kills QEMU. At the
 * end the tool says what happened and returns the exit status.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "qemu.h"
#include "serial.h"
#include "target.h"
#include "tool.h"
#include "util.h"

#define DISK_SLOT0 0x04		/* disks at PCI slots 0x04.., so vda, vdb... follow */
#define NET_SLOT 0x02
#define SERIAL_SLOT 0x03
#define KEYBOARD_SLOT 0x1f	/* aarch64's virtio keyboard (on q35 the LPC bridge) */
#define MAX_DISKS (0x1f - DISK_SLOT0)
#define STOP_GRACE_S 30		/* after the first Ctrl-Alt-Del, before QEMU is killed */
#define START_GRACE_S 120	/* after a stop request before the program started */
#define KILL_GRACE_S 5		/* after SIGTERM to QEMU, before SIGKILL */
#define CAD_RETRY_S 10		/* Ctrl-Alt-Del again while the VM runs on */
#define SILENCE_S 30		/* no console byte in 30 s of QEMU's CPU time: the kernel did not start */
#define SILENCE_WALL_S 120	/* ... or in 120 s, whatever QEMU did (a guest that waits) */

struct vm {
	const struct hr_vm *b;
	struct hr_strv argv;
	char *qmp, *agent;
	int out_fd, in_fd;	/* the console (read end); QEMU's stdin (write end) */
	int log_fd;
	pid_t pid;
	int status;
	double t0, silence_at;
	struct hr_serial con;
	/* pending actions, each at a time (0: none) */
	double stop_at, cad_at, kill_at, hard_kill_at;
	bool stopping, cad_sent, timed_out, silence_warned, announced;
};

/* ---- QMP ------------------------------------------------------------------ */

/* Reads from fd until a line holding want (or the deadline); 0 or -1. */
static int qmp_expect(int fd, const char *want, double deadline)
{
	char buf[8192];
	size_t len = 0;

	for (;;) {
		struct pollfd pf = { fd, POLLIN, 0 };
		double left = deadline - hr_now_s();
		ssize_t r;

		if (left <= 0 || poll(&pf, 1, (int)(left * 1000) + 1) <= 0)
			return -1;
		r = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (r <= 0)
			return -1;
		len += r;
		buf[len] = 0;
		if (strstr(buf, want))
			return 0;
		if (strstr(buf, "\"error\""))
			return -1;
		if (len > sizeof(buf) / 2) {	/* events: keep the tail */
			memmove(buf, buf + len - 64, 64);
			len = 64;
		}
	}
}

/* Presses Ctrl-Alt-Del in the guest through QMP; 0 or -1. */
static int send_ctrl_alt_del(const char *sock)
{
	static const char caps[] = "{\"execute\": \"qmp_capabilities\"}\n";
	static const char keys[] = "{\"execute\": \"send-key\", \"arguments\": {\"keys\": ["
		"{\"type\": \"qcode\", \"data\": \"ctrl\"}, {\"type\": \"qcode\", \"data\": \"alt\"}, "
		"{\"type\": \"qcode\", \"data\": \"delete\"}]}}\n";
	struct sockaddr_un sa;
	double deadline = hr_now_s() + 3;
	int fd, rc = -1;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0
	 && qmp_expect(fd, "\"QMP\"", deadline) == 0
	 && hm_write_all(fd, caps, sizeof(caps) - 1) == 0
	 && qmp_expect(fd, "\"return\"", deadline) == 0
	 && hm_write_all(fd, keys, sizeof(keys) - 1) == 0
	 && qmp_expect(fd, "\"return\"", deadline) == 0)
		rc = 0;
	close(fd);
	return rc;
}

/* ---- the command line ------------------------------------------------------ */

static void push(struct hr_strv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void push(struct hr_strv *a, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	hr_strv_push(a, s ? s : "");
	free(s);
}

static const char *accel(void)
{
	const char *a = getenv("HYPEMAN_ACCEL");

	return a && a[0] ? a : "tcg";
}

/* A virtio device of KIND with PROPS on the machine's transport: at PCI
 * slot SLOT, or on the next free virtio-mmio transport. */
static void push_virtio(struct hr_strv *a, const struct hr_machine *m, const char *kind,
		const char *props, unsigned slot)
{
	push(a, "-device");
	if (m->mmio)
		push(a, "%s-device,%s", kind, props);
	else
		push(a, "%s-pci,%s,addr=0x%x", kind, props, slot);
}

/* The kernel command line: the console; init_on_alloc=0 init_on_free=0 as
 * hypeman's host passes them (Debian's kernels zero each page they allocate);
 * under TCG cryptomgr.notests=1 (the kernel's self-tests of its crypto, a third
 * of a second of each TCG boot) and the machine's; ours; --append. */
static void push_append(struct hr_strv *a, const struct hr_vm *b)
{
	const struct hr_machine *m = b->machine;
	int is_tcg = !strcmp(accel(), "tcg");
	const char *tcg = is_tcg ? m->tcg_append : NULL;

	push(a, "-append");
	push(a, "console=%s panic=-1 loglevel=4 init_on_alloc=0 init_on_free=0%s%s%s%s%s%s%s%s",
		b->target->console, is_tcg ? " cryptomgr.notests=1" : "",
		tcg ? " " : "", tcg ? tcg : "", m->append ? " " : "", m->append ? m->append : "",
		b->interactive ? "" : " hypeman.rescue=0",
		b->append_extra && b->append_extra[0] ? " " : "",
		b->append_extra ? b->append_extra : "");
}

static void build_argv(const struct vm *vm, struct hr_strv *a)
{
	const struct hr_vm *b = vm->b;
	const char *qemu = getenv("HYPEMAN_QEMU");
	char props[64];
	size_t i;

	push(a, "%s", qemu && qemu[0] ? qemu : b->target->qemu);
	push(a, "-machine"); push(a, "%s", b->machine->qemu);
	push(a, "-accel"); push(a, "%s", accel());
	/* The target's TCG CPU may name TCG-only properties. */
	push(a, "-cpu"); push(a, "%s", strcmp(accel(), "tcg") ? "max" : b->target->tcg_cpu);
	push(a, "-m"); push(a, "%u", b->mem_mb);
	push(a, "-smp"); push(a, "%u", b->cpus);
	push(a, "-nodefaults");
	push(a, "-no-user-config");
	push(a, "-display"); push(a, "none");
	push(a, "-no-reboot");
	push(a, "-kernel"); push(a, "%s", b->kernel);
	push(a, "-initrd"); push(a, "%s", b->initrd);
	push_append(a, b);
	/* Interactive: console input from the terminal; Ctrl-A x quits,
	 * Ctrl-A c is the QEMU monitor. */
	push(a, "-chardev"); push(a, "stdio,id=con0,signal=off%s", b->interactive ? ",mux=on" : "");
	push(a, "-serial"); push(a, "chardev:con0");
	if (b->interactive) {
		push(a, "-mon"); push(a, "chardev=con0,mode=readline");
	}
	push(a, "-qmp"); push(a, "unix:%s,server=on,wait=off", vm->qmp);
	for (i = 0; i < b->n_disks; i++) {
		push(a, "-drive");
		push(a, "file=%s,if=none,id=d%zu,format=raw%s", b->disks[i].path, i,
			b->disks[i].readonly ? ",readonly=on" : "");
		snprintf(props, sizeof(props), "drive=d%zu", i);
		push_virtio(a, b->machine, "virtio-blk", props, DISK_SLOT0 + (unsigned)i);
	}
	if (b->network) {
		/* restrict=on: the guest reaches nothing outside QEMU. */
		push(a, "-netdev"); push(a, "user,id=n0,restrict=on");
		push_virtio(a, b->machine, "virtio-net", "netdev=n0", NET_SLOT);
	}
	if (vm->agent) {
		push_virtio(a, b->machine, "virtio-serial", "id=vser0", SERIAL_SLOT);
		push(a, "-chardev"); push(a, "socket,id=agent0,path=%s,server=on,wait=off", vm->agent);
		push(a, "-device");
		push(a, "virtserialport,bus=vser0.0,chardev=agent0,name=org.hypeman.agent.0");
	}
	if (b->target->keyboard) {
		push(a, "-device"); push(a, "%s,addr=0x%x", b->target->keyboard, KEYBOARD_SLOT);
	}
	/* The host's devices, bound to vfio-pci (checked by gpu.c); QEMU
	 * gives them the first free slots. */
	for (i = 0; i < b->n_gpus; i++) {
		push(a, "-device"); push(a, "vfio-pci,host=%s", b->gpus[i]);
	}
	if (b->machine->device) {
		push(a, "-device"); push(a, "%s", b->machine->device);
	}
}

/* --print-qemu: the command line on one line, quoted for a POSIX shell. */
static void print_argv(char *const *argv)
{
	size_t i;
	const char *p;

	for (i = 0; argv[i]; i++) {
		const char *s = argv[i];
		bool plain = s[0] && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			"0123456789-_=,.:/+@%") == strlen(s);

		fputs(i ? " " : "", stdout);
		if (plain) {
			fputs(s, stdout);
			continue;
		}
		putchar('\'');
		for (p = s; *p; p++)
			if (*p == '\'')
				fputs("'\\''", stdout);
			else
				putchar(*p);
		putchar('\'');
	}
	putchar('\n');
	fflush(stdout);
}

/* ---- the steps ------------------------------------------------------------- */

static int vm_prepare(struct vm *vm, const struct hr_vm *b)
{
	size_t i;

	memset(vm, 0, sizeof(*vm));
	vm->b = b;
	vm->out_fd = vm->in_fd = vm->log_fd = -1;
	if (b->n_disks > MAX_DISKS) {
		hr_msg("too many disks (%zu, at most %d)", b->n_disks, MAX_DISKS);
		return -1;
	}
	for (i = 0; i < b->n_disks; i++)
		if (strchr(b->disks[i].path, ',')) {
			hr_msg("%s: QEMU cannot take a disk file name with a comma", b->disks[i].path);
			return -1;
		}
	vm->qmp = hr_asprintf("%s/qmp.sock", b->sockdir);
	if (!b->skip_guest_agent)
		vm->agent = hr_asprintf("%s/agent.sock", b->sockdir);
	if (strlen(vm->qmp) >= sizeof(((struct sockaddr_un *)0)->sun_path) - 8) {
		hr_msg("%s: socket path too long", vm->qmp);
		return -1;
	}
	build_argv(vm, &vm->argv);
	if (b->print_only)
		return 0;
	unlink(vm->qmp);
	if (vm->agent)
		unlink(vm->agent);
	if (b->log_path) {
		/* after the notes the run wrote there (hr_note) */
		vm->log_fd = hr_log_open();
		if (vm->log_fd < 0)
			hr_msg("warning: --log %s: %s (the init's log is only shown)", b->log_path,
				strerror(errno));
	}
	hr_serial_init(&vm->con, vm->log_fd);
	return 0;
}

static int vm_spawn(struct vm *vm)
{
	int out[2], in[2] = { -1, -1 };

	if (pipe2(out, O_CLOEXEC) || (!vm->b->interactive && pipe2(in, O_CLOEXEC))) {
		hr_msg("pipe: %s", strerror(errno));
		return -1;
	}
	vm->t0 = hr_now_s();
	vm->silence_at = vm->t0 + SILENCE_S;
	vm->pid = fork();
	if (vm->pid < 0) {
		hr_msg("fork: %s", strerror(errno));
		return -1;
	}
	if (vm->pid == 0) {
		hr_tool_child_signals();
		prctl(PR_SET_PDEATHSIG, SIGKILL);	/* QEMU dies with us */
		if (!vm->b->interactive) {
			/* Its own process group: Ctrl-C is ours to turn into a
			 * clean stop. Its stdin: a pipe nobody writes to. */
			setpgid(0, 0);
			dup2(in[0], 0);
		}
		dup2(out[1], 1);
		execvp(vm->argv.v[0], vm->argv.v);
		dprintf(2, "hypeman: cannot run %s: %s\n", vm->argv.v[0], strerror(errno));
		_exit(127);
	}
	close(out[1]);
	if (in[0] >= 0)
		close(in[0]);
	vm->out_fd = out[0];
	vm->in_fd = in[1];
	hr_progress("booting %s with %s (%s, %s mode, accel %s, %u MiB%s)", vm->b->kernel,
		vm->b->initrd, vm->b->target->name, vm->b->systemd ? "systemd" : "exec", accel(),
		vm->b->mem_mb, vm->b->n_gpus ? ", GPU passthrough" : "");
	if (vm->b->timeout_s)
		vm->stop_at = vm->t0 + vm->b->timeout_s;
	return 0;
}

static void request_stop(struct vm *vm, double now)
{
	if (!vm->stopping) {
		vm->stopping = true;
		vm->cad_at = now;
		/* the grace counts from the first Ctrl-Alt-Del (vm_timers): a
		 * boot slowed by a loaded host still gets its clean stop */
		vm->kill_at = vm->con.program_started ? now + STOP_GRACE_S : now + START_GRACE_S;
	} else if (!vm->hard_kill_at) {
		hr_msg("killing the VM");
		vm->cad_at = vm->kill_at = 0;
		kill(vm->pid, SIGTERM);
		vm->hard_kill_at = now + KILL_GRACE_S;
	}
}

/* Seconds of CPU QEMU has used (user + system), or -1. */
static double qemu_cpu_s(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	/* after "(comm)": state ppid pgrp session tty tpgid flags minflt
	 * cminflt majflt cmajflt utime stime */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			&ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* No console byte yet. Judged on QEMU's CPU time, not the wall clock: on a
 * loaded host a TCG guest gets a fraction of a core and its kernel prints
 * its first line late, which is no fault of the kernel or the accelerator. */
static void check_silence(struct vm *vm, double now)
{
	double cpu = qemu_cpu_s(vm->pid);

	if (cpu >= 0 && cpu < SILENCE_S && now < vm->t0 + SILENCE_WALL_S) {
		vm->silence_at = now + (SILENCE_S - cpu < 1 ? 1 : SILENCE_S - cpu);
		if (vm->silence_at > vm->t0 + SILENCE_WALL_S)
			vm->silence_at = vm->t0 + SILENCE_WALL_S;
		return;
	}
	vm->silence_warned = true;
	hr_msg("console empty for %d s (%.0f s of QEMU's CPU time): the kernel did not start "
		"(is the accelerator right? TCG is the default; HYPEMAN_ACCEL=kvm needs /dev/kvm)",
		(int)(now - vm->t0), cpu);
}

/* What is due now: the timeout, Ctrl-Alt-Del, the kills, the silence. */
static void vm_timers(struct vm *vm, double now)
{
	if (vm->stop_at && now >= vm->stop_at) {
		vm->stop_at = 0;
		vm->timed_out = true;
		hr_msg("timeout (%u s): stopping the VM", vm->b->timeout_s);
		if (!vm->stopping)
			request_stop(vm, now);
	}
	/* Ctrl-Alt-Del only once the program (or systemd) runs: earlier
	 * nobody in the guest would act on it. Repeated, in case the first
	 * one came before systemd was ready for it. */
	if (vm->cad_at && now >= vm->cad_at && vm->con.program_started) {
		if (send_ctrl_alt_del(vm->qmp) == 0) {
			if (!vm->cad_sent)
				vm->kill_at = now + STOP_GRACE_S;
			vm->cad_sent = true;
			vm->cad_at = now + CAD_RETRY_S;
		} else {
			hr_msg("cannot reach QEMU's monitor: killing the VM");
			vm->cad_at = vm->kill_at = 0;
			kill(vm->pid, SIGTERM);
			vm->hard_kill_at = now + KILL_GRACE_S;
		}
	}
	if (vm->kill_at && now >= vm->kill_at) {
		vm->kill_at = vm->cad_at = 0;
		hr_msg("the VM did not stop within %d s: killing it", STOP_GRACE_S);
		kill(vm->pid, SIGTERM);
		vm->hard_kill_at = now + KILL_GRACE_S;
	}
	if (vm->hard_kill_at && now >= vm->hard_kill_at) {
		vm->hard_kill_at = 0;
		kill(vm->pid, SIGKILL);
	}
	if (!vm->silence_warned && !vm->con.bytes && now >= vm->silence_at)
		check_silence(vm, now);
}

/* Milliseconds until the next timer, or -1. */
static int next_timeout(const struct vm *vm, double now)
{
	double t[5] = { vm->stop_at, vm->con.program_started ? vm->cad_at : 0, vm->kill_at,
		vm->hard_kill_at, vm->silence_warned ? 0 : vm->silence_at };
	double next = 0;
	size_t i;

	for (i = 0; i < 5; i++)
		if (t[i] && (!next || t[i] < next))
			next = t[i];
	if (!next)
		return -1;
	return next > now ? (int)((next - now) * 1000) + 1 : 0;
}

/* The program (or systemd) has just started: say what runs and how to stop it. */
static void announce(struct vm *vm)
{
	bool systemd = !strcmp(vm->con.mode, "systemd");
	const char *what = systemd ? "systemd" : vm->b->program ? vm->b->program : "the program";

	vm->announced = true;
	if (vm->b->interactive)
		hr_progress("%s is running (%s mode); this terminal is its console, Ctrl-A x quits QEMU",
			what, systemd ? "systemd" : "exec");
	else if (systemd)
		hr_progress("systemd is running as PID 1 in the VM. Ctrl-C stops it cleanly "
			"(systemd shuts down and reboots, which ends the VM); for a console, run with -i");
	else
		hr_progress("%s is running in the VM (exec mode). Ctrl-C stops it (the program gets "
			"SIGTERM); for a console, run with -i", what);
}

static void vm_watch(struct vm *vm)
{
	char buf[65536];

	for (;;) {
		/* a stop request: SIGINT, SIGTERM or SIGHUP (tool.c's handler) */
		struct pollfd pf[2] = { { vm->out_fd, POLLIN, 0 },
			{ hr_tool.signal_pipe[0], POLLIN, 0 } };
		double now = hr_now_s();
		unsigned char c;
		ssize_t r;

		vm_timers(vm, now);
		if (poll(pf, 2, next_timeout(vm, now)) < 0 && errno != EINTR) {
			hr_msg("poll: %s", strerror(errno));
			break;
		}
		if (pf[1].revents & POLLIN)
			while (read(hr_tool.signal_pipe[0], &c, 1) == 1) {
				if (!vm->stopping)
					hr_msg("stopping the VM (again to kill it)");
				request_stop(vm, hr_now_s());
			}
		if (!(pf[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		r = read(vm->out_fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;	/* the console closed: QEMU is ending */
		hr_serial_feed(&vm->con, buf, (size_t)r);
		if (vm->con.program_started && !vm->announced)
			announce(vm);
	}
	hr_serial_end(&vm->con);
}

/* How systemd mode ended, in words. */
static const char *systemd_end(const struct vm *vm)
{
	switch (vm->con.kernel_end) {
	case HR_END_REBOOT:
		return vm->stopping ? "systemd rebooted on the stop request; the VM is gone"
			: "the guest rebooted (QEMU runs with -no-reboot); the VM is gone";
	case HR_END_POWEROFF:
		return vm->stopping ? "systemd powered the VM off on the stop request"
			: "the guest powered the VM off";
	case HR_END_HALT:
		return "the guest halted; the VM is gone";
	default:
		return "the VM stopped";
	}
}

/* Reaps QEMU, says what happened, returns the exit status. */
static int vm_outcome(struct vm *vm)
{
	const struct hr_serial *c = &vm->con;
	bool systemd = c->mode[0] ? !strcmp(c->mode, "systemd") : vm->b->systemd;
	bool qemu_ok;
	double secs;

	while (waitpid(vm->pid, &vm->status, 0) < 0 && errno == EINTR)
		;
	secs = hr_now_s() - vm->t0;
	qemu_ok = WIFEXITED(vm->status) && WEXITSTATUS(vm->status) == 0;
	if (vm->b->timings)
		hr_serial_timings(c, vm->b->host_s);
	if (c->have_exit && !systemd) {
		/* a machine without power-off (firecracker) ends on a reset */
		hr_progress("the program exited: status %ld (\"%s\"); the VM %s after %.1f s",
			c->exit_code, c->exit_message, c->kernel_end == HR_END_REBOOT
			? "ended with a reset (the machine has no power-off)" : "powered off", secs);
		return c->exit_code < 0 || c->exit_code > 255 ? 1 : (int)c->exit_code;
	}
	if (c->panicked) {
		hr_msg("the guest kernel panicked after %.1f s (see the console above)", secs);
		return 1;
	}
	if (!qemu_ok) {
		if (WIFSIGNALED(vm->status))
			hr_msg("QEMU was killed by signal %d after %.1f s", WTERMSIG(vm->status), secs);
		else
			hr_msg("QEMU exited with status %d after %.1f s", WEXITSTATUS(vm->status), secs);
		return vm->timed_out ? 124 : 1;
	}
	if (systemd) {
		hr_progress("%s (after %.1f s)", systemd_end(vm), secs);
		return 0;
	}
	hr_msg("the VM stopped after %.1f s without a HYPEMAN-EXIT marker%s", secs,
		c->program_started ? "" : " (the program never started; see the console above)");
	return vm->timed_out ? 124 : 1;
}

static void vm_cleanup(struct vm *vm)
{
	if (vm->out_fd >= 0)
		close(vm->out_fd);
	if (vm->in_fd >= 0)
		close(vm->in_fd);
	if (vm->log_fd >= 0)
		close(vm->log_fd);
	if (vm->qmp)
		unlink(vm->qmp);
	if (vm->agent)
		unlink(vm->agent);
	free(vm->qmp);
	free(vm->agent);
	hr_strv_free(&vm->argv);
}

int hr_qemu_run(const struct hr_vm *b)
{
	struct vm vm;
	int status = 1, prepared = vm_prepare(&vm, b);

	if (prepared == 0 && b->print_only) {
		print_argv(vm.argv.v);
		status = 0;
	} else if (prepared == 0 && vm_spawn(&vm) == 0) {
		vm_watch(&vm);
		status = vm_outcome(&vm);
	}
	vm_cleanup(&vm);
	return status;
}
