// needs: host/initrd.c host/magic.c host/util.c host/tool.c contract/json.c contract/rmtree.c contract/fdio.c contract/logline.c
/*
 * Unit tests for host/initrd.c: what an --initrd is before anything boots.
 * The kernel unpacks a newc cpio archive, plain (at a 4-byte boundary,
 * after any zero bytes) or compressed with one of its formats, and a
 * concatenation of such archives (build.sh appends an uncompressed one to
 * the gzip'ed one); anything else is refused with the reason. What the
 * first archive carries (modules' releases, the busybox's ELF machine, a
 * GPU bundle) is read too. The initrds are written with libarchive.
 */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "check.h"
#include "initrd.h"

#define NEWC ARCHIVE_FORMAT_CPIO_SVR4_NOCRC

static char dir[] = "/tmp/hm-initrd.XXXXXX";

/* An initrd at DIR/NAME: a cpio of FORMAT (ARCHIVE_FORMAT_CPIO_*) through
 * FILTER (ARCHIVE_FILTER_*), after LEAD zero bytes and before TAIL (a
 * second, plain newc archive when true). */
static char *initrd(const char *name, int format, int filter, int lead, bool tail)
{
	static const unsigned char elf[20] = { 0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 2, 0, 62, 0 };	/* x86_64 */
	char *path = NULL;
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	int fd;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		abort();
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	while (lead-- > 0)
		(void)!write(fd, "", 1);
	archive_write_set_format(a, format);
	archive_write_add_filter(a, filter);
	archive_write_open_fd(a, fd);
	archive_entry_set_pathname(e, "lib/modules/6.1.0-57-amd64/kernel");
	archive_entry_set_mode(e, AE_IFDIR | 0755);
	archive_entry_set_size(e, 0);
	archive_write_header(a, e);
	archive_entry_clear(e);
	archive_entry_set_pathname(e, "bin/busybox");
	archive_entry_set_mode(e, AE_IFREG | 0755);
	archive_entry_set_size(e, sizeof(elf));
	archive_write_header(a, e);
	archive_write_data(a, elf, sizeof(elf));
	archive_entry_free(e);
	archive_write_close(a);
	archive_write_free(a);
	close(fd);
	if (tail) {
		char *second = initrd("tail.tmp", NEWC, ARCHIVE_FILTER_NONE,
			0, false), cmd[512];

		snprintf(cmd, sizeof(cmd), "cat %s >> %s", second, path);
		CHECK_INT(system(cmd), 0);
		free(second);
	}
	return path;
}

/* PLAIN in lz4's legacy format (what the kernel reads; libarchive writes
 * only the frame format): the magic, then one block of literals only,
 * which an LZ4 block may be. */
static char *lz4_legacy(const char *plain)
{
	static const unsigned char magic[4] = { 0x02, 0x21, 0x4c, 0x18 };
	unsigned char data[65536], block[70000];
	char *path = NULL;
	size_t n, len = 0, left;
	int fd = open(plain, O_RDONLY);

	n = (size_t)read(fd, data, sizeof(data));
	close(fd);
	block[len++] = 15 << 4;		/* 15 and more literals, no match */
	for (left = n - 15; left >= 255; left -= 255)
		block[len++] = 255;
	block[len++] = (unsigned char)left;
	memcpy(block + len, data, n);
	len += n;
	if (asprintf(&path, "%s/legacy.lz4", dir) < 0)
		abort();
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	(void)!write(fd, magic, 4);
	(void)!write(fd, (unsigned char[4]){ len & 0xff, len >> 8 & 0xff, len >> 16 & 0xff, 0 }, 4);
	(void)!write(fd, block, len);
	close(fd);
	return path;
}

static int scan(const char *path, struct hr_initrd_info *info)
{
	return hr_initrd_scan(path, info);
}

/* Accepted, and its first archive read. */
static void accepted(const char *path, const char *format)
{
	struct hr_initrd_info info;

	CHECKF(scan(path, &info) == 0, "%s: refused: %s", format, info.why);
	CHECK_STR(info.format, format);
	CHECKF(info.scanned, "%s: not scanned", format);
	CHECKF(!strcmp(info.releases, "6.1.0-57-amd64"), "%s: releases %s", format, info.releases);
	CHECKF(info.elf_machine == 62, "%s: e_machine %u", format, info.elf_machine);
}

