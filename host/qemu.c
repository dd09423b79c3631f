/*
 * hypeman run: booting the microVM in QEMU, showing its serial console
 * and reading the exit status off it.
 *
 * QEMU's stdout (the guest's ttyS0) is a pipe to us: every byte is copied
 * to our stdout as it comes, and whole lines are scanned for the markers
 * (SPEC.md "Markers") and for a kernel panic. A stop request (SIGINT,
 * SIGTERM, --timeout) presses Ctrl-Alt-Del through QMP: in exec mode the
 * init forwards SIGTERM to the program and powers off, systemd reboots
 * (which ends QEMU, -no-reboot). A second request, or no end within the
 * grace period, kills QEMU.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "hypeman.h"

#define DISK_SLOT0 0x04		/* disks at PCI slots 0x04.., so vda, vdb... follow */
#define NET_SLOT 0x02
#define SERIAL_SLOT 0x03
#define MAX_DISKS (0x1f - DISK_SLOT0)
#define STOP_GRACE_S 30		/* after a stop request, before QEMU is killed */
#define KILL_GRACE_S 5		/* after SIGTERM to QEMU, before SIGKILL */
#define CAD_RETRY_S 10		/* Ctrl-Alt-Del again while the VM runs on */
#define LINE_MAX_ 4096

static int sig_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
	unsigned char c = (unsigned char)sig;
	int e = errno;

	hm_interrupted = sig;
	(void)!write(sig_pipe[1], &c, 1);
	errno = e;
}

struct scan {
	char line[LINE_MAX_];
	size_t len;
	bool have_exit, panicked, started;
	long exit_code;
	char exit_message[256];
	char mode[16];		/* from HYPEMAN-PROGRAM-START */
};

static void scan_line(struct scan *s, const char *line)
{
	const char *p;

	if ((p = strstr(line, "HYPEMAN-EXIT code="))) {
		char *end;
		long code = strtol(p + 18, &end, 10);
		const char *m;

		if (end != p + 18) {
			/* The last marker wins: the init prints the real one after
			 * the program has exited. */
			s->have_exit = true;
			s->exit_code = code;
			s->exit_message[0] = 0;
			m = strstr(end, "message=\"");
			if (m) {
				const char *q = strrchr(m + 9, '"');
				size_t n = q ? (size_t)(q - (m + 9)) : strlen(m + 9);

				if (n >= sizeof(s->exit_message))
					n = sizeof(s->exit_message) - 1;
				memcpy(s->exit_message, m + 9, n);
				s->exit_message[n] = 0;
			}
		}
	}
	if ((p = strstr(line, "HYPEMAN-PROGRAM-START ")) && (p = strstr(p, "mode="))) {
		size_t n = strcspn(p + 5, " \t");

		if (n >= sizeof(s->mode))
			n = sizeof(s->mode) - 1;
		memcpy(s->mode, p + 5, n);
		s->mode[n] = 0;
		s->started = true;
	}
	if (strstr(line, "Kernel panic - not syncing"))
		s->panicked = true;
}

static void scan_bytes(struct scan *s, const char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = buf[i];

		if (c == '\n') {
			while (s->len && s->line[s->len - 1] == '\r')
				s->len--;
			s->line[s->len] = 0;
			scan_line(s, s->line);
			s->len = 0;
		} else if (s->len < sizeof(s->line) - 1) {
			s->line[s->len++] = c ? c : ' ';
		}
	}
}

/* Reads from fd until a line holding want (or the deadline); 0 or -1. */
static int qmp_expect(int fd, const char *want, double deadline)
{
	char buf[8192];
	size_t len = 0;

	for (;;) {
		struct pollfd pf = { fd, POLLIN, 0 };
		double left = deadline - now_s();
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
	double deadline = now_s() + 3;
	int fd, rc = -1;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0
	 && qmp_expect(fd, "\"QMP\"", deadline) == 0
	 && write_all(fd, caps, sizeof(caps) - 1) == 0
	 && qmp_expect(fd, "\"return\"", deadline) == 0
	 && write_all(fd, keys, sizeof(keys) - 1) == 0
	 && qmp_expect(fd, "\"return\"", deadline) == 0)
		rc = 0;
	close(fd);
	return rc;
}

static void push(struct strv *a, const char *s)
{
	strv_push(a, s);
}

