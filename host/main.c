/*
 * hypeman run: boot an OCI image in a QEMU microVM with hypeman-init.
 *
 *   hypeman run [OPTIONS] IMAGE[:TAG] [COMMAND [ARG...]]
 *
 * The command line, every option parsed and checked here; run.c has the
 * steps. usage_text is the synopsis that README.md shows (a test compares
 * them). Exit status: the program's (exec
 * mode), 0 when the VM ends cleanly (systemd mode), 2 for usage errors
 * and missing boot files, 1 for any other error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include "config.h"
#include "proc.h"
#include "run.h"
#include "target.h"
#include "tool.h"
#include "util.h"
#include "vfio.h"

static const char usage_text[] =
"usage: hypeman run [--arch ARCH] [--machine NAME] [--init-mode=MODE] [-e K=V]...\n"
"           [-v DISK:PATH[:ro|:rw|:overlay]]... [--network] [--gpu PCI_ADDR]...\n"
"           [--kernel FILE] [--initrd FILE] [--keep DIR] [--log FILE] [--rootfs-fs=FS]\n"
"           [--memory MB] [--cpus N] [--timeout SECONDS] [--skip-guest-agent]\n"
"           [--append ARGS] [--no-boot | --print-qemu] [--max-size SIZE]\n"
"           [--max-entries N] [--max-json SIZE] [--timings] [-i] [-q]\n"
"           IMAGE[:TAG] [COMMAND [ARG...]]\n"
"       hypeman run --help\n"
"\n"
"Boot the OCI image IMAGE in a QEMU microVM with hypeman-init as PID 1. IMAGE is\n"
"an image layout directory or an archive of one (a tar file, as skopeo copy ...\n"
"oci-archive:FILE and docker save from Docker 25 on write it), TAG picks one of\n"
"its images. Registry references are not pulled: skopeo copy docker://REF\n"
"oci:DIR:TAG makes a layout. COMMAND replaces the image's Cmd.\n"
"\n"
"  --arch ARCH             the guest: x86_64 or aarch64 (default: this machine's); picks\n"
"                          the image's platform, the kernel, the initrd and QEMU\n"
"  --machine NAME          q35 (x86_64's default) or virt (aarch64's): virtio-pci;\n"
"                          microvm: QEMU's microvm, virtio-mmio announced by ACPI;\n"
"                          firecracker: microvm as Firecracker presents a guest (no\n"
"                          ACPI, the devices named on the kernel command line,\n"
"                          Firecracker's boot arguments: nomodule, so the kernel needs\n"
"                          its boot drivers built in); see docs/kernel.md\n"
"  --init-mode=MODE        auto (default: detect from the command), exec, systemd\n"
"  -e, --env K=V           set an environment variable (repeatable; wins over the image)\n"
"  -v, --volume DISK:PATH[:ro|:rw|:overlay]\n"
"                          attach the disk image DISK (ext4) at PATH (repeatable)\n"
"  --network               QEMU user networking (restrict=on), guest 10.0.2.15/24\n"
"  --gpu PCI_ADDR          pass the host's device [DDDD:]BB:DD.F (bound to vfio-pci)\n"
"                          to the guest and set has_gpu (repeatable)\n"
"  --kernel FILE           kernel (default: $HYPEMAN_KERNEL, else the newest kernel for\n"
"                          ARCH in $HYPEMAN_CACHE/kernel, default /var/cache/hypeman-init)\n"
"  --initrd FILE           initrd with hypeman-init (default: $HYPEMAN_INITRD, else\n"
"                          initrd-<kernel release>, else initrd, next to this binary\n"
"                          or, for another ARCH than this machine's, in its ARCH/)\n"
"  --keep DIR              make the disks in DIR (0700) and keep them (default: a\n"
"                          temporary directory under $TMPDIR or /var/tmp, removed)\n"
"  --log FILE              the tool's notes and the init's JSON log lines (default:\n"
"                          init.log in the work directory)\n"
"  --rootfs-fs=FS          erofs (default when mkfs.erofs exists) or ext4\n"
"  --memory MB             guest memory (default 1024)\n"
"  --cpus N                guest CPUs (default 1)\n"
"  --timeout SECONDS       stop the VM after SECONDS (exit 124 if it must be killed)\n"
"  --skip-guest-agent      do not install or start the guest agent (skip_guest_agent)\n"
"  --append ARGS           more kernel command line\n"
"  --no-boot               make the disks, then stop (with --keep: to inspect them)\n"
"  --print-qemu            make the disks, print the QEMU command line, do not boot\n"
"  --max-size SIZE         refuse images unpacking to more than SIZE (default 4G;\n"
"                          sparse files count at their full size)\n"
"  --max-entries N         refuse images with more than N entries, or archives with\n"
"                          more than N members (default 1000000)\n"
"  --max-json SIZE         refuse JSON documents over SIZE (default 4M)\n"
"  --timings               print the host steps' and the guest's boot phase times\n"
"  -i, --interactive       console input from the terminal, rescue shell on errors\n"
"                          (Ctrl-A x quits QEMU)\n"
"  -q, --quiet             no progress lines\n"
"  -h, --help              this text\n"
"\n"
"Environment: HYPEMAN_ACCEL (tcg, default, or kvm), HYPEMAN_QEMU (the QEMU binary),\n"
"HYPEMAN_CACHE (absolute; default /var/cache/hypeman-init), HYPEMAN_SYSFS (where\n"
"--gpu looks for the device's driver; default /sys).\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	char line[1024];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "hypeman: %s\n(see hypeman run --help)\n", line);
	return 2;
}

static bool parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi || s[0] == '-')
		return false;
	*out = (unsigned)v;
	return true;
}

enum { OPT_INIT_MODE = 256, OPT_NETWORK, OPT_KERNEL, OPT_INITRD, OPT_KEEP, OPT_ROOTFS_FS,
	OPT_MEMORY, OPT_CPUS, OPT_TIMEOUT, OPT_SKIP_GUEST_AGENT, OPT_APPEND, OPT_NO_BOOT, OPT_LOG,
	OPT_TIMINGS, OPT_MAX_SIZE, OPT_MAX_ENTRIES, OPT_MAX_JSON, OPT_ARCH, OPT_GPU,
	OPT_PRINT_QEMU, OPT_MACHINE };

static const struct option longopts[] = {
	{ "arch", required_argument, NULL, OPT_ARCH },
	{ "machine", required_argument, NULL, OPT_MACHINE },
	{ "init-mode", required_argument, NULL, OPT_INIT_MODE },
	{ "env", required_argument, NULL, 'e' },
	{ "volume", required_argument, NULL, 'v' },
	{ "network", no_argument, NULL, OPT_NETWORK },
	{ "gpu", required_argument, NULL, OPT_GPU },
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "keep", required_argument, NULL, OPT_KEEP },
	{ "log", required_argument, NULL, OPT_LOG },
	{ "rootfs-fs", required_argument, NULL, OPT_ROOTFS_FS },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "skip-guest-agent", no_argument, NULL, OPT_SKIP_GUEST_AGENT },
	{ "append", required_argument, NULL, OPT_APPEND },
	{ "no-boot", no_argument, NULL, OPT_NO_BOOT },
	{ "print-qemu", no_argument, NULL, OPT_PRINT_QEMU },
	{ "max-size", required_argument, NULL, OPT_MAX_SIZE },
	{ "max-entries", required_argument, NULL, OPT_MAX_ENTRIES },
	{ "max-json", required_argument, NULL, OPT_MAX_JSON },
	{ "timings", no_argument, NULL, OPT_TIMINGS },
	{ "interactive", no_argument, NULL, 'i' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int opt_env(struct hr_opts *o, const char *kv)
{
	const char *eq = strchr(kv, '=');

	if (!eq)
		return usage_error("--env '%s': want KEY=VALUE", kv);
	if (eq == kv)
		return usage_error("--env '%s': empty variable name", kv);
	if (!hm_utf8_valid(kv))
		return usage_error("--env: '%.*s' is not valid UTF-8", (int)(eq - kv), kv);
	hr_strv_push(&o->env, kv);
	return -1;
}

/* contract: config.json, volume_mounts: --volume DISK:PATH[:MODE], PATH
 * by the contract's rule, DISK a file or block device. */
