/*
 * hypeman run: what a kernel image is. Its release names the initrd that
 * goes with it (initrd-<release>) and the modules it needs; its format
 * says which architecture it boots, so that a kernel of the other one is
 * refused before anything is built.
 *
 *   x86 bzImage: the "HdrS" setup header; the release is the string its
 *       kernel_version field points at.
 *   arm64 Image: "ARM\x64" at 0x38 (the kernel's arm64 booting.rst); the
 *       release is in its banner, "Linux version <release> (...)", found
 *       in one pass over the file. A gzip'ed Image (Ubuntu ships them, and
 *       QEMU loads them) is read through libarchive.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <archive.h>
#include <archive_entry.h>
#include "kimage.h"
#include "util.h"

#define HEAD 65536		/* read at once: the bzImage header and more */
#define CHUNK (1024 * 1024)
#define KEEP 256		/* carried from one chunk to the next: a banner's length */
#define IMAGE_MAX (512 * MiB)	/* an arm64 Image is ~40 MB; bounds a gzip bomb */
#define BANNER "Linux version "

static bool is_bzimage(const unsigned char *h, size_t n)
{
	return n >= 0x210 && !memcmp(h + 0x202, "HdrS", 4);
}

static bool is_arm64_image(const unsigned char *h, size_t n)
{
	return n >= 0x40 && !memcmp(h + 0x38, "ARM\x64", 4);
}

static bool is_gzip(const unsigned char *h, size_t n)
{
	return n >= 2 && h[0] == 0x1f && h[1] == 0x8b;
}

static int bzimage_release(const unsigned char *h, size_t n, char *rel, size_t rellen)
{
	size_t off = 0x200 + (h[0x20e] | (size_t)h[0x20f] << 8), k;

	for (k = 0; off + k < n && k + 1 < rellen && h[off + k] > ' '; k++)
		rel[k] = (char)h[off + k];
	rel[k] = 0;
	return 0;
}

/* The first banner starting before limit whose release starts with a digit
 * and ends at a space (a format string "Linux version %s" does not). */
static bool banner_in(const char *buf, size_t len, size_t limit, char *rel, size_t rellen)
{
	const char *p = buf, *end = buf + len;

	while ((p = memmem(p, (size_t)(end - p), BANNER, sizeof(BANNER) - 1)) != NULL
	 && (size_t)(p - buf) < limit) {
		const char *r = p + sizeof(BANNER) - 1, *q = r;

		while (q < end && (size_t)(q - r) + 1 < rellen && *q > ' ' && *q < 0x7f)
			q++;
		if (q < end && *q == ' ' && q > r && *r >= '0' && *r <= '9') {
			snprintf(rel, rellen, "%.*s", (int)(q - r), r);
			return true;
		}
		p++;
	}
	return false;
}

/* The file's bytes from offset `at`, or the gzip'ed file's data. */
struct stream {
	int fd;
	off_t at;
	struct archive *a;	/* NULL: the file itself */
};

/* Fills buf with n bytes unless the data ends first; the count, or -1. */
static ssize_t fill(struct stream *s, char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = s->a ? archive_read_data(s->a, buf + got, n - got)
			: pread(s->fd, buf + got, n - got, s->at);

		if (r < 0 && !s->a && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
		s->at += r;
	}
	return (ssize_t)got;
}

/* An arm64 Image's magic, then its banner, in one pass over the data. */
static int arm64_release(struct stream *s, char *rel, size_t rellen, char *why, size_t whylen)
{
	char *buf = hr_malloc(KEEP + CHUNK);
	size_t len = 0;
	uint64_t total = 0;
	int rc = -1;

	for (;;) {
		ssize_t n = fill(s, buf + len, CHUNK);
		bool eof = n >= 0 && n < CHUNK;

		if (n < 0) {
			snprintf(why, whylen, "%s", s->a ? archive_error_string(s->a) : strerror(errno));
			break;
		}
		if (total == 0 && !is_arm64_image((unsigned char *)buf, (size_t)n)) {
			snprintf(why, whylen, "not an arm64 Linux kernel Image (no ARM\\x64 magic "
				"at 0x38)");
			break;
		}
		len += (size_t)n;
		total += (uint64_t)n;
		if (banner_in(buf, len, eof ? len : len - KEEP, rel, rellen)) {
			rc = 0;
			break;
		}
		if (eof || total > IMAGE_MAX) {
			snprintf(why, whylen, "%s", eof ? "an arm64 Image without a \"Linux version\" banner"
				: "over 512 MiB without a \"Linux version\" banner");
			break;
		}
		memmove(buf, buf + len - KEEP, KEEP);
		len = KEEP;
	}
	free(buf);
	return rc;
}

static int gzip_arm64_release(int fd, char *rel, size_t rellen, char *why, size_t whylen)
{
	struct stream s = { .fd = fd, .a = archive_read_new() };
	struct archive_entry *e;
	int rc = -1;

	archive_read_support_filter_gzip(s.a);
	archive_read_support_format_raw(s.a);
	if (archive_read_open_fd(s.a, fd, 65536) != ARCHIVE_OK
	 || archive_read_next_header(s.a, &e) != ARCHIVE_OK)
		snprintf(why, whylen, "%s", archive_error_string(s.a));
	else
		rc = arm64_release(&s, rel, rellen, why, whylen);
	if (rc) {	/* said before libarchive's text dies with the archive */
		char inner[200];

		snprintf(inner, sizeof(inner), "%s", why[0] ? why : "bad gzip data");
		snprintf(why, whylen, "gzip'ed: %s", inner);
	}
	archive_read_free(s.a);
	return rc;
}

/* The release, when the header h is the target's format; else why not. */
static int release_of(enum hr_kimage_format fmt, int fd, const unsigned char *h, size_t n,
		char *rel, size_t rellen, char *why, size_t whylen)
{
	struct stream s = { .fd = fd };

	if (fmt == HR_KIMAGE_BZIMAGE) {
		if (is_bzimage(h, n))
			return bzimage_release(h, n, rel, rellen);
		snprintf(why, whylen, "%s", is_arm64_image(h, n) || is_gzip(h, n)
			? "not an x86 Linux kernel image (an arm64 Image? --arch aarch64 boots those)"
			: "not an x86 Linux kernel image (no bzImage header)");
		return -1;
	}
	if (is_bzimage(h, n)) {
		snprintf(why, whylen, "an x86 kernel (bzImage), not an arm64 Image (--arch x86_64 "
			"boots it)");
		return -1;
	}
	return is_gzip(h, n) ? gzip_arm64_release(fd, rel, rellen, why, whylen)
		: arm64_release(&s, rel, rellen, why, whylen);
}

int hr_kimage_release(enum hr_kimage_format fmt, const char *path, char *rel, size_t rellen,
		char *why, size_t whylen)
{
	unsigned char *h;
	ssize_t n;
	struct stat st;
	int rc, fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	why[0] = '\0';
	rel[0] = 0;
	if (fd < 0 || fstat(fd, &st)) {
		snprintf(why, whylen, "%s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "not a regular file");
		close(fd);
		return -1;
	}
	h = hr_malloc(HEAD);
	n = pread(fd, h, HEAD, 0);
	rc = release_of(fmt, fd, h, n > 0 ? (size_t)n : 0, rel, rellen, why, whylen);
	free(h);
	close(fd);
	return rc;
}
