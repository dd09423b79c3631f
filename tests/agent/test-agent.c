/*
 * test-agent: the guest agent used by hypeman-init's VM tests.
 *
 * It opens the virtio-serial port named "org.hypeman.agent.0", signals
 * readiness the way hypeman-init expects (HYPEMAN_AGENT_READY_FD /
 * HYPEMAN_AGENT_READY_FILE), then serves "run this argv" requests from the
 * host, one at a time.  Protocol: see README.md next to this file; the host
 * side is tests/lib/agent.py.
 *
 * Build: musl-gcc -static -Os -Wall -Wextra (tests/agent/build.sh).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PORT_NAME     "org.hypeman.agent.0"
#define REQ_MAGIC     "HMA1"
#define RSP_MAGIC     "HMR1"
#define REQ_HDR       20u   /* magic, id, timeout_ms, body_len, hdr_crc */
#define RSP_HDR       24u   /* magic, id, code, out_len, err_len, hdr_crc */
#define MAX_BODY      (32u << 20)
#define MAX_ARGC      4096u
#define OUT_CAP       (4u << 20)
#define DEFAULT_PATH  "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define PORT_WAIT_MS  10000
#define FRAME_IDLE_MS 10000              /* drop a partial frame after this */
#define WRITE_STALL_MS 60000             /* give up a response nobody reads */
#define EXIT_GRACE_MS 200                /* drain pipes this long after exit */
#define KILL_WAIT_MS  5000               /* wait for a killed command to die */

struct buf {
	unsigned char *p;
	size_t len, cap;
};

static int port_fd = -1;
static int chld_pipe[2] = { -1, -1 };

static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdprintf(1, fmt, ap);
	va_end(ap);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int buf_reserve(struct buf *b, size_t extra)
{
	size_t ncap;
	unsigned char *np;

	if (b->cap - b->len >= extra)
		return 0;
	ncap = b->cap ? b->cap : 4096;
	while (ncap - b->len < extra)
		ncap *= 2;
	np = realloc(b->p, ncap);
	if (!np)
		return -1;
	b->p = np;
	b->cap = ncap;
	return 0;
}