static int opt_volume(struct hr_opts *o, const char *spec)
{
	const char *colon = strchr(spec, ':'), *last, *bad = NULL;
	struct hm_volume v = { 0 };
	struct stat st;
	char *disk, why[256] = "";
	size_t n;

	if (!colon || colon == spec || !colon[1] || colon[1] == ':')
		return usage_error("--volume '%s': %s (want DISK:PATH[:ro|:rw|:overlay])", spec,
			colon == spec ? "no disk file" : "no mount path");
	last = strrchr(colon + 1, ':');
	if (last && strcmp(last + 1, "ro") && strcmp(last + 1, "rw") && strcmp(last + 1, "overlay"))
		return usage_error("--volume '%s': unknown mode '%s' (want ro, rw or overlay)", spec,
			last + 1);
	if (last == colon + 1)
		return usage_error("--volume '%s': no mount path (want DISK:PATH[:ro|:rw|:overlay])",
			spec);
	v.path = last ? hr_strndup(colon + 1, last - colon - 1) : hr_strdup(colon + 1);
	v.mode = hr_strdup(last ? last + 1 : "rw");
	disk = hr_strndup(spec, colon - spec);
	if (!hm_volume_path_valid(v.path, &bad))
		snprintf(why, sizeof(why), "--volume '%s': refusing the mount path '%s': %s", spec,
			v.path, bad);
	else if (!hm_utf8_valid(v.path))
		snprintf(why, sizeof(why), "--volume: the mount path is not valid UTF-8");
	else if (stat(disk, &st))
		snprintf(why, sizeof(why), "--volume '%s': disk %s: %s", spec, disk, strerror(errno));
	else if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		snprintf(why, sizeof(why), "--volume '%s': disk %s is not a file or block device",
			spec, disk);
	n = (size_t)o->config.n_volumes;
	o->config.volumes = hr_realloc(o->config.volumes, (n + 1) * sizeof(v));
	o->volume_disks = hr_realloc(o->volume_disks, (n + 1) * sizeof(char *));
	o->config.volumes[n] = v;
	o->volume_disks[n] = disk;
	o->config.n_volumes++;
	return why[0] ? usage_error("%s", why) : -1;
}

