/*
 * hypeman run: messages, memory, strings and file-tree helpers.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "hypeman.h"

bool hm_quiet;

static void vmsg(const char *fmt, va_list ap)
{
	char line[4096];

	vsnprintf(line, sizeof(line), fmt, ap);
	/* One write, so lines from here and from QEMU do not interleave. */
	fprintf(stderr, "hypeman: %s\n", line);
	fflush(stderr);
}

void progress(const char *fmt, ...)
{
	va_list ap;

	if (hm_quiet)
		return;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

void msg(const char *fmt, ...)
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

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		oom();
	return p;
}

char *xasprintf(const char *fmt, ...)
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

void strv_push(struct strv *s, const char *str)
{
	if (s->n + 1 >= s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = xstrdup(str);
	s->v[s->n] = NULL;
}

void strv_free(struct strv *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

char *const *strv_array(const struct strv *s)
{
	static char *const empty[] = { NULL };

	return s->v ? s->v : empty;
}

const char *human_size(uint64_t bytes, char buf[32])
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

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int read_file(const char *path, size_t max, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0, cap = 0;
	char *buf = NULL;
	ssize_t r;

	if (fd < 0)
		return -1;
	for (;;) {
		if (n + 1 >= cap) {
			cap = cap ? cap * 2 : 65536;
			buf = xrealloc(buf, cap);
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;

			free(buf);
			close(fd);
			errno = e;
			return -1;
		}
		if (r == 0)
			break;
		n += r;
		if (n > max) {
			free(buf);
			close(fd);
			errno = EFBIG;
			return -1;
		}
	}
	close(fd);
	buf[n] = 0;
	*out = buf;
	*len = n;
	return 0;
}

int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= w;
	}
	return 0;
}

bool utf8_valid(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s) {
		unsigned cp, min, k, i;

		if (*s < 0x80) {
			s++;
			continue;
		}
		if ((*s & 0xe0) == 0xc0) {
			k = 2; cp = *s & 0x1f; min = 0x80;
		} else if ((*s & 0xf0) == 0xe0) {
			k = 3; cp = *s & 0x0f; min = 0x800;
		} else if ((*s & 0xf8) == 0xf0) {
			k = 4; cp = *s & 0x07; min = 0x10000;
		} else {
			return false;
		}
		for (i = 1; i < k; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		s += k;
	}
	return true;
}

int clear_dir(int dirfd)
{
	int fd = dup(dirfd);
	DIR *d;
	struct dirent *e;
	int rc = 0;

	if (fd < 0)
		return -1;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	/* Removing while reading is fine for a directory only we change. */
	while ((errno = 0, e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (remove_at(dirfd, e->d_name)) {
			rc = -1;
			break;
		}
	}
	if (!e && errno)
		rc = -1;
	closedir(d);
	return rc;
}

int remove_at(int dirfd, const char *name)
{
	struct stat st, dst;
	int fd, rc;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW))
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dirfd, name, 0) && errno != ENOENT ? -1 : 0;
	if (fstat(dirfd, &dst))
		return -1;
	if (st.st_dev != dst.st_dev) {	/* a mount point: never cross */
		errno = EBUSY;
		return -1;
	}
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = clear_dir(fd);
	close(fd);
	if (rc)
		return -1;
	return unlinkat(dirfd, name, AT_REMOVEDIR) && errno != ENOENT ? -1 : 0;
}

int remove_tree(const char *path)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
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
	rc = remove_at(fd, name);
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
				u->seen = xrealloc(u->seen, u->cap * sizeof(*u->seen));
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

uint64_t tree_usage(const char *path, uint64_t *entries, uint64_t *apparent)
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
