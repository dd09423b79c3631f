/*
 * hypeman run: the guest architecture, and the kernel and initrd it boots.
 *
 * All lookups are here; an architecture is one struct hr_target. Nothing
 * is taken from the current directory: the tool runs as root, and a file
 * planted where it is started must not run or boot.
 *
 *   kernel: --kernel, $HYPEMAN_KERNEL, else the newest kernel of the
 *           target's flavour (linux-image-*-amd64, -arm64) that
 *           tests/lib/kernel.py unpacked into $HYPEMAN_CACHE/kernel/.
 *   initrd: --initrd, $HYPEMAN_INITRD, else initrd-<release> next to this
 *           binary or in its <arch>/ (what `build.sh [--arch A]
 *           --kernel-modules` writes), else initrd (<arch>/initrd for
 *           another architecture than the machine's).
 * Then, before anything boots: the kernel must be the target's (kimage.c),
 * the initrd's programs too, and when the kernel's config (config-<release>
 * beside it, as in /boot, or config, as kernel/build.sh and Debian sid lay
 * it out) has the machine's virtio transport, virtio_blk or ext4 as
 * modules, the initrd must carry lib/modules/<release>, or the init would
 * never see its disks; a kernel with them built in needs none. On
 * firecracker the kernel must also see devices named on its command line
 * (CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES) and, with Firecracker's nomodule,
 * have those drivers built in.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include "initrd.h"
#include "kimage.h"
#include "proc.h"
#include "target.h"
#include "util.h"

#define DEFAULT_CACHE "/var/cache/hypeman-init"
#define KERNEL_STAMP ".hypeman-kernel-ready"	/* tests/lib/kernel.py's */
#define FETCH_KERNEL "/usr/bin/python3 tests/lib/kernel.py"
#define IMAGE_PKG "linux-image-"	/* Debian's kernel packages: linux-image-<release> */

static const struct hr_target targets[] = {
	{
		.name = "x86_64",
		.oci_arch = "amd64",
		.elf_machine = 62,	/* EM_X86_64 */
		.kernel_format = HR_KIMAGE_BZIMAGE,
		.qemu = "qemu-system-x86_64",
		.tcg_cpu = "max",
		.console = "ttyS0",
		.kernel_subdir = "kernel",
		.kernel_flavour = "amd64",
	}, {
		.name = "aarch64",
		.oci_arch = "arm64",
		.elf_machine = 183,	/* EM_AARCH64 */
		.kernel_format = HR_KIMAGE_ARM64,
		.qemu = "qemu-system-aarch64",
		/* max's architected pointer authentication costs 4x the boot
		 * time under TCG; the impdef algorithm keeps every feature. */
		.tcg_cpu = "max,pauth-impdef=on",
		.console = "ttyAMA0",	/* the virt machine's PL011 */
		/* No PS/2 keyboard on virt: Ctrl-Alt-Del (a stop request)
		 * needs this one (and virtio_input in the initrd). */
		.keyboard = "virtio-keyboard-pci",
		.kernel_subdir = "kernel",
		.kernel_flavour = "arm64",
	},
};
#define N_TARGETS (sizeof(targets) / sizeof(targets[0]))

const struct hr_target *hr_target_named(const char *name)
{
	size_t i;

	for (i = 0; i < N_TARGETS; i++)
		if (!strcmp(name, targets[i].name) || !strcmp(name, targets[i].oci_arch))
			return &targets[i];
	return NULL;
}

/* The first of an architecture is its default. */
static const struct hr_machine machines[] = {
	{ .name = "q35", .arch = "x86_64", .qemu = "q35" },
	{ .name = "virt", .arch = "aarch64", .qemu = "virt" },
	{
		.name = "microvm", .arch = "x86_64", .qemu = "microvm", .mmio = true,
		/* without it the kernel hangs calibrating the TSC under TCG */
		.tcg_append = "tsc_early_khz=2000000",
	}, {
		.name = "firecracker", .arch = "x86_64", .qemu = "microvm,acpi=off", .mmio = true,
		.cmdline_devices = true, .no_modules = true,
		.tcg_append = "tsc_early_khz=2000000",
		/* Firecracker's default boot arguments (without 8250.nr_uarts=0,
		 * which it drops for a serial console) and its root drive's */
		.append = "reboot=k pci=off nomodule i8042.noaux i8042.nomux i8042.nopnp "
			"i8042.dumbkbd root=/dev/vda ro",
		/* Firecracker's keyboard controller: reboot=k and Ctrl-Alt-Del */
		.device = "i8042",
	},
};