static int opt_gpu(struct hr_opts *o, const char *arg)
{
	char addr[HR_PCI_ADDR_LEN];
	size_t i;

	if (!hr_vfio_address(arg, addr))
		return usage_error("--gpu '%s': want a PCI address DDDD:BB:DD.F or BB:DD.F "
			"(hex, as lspci -D shows it)", arg);
	for (i = 0; i < o->gpus.n; i++)
		if (!strcmp(o->gpus.v[i], addr))
			return usage_error("--gpu %s given twice", addr);
	hr_strv_push(&o->gpus, addr);
	o->config.has_gpu = true;
	return -1;
}

static int opt_size(const char *name, const char *arg, uint64_t *out)
{
	if (!hr_parse_size(arg, out) || *out == 0)
		return usage_error("--%s '%s': want a size such as 512M or 8G", name, arg);
	return -1;
}

/* One option; -1 to go on, else the exit status. */
/* The options that name one of a few choices. */
static int opt_choice(struct hr_opts *o, int c, const char *arg)
{
	switch (c) {
	case OPT_ARCH:
		if (!(o->target = hr_target_named(arg)))
			return usage_error("unknown --arch '%s' (want x86_64 or aarch64)", arg);
		return -1;
	case OPT_MACHINE:
		if (!(o->machine = hr_machine_named(arg)))
			return usage_error("unknown --machine '%s' (want q35, virt, microvm or "
				"firecracker)", arg);
		return -1;
	case OPT_INIT_MODE:
		if (strcmp(arg, "auto") && strcmp(arg, "exec") && strcmp(arg, "systemd"))
			return usage_error("unknown --init-mode '%s' (want auto, exec or systemd)", arg);
		free(o->config.init_mode);
		o->config.init_mode = hr_strdup(arg);
		return -1;
	}
	/* OPT_ROOTFS_FS */
	if (strcmp(arg, "erofs") && strcmp(arg, "ext4"))
		return usage_error("unknown --rootfs-fs '%s' (want erofs or ext4)", arg);
	o->rootfs_fs = arg;
	return -1;
}

