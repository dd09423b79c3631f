/*
 * hypeman run: the guest architecture, and the kernel and initrd it boots.
 *
 * All lookups are here, so that another architecture (an arm64 kernel,
 * its initrd and qemu-system-aarch64) is one more struct target. Nothing
 * is taken from the current directory: the tool runs as root, and a file
 * planted where it is started must not run or boot.
 *
 *   kernel: --kernel, $HYPEMAN_KERNEL, else the newest kernel that
 *           tests/lib/kernel.py unpacked into $HYPEMAN_CACHE/kernel/.
 *   initrd: --initrd, $HYPEMAN_INITRD, else initrd-<release> next to this
 *           binary (what `build.sh --kernel-modules` writes), else initrd.
 * Then, before anything boots: when the kernel's config (config-<release>
 * beside it, as in /boot) has virtio_blk or ext4 as modules, the initrd
 * must carry lib/modules/<release>, or the init would never see its disks.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <archive.h>
#include <archive_entry.h>
#include "run.h"

#define DEFAULT_CACHE "/var/cache/hypeman-init"
#define KERNEL_STAMP ".hypeman-kernel-ready"	/* tests/lib/kernel.py's */
#define FETCH_KERNEL "/usr/bin/python3 tests/lib/kernel.py"
#define INITRD_SCAN_MAX 200000	/* entries read from an initrd */

const struct target target_x86_64 = {
	.name = "x86_64",
	.oci_arch = "amd64",
	.qemu = "qemu-system-x86_64",
	.machine = "q35",
	.console = "ttyS0",
	.kernel_subdir = "kernel",
	.kernel_flavour = "amd64",
};

const char *cache_dir(void)
{
	const char *c = getenv("HYPEMAN_CACHE");

	if (!c || !c[0])
		return DEFAULT_CACHE;
	if (c[0] != '/') {
		msg("HYPEMAN_CACHE=%s is not an absolute path (it would depend on the current "
			"directory)", c);
		return NULL;
	}
	return c;
}

/* Debian's package name for the target: linux-image-<release>-<flavour>. */
static bool ours(const struct target *tg, const char *name)
{
	size_t n = strlen(name), f = strlen(tg->kernel_flavour);

	return !strncmp(name, "linux-image-", 12) && n > 12 + f + 1
		&& name[n - f - 1] == '-' && !strcmp(name + n - f, tg->kernel_flavour);
}

/* The newest <cache>/kernel/linux-image-<release> that kernel.py finished. */
static char *cached_kernel(const struct target *tg, const char *cache)
{
	char *dir = hr_asprintf("%s/%s", cache, tg->kernel_subdir), *best = NULL, *found = NULL;
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d)) != NULL) {
		char *stamp;

		if (!ours(tg, e->d_name) || (best && strverscmp(e->d_name, best) <= 0))
			continue;
		stamp = hr_asprintf("%s/%s/%s", dir, e->d_name, KERNEL_STAMP);
		if (access(stamp, F_OK) == 0) {
			free(best);
			best = hr_strdup(e->d_name);
		}
		free(stamp);
	}
	if (d)
		closedir(d);
	if (best)
		found = hr_asprintf("%s/%s/boot/vmlinuz-%s", dir, best, best + 12);
	free(best);
	free(dir);
	return found;
}

/* The release in an x86 bzImage header ("6.1.0-57-amd64"). 0, or -1 with
 * the reason in why. */
static int kernel_release(const char *path, char *rel, size_t rellen, const char **why)
{
	unsigned char h[65536];
	ssize_t n;
	size_t off, k;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	struct stat st;

	*why = NULL;
	if (fd < 0 || fstat(fd, &st)) {
		*why = strerror(errno);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		*why = "not a regular file";
		close(fd);
		return -1;
	}
	n = pread(fd, h, sizeof(h), 0);
	close(fd);
	if (n < 0x210 || memcmp(h + 0x202, "HdrS", 4)) {
		*why = "not an x86 Linux kernel image (no bzImage header)";
		return -1;
	}
	off = 0x200 + (h[0x20e] | (size_t)h[0x20f] << 8);
	for (k = 0; off + k < (size_t)n && k + 1 < rellen && h[off + k] > ' '; k++)
		rel[k] = (char)h[off + k];
	rel[k] = 0;
	return 0;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? hr_strndup(path, slash == path ? 1 : (size_t)(slash - path)) : NULL;
}