static int buf_add(struct buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return -1;
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

static void buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

/* CRC-32 (IEEE, as zlib.crc32), table driven. */
static uint32_t crc_table[256];

static void crc_init(void)
{
	uint32_t i, j, c;

	for (i = 0; i < 256; i++) {
		for (c = i, j = 0; j < 8; j++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

static uint32_t crc32_update(uint32_t crc, const unsigned char *p, size_t n)
{
	crc = ~crc;
	while (n--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void on_sigchld(int sig)
{
	int e = errno;

	(void)sig;
	if (write(chld_pipe[1], "c", 1) < 0) {
		/* pipe full: a wakeup is pending anyway */
	}
	errno = e;
}

/* ---- port discovery ---------------------------------------------------- */

static int port_errno;	/* why the last open failed, for the log */

static int try_open_port(char *dev, size_t devsz)
{
	DIR *d = opendir("/sys/class/virtio-ports");
	struct dirent *de;
	int fd = -1;

	if (!d)
		return -1;
	while (fd < 0 && (de = readdir(d)) != NULL) {
		char path[512], name[128];
		ssize_t n;
		int nfd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name",
			 de->d_name);
		nfd = open(path, O_RDONLY | O_CLOEXEC);
		if (nfd < 0)
			continue;
		n = read(nfd, name, sizeof(name) - 1);
		close(nfd);
		if (n <= 0)
			continue;
		name[n] = 0;
		name[strcspn(name, "\n")] = 0;
		if (strcmp(name, PORT_NAME) != 0)
			continue;
		snprintf(dev, devsz, "/dev/%s", de->d_name);
		fd = open(dev, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			port_errno = errno;
	}
	closedir(d);
	return fd;
}

static int open_port(char *dev, size_t devsz)
{
	long long deadline = now_ms() + PORT_WAIT_MS;
	int fd;

	for (;;) {
		fd = try_open_port(dev, devsz);
		if (fd >= 0 || now_ms() >= deadline)
			return fd;
		sleep_ms(5);
	}
}

/* ---- readiness ---------------------------------------------------------- */

static void mkdir_p(const char *path)
{
	char tmp[4096];
	size_t i;

	if (strlen(path) >= sizeof(tmp))
		return;
	strcpy(tmp, path);
	for (i = 1; tmp[i]; i++) {
		if (tmp[i] == '/') {
			tmp[i] = 0;
			mkdir(tmp, 0755);
			tmp[i] = '/';
		}
	}
	mkdir(tmp, 0755);
}

static void signal_ready(void)
{
	const char *s;

	s = getenv("TEST_AGENT_READY_DELAY_MS");
	if (s && atol(s) > 0)
		sleep_ms(atol(s));

	s = getenv("HYPEMAN_AGENT_READY_FD");
	if (s && *s) {
		char *end;
		long fd = strtol(s, &end, 10);

		if (*end == 0 && fd >= 0 && fd < 65536) {
			if (write((int)fd, "R", 1) != 1)
				say("test-agent: ready fd %ld: %s\n", fd,
				    strerror(errno));
			close((int)fd);
		}
		unsetenv("HYPEMAN_AGENT_READY_FD");
	}

	s = getenv("HYPEMAN_AGENT_READY_FILE");
	if (s && *s) {
		char dir[4096];
		char *slash;
		int fd;

		snprintf(dir, sizeof(dir), "%s", s);
		slash = strrchr(dir, '/');
		if (slash && slash != dir) {
			*slash = 0;
			mkdir_p(dir);
		}
		fd = open(s, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			say("test-agent: ready file %s: %s\n", s, strerror(errno));
		else
			close(fd);
	}
	say("test-agent: ready\n");
}

/* Mark every inherited descriptor above 2 close-on-exec. */
static void cloexec_inherited(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		int fd = atoi(de->d_name);

		if (de->d_name[0] != '.' && fd > 2 && fd != dirfd(d))
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	closedir(d);
}

/* ---- running a command -------------------------------------------------- */

static void append_capped(struct buf *b, const unsigned char *p, size_t n)
{
	if (b->len >= OUT_CAP)
		return;
	if (n > OUT_CAP - b->len)
		n = OUT_CAP - b->len;
	buf_add(b, p, n);
}

static void note(struct buf *err, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		buf_add(err, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void drain_chld_pipe(void)
{
	char tmp[64];

	while (read(chld_pipe[0], tmp, sizeof(tmp)) > 0)
		;
}

static int run_cmd(char **argv, const unsigned char *in, size_t inlen,
		   uint32_t timeout_ms, struct buf *out, struct buf *err)
{
	int inp[2], outp[2], errp[2];
	int fd_in, fd_out, fd_err;
	size_t in_off = 0;
	pid_t pid;
	int status = 0, exited = 0, timed_out = 0;
	long long start = now_ms(), deadline = 0, exit_at = 0, last_io = 0;

	if (pipe2(inp, O_CLOEXEC) < 0) {
		note(err, "test-agent: pipe: %s\n", strerror(errno));
		return -1;
	}
	if (pipe2(outp, O_CLOEXEC) < 0) {
		note(err, "test-agent: pipe: %s\n", strerror(errno));
		close(inp[0]); close(inp[1]);
		return -1;
	}
	if (pipe2(errp, O_CLOEXEC) < 0) {
		note(err, "test-agent: pipe: %s\n", strerror(errno));
		close(inp[0]); close(inp[1]); close(outp[0]); close(outp[1]);
		return -1;
	}

	pid = fork();
	if (pid < 0) {
		note(err, "test-agent: fork: %s\n", strerror(errno));
		close(inp[0]); close(inp[1]); close(outp[0]); close(outp[1]);
		close(errp[0]); close(errp[1]);
		return -1;
	}
	if (pid == 0) {
		sigset_t all;
		int sig, e;

		setpgid(0, 0);
		dup2(inp[0], 0);
		dup2(outp[1], 1);
		dup2(errp[1], 2);
		for (sig = 1; sig < NSIG; sig++)
			signal(sig, SIG_DFL);
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		if (!getenv("PATH"))
			setenv("PATH", DEFAULT_PATH, 1);
		execvp(argv[0], argv);
		e = errno;
		dprintf(2, "test-agent: %s: %s\n", argv[0], strerror(e));
		_exit(e == ENOENT || e == ENOTDIR ? 127 : 126);
	}
	setpgid(pid, pid);
	close(inp[0]);
	close(outp[1]);
	close(errp[1]);
	fd_in = inp[1];
	fd_out = outp[0];
	fd_err = errp[0];
	set_nonblock(fd_in);
	set_nonblock(fd_out);
	set_nonblock(fd_err);
	if (inlen == 0) {
		close(fd_in);
		fd_in = -1;
	}
	if (timeout_ms)
		deadline = start + timeout_ms;

	for (;;) {
		struct pollfd pf[4];
		int n = 0, i, wait = -1, r;
		long long now = now_ms();

		if (exited && fd_out < 0 && fd_err < 0)
			break;
		if (exited && now - (last_io > exit_at ? last_io : exit_at) >=
			      EXIT_GRACE_MS)
			break;	/* a background process keeps the pipes open */
		if (!exited && !timed_out && deadline && now >= deadline) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			timed_out = 1;
		}
		if (timed_out && !exited && now - deadline > KILL_WAIT_MS) {
			note(err, "test-agent: pid %d does not die\n", (int)pid);
			status = SIGKILL;	/* reaped later by waitpid(-1) */
			break;
		}

		pf[n].fd = chld_pipe[0]; pf[n++].events = POLLIN;
		if (fd_out >= 0) { pf[n].fd = fd_out; pf[n++].events = POLLIN; }
		if (fd_err >= 0) { pf[n].fd = fd_err; pf[n++].events = POLLIN; }
		if (fd_in >= 0) { pf[n].fd = fd_in; pf[n++].events = POLLOUT; }
		if (exited)
			wait = EXIT_GRACE_MS;
		else if (deadline && !timed_out)
			wait = (int)(deadline - now) + 1;
		else if (timed_out)
			wait = 1000;
		r = poll(pf, (nfds_t)n, wait);
		if (r < 0 && errno != EINTR)
			sleep_ms(10);

		/* reap: our child, and anything else that ended up with us */
		drain_chld_pipe();
		for (;;) {
			int st;
			pid_t w = waitpid(-1, &st, WNOHANG);

			if (w <= 0)
				break;
			if (w == pid) {
				status = st;
				exited = 1;
				exit_at = now_ms();
			}
		}
		if (r <= 0)
			continue;

		for (i = 1; i < n; i++) {
			unsigned char tmp[65536];
			ssize_t got;

			if (!pf[i].revents)
				continue;
			if (pf[i].fd == fd_in) {
				ssize_t w = write(fd_in, in + in_off, inlen - in_off);

				if (w > 0)
					in_off += (size_t)w;
				if ((w < 0 && errno != EAGAIN && errno != EINTR) ||
				    in_off >= inlen || (pf[i].revents & POLLERR)) {
					close(fd_in);
					fd_in = -1;
				}
				continue;
			}
			got = read(pf[i].fd, tmp, sizeof(tmp));
			if (got > 0) {
				append_capped(pf[i].fd == fd_out ? out : err, tmp,
					      (size_t)got);
				last_io = now_ms();
			} else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
				if (pf[i].fd == fd_out) {
					close(fd_out);
					fd_out = -1;
				} else {
					close(fd_err);
					fd_err = -1;
				}
			}
		}
	}
	if (fd_in >= 0)
		close(fd_in);
	if (fd_out >= 0)
		close(fd_out);
	if (fd_err >= 0)
		close(fd_err);
	if (timed_out)
		note(err, "test-agent: timed out after %u ms, killed\n", timeout_ms);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

/* ---- port I/O ----------------------------------------------------------- */

/* Write a whole response; drop it if the host goes away. */
static void port_write_all(const unsigned char *p, size_t n)
{
	long long last = now_ms();

	while (n) {
		ssize_t w = write(port_fd, p, n);
		struct pollfd pf;

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			last = now_ms();
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			say("test-agent: write: %s (response dropped)\n",
			    strerror(errno));
			return;
		}
		pf.fd = port_fd;
		pf.events = POLLOUT;
		pf.revents = 0;
		if (poll(&pf, 1, 1000) < 0 && errno != EINTR)
			sleep_ms(10);
		if ((pf.revents & POLLHUP) && !(pf.revents & POLLOUT)) {
			say("test-agent: host disconnected (response dropped)\n");
			return;
		}
		if (now_ms() - last > WRITE_STALL_MS) {
			say("test-agent: host not reading (response dropped)\n");
			return;
		}
	}
}

static void respond(uint32_t id, int32_t code, struct buf *out,
		    struct buf *err)
{
	unsigned char hdr[RSP_HDR], trl[4];
	struct buf r = { 0 };
	uint32_t crc;

	if (code < 0 && err->len == 0)
		note(err, "test-agent: internal error\n");
	memcpy(hdr, RSP_MAGIC, 4);
	put32(hdr + 4, id);
	put32(hdr + 8, (uint32_t)code);
	put32(hdr + 12, (uint32_t)out->len);
	put32(hdr + 16, (uint32_t)err->len);
	put32(hdr + 20, crc32_update(0, hdr, 20));
	crc = crc32_update(0, out->p ? out->p : hdr, out->len);
	crc = crc32_update(crc, err->p ? err->p : hdr, err->len);
	put32(trl, crc);
	if (buf_add(&r, hdr, sizeof(hdr)) == 0 &&
	    buf_add(&r, out->p ? out->p : hdr, out->len) == 0 &&
	    buf_add(&r, err->p ? err->p : hdr, err->len) == 0 &&
	    buf_add(&r, trl, 4) == 0) {
		port_write_all(r.p, r.len);
	} else {
		/* out of memory: an empty answer with code -1 */
		put32(hdr + 8, (uint32_t)-1);
		put32(hdr + 12, 0);
		put32(hdr + 16, 0);
		put32(hdr + 20, crc32_update(0, hdr, 20));
		put32(trl, 0);
		port_write_all(hdr, sizeof(hdr));
		port_write_all(trl, 4);
	}
	buf_free(&r);
}

/* Handle one checked frame: header (REQ_HDR bytes) + body (+ crc). */
static void handle(const unsigned char *f)
{
	uint32_t id = get32(f + 4), timeout_ms = get32(f + 8);
	const unsigned char *p = f + REQ_HDR, *end = p + get32(f + 12);
	struct buf out = { 0 }, err = { 0 };
	char **argv = NULL;
	uint32_t argc = 0, i, inlen;
	int32_t code = -1;

	if (end - p < 4)
		goto bad;
	argc = get32(p);
	p += 4;
	if (argc == 0 || argc > MAX_ARGC)
		goto bad;
	argv = calloc(argc + 1, sizeof(*argv));
	if (!argv)
		goto bad;
	for (i = 0; i < argc; i++) {
		uint32_t len;

		if (end - p < 4)
			goto bad;
		len = get32(p);
		p += 4;
		if ((size_t)(end - p) < len || memchr(p, 0, len))
			goto bad;
		argv[i] = malloc(len + 1);
		if (!argv[i])
			goto bad;
		memcpy(argv[i], p, len);
		argv[i][len] = 0;
		p += len;
	}
	if (end - p < 4)
		goto bad;
	inlen = get32(p);
	p += 4;
	if ((size_t)(end - p) != inlen)
		goto bad;

	say("test-agent: exec %s\n", argv[0]);
	if (strcmp(argv[0], "@ping") == 0) {
		code = 0;
		buf_add(&out, "pong", 4);
	} else {
		code = run_cmd(argv, p, inlen, timeout_ms, &out, &err);
	}
	goto done;
bad:
	note(&err, "test-agent: malformed request\n");
	code = -1;
done:
	respond(id, code, &out, &err);
	if (argv) {
		for (i = 0; i < argc; i++)
			free(argv[i]);
		free(argv);
	}
	buf_free(&out);
	buf_free(&err);
}

/* A valid request header starts at p (REQ_HDR bytes available)? */
static int valid_header(const unsigned char *p)
{
	return memcmp(p, REQ_MAGIC, 4) == 0 &&
	       crc32_update(0, p, 16) == get32(p + 16) &&
	       get32(p + 12) <= MAX_BODY;
}

/*
 * Positions of the input buffer below this index are known not to start a
 * valid header (kept across calls so a large frame is scanned only once).
 */
static size_t scanned;

/*
 * Consume complete frames from the input buffer.
 *
 * Frame: header (magic, id, timeout_ms, body_len, crc32 of those 16 bytes),
 * body, crc32 of the body.  Bytes before a valid header are skipped.  The
 * guest cannot always see a short host disconnect (a close quickly followed
 * by a new connection leaves no trace), so a partial frame may be followed
 * directly by the next connection's frame: a valid header inside a pending
 * frame therefore abandons the pending frame, and a body whose crc does not
 * match is dropped with a resync one byte further.
 */
static void process(struct buf *in)
{
	size_t off = 0, need;

	for (;;) {
		unsigned char *p = in->p + off;
		size_t avail = in->len - off, s, end;

		if (avail < 4)
			break;
		if (memcmp(p, REQ_MAGIC, 4) != 0) {
			unsigned char *m = memmem(p + 1, avail - 1, REQ_MAGIC, 4);

			off = m ? (size_t)(m - in->p) : in->len - 3;
			continue;
		}
		if (avail < REQ_HDR)
			break;
		if (!valid_header(p)) {
			off++;
			continue;
		}
		need = REQ_HDR + get32(p + 12) + 4;

		/* look for a newer frame's header inside this one */
		s = scanned > off + 1 ? scanned : off + 1;
		end = off + need - 1 + 4;	/* header starts < off + need */
		if (end > in->len)
			end = in->len;
		while (end >= s + 4) {
			unsigned char *m = memmem(in->p + s, end - s, REQ_MAGIC, 4);
			size_t q;

			if (!m) {
				s = end - 3;
				break;
			}
			q = (size_t)(m - in->p);
			if (q + REQ_HDR > in->len) {
				s = q;		/* undecided until more data */
				break;
			}
			if (valid_header(m)) {
				s = q;
				break;
			}
			s = q + 1;
		}
		scanned = s;
		if (s < off + need && s + REQ_HDR <= in->len &&
		    valid_header(in->p + s)) {
			say("test-agent: dropped %zu bytes of an incomplete frame\n",
			    s - off);
			off = s;
			continue;
		}

		if (avail < need)
			break;
		if (crc32_update(0, p + REQ_HDR, need - REQ_HDR - 4) !=
		    get32(p + need - 4)) {
			say("test-agent: bad frame crc, resync\n");
			off++;
			continue;
		}
		handle(p);
		off += need;
	}
	if (off) {
		memmove(in->p, in->p + off, in->len - off);
		in->len -= off;
		scanned = scanned > off ? scanned - off : 0;
	}
}

static sigset_t sigio_open_mask;	/* the normal mask without SIGIO */

static void on_sigio(int sig)
{
	(void)sig;
}

/*
 * Ask for SIGIO on port events (data, host connect/disconnect) and keep it
 * blocked, so that wait_for_host() cannot miss one.
 */
static void setup_sigio(void)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigio;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGIO, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGIO);
	sigprocmask(SIG_BLOCK, &set, &sigio_open_mask);
	sigdelset(&sigio_open_mask, SIGIO);
	if (fcntl(port_fd, F_SETOWN, getpid()) < 0 ||
	    fcntl(port_fd, F_SETFL, fcntl(port_fd, F_GETFL) | O_ASYNC) < 0)
		say("test-agent: O_ASYNC: %s (polling instead)\n", strerror(errno));
}

static void wait_for_host(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	ppoll(NULL, 0, &ts, &sigio_open_mask);
}

static void serve(void)
{
	struct buf in = { 0 };
	long long last_data = now_ms();
	int backoff = 5;

	for (;;) {
		struct pollfd pf = { port_fd, POLLIN, 0 };
		int r = poll(&pf, 1, in.len ? 1000 : -1);
		ssize_t n;

		if (r < 0) {
			if (errno != EINTR)
				sleep_ms(10);
			continue;
		}
		if (r == 0) {
			if (in.len && now_ms() - last_data > FRAME_IDLE_MS) {
				say("test-agent: dropped %zu bytes of a stalled frame\n",
				    in.len);
				in.len = 0;
				scanned = 0;
			}
			continue;
		}
		if (buf_reserve(&in, 65536) < 0) {
			sleep_ms(100);
			continue;
		}
		n = read(port_fd, in.p + in.len, 65536);
		if (n > 0) {
			in.len += (size_t)n;
			last_data = now_ms();
			backoff = 5;
			process(&in);
			if (in.len == 0 && in.cap > (1u << 20)) {
				buf_free(&in);
				scanned = 0;
			}
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		/*
		 * EOF (or an error): the host is not connected and nothing is
		 * buffered.  poll() reports POLLHUP at once in this state, so
		 * wait for the SIGIO that the driver sends when the host
		 * connects (O_ASYNC), with a timeout in case none comes.
		 */
		if (in.len) {
			say("test-agent: host disconnected, dropped %zu bytes of a partial frame\n",
			    in.len);
			in.len = 0;
			scanned = 0;
		}
		wait_for_host(backoff);
		if (backoff < 500)
			backoff *= 2;
		if (backoff > 500)
			backoff = 500;
	}
}

int main(void)
{
	char dev[512] = "";
	const char *s;
	struct sigaction sa;

	s = getenv("TEST_AGENT_DIE");
	if (s && strcmp(s, "1") == 0) {
		dprintf(2, "test-agent: TEST_AGENT_DIE=1, exiting with 3\n");
		return 3;
	}

	signal(SIGPIPE, SIG_IGN);
	crc_init();
	cloexec_inherited();
	if (pipe2(chld_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		say("test-agent: pipe: %s\n", strerror(errno));
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);

	port_fd = open_port(dev, sizeof(dev));
	if (port_fd < 0) {
		if (port_errno)
			say("test-agent: cannot open %s (%s) after %d ms: %s\n",
			    dev, PORT_NAME, PORT_WAIT_MS, strerror(port_errno));
		else
			say("test-agent: virtio port %s not found after %d ms\n",
			    PORT_NAME, PORT_WAIT_MS);
		return 1;
	}
	say("test-agent: started pid=%d port=%s\n", (int)getpid(), dev);

	s = getenv("TEST_AGENT_ECHO_ENV");
	if (s && *s) {
		char names[1024], *save = NULL, *name;

		snprintf(names, sizeof(names), "%s", s);
		for (name = strtok_r(names, ",", &save); name;
		     name = strtok_r(NULL, ",", &save)) {
			const char *v = getenv(name);

			if (v)
				say("test-agent: env %s=%s\n", name, v);
			else
				say("test-agent: env %s unset\n", name);
		}
	}

	setup_sigio();
	signal_ready();
	serve();
	return 0;
}
