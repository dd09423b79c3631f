/*
 * hypeman run: boot an OCI image in a QEMU microVM with hypeman-init.
 *
 *   hypeman run [OPTIONS] IMAGE[:TAG] [COMMAND [ARG...]]
 *
 * The command line, the order of the steps, and the work directory.
 * Exit status: the program's (exec mode), 0 when the VM powers off
 * (systemd mode), 2 for usage errors, 1 for any other error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "detect.h"
#include "hypeman.h"

#define OVERLAY_SIZE GiB	/* sparse; holds the writable layer */
#define CONFIG_DISK_SIZE (16 * MiB)
#define KERNEL_CACHE_GLOB "/var/cache/hypeman-init/kernel/*/boot/vmlinuz-*"

static const char usage_text[] =
"usage: hypeman run [OPTIONS] IMAGE [COMMAND [ARG...]]\n"
"\n"
"Boot the OCI image layout IMAGE (a directory, optionally DIR:TAG) in a QEMU\n"
"microVM with hypeman-init as PID 1. COMMAND replaces the image's Cmd.\n"
"\n"
"  --init-mode=MODE        auto (default: detect from the command), exec, systemd\n"
"  -e, --env K=V           set an environment variable (repeatable; wins over the image)\n"
"  -v, --volume DISK:PATH[:ro|:rw|:overlay]\n"
"                          attach the disk image DISK (ext4) at PATH (repeatable)\n"
"  --network               QEMU user networking (restrict=on), guest 10.0.2.15/24\n"
"  --kernel FILE           kernel (default: $HYPEMAN_KERNEL, else the cached Debian kernel)\n"
"  --initrd FILE           initrd with hypeman-init (default: $HYPEMAN_INITRD, else\n"
"                          initrd next to this binary, else ./out/initrd)\n"
"  --keep DIR              make the disks in DIR and keep them (default: a temporary\n"
"                          directory under $TMPDIR or /var/tmp, removed at the end)\n"
"  --rootfs-fs=FS          erofs (default when mkfs.erofs exists) or ext4\n"
"  --memory MB             guest memory (default 1024)\n"
"  --cpus N                guest CPUs (default 1)\n"
"  --timeout SECONDS       stop the VM after SECONDS (exit 124 if it must be killed)\n"
"  --no-agent              do not start the guest agent (skip_guest_agent)\n"
"  --append ARGS           more kernel command line\n"
"  --no-boot               make the disks, then stop (with --keep: to inspect them)\n"
"  -i, --interactive       console input from the terminal, rescue shell on errors\n"
"                          (Ctrl-A x quits QEMU)\n"
"  -q, --quiet             no progress lines\n"
"  -h, --help              this text\n"
"\n"
"Environment: HYPEMAN_ACCEL (tcg, default, or kvm), HYPEMAN_QEMU (the QEMU binary).\n";

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

struct opts {
	const char *init_mode;
	struct strv env;
	struct strv volume_specs;
	bool network, interactive, no_agent, no_boot;
	const char *kernel, *initrd, *keep, *rootfs_fs, *append;
	unsigned memory, cpus, timeout;
	const char *image;
	char **command;		/* after IMAGE, or NULL */
};