static void pushf(struct strv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pushf(struct strv *a, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	push(a, s ? s : "");
	free(s);
}

static void build_argv(const struct boot *b, const char *qmp, const char *agent, struct strv *a)
{
	const char *accel = getenv("HYPEMAN_ACCEL");
	const char *qemu = getenv("HYPEMAN_QEMU");
	size_t i;

	if (!accel || !accel[0])
		accel = "tcg";
	push(a, qemu && qemu[0] ? qemu : "qemu-system-x86_64");
	push(a, "-machine"); push(a, "q35");
	push(a, "-accel"); push(a, accel);
	push(a, "-cpu"); push(a, "max");
	push(a, "-m"); pushf(a, "%u", b->mem_mb);
	push(a, "-smp"); pushf(a, "%u", b->cpus);
	push(a, "-nodefaults");
	push(a, "-no-user-config");
	push(a, "-display"); push(a, "none");
	push(a, "-no-reboot");
	push(a, "-kernel"); push(a, b->kernel);
	push(a, "-initrd"); push(a, b->initrd);
	push(a, "-append");
	pushf(a, "console=ttyS0 panic=-1 loglevel=4%s%s%s",
		b->interactive ? "" : " hypeman.rescue=0",
		b->append_extra && b->append_extra[0] ? " " : "",
		b->append_extra ? b->append_extra : "");
	if (b->interactive) {
		/* Console input from the terminal; Ctrl-A x quits, Ctrl-A c is
		 * the QEMU monitor. */
		push(a, "-chardev"); push(a, "stdio,id=con0,mux=on,signal=off");
		push(a, "-serial"); push(a, "chardev:con0");
		push(a, "-mon"); push(a, "chardev=con0,mode=readline");
	} else {
		push(a, "-chardev"); push(a, "stdio,id=con0,signal=off");
		push(a, "-serial"); push(a, "chardev:con0");
	}
	push(a, "-qmp"); pushf(a, "unix:%s,server=on,wait=off", qmp);
	for (i = 0; i < b->n_disks; i++) {
		push(a, "-drive");
		pushf(a, "file=%s,if=none,id=d%zu,format=raw%s", b->disks[i].path, i,
			b->disks[i].readonly ? ",readonly=on" : "");
		push(a, "-device");
		pushf(a, "virtio-blk-pci,drive=d%zu,addr=0x%zx", i, DISK_SLOT0 + i);
	}
	if (b->network) {
		/* restrict=on: the guest reaches nothing outside QEMU. */
		push(a, "-netdev"); push(a, "user,id=n0,restrict=on");
		push(a, "-device"); pushf(a, "virtio-net-pci,netdev=n0,addr=0x%x", NET_SLOT);
	}
	if (agent) {
		push(a, "-device"); pushf(a, "virtio-serial-pci,id=vser0,addr=0x%x", SERIAL_SLOT);
		push(a, "-chardev"); pushf(a, "socket,id=agent0,path=%s,server=on,wait=off", agent);
		push(a, "-device");
		push(a, "virtserialport,bus=vser0.0,chardev=agent0,name=org.hypeman.agent.0");
	}
}

/* A QEMU argument for a file name: commas are doubled. */
static bool comma_free(const char *s)
{
	return !strchr(s, ',');
}

int qemu_run(const struct boot *b)
{
	struct strv argv = { 0 };
	char *qmp, *agent = NULL, buf[65536];
	int out[2], in[2] = { -1, -1 }, status = 0, rc;
	struct sigaction sa, old_int, old_term, old_hup;
	struct scan s;
	pid_t pid;
	double stop_at = 0, cad_at = 0, kill_at = 0, hard_kill_at = 0, t0;
	bool eof = false, stdout_ok = true, timed_out = false, stopping = false;
	size_t i;

	memset(&s, 0, sizeof(s));
	if (b->n_disks > MAX_DISKS) {
		msg("too many disks (%zu, at most %d)", b->n_disks, MAX_DISKS);
		return 1;
	}
	for (i = 0; i < b->n_disks; i++)
		if (!comma_free(b->disks[i].path)) {
			msg("%s: QEMU cannot take a disk file name with a comma", b->disks[i].path);
			return 1;
		}
	qmp = xasprintf("%s/qmp.sock", b->sockdir);
	if (b->agent_port)
		agent = xasprintf("%s/agent.sock", b->sockdir);
	if (strlen(qmp) >= sizeof(((struct sockaddr_un *)0)->sun_path) - 8) {
		msg("%s: socket path too long", qmp);
		return 1;
	}
	unlink(qmp);
	if (agent)
		unlink(agent);
	build_argv(b, qmp, agent, &argv);

	if (pipe2(out, O_CLOEXEC) || pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK)
	 || (!b->interactive && pipe2(in, O_CLOEXEC))) {
		msg("pipe: %s", strerror(errno));
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);

	t0 = now_s();
	pid = fork();
	if (pid < 0) {
		msg("fork: %s", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		child_default_signals();
		/* QEMU dies with us, whatever kills us. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (!b->interactive) {
			/* Its own process group: Ctrl-C is ours to turn into a
			 * clean stop. Its stdin: a pipe nobody writes to. */
			setpgid(0, 0);
			dup2(in[0], 0);
		}
		dup2(out[1], 1);
		execvp(argv.v[0], argv.v);
		dprintf(2, "hypeman: cannot run %s: %s\n", argv.v[0], strerror(errno));
		_exit(127);
	}
	close(out[1]);
	if (in[0] >= 0)
		close(in[0]);
	progress("booting: %s, %s mode, accel %s, %u MiB", b->kernel,
		b->systemd ? "systemd" : "exec",
		getenv("HYPEMAN_ACCEL") && getenv("HYPEMAN_ACCEL")[0] ? getenv("HYPEMAN_ACCEL") : "tcg",
		b->mem_mb);
	if (b->timeout_s)
		stop_at = t0 + b->timeout_s;

	while (!eof) {
		struct pollfd pf[2] = { { out[0], POLLIN, 0 }, { sig_pipe[0], POLLIN, 0 } };
		double now = now_s(), next = 0;
		int timeout = -1;
		unsigned char c;

		if (stop_at && now >= stop_at) {
			stop_at = 0;
			timed_out = true;
			msg("timeout (%u s): stopping the VM", b->timeout_s);
			if (!stopping) {
				stopping = true;
				cad_at = now;
				kill_at = now + STOP_GRACE_S;
			}
		}
		/* Ctrl-Alt-Del only once the program (or systemd) runs: earlier
		 * nobody in the guest would act on it. Repeated, in case the
		 * first one came before systemd was ready for it. */
		if (cad_at && now >= cad_at && s.started) {
			if (send_ctrl_alt_del(qmp) == 0) {
				cad_at = now + CAD_RETRY_S;
			} else {
				msg("cannot reach QEMU's monitor: killing the VM");
				cad_at = 0;
				kill_at = 0;
				kill(pid, SIGTERM);
				hard_kill_at = now + KILL_GRACE_S;
			}
		}
		if (kill_at && now >= kill_at) {
			kill_at = 0;
			cad_at = 0;
			msg("the VM did not stop within %d s: killing it", STOP_GRACE_S);
			kill(pid, SIGTERM);
			hard_kill_at = now + KILL_GRACE_S;
		}
		if (hard_kill_at && now >= hard_kill_at) {
			hard_kill_at = 0;
			kill(pid, SIGKILL);
		}
		next = stop_at;
		if (cad_at && s.started && (!next || cad_at < next))
			next = cad_at;
		if (kill_at && (!next || kill_at < next))
			next = kill_at;
		if (hard_kill_at && (!next || hard_kill_at < next))
			next = hard_kill_at;
		if (next)
			timeout = next > now ? (int)((next - now) * 1000) + 1 : 0;
		rc = poll(pf, 2, timeout);
		if (rc < 0 && errno != EINTR) {
			msg("poll: %s", strerror(errno));
			break;
		}
		if (rc <= 0)
			continue;
		if (pf[1].revents & POLLIN) {
			while (read(sig_pipe[0], &c, 1) == 1) {
				if (!stopping) {
					msg("stopping the VM (again to kill it)");
					stopping = true;
					cad_at = now_s();
					kill_at = cad_at + STOP_GRACE_S;
				} else if (!hard_kill_at) {
					msg("killing the VM");
					cad_at = 0;
					kill_at = 0;
					kill(pid, SIGTERM);
					hard_kill_at = now_s() + KILL_GRACE_S;
				}
			}
		}
		if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = read(out[0], buf, sizeof(buf));

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				eof = true;
				break;
			}
			if (stdout_ok && write_all(1, buf, r))
				stdout_ok = false;	/* e.g. a closed pipe: keep scanning */
			scan_bytes(&s, buf, r);
		}
	}
	if (s.len) {
		s.line[s.len] = 0;
		scan_line(&s, s.line);
	}
	close(out[0]);
	if (in[1] >= 0)
		close(in[1]);
	/* The console is closed: QEMU is ending (or killed, see above). */
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	close(sig_pipe[0]);
	close(sig_pipe[1]);
	unlink(qmp);
	if (agent)
		unlink(agent);
	free(qmp);
	free(agent);
	strv_free(&argv);

	{
		bool systemd = s.mode[0] ? !strcmp(s.mode, "systemd") : b->systemd;
		bool qemu_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
		double secs = now_s() - t0;

		if (s.have_exit && !systemd) {
			progress("the VM stopped after %.1f s; the program's status: %ld (\"%s\")",
				secs, s.exit_code, s.exit_message);
			return s.exit_code < 0 || s.exit_code > 255 ? 1 : (int)s.exit_code;
		}
		if (s.panicked) {
			msg("the guest kernel panicked (see the console above)");
			return 1;
		}
		if (!qemu_ok) {
			if (WIFSIGNALED(status))
				msg("QEMU was killed by signal %d after %.1f s", WTERMSIG(status), secs);
			else
				msg("QEMU exited with status %d after %.1f s", WEXITSTATUS(status), secs);
			return timed_out ? 124 : 1;
		}
		if (systemd) {
			progress("the VM powered off after %.1f s", secs);
			return 0;
		}
		msg("the VM stopped after %.1f s without a HYPEMAN-EXIT marker%s", secs,
			s.started ? "" : " (the program never started; see the console above)");
		return timed_out ? 124 : 1;
	}
}
