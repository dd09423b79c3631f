/*
 * hypeman run: what an initrd is and carries, so that a mismatch is caught
 * before anything is built. First, whether the kernel would unpack it at
 * all: it skips zero bytes, then wants a newc cpio header at a 4-byte
 * boundary or one of its compressed formats (magic.c); anything else
 * stops the boot ("Initramfs unpacking failed: invalid magic ..."). Then
 * the first archive: the kernel releases it has modules for
 * (lib/modules/<release>), the architecture of its programs (the ELF
 * header of bin/busybox, which init links to) and whether it has a GPU
 * driver bundle (build.sh --gpu-driver writes etc/hypeman/gpu). One pass
 * over the first archive; what build.sh appends after it (an uncompressed
 * cpio of images, which the kernel reads too) is not read.
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
#include "initrd.h"
#include "magic.h"
#include "util.h"

#define INITRD_SCAN_MAX 200000	/* entries read from an initrd */

static void add_release(struct hr_initrd_info *info, const char *after_modules)
{
	size_t k = strcspn(after_modules, "/"), len = sizeof(info->releases);
	char *rels = info->releases, rel[128];
	size_t used = strlen(rels);

	if (!k || k >= sizeof(rel))
		return;
	snprintf(rel, sizeof(rel), "%.*s", (int)k, after_modules);
	if (!strstr(rels, rel) && used + k + 3 < len)
		snprintf(rels + used, len - used, "%s%s", used ? ", " : "", rel);
}

/* e_machine of the ELF file being read from a; 0 when it is not one. */
static unsigned elf_machine(struct archive *a)
{
	unsigned char h[20];
	size_t got = 0;

	while (got < sizeof(h)) {
		la_ssize_t r = archive_read_data(a, h + got, sizeof(h) - got);

		if (r <= 0)
			return 0;
		got += (size_t)r;
	}
	if (memcmp(h, "\177ELF", 4))
		return 0;
	return h[5] == 2 ? (unsigned)h[18] << 8 | h[19] : h[18] | (unsigned)h[19] << 8;
}

static void note_entry(struct archive *a, struct archive_entry *e, struct hr_initrd_info *info)
{
	const char *p = archive_entry_pathname(e), *rel;

	if (!p)
		return;
	if (hr_after(p, "./"))
		p = hr_after(p, "./");
	if (!strcmp(p, "etc/hypeman/gpu"))
		info->has_gpu = true;
	else if ((rel = hr_after(p, "lib/modules/")))
		add_release(info, rel);
	else if (!info->elf_machine && archive_entry_filetype(e) == AE_IFREG
	 && (!strcmp(p, "init") || !strcmp(p, "bin/busybox")))
		info->elf_machine = elf_machine(a);
}

/* ---- the start: what the kernel decides by ------------------------------ */

/* The first byte that is not zero (the kernel skips zeros before and
 * between archives): its offset, and up to HEAD_LEN bytes from there in
 * head (*n). -1 when the file holds nothing else. */
#define HEAD_LEN 16
static off_t first_data(int fd, unsigned char head[HEAD_LEN], size_t *n)
{
	unsigned char buf[65536];
	off_t off = 0;
	ssize_t r, i;

	while ((r = pread(fd, buf, sizeof(buf), off)) > 0) {
		for (i = 0; i < r && !buf[i]; i++)
			continue;
		if (i < r) {
			r = pread(fd, head, HEAD_LEN, off + i);
			*n = r > 0 ? (size_t)r : 0;
			return off + i;
		}
		off += r;
	}
	return -1;
}

/* Whether the kernel would start unpacking here: a newc cpio header (at
 * a 4-byte boundary) or one of its compressed formats. 0, or 1 with
 * info->why. */
static int check_start(const unsigned char *h, size_t n, off_t at, struct hr_initrd_info *info)
{
	const struct hr_magic *c = hr_magic_compression(h, n);
	enum hr_magic_cpio cpio = hr_magic_cpio(h, n);
	char shown[3 * HEAD_LEN + 1] = "";
	size_t i, len = 0;

	if (cpio == HR_CPIO_NEWC && at % 4 == 0) {
		info->format = "cpio";
		return 0;
	}
	if (c && c->kernel) {
		info->format = c->name;
		return 0;
	}
	for (i = 0; i < n && i < 8; i++)
		len += (size_t)sprintf(shown + len, "%s%02x", i ? " " : "", h[i]);
	if (cpio == HR_CPIO_NEWC)
		snprintf(info->why, sizeof(info->why), "its cpio archive starts at byte %lld, not at "
			"a multiple of 4", (long long)at);
	else if (cpio == HR_CPIO_ODC)
		snprintf(info->why, sizeof(info->why), "it is an old (odc) cpio archive; the kernel "
			"reads newc (cpio -H newc)");
	else if (c)
		snprintf(info->why, sizeof(info->why), "it is %s; the kernel reads lz4's legacy "
			"format only (lz4 -l)", c->name);
	else
		snprintf(info->why, sizeof(info->why), "it starts with %s, which is neither a cpio "
			"archive (newc) nor data compressed with %s", shown, hr_magic_kernel_names());
	return 1;
}