/* "DISK:PATH[:MODE]" -> volume; a usage error message, or NULL. */
static const char *parse_volume(const char *spec, struct volume *v, char *why, size_t whylen)
{
	const char *colon = strchr(spec, ':'), *path, *last;
	char *rest;
	struct stat st;
	size_t plen;

	memset(v, 0, sizeof(*v));
	if (!colon || colon == spec || !colon[1] || colon[1] == ':') {
		snprintf(why, whylen, "--volume '%s': %s (want DISK:PATH[:ro|:rw|:overlay])",
			spec, colon == spec ? "no disk file" : "no mount path");
		return why;
	}
	v->disk = strndup(spec, colon - spec);
	path = colon + 1;
	last = strrchr(path, ':');
	if (last && (!strcmp(last + 1, "ro") || !strcmp(last + 1, "rw") || !strcmp(last + 1, "overlay"))) {
		plen = last - path;
		v->mode = xstrdup(last + 1);
	} else if (last) {
		snprintf(why, whylen, "--volume '%s': unknown mode '%s' (want ro, rw or overlay)",
			spec, last + 1);
		return why;
	} else {
		plen = strlen(path);
		v->mode = xstrdup("rw");
	}
	if (plen == 0) {
		snprintf(why, whylen, "--volume '%s': no mount path (want DISK:PATH[:ro|:rw|:overlay])",
			spec);
		return why;
	}
	v->path = strndup(path, plen);
	rest = v->path;
	/* SPEC: absolute, no "..", not "/". */
	if (rest[0] != '/') {
		snprintf(why, whylen, "--volume '%s': the mount path '%s' is not absolute", spec, rest);
		return why;
	}
	{
		char *copy = xstrdup(rest), *tok, *save = NULL;
		bool dotdot = false, any = false;

		for (tok = strtok_r(copy, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
			if (!strcmp(tok, ".."))
				dotdot = true;
			if (strcmp(tok, "."))
				any = true;
		}
		free(copy);
		if (dotdot || !any) {
			snprintf(why, whylen, "--volume '%s': the mount path may not %s", spec,
				dotdot ? "contain \"..\"" : "be \"/\"");
			return why;
		}
	}
	if (!utf8_valid(v->path)) {
		snprintf(why, whylen, "--volume: the mount path is not valid UTF-8");
		return why;
	}
	if (stat(v->disk, &st)) {
		snprintf(why, whylen, "--volume '%s': disk %s: %s", spec, v->disk, strerror(errno));
		return why;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		snprintf(why, whylen, "--volume '%s': disk %s is not a file or block device",
			spec, v->disk);
		return why;
	}
	return NULL;
}

static void free_volume(struct volume *v)
{
	free(v->disk);
	free(v->path);
	free(v->mode);
	free(v->overlay_img);
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

/* Returns -1 on success (continue), else the exit status. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	enum { OPT_INIT_MODE = 256, OPT_NETWORK, OPT_KERNEL, OPT_INITRD, OPT_KEEP, OPT_ROOTFS_FS,
		OPT_MEMORY, OPT_CPUS, OPT_TIMEOUT, OPT_NO_AGENT, OPT_APPEND, OPT_NO_BOOT };
	static const struct option longopts[] = {
		{ "init-mode", required_argument, NULL, OPT_INIT_MODE },
		{ "env", required_argument, NULL, 'e' },
		{ "volume", required_argument, NULL, 'v' },
		{ "network", no_argument, NULL, OPT_NETWORK },
		{ "kernel", required_argument, NULL, OPT_KERNEL },
		{ "initrd", required_argument, NULL, OPT_INITRD },
		{ "keep", required_argument, NULL, OPT_KEEP },
		{ "rootfs-fs", required_argument, NULL, OPT_ROOTFS_FS },
		{ "memory", required_argument, NULL, OPT_MEMORY },
		{ "cpus", required_argument, NULL, OPT_CPUS },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "no-agent", no_argument, NULL, OPT_NO_AGENT },
		{ "append", required_argument, NULL, OPT_APPEND },
		{ "no-boot", no_argument, NULL, OPT_NO_BOOT },
		{ "interactive", no_argument, NULL, 'i' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->memory = 1024;
	o->cpus = 1;
	opterr = 0;
	/* "+": options stop at IMAGE; the rest is the command. */
	while ((c = getopt_long(argc, argv, "+:e:v:iqh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_INIT_MODE:
			if (strcmp(optarg, "auto") && strcmp(optarg, "exec") && strcmp(optarg, "systemd"))
				return usage_error("unknown --init-mode '%s' (want auto, exec or systemd)",
					optarg);
			o->init_mode = optarg;
			break;
		case 'e': {
			const char *eq = strchr(optarg, '=');

			if (!eq)
				return usage_error("--env '%s': want KEY=VALUE", optarg);
			if (eq == optarg)
				return usage_error("--env '%s': empty variable name", optarg);
			if (!utf8_valid(optarg))
				return usage_error("--env: '%.*s' is not valid UTF-8",
					(int)(eq - optarg), optarg);
			strv_push(&o->env, optarg);
			break;
		}
		case 'v':
			strv_push(&o->volume_specs, optarg);
			break;
		case OPT_NETWORK: o->network = true; break;
		case OPT_KERNEL: o->kernel = optarg; break;
		case OPT_INITRD: o->initrd = optarg; break;
		case OPT_KEEP: o->keep = optarg; break;
		case OPT_ROOTFS_FS:
			if (strcmp(optarg, "erofs") && strcmp(optarg, "ext4"))
				return usage_error("unknown --rootfs-fs '%s' (want erofs or ext4)", optarg);
			o->rootfs_fs = optarg;
			break;
		case OPT_MEMORY:
			if (!parse_uint(optarg, 64, 1 << 20, &o->memory))
				return usage_error("--memory '%s': want MiB, 64 or more", optarg);
			break;
		case OPT_CPUS:
			if (!parse_uint(optarg, 1, 255, &o->cpus))
				return usage_error("--cpus '%s': want 1..255", optarg);
			break;
		case OPT_TIMEOUT:
			if (!parse_uint(optarg, 1, 1000000, &o->timeout))
				return usage_error("--timeout '%s': want seconds (1 or more)", optarg);
			break;
		case OPT_NO_AGENT: o->no_agent = true; break;
		case OPT_APPEND: o->append = optarg; break;
		case OPT_NO_BOOT: o->no_boot = true; break;
		case 'i': o->interactive = true; break;
		case 'q': hm_quiet = true; break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case ':':
			return usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			if (optopt)
				return usage_error("unknown option '-%c'", optopt);
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error("no IMAGE given");
	o->image = argv[optind++];
	o->command = optind < argc ? argv + optind : NULL;
	return -1;
}

/* The default kernel: $HYPEMAN_KERNEL, tests/lib/kernel.py of the repo
 * (next to this binary's out/, or under the current directory), or the
 * newest cached Debian kernel. */
static char *find_kernel(void)
{
	const char *env = getenv("HYPEMAN_KERNEL");
	char *dir = self_dir(), *cands[2], *found = NULL;
	glob_t g;
	size_t i;

	if (env && env[0]) {
		free(dir);
		return xstrdup(env);
	}
	cands[0] = xasprintf("%s/../tests/lib/kernel.py", dir);
	cands[1] = xstrdup("tests/lib/kernel.py");
	for (i = 0; i < 2 && !found; i++) {
		if (access(cands[i], R_OK) == 0) {
			char tmpl[] = "/tmp/hypeman-kernel.XXXXXX";
			int fd = mkostemp(tmpl, O_CLOEXEC);
			char *argv[] = { "/usr/bin/python3", cands[i], "--field", "vmlinuz", NULL };
			char *text = NULL;

			if (fd < 0)
				continue;
			unlink(tmpl);
			if (run_cmd(argv, -1, fd, &text) == 0) {
				char path[PATH_MAX];
				ssize_t n = pread(fd, path, sizeof(path) - 1, 0);

				if (n > 0) {
					path[n] = 0;
					path[strcspn(path, "\n")] = 0;
					if (path[0] && access(path, R_OK) == 0)
						found = xstrdup(path);
				}
			}
			free(text);
			close(fd);
		}
	}
	free(cands[0]);
	free(cands[1]);
	free(dir);
	if (!found && glob(KERNEL_CACHE_GLOB, 0, NULL, &g) == 0) {
		if (g.gl_pathc)
			found = xstrdup(g.gl_pathv[g.gl_pathc - 1]);
		globfree(&g);
	}
	return found;
}

/* The default initrd: $HYPEMAN_INITRD, initrd next to this binary
 * (out/hypeman and out/initrd), or ./out/initrd. */
static char *find_initrd(void)
{
	const char *env = getenv("HYPEMAN_INITRD");
	char *dir, *p;

	if (env && env[0])
		return xstrdup(env);
	dir = self_dir();
	p = xasprintf("%s/initrd", dir);
	free(dir);
	if (access(p, R_OK) == 0)
		return p;
	free(p);
	if (access("out/initrd", R_OK) == 0)
		return realpath("out/initrd", NULL);
	return NULL;
}

/* "DIR" or "DIR:TAG": an existing directory is taken whole. */
static void split_image(const char *arg, char **dir, char **tag)
{
	struct stat st;
	const char *colon = strrchr(arg, ':');

	if (stat(arg, &st) == 0 || !colon || strchr(colon, '/') || !colon[1]) {
		*dir = xstrdup(arg);
		*tag = NULL;
		if (colon && !colon[1])
			(*dir)[colon - arg] = 0;
		return;
	}
	*dir = strndup(arg, colon - arg);
	*tag = xstrdup(colon + 1);
}

static int run(struct opts *o)
{
	struct image img;
	struct run_config rc;
	struct volume *vols = NULL;
	struct disk *disks = NULL;
	struct boot boot;
	char *dir = NULL, *tag = NULL, *kernel = NULL, *initrd = NULL, *work = NULL;
	char *rootfs = NULL, *scratch = NULL, *cfgdir = NULL, *json = NULL, *sockdir = NULL;
	char *rootfs_img = NULL, *overlay_img = NULL, *config_img = NULL, why[512], sz[32];
	const char *fs_used;
	enum hm_mode mode;
	bool made_work = false, made_sockdir = false, booted = false;
	size_t i, nvol = o->volume_specs.n;
	int status = 1;
	double t;

	memset(&img, 0, sizeof(img));
	memset(&rc, 0, sizeof(rc));
	memset(&boot, 0, sizeof(boot));
	/* Everything the command line names is checked before any work. */
	vols = xmalloc((nvol ? nvol : 1) * sizeof(*vols));
	memset(vols, 0, (nvol ? nvol : 1) * sizeof(*vols));
	for (i = 0; i < nvol; i++)
		if (parse_volume(o->volume_specs.v[i], &vols[i], why, sizeof(why))) {
			status = usage_error("%s", why);
			goto out;
		}
	if (!o->no_boot) {
		kernel = o->kernel ? xstrdup(o->kernel) : find_kernel();
		if (!kernel || access(kernel, R_OK)) {
			status = usage_error("%s: %s", kernel ? kernel : "kernel",
				kernel ? strerror(errno) : "none found: pass --kernel or set HYPEMAN_KERNEL");
			goto out;
		}
		initrd = o->initrd ? xstrdup(o->initrd) : find_initrd();
		if (!initrd || access(initrd, R_OK)) {
			status = usage_error("%s: %s", initrd ? initrd : "initrd",
				initrd ? strerror(errno)
				: "none found: pass --initrd or set HYPEMAN_INITRD (build it with ./build.sh)");
			goto out;
		}
	}
	if (geteuid() != 0) {
		msg("hypeman run must run as root (image layers are extracted with their owners)");
		goto out;
	}

	/* 1. The image: every blob checked before any disk is made. */
	split_image(o->image, &dir, &tag);
	t = now_s();
	progress("reading image %s%s%s", dir, tag ? ":" : "", tag ? tag : "");
	if (oci_load(dir, tag, &img))
		goto out;
	progress("verified %u blobs (%s) in %.1f s", img.n_blobs,
		human_size(img.blob_bytes, sz), now_s() - t);

	/* 2. The run configuration. */
	rc.entrypoint = strv_array(&img.entrypoint);
	rc.cmd = o->command ? o->command : strv_array(&img.cmd);
	rc.workdir = img.workdir;
	for (i = 0; i < img.env.n; i++) {
		char *kv = xstrdup(img.env.v[i]), *eq = strchr(kv, '=');

		if (eq)
			*eq = 0;
		env_set(&rc, kv, eq ? eq + 1 : "");
		free(kv);
	}
	for (i = 0; i < o->env.n; i++) {
		char *kv = xstrdup(o->env.v[i]), *eq = strchr(kv, '=');

		*eq = 0;
		env_set(&rc, kv, eq + 1);
		free(kv);
	}
	if (hm_resolve_mode(o->init_mode, rc.entrypoint, rc.cmd, &mode)) {
		status = usage_error("unknown --init-mode '%s'", o->init_mode);
		goto out;
	}
	rc.init_mode = hm_mode_name(mode);
	rc.network = o->network;
	rc.skip_guest_agent = o->no_agent;
	rc.volumes = vols;
	rc.n_volumes = nvol;

	/* 3. The work directory. */
	if (o->keep) {
		work = realpath(o->keep, NULL);
		if (!work && errno == ENOENT && mkdir(o->keep, 0700) == 0)
			work = realpath(o->keep, NULL);
		if (!work) {
			msg("--keep %s: %s", o->keep, strerror(errno));
			goto out;
		}
	} else {
		const char *tmp = getenv("TMPDIR");

		work = xasprintf("%s/hypeman-run.XXXXXX", tmp && tmp[0] ? tmp : "/var/tmp");
		if (!mkdtemp(work)) {
			msg("cannot make a work directory %s: %s", work, strerror(errno));
			goto out;
		}
		made_work = true;
	}
	rootfs = xasprintf("%s/rootfs", work);
	scratch = xasprintf("%s/scratch", work);
	cfgdir = xasprintf("%s/config", work);
	rootfs_img = xasprintf("%s/rootfs.img", work);
	overlay_img = xasprintf("%s/overlay.img", work);
	config_img = xasprintf("%s/config.img", work);
	remove_tree(rootfs);
	remove_tree(scratch);
	remove_tree(cfgdir);
	if (mkdir(rootfs, 0755) || chmod(rootfs, 0755) || mkdir(scratch, 0700) || mkdir(cfgdir, 0755)) {
		msg("%s: %s", work, strerror(errno));
		goto out;
	}

	/* 4. The rootfs tree and its disk. */
	if (apply_layers(&img, rootfs, scratch) || hm_interrupted)
		goto out;
	t = now_s();
	{
		uint64_t entries, bytes;

		tree_usage(rootfs, &entries, &bytes);
		progress("making rootfs disk (%s of files, %llu entries) ...",
			human_size(bytes, sz), (unsigned long long)entries);
	}
	if (make_rootfs_disk(rootfs, rootfs_img, o->rootfs_fs, &fs_used) || hm_interrupted)
		goto out;
	{
		struct stat st;

		stat(rootfs_img, &st);
		progress("made rootfs disk %s (%s, %s) in %.1f s", rootfs_img, fs_used,
			human_size((uint64_t)st.st_size, sz), now_s() - t);
	}
	if (!o->keep)
		remove_tree(rootfs);	/* the disk has it now; free the space early */

	/* 5. Overlay, volume and config disks. */
	t = now_s();
	if (make_empty_ext4(overlay_img, OVERLAY_SIZE, "overlay"))
		goto out;
	disks = xmalloc((3 + 2 * nvol) * sizeof(*disks));
	disks[0] = (struct disk){ rootfs_img, true };
	disks[1] = (struct disk){ overlay_img, false };
	disks[2] = (struct disk){ config_img, false };
	{
		size_t nd = 3;

		for (i = 0; i < nvol; i++) {
			struct volume *v = &vols[i];

			if (nd >= 26) {
				msg("too many volumes (the devices end at /dev/vdz)");
				goto out;
			}
			snprintf(v->device, sizeof(v->device), "/dev/vd%c", 'a' + (int)nd);
			disks[nd++] = (struct disk){ v->disk, strcmp(v->mode, "rw") != 0 };
			if (!strcmp(v->mode, "overlay")) {
				if (nd >= 26) {
					msg("too many volumes (the devices end at /dev/vdz)");
					goto out;
				}
				v->overlay_img = xasprintf("%s/volume%zu-overlay.img", work, i + 1);
				if (make_empty_ext4(v->overlay_img, OVERLAY_SIZE, "voloverlay"))
					goto out;
				snprintf(v->overlay_device, sizeof(v->overlay_device), "/dev/vd%c",
					'a' + (int)nd);
				disks[nd++] = (struct disk){ v->overlay_img, false };
			}
		}
		boot.n_disks = nd;
	}
	json = config_json(&rc);
	{
		char *p = xasprintf("%s/config.json", cfgdir);
		FILE *f = fopen(p, "w");

		if (!f || fputs(json, f) < 0 || fclose(f)) {
			msg("%s: %s", p, strerror(errno));
			free(p);
			goto out;
		}
		free(p);
	}
	if (make_ext4_from_dir(config_img, cfgdir, CONFIG_DISK_SIZE, "config"))
		goto out;
	progress("made overlay and config disks in %.1f s (init_mode %s)", now_s() - t,
		rc.init_mode);
	if (hm_interrupted)
		goto out;

	if (o->no_boot) {
		progress("--no-boot: not booting%s%s", o->keep ? "; the disks are in " : "",
			o->keep ? work : "");
		status = 0;
		goto out;
	}

	/* 6. Boot. Unix sockets need a short path. */
	if (strlen(work) < 80) {
		sockdir = xstrdup(work);
	} else {
		sockdir = xstrdup("/tmp/hypeman-sock.XXXXXX");
		if (!mkdtemp(sockdir)) {
			msg("cannot make a socket directory: %s", strerror(errno));
			goto out;
		}
		made_sockdir = true;
	}
	boot.kernel = kernel;
	boot.initrd = initrd;
	boot.append_extra = o->append;
	boot.disks = disks;
	boot.network = o->network;
	boot.interactive = o->interactive;
	boot.systemd = mode == HM_MODE_SYSTEMD;
	boot.mem_mb = o->memory;
	boot.cpus = o->cpus;
	boot.timeout_s = o->timeout;
	boot.sockdir = sockdir;
	boot.agent_port = !o->no_agent;
	booted = true;
	status = qemu_run(&boot);
	if (o->keep)
		progress("kept the disks in %s", work);
out:
	if (hm_interrupted && !booted) {
		msg("interrupted");
		status = 128 + hm_interrupted;
	}
	if (made_work && work)
		remove_tree(work);
	else if (work && scratch)
		remove_tree(scratch);
	if (made_sockdir)
		remove_tree(sockdir);
	oci_free(&img);
	strv_free(&rc.env_keys);
	strv_free(&rc.env_values);
	for (i = 0; i < nvol; i++)
		free_volume(&vols[i]);
	free(vols);
	free(disks);
	free(dir);
	free(tag);
	free(kernel);
	free(initrd);
	free(work);
	free(rootfs);
	free(scratch);
	free(cfgdir);
	free(json);
	free(sockdir);
	free(rootfs_img);
	free(overlay_img);
	free(config_img);
	return status;
}

int main(int argc, char **argv)
{
	struct opts o;
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
	if (status >= 0)
		return status;
	/* Deep image trees are walked with one descriptor per level. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	install_signal_handlers();
	status = run(&o);
	strv_free(&o.env);
	strv_free(&o.volume_specs);
	return status;
}