/* Refused, saying WHY. */
static void refused(const char *path, const char *why)
{
	struct hr_initrd_info info;

	CHECKF(scan(path, &info) == 1, "%s: not refused", path);
	CHECKF(strstr(info.why, why) != NULL, "%s: no \"%s\" in \"%s\"", path, why, info.why);
}

/* initrd()'s, accepted as FORMAT_NAME, or refused saying WHY. */
static void made(int format, int filter, int lead, bool tail, const char *format_name,
		const char *why)
{
	char *path = initrd("i", format, filter, lead, tail);

	if (why)
		refused(path, why);
	else
		accepted(path, format_name);
	free(path);
}

static void test_accepted(void)
{
	static const struct {
		int filter;
		const char *format;
	} filters[] = {
		{ ARCHIVE_FILTER_NONE, "cpio" },
		{ ARCHIVE_FILTER_GZIP, "gzip" },
		{ ARCHIVE_FILTER_BZIP2, "bzip2" },
		{ ARCHIVE_FILTER_LZMA, "lzma" },
		{ ARCHIVE_FILTER_XZ, "xz" },
		{ ARCHIVE_FILTER_ZSTD, "zstd" },
	};
	char *path, *plain;
	size_t i;

	for (i = 0; i < sizeof(filters) / sizeof(filters[0]); i++)
		made(NEWC, filters[i].filter, 0, false, filters[i].format, NULL);
	path = initrd("i", NEWC, ARCHIVE_FILTER_NONE, 0, false);
	plain = lz4_legacy(path);
	accepted(plain, "lz4");
	free(plain);
	free(path);
	/* build.sh's shape: gzip'ed, then a plain archive appended */
	made(NEWC, ARCHIVE_FILTER_GZIP, 0, true, "gzip", NULL);
	/* zero bytes first (the kernel skips them), then a plain archive */
	made(NEWC, ARCHIVE_FILTER_NONE, 512, false, "cpio", NULL);
}

/* PATH holding the N bytes at DATA: refused, saying WHY. */
static void refused_bytes(const char *path, const char *data, size_t n, const char *why)
{
	int fd = open(path, O_WRONLY | O_TRUNC);

	CHECK_INT(write(fd, data, n), n);
	close(fd);
	refused(path, why);
}

static void test_refused(void)
{
	char *path = initrd("i", NEWC, ARCHIVE_FILTER_NONE, 0, false);

	made(ARCHIVE_FORMAT_CPIO_POSIX, ARCHIVE_FILTER_NONE, 0, false, NULL,
		"it is an old (odc) cpio archive; the kernel reads newc (cpio -H newc)");
	made(ARCHIVE_FORMAT_CPIO_POSIX, ARCHIVE_FILTER_GZIP, 0, false, NULL,
		"its gzip data holds a cpio archive the kernel does not read");
	made(NEWC, ARCHIVE_FILTER_NONE, 2, false, NULL,
		"its cpio archive starts at byte 2, not at a multiple of 4");
	made(NEWC, ARCHIVE_FILTER_LZ4, 0, false, NULL,
		"it is lz4 (frame format); the kernel reads lz4's legacy format only");
	/* gzip data that is no cpio archive: the gzip of nothing */
	refused_bytes(path, "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x03\x00\x00\x00\x00\x00"
		"\x00\x00\x00\x00", 20, "its gzip data holds no cpio archive");
	refused_bytes(path, "vmlinuz\n", 8, "it starts with 76 6d 6c 69 6e 75 7a 0a, which is "
		"neither a cpio archive (newc) nor data compressed with gzip, bzip2, lzma, xz, lzo, "
		"lz4, zstd");
	refused_bytes(path, "\0\0\0\0", 4, "it holds only zero bytes");
	CHECK_INT(truncate(path, 0), 0);
	refused(path, "it is empty");
	refused(dir, "it is not a regular file");
	unlink(path);
	free(path);
}

int main(void)
{
	char cmd[64];

	if (!mkdtemp(dir))
		return 2;
	CHECK_CASE(test_accepted());
	CHECK_CASE(test_refused());
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK_INT(system(cmd), 0);
	return check_done();
}