/* 1 when the kernel's config has virtio_blk or ext4 as modules (listed
 * in names), 0 when built in, -1 when there is no config to tell. */
static int needs_modules(const char *kernel, const char *rel, char *names, size_t len,
		char **config)
{
	static const char *const opts[][2] = {
		{ "CONFIG_VIRTIO_PCI=", "virtio_pci" },
		{ "CONFIG_VIRTIO_BLK=", "virtio_blk" },
		{ "CONFIG_EXT4_FS=", "ext4" },
	};
	char *dir = dir_of(kernel), line[256];
	FILE *f;
	int found = -1;
	size_t i;

	*config = dir ? hr_asprintf("%s/config-%s", dir, rel) : NULL;
	free(dir);
	f = *config ? fopen(*config, "re") : NULL;
	names[0] = 0;
	while (f && fgets(line, sizeof(line), f)) {
		for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
			size_t k = strlen(opts[i][0]);

			if (strncmp(line, opts[i][0], k))
				continue;
			found = found < 0 ? 0 : found;
			if (line[k] == 'm') {
				snprintf(names + strlen(names), len - strlen(names), "%s%s",
					names[0] ? ", " : "", opts[i][1]);
				found = 1;
			}
		}
	}
	if (f)
		fclose(f);
	return found;
}

/* Which releases the initrd has modules for (", "-separated in rels);
 * -1 when it cannot be read as a cpio archive. */
static int initrd_releases(const char *initrd, char *rels, size_t len)
{
	struct archive *a;
	struct archive_entry *e;
	struct stat st;
	int r, n = 0, fd = open(initrd, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	rels[0] = 0;
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return -1;	/* QEMU will say what is wrong with it */
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
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK && n++ < INITRD_SCAN_MAX) {
		const char *p = archive_entry_pathname(e);
		char rel[128];
		size_t k;

		if (!p)
			continue;
		p += !strncmp(p, "./", 2) ? 2 : 0;
		if (strncmp(p, "lib/modules/", 12))
			continue;
		k = strcspn(p + 12, "/");
		if (!k || k >= sizeof(rel))
			continue;
		snprintf(rel, sizeof(rel), "%.*s", (int)k, p + 12);
		if (!strstr(rels, rel) && strlen(rels) + k + 3 < len)
			snprintf(rels + strlen(rels), len - strlen(rels), "%s%s", rels[0] ? ", " : "", rel);
	}
	r = r == ARCHIVE_OK || r == ARCHIVE_EOF ? 0 : -1;
	archive_read_free(a);
	close(fd);
	return r;
}

static bool has_release(const char *rels, const char *rel)
{
	size_t n = strlen(rel);
	const char *p;

	for (p = rels; (p = strstr(p, rel)) != NULL; p++)
		if ((p == rels || p[-1] == ' ') && (p[n] == 0 || p[n] == ','))
			return true;
	return false;
}

/* The modules of the kernel's own tree (Debian's package layout), if any. */
static char *modules_dir_of(const char *kernel, const char *rel)
{
	char *dir = dir_of(kernel), *p, *real = NULL;

	if (!dir)
		return NULL;
	p = hr_asprintf("%s/../lib/modules/%s", dir, rel);
	real = realpath(p, NULL);
	free(p);
	if (!real && !strcmp(dir, "/boot"))
		real = hr_asprintf("/lib/modules/%s", rel);
	free(dir);
	return real;
}