const struct hr_machine *hr_machine_named(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(machines) / sizeof(machines[0]); i++)
		if (!strcmp(name, machines[i].name))
			return &machines[i];
	return NULL;
}

const struct hr_machine *hr_machine_of(const struct hr_target *tg)
{
	size_t i;

	for (i = 0; i < sizeof(machines) / sizeof(machines[0]); i++)
		if (!strcmp(tg->name, machines[i].arch))
			return &machines[i];
	return NULL;
}

const struct hr_target *hr_target_host(void)
{
	struct utsname u;

	return uname(&u) == 0 ? hr_target_named(u.machine) : NULL;
}

/* The architecture whose programs have e_machine m ("e_machine 40" else). */
static const char *machine_name(unsigned m, char buf[32])
{
	size_t i;

	for (i = 0; i < N_TARGETS; i++)
		if (targets[i].elf_machine == m)
			return targets[i].name;
	snprintf(buf, 32, "e_machine %u", m);
	return buf;
}

/* build.sh's options and output directory for tg: "--arch aarch64 " and
 * "aarch64/" for another architecture than the machine's. */
static void build_names(const struct hr_target *tg, char opt[32], char sub[32])
{
	bool other = tg != hr_target_host();

	snprintf(opt, 32, "%s%s%s", other ? "--arch " : "", other ? tg->name : "", other ? " " : "");
	snprintf(sub, 32, "%s%s", other ? tg->name : "", other ? "/" : "");
}

const char *hr_target_cache_dir(void)
{
	const char *c = getenv("HYPEMAN_CACHE");

	if (!c || !c[0])
		return DEFAULT_CACHE;
	if (c[0] != '/') {
		hr_msg("HYPEMAN_CACHE=%s is not an absolute path (it would depend on the current "
			"directory)", c);
		return NULL;
	}
	return c;
}

/* Debian's package name for the target: linux-image-<release>-<flavour>. */
static bool ours(const struct hr_target *tg, const char *name)
{
	size_t n = strlen(name), f = strlen(tg->kernel_flavour);

	return hr_after(name, IMAGE_PKG) && n > strlen(IMAGE_PKG) + f + 1
		&& name[n - f - 1] == '-' && !strcmp(name + n - f, tg->kernel_flavour);
}

/* The newest <cache>/kernel/linux-image-<release> that kernel.py finished. */
static char *cached_kernel(const struct hr_target *tg, const char *cache)
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
		found = hr_asprintf("%s/%s/boot/vmlinuz-%s", dir, best, hr_after(best, IMAGE_PKG));
	free(best);
	free(dir);
	return found;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? hr_strndup(path, slash == path ? 1 : (size_t)(slash - path)) : NULL;
}

/* What the kernel's config says about booting on machine M. */
struct kconfig {
	char *path;		/* the config read, or NULL: none to tell */
	char modules[64];	/* boot drivers it has as modules: "virtio_blk, ext4" */
	bool any;		/* it names any of them */
	bool cmdline_devices;	/* CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES=y */
};

/* The config beside the kernel: config-<release> (/boot), else config
 * (kernel/build.sh's folder, Debian sid's /usr/lib/modules/<release>). */
static FILE *open_config(const char *kernel, const char *rel, char **path)
{
	char *dir = dir_of(kernel);
	FILE *f = NULL;

	*path = NULL;
	if (!dir)
		return NULL;
	*path = hr_asprintf("%s/config-%s", dir, rel);
	if (!(f = fopen(*path, "re"))) {
		free(*path);
		*path = hr_asprintf("%s/config", dir);
		f = fopen(*path, "re");
	}
	if (!f) {
		free(*path);
		*path = NULL;
	}
	free(dir);
	return f;
}