static int option(struct hr_opts *o, int c, const char *arg, char **argv)
{
	unsigned n;

	switch (c) {
	case OPT_ARCH: case OPT_MACHINE: case OPT_INIT_MODE: case OPT_ROOTFS_FS:
		return opt_choice(o, c, arg);
	case 'e': return opt_env(o, arg);
	case 'v': return opt_volume(o, arg);
	case OPT_NETWORK: o->config.network_enabled = true; return -1;
	case OPT_GPU: return opt_gpu(o, arg);
	case OPT_KERNEL: o->kernel = arg; return -1;
	case OPT_INITRD: o->initrd = arg; return -1;
	case OPT_KEEP: o->keep = arg; return -1;
	case OPT_LOG: o->log = arg; return -1;
	case OPT_MEMORY:
		return parse_uint(arg, 64, 1 << 20, &o->memory) ? -1
			: usage_error("--memory '%s': want MiB, 64 or more", arg);
	case OPT_CPUS:
		return parse_uint(arg, 1, 255, &o->cpus) ? -1 : usage_error("--cpus '%s': want 1..255", arg);
	case OPT_TIMEOUT:
		return parse_uint(arg, 1, 1000000, &o->timeout) ? -1
			: usage_error("--timeout '%s': want seconds (1 or more)", arg);
	case OPT_MAX_SIZE: return opt_size("max-size", arg, &o->limits.max_size);
	case OPT_MAX_JSON: return opt_size("max-json", arg, &o->limits.max_json);
	case OPT_MAX_ENTRIES:
		if (!parse_uint(arg, 1, 4000000000U, &n))
			return usage_error("--max-entries '%s': want a count, 1 or more", arg);
		o->limits.max_entries = n;
		return -1;
	case OPT_TIMINGS: o->timings = true; return -1;
	case OPT_SKIP_GUEST_AGENT: o->config.skip_guest_agent = true; return -1;
	case OPT_APPEND: o->append = arg; return -1;
	case OPT_NO_BOOT: o->no_boot = true; return -1;
	case OPT_PRINT_QEMU: o->print_qemu = true; return -1;
	case 'i': o->interactive = true; return -1;
	case 'q': hr_tool.quiet = true; return -1;
	case 'h': fputs(usage_text, stdout); return 0;
	case ':': return usage_error("option '%s' needs a value", argv[optind - 1]);
	}
	if (optopt)
		return usage_error("unknown option '-%c'", optopt);
	return usage_error("unknown option '%s'", argv[optind - 1]);
}

