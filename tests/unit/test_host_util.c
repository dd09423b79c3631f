// needs: host/util.c host/tool.c host/vfio.c host/pathset.c host/kimage.c contract/json.c contract/rmtree.c contract/fdio.c
/*
 * Unit tests for hypeman run's small pure parts: sizes (host/util.c),
 * PCI addresses (host/vfio.c), the path set (host/pathset.c) and a kernel
 * image's release (host/kimage.c) from synthetic bzImage and arm64 Images,
 * plain and gzip'ed.
 */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"
#include "kimage.h"
#include "pathset.h"
#include "util.h"
#include "vfio.h"

static void test_sizes(void)
{
	static const struct { const char *s; uint64_t v; } good[] = {
		{ "0", 0 }, { "512", 512 }, { "4k", 4096 }, { "4K", 4096 }, { "512M", 512 * MiB },
		{ "8G", 8 * GiB }, { "8GB", 8 * GiB }, { "8GiB", 8 * GiB }, { "1T", 1024 * GiB },
	};
	static const char *const bad[] = { "", "-1", "x", "4X", "4Gb", "4 G", "18446744073709551616",
		"17179869184G" };
	char buf[32];
	uint64_t v;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECKF(hr_parse_size(good[i].s, &v) && v == good[i].v, "%s", good[i].s);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECKF(!hr_parse_size(bad[i], &v), "accepted %s", bad[i]);
	CHECK_STR(hr_human_size(999, buf), "999 B");
	CHECK_STR(hr_human_size(1500, buf), "1.5 kB");
	CHECK_STR(hr_human_size(2500000, buf), "2.5 MB");
	CHECK_STR(hr_human_size(3 * 1000ULL * 1000 * 1000, buf), "3.00 GB");
	CHECK_STR(hr_printable("a\nb\\", buf, sizeof(buf)), "a\\x0ab\\x5c");
	CHECK_STR(hr_printable("abcdefghijklmnopqrstuvwxyzabcdefghij", buf, 16), "abcdefghijk...");
	CHECK_STR(hr_after("sha256:ab", "sha256:"), "ab");
	CHECK(hr_after("sha512:ab", "sha256:") == NULL);
}

static void test_pci_addresses(void)
{
	static const char *const bad[] = { "1:00.0", "0000:01:00.8", "0000:01:20.0",
		"00000:01:00.0", "01:00.0x", "0g:00.0", "01.00.0", "0000:01:00:0", "" };
	char out[HR_PCI_ADDR_LEN];
	size_t i;

	CHECK(hr_vfio_address("0A:1f.7", out));
	CHECK_STR(out, "0000:0a:1f.7");
	CHECK(hr_vfio_address("0001:00:00.0", out));
	CHECK_STR(out, "0001:00:00.0");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECKF(!hr_vfio_address(bad[i], out), "accepted \"%s\"", bad[i]);
}

static void test_pathset(void)
{
	struct hr_pathset ps = { 0 };
	char name[32];
	int i, dups = 0;

	for (i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "usr/lib/f%d", i % 3000);
		dups += !hr_pathset_add(&ps, name);
	}
	CHECK_INT(dups, 2000);
	CHECK_INT(ps.n, 3000);
	CHECK(hr_pathset_has(&ps, "usr/lib/f2999") && !hr_pathset_has(&ps, "usr/lib/f3000"));
	hr_pathset_clear(&ps);
	CHECK(!hr_pathset_has(&ps, "usr/lib/f1"));
}

/* DATA (N bytes) into a temporary file: its path (static). */
static const char *put(const void *data, size_t n)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "%s/hm-kimage.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	fd = mkstemp(path);
	if (fd >= 0) {
		if (write(fd, data, n) != (ssize_t)n)
			path[0] = '\0';
		close(fd);
	}
	return path;
}

/* DATA gzip'ed with libarchive (its raw format): malloc'd, length in *N. */
static void *gzipped(const void *data, size_t len, size_t *n)
{
	size_t cap = len + 4096;
	char *out = malloc(cap);
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();

	archive_write_add_filter_gzip(a);
	archive_write_set_format_raw(a);
	archive_write_open_memory(a, out, cap, n);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_size(e, (la_int64_t)len);
	archive_write_header(a, e);
	archive_write_data(a, data, len);
	archive_write_close(a);
	archive_write_free(a);
	archive_entry_free(e);
	return out;
}

static void check_release(int line, enum hr_kimage_format fmt, const void *data, size_t n,
		const char *want)
{
	const char *path = put(data, n);
	char rel[128], why[256];
	int rc = hr_kimage_release(fmt, path, rel, sizeof(rel), why, sizeof(why));

	if (want)
		check_at(__FILE__, line, rc == 0 && !strcmp(rel, want), "release \"%s\" (%s)", rel, why);
	else
		check_at(__FILE__, line, rc != 0 && why[0], "accepted as \"%s\"", rel);
	unlink(path);
}

static void test_kernel_release(void)
{
	static const char banner[] = "Linux version 6.1.0-57-arm64 (debian-kernel@lists) #1 SMP";
	unsigned char *bz = calloc(1, 0x400), *img = calloc(1, 3 << 20);
	size_t n;
	void *gz;

	memcpy(bz + 0x202, "HdrS", 4);
	bz[0x20e] = 0x00;	/* kernel_version: 0x200 + 0x100 */
	bz[0x20f] = 0x01;
	strcpy((char *)bz + 0x300, "6.1.0-57-amd64 (debian-kernel@lists.debian.org) #1");
	check_release(__LINE__, HR_KIMAGE_BZIMAGE, bz, 0x400, "6.1.0-57-amd64");
	check_release(__LINE__, HR_KIMAGE_ARM64, bz, 0x400, NULL);
	memcpy(img + 0x38, "ARM\x64", 4);
	/* the banner straddles the first 1 MiB chunk's end; a format
	 * string before it is not taken */
	strcpy((char *)img + 4096, "Linux version %s (%s)");
	memcpy(img + (1 << 20) - 20, banner, sizeof(banner));
	check_release(__LINE__, HR_KIMAGE_ARM64, img, 3 << 20, "6.1.0-57-arm64");
	check_release(__LINE__, HR_KIMAGE_BZIMAGE, img, 3 << 20, NULL);
	gz = gzipped(img, 3 << 20, &n);
	check_release(__LINE__, HR_KIMAGE_ARM64, gz, n, "6.1.0-57-arm64");
	check_release(__LINE__, HR_KIMAGE_ARM64, gz, n / 2, NULL);	/* cut short */
	memset(img + (1 << 20) - 20, 0, sizeof(banner));
	check_release(__LINE__, HR_KIMAGE_ARM64, img, 3 << 20, NULL);	/* no banner */
	free(gz);
	free(img);
	free(bz);
}

int main(void)
{
	CHECK_CASE(test_sizes());
	CHECK_CASE(test_pci_addresses());
	CHECK_CASE(test_pathset());
	CHECK_CASE(test_kernel_release());
	return check_done();
}
