/*
 * JSON Lines log on the console (SPEC: Log).
 *
 * {"time":"...Z","level":"INFO","phase":"overlay","msg":"...","uptime_ms":N[,"dur_ms":N]}
 * Each line goes out in a single write(2) so that lines from init and from
 * its children do not interleave. No allocation: this must work when
 * everything else has failed.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += log.o

#include "libbb.h"
#include "hypeman.h"

#define LINE_MAX_LEN 2048

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

struct buf {
	char *p;
	size_t len, cap;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (n > b->cap - b->len)
		n = b->cap - b->len;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* A JSON string body: quotes, backslashes and control bytes escaped. */
static void put_escaped(struct buf *b, const char *s)
{
	char tmp[8];

	for (; *s; s++) {
		unsigned char c = *s;
		if (c == '"' || c == '\\') {
			tmp[0] = '\\';
			tmp[1] = c;
			put(b, tmp, 2);
		} else if (c == '\n') {
			put(b, "\\n", 2);
		} else if (c < 0x20 || c == 0x7f) {
			put(b, tmp, sprintf(tmp, "\\u%04x", c));
		} else {
			put(b, (const char *)&c, 1);
		}
	}
}

static void put_time(struct buf *b)
{
	struct timespec ts;
	struct tm tm;
	char tmp[40];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%S", &tm);
	puts_(b, tmp);
	put(b, tmp, sprintf(tmp, ".%03dZ", (int)(ts.tv_nsec / 1000000)));
}

static void emit(enum hm_level level, const char *phase, const char *error,
		long long dur_ms, const char *fmt, va_list ap)
{
	char line[LINE_MAX_LEN];
	char msg[LINE_MAX_LEN / 2];
	char num[48];
	struct buf b = { line, 0, sizeof(line) - 2 };
	int saved_errno = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	puts_(&b, "{\"time\":\"");
	put_time(&b);
	puts_(&b, "\",\"level\":\"");
	puts_(&b, level_names[level]);
	puts_(&b, "\",\"phase\":\"");
	put_escaped(&b, phase);
	puts_(&b, "\",\"msg\":\"");
	put_escaped(&b, msg);
	if (error) {
		puts_(&b, "\",\"error\":\"");
		put_escaped(&b, error);
	}
	put(&b, num, sprintf(num, "\",\"uptime_ms\":%llu", hm_uptime_ms()));
	if (dur_ms >= 0)
		put(&b, num, sprintf(num, ",\"dur_ms\":%lld", dur_ms));
	/* cap was sizeof-2: room for the closing brace and newline */
	b.cap += 2;
	puts_(&b, "}\n");
	full_write(STDOUT_FILENO, line, b.len);
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
	writev(STDOUT_FILENO, iov, 2);
}

void FAST_FUNC hm_program_start_marker(const char *mode)
{
	struct timespec ts;
	struct tm tm;
	char when[40], line[128];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(line, sizeof(line), "HYPEMAN-PROGRAM-START ts=%s.%09ldZ mode=%s",
		when, (long)ts.tv_nsec, mode);
	hm_console_line(line);
}