static void kernel_config(const char *kernel, const char *rel, const struct hr_machine *m,
		struct kconfig *k)
{
	const char *const opts[][2] = {
		{ m->mmio ? "CONFIG_VIRTIO_MMIO=" : "CONFIG_VIRTIO_PCI=",
		  m->mmio ? "virtio_mmio" : "virtio_pci" },
		{ "CONFIG_VIRTIO_BLK=", "virtio_blk" },
		{ "CONFIG_EXT4_FS=", "ext4" },
	};
	FILE *f = open_config(kernel, rel, &k->path);
	char line[256];
	size_t i, n;

	k->modules[0] = 0;
	k->any = k->cmdline_devices = false;
	while (f && fgets(line, sizeof(line), f)) {
		if (!strcmp(line, "CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES=y\n"))
			k->cmdline_devices = true;
		for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
			if (!hr_after(line, opts[i][0]))
				continue;
			k->any = true;
			n = strlen(k->modules);
			if (line[strlen(opts[i][0])] == 'm')
				snprintf(k->modules + n, sizeof(k->modules) - n, "%s%s", n ? ", " : "",
					opts[i][1]);
		}
	}
	if (f)
		fclose(f);
}

/* Whether the ", "-separated LIST holds ITEM. */
static bool in_list(const char *list, const char *item)
{
	size_t n = strlen(item);
	const char *p;

	for (p = list; (p = strstr(p, item)) != NULL; p++)
		if ((p == list || p[-1] == ' ') && (p[n] == 0 || p[n] == ','))
			return true;
	return false;
}

/* The initramfs formats the kernel's config (open_config) enables,
 * CONFIG_RD_<NAME>=y, lower-case and ", "-separated into NAMES; false
 * when there is no config, or one that names no CONFIG_RD_, to tell. */
static bool kernel_formats(const char *kernel, const char *rel, char *names, size_t len)
{
	char *config, line[256], *p;
	FILE *f = open_config(kernel, rel, &config);
	bool told = false;	/* a config that names no CONFIG_RD_ cannot tell */
	size_t k;

	free(config);
	names[0] = 0;
	while (f && fgets(line, sizeof(line), f)) {
		told = told || strstr(line, "CONFIG_RD_");
		if (!(p = (char *)hr_after(line, "CONFIG_RD_")) || !strstr(p, "=y"))
			continue;
		for (k = 0; p[k] != '='; k++)
			p[k] = (char)(p[k] >= 'A' && p[k] <= 'Z' ? p[k] - 'A' + 'a' : p[k]);
		snprintf(names + strlen(names), len - strlen(names), "%s%.*s", names[0] ? ", " : "",
			(int)k, p);
	}
	if (f)
		fclose(f);
	return told;
}