/* The guest architecture: the machine's own, or another one under TCG. */
static int check_target(const struct hr_opts *o)
{
	const struct hr_target *host = hr_target_host();
	const char *accel = getenv("HYPEMAN_ACCEL");
	struct utsname u;

	if (!o->target) {
		uname(&u);
		return usage_error("this machine is %s: give the guest's --arch (x86_64 or aarch64)",
			u.machine);
	}
	if (o->target != host && accel && accel[0] && strcmp(accel, "tcg"))
		return usage_error("HYPEMAN_ACCEL=%s runs only %s guests here; an %s guest (--arch) "
			"needs TCG, the default", accel, host ? host->name : "this machine's",
			o->target->name);
	if (o->machine && strcmp(o->machine->arch, o->target->name))
		return usage_error("--machine %s is for %s guests, not %s", o->machine->name,
			o->machine->arch, o->target->name);
	if (o->machine && o->machine->mmio && o->gpus.n)
		return usage_error("--gpu needs PCI, which --machine %s has not", o->machine->name);
	return -1;
}

/* -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct hr_opts *o)
{
	int c, r;

	o->target = hr_target_host();
	o->config.guest_cidr = -1;
	o->memory = 1024;
	o->cpus = 1;
	o->limits = (struct hr_limits){ HR_DEFAULT_MAX_SIZE, HR_DEFAULT_MAX_ENTRIES, HR_DEFAULT_MAX_JSON };
	opterr = 0;
	/* "+": options stop at IMAGE; the rest is the command. */
	while ((c = getopt_long(argc, argv, "+:e:v:iqh", longopts, NULL)) != -1)
		if ((r = option(o, c, optarg, argv)) >= 0)
			return r;
	if (o->no_boot && o->print_qemu)
		return usage_error("--no-boot and --print-qemu: give one (--print-qemu needs the "
			"kernel and initrd, --no-boot does not look for them)");
	if (optind >= argc)
		return usage_error("no IMAGE given");
	o->image = argv[optind++];
	o->command = optind < argc ? argv + optind : NULL;
	if (o->config.network_enabled) {	/* QEMU user networking's fixed addresses */
		o->config.guest_ip = hr_strdup("10.0.2.15");
		o->config.guest_cidr = 24;
		o->config.guest_gw = hr_strdup("10.0.2.2");
		o->config.guest_dns = hr_strdup("10.0.2.3");
	}
	if ((r = check_target(o)) >= 0)
		return r;
	if (!o->machine)
		o->machine = hr_machine_of(o->target);
	return -1;
}

/* Programs (mke2fs, mkfs.erofs, QEMU) are found in PATH's absolute
 * directories only: an entry like "." would run files from the cwd. */
static void absolute_path_only(void)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL, *clean;
	size_t n = 0;

	if (!path || !path[0]) {
		setenv("PATH", HR_PROC_DEFAULT_PATH, 1);
		return;
	}
	copy = hr_strdup(path);
	clean = hr_calloc(strlen(path) + 1, 1);
	for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save))
		if (dir[0] == '/')
			n += sprintf(clean + n, "%s%s", n ? ":" : "", dir);
	setenv("PATH", n ? clean : "/usr/sbin:/usr/bin:/sbin:/bin", 1);
	free(copy);
	free(clean);
}

static void opts_free(struct hr_opts *o)
{
	size_t i;

	for (i = 0; i < (size_t)o->config.n_volumes; i++)
		free(o->volume_disks[i]);
	free(o->volume_disks);
	hm_config_free(&o->config);
	hr_strv_free(&o->env);
	hr_strv_free(&o->gpus);
}

int main(int argc, char **argv)
{
	struct hr_opts o;
	struct rlimit rl;
	int status;

	memset(&o, 0, sizeof(o));
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(usage_text, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "run")) {
		fprintf(stderr, "hypeman: unknown command '%s' (the command is: hypeman run)\n", argv[1]);
		return 2;
	}
	status = parse_args(argc - 1, argv + 1, &o);
	if (status >= 0) {
		opts_free(&o);
		return status;
	}
	/* Image names are bytes; UTF-8 ones pass libarchive unchanged. */
	setlocale(LC_CTYPE, "C.UTF-8");
	umask(022);
	absolute_path_only();
	/* Deep image trees are walked with one descriptor per level. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	hr_tool_signals();
	status = hr_run(&o);
	opts_free(&o);
	return status;
}
