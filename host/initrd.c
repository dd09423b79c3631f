/*
 * hypeman run: what an initrd carries, so that a mismatch is caught before
 * anything is built: the kernel releases it has modules for
 * (lib/modules/<release>), the architecture of its programs (the ELF
 * header of bin/busybox, which init links to) and whether it has a GPU
 * driver bundle (build.sh --gpu-driver writes etc/hypeman/gpu). One pass
 * over the first cpio archive; the images build.sh appends after it are
 * not read.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <archive.h>
#include <archive_entry.h>
#include "initrd.h"
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

int hr_initrd_scan(const char *path, struct hr_initrd_info *info)
{
	struct archive *a;
	struct archive_entry *e;
	struct stat st;
	int r, n = 0, fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	memset(info, 0, sizeof(*info));
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	a = archive_read_new();
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_filter_xz(a);
	archive_read_support_format_cpio(a);
	if (archive_read_open_fd(a, fd, 65536) != ARCHIVE_OK) {
		archive_read_free(a);
		close(fd);
		return -1;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK && n++ < INITRD_SCAN_MAX)
		note_entry(a, e, info);
	r = r == ARCHIVE_OK || r == ARCHIVE_EOF ? 0 : -1;
	archive_read_free(a);
	close(fd);
	return r;
}