/* A compressed initrd in a format the kernel was built without. */
static int format_left_out(const struct hr_boot_files *bf, const char *format)
{
	char names[128], option[16];
	size_t i;

	if (!strcmp(format, "cpio") || !kernel_formats(bf->kernel, bf->release, names, sizeof(names))
	 || in_list(names, format))
		return 0;
	for (i = 0; format[i] && i + 1 < sizeof(option); i++)
		option[i] = (char)(format[i] >= 'a' && format[i] <= 'z' ? format[i] - 'a' + 'A'
			: format[i]);
	option[i] = 0;
	hr_msg("%s%s is compressed with %s, which the kernel %s cannot unpack (its config has no "
		"CONFIG_RD_%s=y; it has %s): the boot would stop at \"compression method %s not "
		"configured\"; compress the initrd with one of those", bf->initrd, bf->initrd_env,
		format, bf->kernel, option, names[0] ? names : "none", format);
	return 2;
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

/* "/path/to/build.sh [--arch A] --kernel-modules DIR", the command that
 * makes the initrd for this kernel (malloc'd). */
static char *build_command(const struct hr_target *tg, const struct hr_boot_files *bf)
{
	char *self = hr_proc_self_dir(), *build = self ? hr_asprintf("%s/../build.sh", self) : NULL;
	char *real = build ? realpath(build, NULL) : NULL, opt[32], sub[32], *cmd;

	build_names(tg, opt, sub);
	if (bf->modules_dir)
		cmd = hr_asprintf("%s %s--kernel-modules %s", real ? real : "./build.sh", opt,
			bf->modules_dir);
	else
		cmd = hr_asprintf("./build.sh %s--kernel-modules /lib/modules/%s of that kernel",
			opt, bf->release);
	free(self);
	free(build);
	free(real);
	return cmd;
}

/* The mismatch, and the exact command that fixes it. */
static int mismatch(const struct hr_target *tg, const struct hr_boot_files *bf, const char *rels,
		const char *needed, const char *config)
{
	char *cmd = build_command(tg, bf), opt[32], sub[32];

	build_names(tg, opt, sub);
	hr_msg("%s%s has no kernel modules for %s (it has %s), but that kernel has %s as modules "
		"(%s): the init would not find its disks", bf->initrd, bf->initrd_env, bf->release,
		rels[0] ? rels : "none", needed[0] ? needed : "its disk drivers",
		config ? config : "its config");
	hr_msg("build the matching initrd with:\n    %s\n(it writes out/%sinitrd-%s, which hypeman "
		"run finds by itself), or pass --initrd", cmd, sub, bf->release);
	free(cmd);
	return 2;
}

/* An initrd whose programs are another architecture's. */
static int wrong_machine(const struct hr_target *tg, const struct hr_boot_files *bf, unsigned m)
{
	char *cmd = build_command(tg, bf), opt[32], sub[32], name[32];

	build_names(tg, opt, sub);
	hr_msg("%s%s is an initrd for %s (its bin/busybox), but the guest is %s (--arch %s)",
		bf->initrd, bf->initrd_env, machine_name(m, name), tg->name, tg->name);
	hr_msg("build one for %s with:\n    %s\n(it writes out/%sinitrd-%s, which hypeman run finds "
		"by itself), or pass --initrd", tg->name, cmd, sub, bf->release);
	free(cmd);
	return 2;
}

/* A file the kernel would not unpack: refused before the boot panics. */
static int not_an_initrd(const struct hr_target *tg, const struct hr_boot_files *bf,
		const char *why)
{
	char *cmd = build_command(tg, bf), opt[32], sub[32];

	build_names(tg, opt, sub);
	hr_msg("%s%s is not an initrd: %s; the kernel would not boot with it", bf->initrd,
		bf->initrd_env, why);
	hr_msg("build one with:\n    %s\n(it writes out/%sinitrd-%s, which hypeman run finds by "
		"itself), or pass --initrd", cmd, sub, bf->release);
	free(cmd);
	return 2;
}

/* What firecracker needs of the kernel (check_initrd); 0 or 2. */
static int check_firecracker(const struct hr_boot_files *bf, const struct kconfig *k)
{
	if (k->path && !k->cmdline_devices) {
		hr_msg("kernel %s cannot see --machine firecracker's disks: they are named on its "
			"command line (virtio_mmio.device=), and its config %s has no "
			"CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES=y (Debian's kernels have not)", bf->kernel,
			k->path);
	} else if (k->modules[0]) {
		hr_msg("kernel %s has %s as modules, and Firecracker's boot arguments forbid "
			"modules (nomodule)", bf->kernel, k->modules);
	} else {
		return 0;
	}
	hr_msg("boot a kernel with its boot drivers built in, the production shape (`%s "
		"--flavour hypeman --field vmlinuz` in the hypeman-init repository builds one), "
		"with --kernel; or --machine microvm (its devices announced by ACPI)", FETCH_KERNEL);
	return 2;
}

static int check_initrd(const struct hr_target *tg, const struct hr_machine *m,
		struct hr_boot_files *bf)
{
	struct hr_initrd_info info;
	struct kconfig k = { 0 };
	int need, rc = hr_initrd_scan(bf->initrd, &info);

	if (rc == 1)
		return not_an_initrd(tg, bf, info.why);
	if (rc || (rc = format_left_out(bf, info.format)) || !info.scanned)
		return rc;	/* unreadable here: QEMU or the kernel will say what is wrong */
	bf->initrd_has_gpu = info.has_gpu;
	if (info.elf_machine && info.elf_machine != tg->elf_machine)
		return wrong_machine(tg, bf, info.elf_machine);
	if (bf->release[0])
		kernel_config(bf->kernel, bf->release, m, &k);
	/* 1: modules needed, 0: built in, -1: no config to tell */
	need = !bf->release[0] ? 0 : !k.any ? -1 : k.modules[0] ? 1 : 0;
	if (m->cmdline_devices)
		rc = check_firecracker(bf, &k);
	else if (need != 0 && !in_list(info.releases, bf->release) && (need == 1 || info.releases[0]))
		rc = mismatch(tg, bf, info.releases, need == 1 ? k.modules : "",
			need == 1 ? k.path : NULL);
	free(k.path);
	return rc;
}

static int find_kernel(const struct hr_target *tg, const char *opt, struct hr_boot_files *bf)
{
	const char *env = getenv("HYPEMAN_KERNEL"), *cache;
	char why[256];

	if (opt || (env && env[0])) {
		bf->kernel = hr_strdup(opt ? opt : env);
	} else {
		if (!(cache = hr_target_cache_dir()))
			return 2;
		bf->kernel = cached_kernel(tg, cache);
		if (!bf->kernel) {
			hr_msg("no kernel for %s: pass --kernel FILE or set HYPEMAN_KERNEL, or fetch Debian's "
				"into %s/%s with `%s%s%s` in the hypeman-init repository", tg->name,
				cache, tg->kernel_subdir, FETCH_KERNEL, tg == hr_target_host() ? "" : " --arch ",
				tg == hr_target_host() ? "" : tg->name);
			return 2;
		}
	}
	if (hr_kimage_release(tg->kernel_format, bf->kernel, bf->release, sizeof(bf->release),
			why, sizeof(why))) {
		hr_msg("kernel %s%s: %s", bf->kernel, opt ? "" : env && env[0] ? " ($HYPEMAN_KERNEL)" : "",
			why);
		return 2;
	}
	bf->modules_dir = modules_dir_of(bf->kernel, bf->release);
	return 0;
}

/* initrd-<release> next to the binary, or in its <arch>/ (build.sh's
 * place for another architecture); else the plain initrd of the target. */
static char *default_initrd(const struct hr_target *tg, const char *rel)
{
	char *self = hr_proc_self_dir(), *named[2], *found = NULL, opt[32], sub[32];
	int i;

	if (!self)
		return NULL;
	build_names(tg, opt, sub);
	named[0] = hr_asprintf("%s/initrd-%s", self, rel);
	named[1] = hr_asprintf("%s/%sinitrd-%s", self, sub, rel);
	for (i = 0; i < 2; i++)
		if (!found && access(named[i], R_OK) == 0)
			found = hr_strdup(named[i]);
	if (!found)
		found = hr_asprintf("%s/%sinitrd", self, sub);
	free(named[0]);
	free(named[1]);
	free(self);
	return found;
}

static int find_initrd(const struct hr_target *tg, const char *opt, struct hr_boot_files *bf)
{
	const char *env = getenv("HYPEMAN_INITRD");
	char o[32], sub[32];

	bf->initrd_env = !opt && env && env[0] ? " ($HYPEMAN_INITRD)" : "";
	if (opt || (env && env[0]))
		bf->initrd = hr_strdup(opt ? opt : env);
	else
		bf->initrd = default_initrd(tg, bf->release);
	if (!bf->initrd || access(bf->initrd, R_OK)) {
		build_names(tg, o, sub);
		hr_msg("initrd %s%s: %s (build it with ./build.sh %s--kernel-modules DIR, which writes "
			"out/%sinitrd-<release>, or pass --initrd)", bf->initrd ? bf->initrd : "",
			bf->initrd_env, bf->initrd ? strerror(errno) : "none found", o, sub);
		return 2;
	}
	return 0;
}

int hr_target_boot_files(const struct hr_target *tg, const struct hr_machine *m,
		const char *kernel_opt, const char *initrd_opt, struct hr_boot_files *bf)
{
	int rc;

	memset(bf, 0, sizeof(*bf));
	rc = find_kernel(tg, kernel_opt, bf);
	if (rc == 0)
		rc = find_initrd(tg, initrd_opt, bf);
	if (rc == 0)
		rc = check_initrd(tg, m, bf);
	return rc;
}

void hr_target_boot_files_free(struct hr_boot_files *bf)
{
	free(bf->kernel);
	free(bf->initrd);
	free(bf->modules_dir);
	memset(bf, 0, sizeof(*bf));
}