/* The mismatch, and the exact command that fixes it. */
static int mismatch(const struct boot_files *bf, const char *rels, const char *needed,
		const char *config)
{
	char *self = self_dir(), *build = self ? hr_asprintf("%s/../build.sh", self) : NULL;
	char *buildreal = build ? realpath(build, NULL) : NULL;

	msg("%s has no kernel modules for %s (it has %s), but that kernel has %s as modules "
		"(%s): the init would not find its disks", bf->initrd, bf->release,
		rels[0] ? rels : "none", needed[0] ? needed : "its disk drivers",
		config ? config : "its config");
	if (bf->modules_dir)
		msg("build the matching initrd with:\n    %s --kernel-modules %s\n"
			"(it writes out/initrd-%s, which hypeman run finds by itself), or pass --initrd",
			buildreal ? buildreal : "./build.sh", bf->modules_dir, bf->release);
	else
		msg("build the matching initrd with ./build.sh --kernel-modules "
			"/lib/modules/%s of that kernel, or pass --initrd", bf->release);
	free(self);
	free(build);
	free(buildreal);
	return 2;
}

static int check_initrd(struct boot_files *bf)
{
	char rels[512], needed[64], *config = NULL;
	int need = needs_modules(bf->kernel, bf->release, needed, sizeof(needed), &config);
	int rc = 0;

	if (!bf->release[0] || need == 0 || initrd_releases(bf->initrd, rels, sizeof(rels)))
		goto out;
	if (!has_release(rels, bf->release) && (need == 1 || rels[0]))
		rc = mismatch(bf, rels, need == 1 ? needed : "", need == 1 ? config : NULL);
out:
	free(config);
	return rc;
}

static int find_kernel(const struct target *tg, const char *opt, struct boot_files *bf)
{
	const char *env = getenv("HYPEMAN_KERNEL"), *cache, *why;

	if (opt || (env && env[0])) {
		bf->kernel = hr_strdup(opt ? opt : env);
	} else {
		if (!(cache = cache_dir()))
			return 2;
		bf->kernel = cached_kernel(tg, cache);
		if (!bf->kernel) {
			msg("no kernel: pass --kernel FILE or set HYPEMAN_KERNEL, or fetch Debian's "
				"into %s/%s with `%s` in the hypeman-init repository", cache,
				tg->kernel_subdir, FETCH_KERNEL);
			return 2;
		}
	}
	if (kernel_release(bf->kernel, bf->release, sizeof(bf->release), &why)) {
		msg("kernel %s: %s", bf->kernel, why);
		return 2;
	}
	bf->modules_dir = modules_dir_of(bf->kernel, bf->release);
	return 0;
}

static int find_initrd(const char *opt, struct boot_files *bf)
{
	const char *env = getenv("HYPEMAN_INITRD");
	char *self, *named;

	if (opt || (env && env[0])) {
		bf->initrd = hr_strdup(opt ? opt : env);
	} else if ((self = self_dir()) != NULL) {
		named = hr_asprintf("%s/initrd-%s", self, bf->release);
		bf->initrd = access(named, R_OK) == 0 ? named : hr_asprintf("%s/initrd", self);
		if (bf->initrd != named)
			free(named);
		free(self);
	}
	if (!bf->initrd || access(bf->initrd, R_OK)) {
		msg("initrd %s: %s (build it with ./build.sh --kernel-modules DIR, which writes "
			"out/initrd-<release>, or pass --initrd)", bf->initrd ? bf->initrd : "",
			bf->initrd ? strerror(errno) : "none found");
		return 2;
	}
	return 0;
}

int find_boot_files(const struct target *tg, const char *kernel_opt, const char *initrd_opt,
		struct boot_files *bf)
{
	int rc;

	memset(bf, 0, sizeof(*bf));
	rc = find_kernel(tg, kernel_opt, bf);
	if (rc == 0)
		rc = find_initrd(initrd_opt, bf);
	if (rc == 0)
		rc = check_initrd(bf);
	return rc;
}

void boot_files_free(struct boot_files *bf)
{
	free(bf->kernel);
	free(bf->initrd);
	free(bf->modules_dir);
	memset(bf, 0, sizeof(*bf));
}
