/*
 * JSON Lines log on the console (contract: Log), shaped by the contract
 * layer's logline.c; the markers (contract: Markers) by its marker.c.
 *
 * {"time":"...Z","level":"INFO","phase":"overlay","msg":"...","uptime_ms":N[,"dur_ms":N]}
 * Each line goes out in a single write(2) so that lines from init and from
 * its children do not interleave. No allocation: this must work when
 * everything else has failed.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += log.o

#include "libbb.h"
#include "hypeman.h"
#include "logline.h"
#include "marker.h"

static const char *const level_names[] = { "INFO", "WARN", "ERROR" };

/* Timing of the phase under way (one at a time: boot is sequential). */
static struct {
	const char *phase;
	unsigned long long start_ms;
} cur;

static unsigned long long clock_ms(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) != 0)
		return 0;
	return (unsigned long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

unsigned long long FAST_FUNC hm_uptime_ms(void)
{
	return clock_ms(CLOCK_BOOTTIME);
}

bool FAST_FUNC hm_time_left(unsigned long long deadline_ms, struct timespec *left)
{
	unsigned long long now = hm_uptime_ms();

	if (now >= deadline_ms)
		return false;
	left->tv_sec = (deadline_ms - now) / 1000;
	left->tv_nsec = ((deadline_ms - now) % 1000) * 1000000;
	return true;
}

/*
 * A program that opens the console as its controlling tty hangs it up
 * for every open file when it exits (the kernel's session-leader exit):
 * our writes then fail with EIO, and a fresh open works again.
 */
static void console_writev(struct iovec *iov, int n)
{
	int fd;

	if (writev(STDOUT_FILENO, iov, n) >= 0 || errno != EIO)
		return;
	fd = open(hm_console_path(), O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return;
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
	writev(STDOUT_FILENO, iov, n);
}

static void emit(enum hm_level level, const char *phase, const char *error,
		long long dur_ms, const char *fmt, va_list ap)
{
	char line[HM_LOGLINE_MAX];
	char msg[HM_LOGLINE_MAX / 2];
	struct hm_logline l;
	struct iovec iov;
	int saved_errno = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	clock_gettime(CLOCK_REALTIME, &l.now);
	l.level = level_names[level];
	l.phase = phase;
	l.msg = msg;
	l.error = error;
	l.uptime_ms = hm_uptime_ms();
	l.dur_ms = dur_ms;
	iov.iov_base = line;
	iov.iov_len = hm_logline_format(line, sizeof(line), &l);
	console_writev(&iov, 1);
	errno = saved_errno;
}

void FAST_FUNC hm_log(enum hm_level level, const char *phase, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(level, phase, NULL, -1, fmt, ap);
	va_end(ap);
}

void FAST_FUNC hm_log_errno(enum hm_level level, const char *phase, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(level, phase, strerror(err), -1, fmt, ap);
	va_end(ap);
}

void FAST_FUNC hm_debug(const char *phase, const char *fmt, ...)
{
	va_list ap;

	if (!hm_boot_state || !hm_boot_state->cmdline.debug)
		return;
	va_start(ap, fmt);
	emit(HM_INFO, phase, NULL, -1, fmt, ap);
	va_end(ap);
}

void FAST_FUNC hm_phase_begin(const char *phase)
{
	cur.phase = phase;
	cur.start_ms = hm_uptime_ms();
}

void FAST_FUNC hm_phase_end(const char *phase, const char *fmt, ...)
{
	va_list ap;
	long long dur = 0;

	if (cur.phase && strcmp(cur.phase, phase) == 0)
		dur = hm_uptime_ms() - cur.start_ms;
	cur.phase = NULL;
	va_start(ap, fmt);
	emit(HM_INFO, phase, NULL, dur, fmt, ap);
	va_end(ap);
}

void FAST_FUNC hm_console_line(const char *line)
{
	struct iovec iov[2];

	iov[0].iov_base = (void *)line;
	iov[0].iov_len = strlen(line);
	iov[1].iov_base = (void *)"\n";
	iov[1].iov_len = 1;
	console_writev(iov, 2);
}

void FAST_FUNC hm_program_start_marker(const char *mode)
{
	struct hm_marker m = { .kind = HM_MARKER_PROGRAM_START };
	char line[HM_MARKER_MAX];

	clock_gettime(CLOCK_REALTIME, &m.ts);
	m.text[HM_MF_MODE] = mode;
	hm_marker_format(line, sizeof(line), &m);
	hm_console_line(line);
}

