/*
 * hypeman run: messages, memory, strings and file-tree helpers.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>
#include "logline.h"
#include "rmtree.h"
#include "tool.h"
#include "util.h"

static void vmsg(const char *fmt, va_list ap)
{
	char line[4096];

	vsnprintf(line, sizeof(line), fmt, ap);
	/* One write, so lines from here and from QEMU do not interleave. */
	fprintf(stderr, "hypeman: %s\n", line);
	fflush(stderr);
}

int hr_log_open(void)
{
	int fd;

	if (!hr_tool.log_path) {
		errno = EINVAL;
		return -1;
	}
	fd = open(hr_tool.log_path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC
		| (hr_tool.log_started ? O_APPEND : O_TRUNC), 0600);
	if (fd >= 0)
		hr_tool.log_started = true;
	return fd;
}

void hr_note(const char *fmt, ...)
{
	struct hm_logline l = { .level = "INFO", .phase = "host", .dur_ms = -1 };
	char msg[1024], line[HM_LOGLINE_MAX];
	va_list ap;
	int fd;

	if (!hr_tool.log_path)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &l.now);
	l.msg = msg;
	fd = hr_log_open();
	/* a log that cannot be written loses the note, not the run */
	if (fd >= 0) {
		hm_write_all(fd, line, hm_logline_format(line, sizeof(line), &l));
		close(fd);
	}
}

void hr_progress(const char *fmt, ...)
{
	va_list ap;

	if (hr_tool.quiet)
		return;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

void hr_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

static void oom(void)
{
	fputs("hypeman: out of memory\n", stderr);
	exit(1);
}

void *hr_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		oom();
	return p;
}

void *hr_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		oom();
	return p;
}

void *hr_realloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *hr_strdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		oom();
	return p;
}

char *hr_strndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (!p)
		oom();
	return p;
}

char *hr_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		oom();
	return s;
}

void hr_strv_push(struct hr_strv *s, const char *str)
{
	if (s->n + 1 >= s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		s->v = hr_realloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = hr_strdup(str);
	s->v[s->n] = NULL;
}

void hr_strv_free(struct hr_strv *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

char *const *hr_strv_array(const struct hr_strv *s)
{
	static char *const empty[] = { NULL };

	return s->v ? s->v : empty;
}

const char *hr_count(uint64_t n, const char *one, const char *many, char buf[64])
{
	snprintf(buf, 64, "%llu %s", (unsigned long long)n, n == 1 ? one : many);
	return buf;
}

const char *hr_human_size(uint64_t bytes, char buf[32])
{
	if (bytes < 1000)
		snprintf(buf, 32, "%llu B", (unsigned long long)bytes);
	else if (bytes < 1000 * 1000)
		snprintf(buf, 32, "%.1f kB", bytes / 1e3);
	else if (bytes < 1000ULL * 1000 * 1000)
		snprintf(buf, 32, "%.1f MB", bytes / 1e6);
	else
		snprintf(buf, 32, "%.2f GB", bytes / 1e9);
	return buf;
}

double hr_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

bool hr_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	uint64_t unit = 1;
	char *end;

	errno = 0;
	if (s[0] < '0' || s[0] > '9')
		return false;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return false;
	switch (*end) {
	case 0: break;
	case 'k': case 'K': unit = KiB; end++; break;
	case 'm': case 'M': unit = MiB; end++; break;
	case 'g': case 'G': unit = GiB; end++; break;
	case 't': case 'T': unit = 1024 * GiB; end++; break;
	default: return false;
	}
	if (*end == 'i' && end[1] == 'B')	/* "4GiB" */
		end += 2;
	else if (*end == 'B' && unit > 1)	/* "4GB": still binary */
		end++;
	if (*end || v > UINT64_MAX / unit)
		return false;
	*out = v * unit;
	return true;
}

uint64_t hr_free_space(const char *path)
{
	struct statvfs sv;

	if (statvfs(path, &sv))
		return UINT64_MAX;	/* unknown: the write will tell */
	return (uint64_t)sv.f_bfree * sv.f_frsize;
}

const char *hr_after(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

const char *hr_printable(const char *s, char *out, size_t outlen)
{
	size_t n = 0;

	for (; *s && n + 5 < outlen; s++) {
		unsigned char c = *s;

		if (c < 0x20 || c == 0x7f || c == '\\')
			n += snprintf(out + n, outlen - n, "\\x%02x", c);
		else
			out[n++] = c;
	}
	if (*s && n + 4 <= outlen) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = 0;
	return out;
}

int hr_remove_tree(const char *path)
{
	char *dir = hr_strdup(path), *slash = strrchr(dir, '/');
	const char *name;
	int fd, rc;

	if (slash && slash[1]) {
		*slash = 0;
		name = slash + 1;
		fd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else {
		name = dir;
		fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0) {
		free(dir);
		return -1;
	}
	rc = hm_remove_tree_at(fd, name);
	close(fd);
	free(dir);
	return rc;
}

/* Hard-linked inodes are counted once: remember (dev, ino) of nlink>1. */
struct seen {
	dev_t dev;
	ino_t ino;
};

struct usage {
	uint64_t blocks;	/* bytes in 4 KiB blocks */
	uint64_t apparent;	/* file sizes */
	uint64_t entries;
	struct seen *seen;
	size_t n, cap;
};

#define BLK 4096ULL
#define ROUND(x) (((x) + BLK - 1) / BLK * BLK)

static void usage_at(int dirfd, struct usage *u)
{
	int fd = dup(dirfd);
	DIR *d;
	struct dirent *e;

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	u->blocks += BLK;	/* the directory itself */
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		size_t i;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW))
			continue;
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd, e->d_name,
				O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			u->entries++;
			if (sub >= 0) {
				usage_at(sub, u);
				close(sub);
			}
			continue;
		}
		if (st.st_nlink > 1 && !S_ISDIR(st.st_mode)) {
			for (i = 0; i < u->n; i++)
				if (u->seen[i].dev == st.st_dev && u->seen[i].ino == st.st_ino)
					break;
			if (i < u->n)
				continue;
			if (u->n == u->cap) {
				u->cap = u->cap ? u->cap * 2 : 64;
				u->seen = hr_realloc(u->seen, u->cap * sizeof(*u->seen));
			}
			u->seen[u->n++] = (struct seen){ st.st_dev, st.st_ino };
		}
		u->entries++;
		if (S_ISREG(st.st_mode)) {
			u->apparent += (uint64_t)st.st_size;
			u->blocks += ROUND((uint64_t)st.st_size);
		} else if (S_ISLNK(st.st_mode) && st.st_size >= 60) {
			u->blocks += BLK;	/* not a fast symlink */
		}
	}
	closedir(d);
}

uint64_t hr_tree_usage(const char *path, uint64_t *entries, uint64_t *apparent)
{
	struct usage u;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	memset(&u, 0, sizeof(u));
	if (fd >= 0) {
		usage_at(fd, &u);
		close(fd);
	}
	free(u.seen);
	if (entries)
		*entries = u.entries;
	if (apparent)
		*apparent = u.apparent;
	return u.blocks;
}