/* ---- the first archive: what it carries ---------------------------------- */

struct source {
	int fd;
	off_t pos;
	char buf[65536];
};

static la_ssize_t read_cb(struct archive *a, void *arg, const void **out)
{
	struct source *s = arg;
	ssize_t r;

	(void)a;
	do
		r = pread(s->fd, s->buf, sizeof(s->buf), s->pos);
	while (r < 0 && errno == EINTR);
	if (r > 0)
		s->pos += r;
	*out = s->buf;
	return r;
}

/* The decompressor for FORMAT when this libarchive has it built in
 * (otherwise it would run an external program): true when added. */
static bool add_filter(struct archive *a, const char *format)
{
	static const struct {
		const char *name;
		int (*add)(struct archive *);
	} filters[] = {
		{ "gzip", archive_read_support_filter_gzip },
		{ "bzip2", archive_read_support_filter_bzip2 },
		{ "lzma", archive_read_support_filter_lzma },
		{ "xz", archive_read_support_filter_xz },
		{ "lzo", archive_read_support_filter_lzop },
		{ "lz4", archive_read_support_filter_lz4 },
		{ "zstd", archive_read_support_filter_zstd },
	};
	struct archive *probe;
	size_t i;
	bool ok;

	for (i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
		if (strcmp(filters[i].name, format))
			continue;
		probe = archive_read_new();
		ok = probe && filters[i].add(probe) == ARCHIVE_OK;
		archive_read_free(probe);
		return ok && filters[i].add(a) == ARCHIVE_OK;
	}
	return !strcmp(format, "cpio");
}

/* The entries of the open archive A: how many were read, or -1 when the
 * first is not newc (info->why says so). *R: the last header's status. */
static int read_entries(struct archive *a, struct hr_initrd_info *info, int *r)
{
	struct archive_entry *e;
	int n = 0, f;

	while (n < INITRD_SCAN_MAX && (*r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		f = archive_format(a);
		if (n++ == 0 && f != ARCHIVE_FORMAT_CPIO_SVR4_NOCRC && f != ARCHIVE_FORMAT_CPIO_SVR4_CRC) {
			snprintf(info->why, sizeof(info->why), "its %s data holds a cpio archive the "
				"kernel does not read (%s; it reads newc: cpio -H newc)", info->format,
				archive_format_name(a));
			return -1;
		}
		note_entry(a, e, info);
		info->scanned = true;
	}
	return n;
}

/* The first archive (from S's position). 0, or 1 when it holds no newc
 * cpio archive (info->why); 0 too when this libarchive cannot decompress
 * the format (the kernel can). */
static int read_first_archive(struct source *s, struct hr_initrd_info *info)
{
	struct archive *a = archive_read_new();
	int r = ARCHIVE_FATAL, n = 0;

	if (!a || !add_filter(a, info->format) || archive_read_support_format_cpio(a)) {
		archive_read_free(a);
		return 0;
	}
	if (archive_read_open(a, s, NULL, read_cb, NULL) == ARCHIVE_OK)
		n = read_entries(a, info, &r);
	if (n == 0)
		snprintf(info->why, sizeof(info->why), "its %s data holds no cpio archive (%s)",
			info->format, r == ARCHIVE_EOF ? "no file in it" : archive_error_string(a)
			? archive_error_string(a) : "unreadable");
	archive_read_free(a);
	return n > 0 ? 0 : 1;
}

int hr_initrd_scan(const char *path, struct hr_initrd_info *info)
{
	struct source *s;
	unsigned char head[HEAD_LEN];
	struct stat st;
	size_t n = 0;
	off_t at;
	int rc, fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	memset(info, 0, sizeof(*info));
	if (fd < 0 || fstat(fd, &st)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(info->why, sizeof(info->why), "it is not a regular file");
		rc = 1;
	} else if ((at = first_data(fd, head, &n)) < 0) {
		snprintf(info->why, sizeof(info->why), "%s", st.st_size ? "it holds only zero bytes"
			: "it is empty");
		rc = 1;
	} else if (!(rc = check_start(head, n, at, info))) {
		s = hr_malloc(sizeof(*s));
		s->fd = fd;
		s->pos = at;
		rc = read_first_archive(s, info);
		free(s);
	}
	close(fd);
	return rc;
}
