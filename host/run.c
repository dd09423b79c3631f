/*
 * hypeman run: the steps, in the order README.md gives them. hr_run()
 * reads like boot() in applets/hypeman_init.c: one call per step.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "config.h"
#include "detect.h"
#include "layout.h"
#include "mkfs.h"
#include "oci.h"
#include "qemu.h"
#include "run.h"
#include "source.h"
#include "target.h"
#include "tool.h"
#include "vfio.h"

#define OVERLAY_SIZE GiB		/* sparse; holds the writable layer */
#define CONFIG_DISK_SIZE (16 * MiB)

struct run {
	struct hr_opts *o;
	struct hr_boot_files bf;
	struct hr_layout layout;
	struct hr_image img;
	struct hm_config *cfg;		/* o->config, completed by make_config */
	enum hm_mode mode;
	/* the volumes' devices, and their upper disks (overlay mode) */
	char (*vol_dev)[HM_DEV_NAME_MAX], (*vol_upper_dev)[HM_DEV_NAME_MAX];
	char **vol_upper;
	struct hr_disk disks[HM_DEV_MAX];
	size_t ndisks;
	char *work, *rootfs, *cfgdir, *rootfs_img, *overlay_img, *config_img, *sockdir;
	char *log;			/* the run's log: --log, or init.log in work */
	bool made_work, made_sockdir;
	double host_s[HR_HOST_STEPS];	/* image, layers, rootfs disk, other disks */
};

/* ---- before any work ---------------------------------------------------- */

/* --gpu: each device bound to vfio-pci, when it is to be booted. */
static int check_gpus(const struct run *r)
{
	size_t i;
	int rc;

	if (r->o->no_boot)
		return 0;
	for (i = 0; i < r->o->gpus.n; i++)
		if ((rc = hr_vfio_check(r->o->gpus.v[i])))
			return rc;
	if (r->o->gpus.n && !r->bf.initrd_has_gpu)
		hr_msg("warning: --gpu, but %s has no GPU driver bundle (build.sh --gpu-driver): the "
			"init will log an ERROR and the image must bring its own driver", r->bf.initrd);
	return 0;
}

/* The kernel and initrd, the GPUs, root: all checked before any work
 * (main.c has checked the options). */
static int check_inputs(struct run *r)
{
	size_t n = (size_t)r->o->config.n_volumes;
	int rc;

	r->vol_dev = hr_calloc(n, sizeof(*r->vol_dev));
	r->vol_upper_dev = hr_calloc(n, sizeof(*r->vol_upper_dev));
	r->vol_upper = hr_calloc(n, sizeof(*r->vol_upper));
	if (!r->o->no_boot
	 && (rc = hr_target_boot_files(r->o->target, r->o->machine, r->o->kernel, r->o->initrd,
			&r->bf)))
		return rc;
	if ((rc = check_gpus(r)))
		return rc;
	if (geteuid() != 0) {
		hr_msg("hypeman run must run as root (image layers are extracted with their owners)");
		return 1;
	}
	return 0;
}

/* ---- 1. the image -------------------------------------------------------- */

static int read_image(struct run *r)
{
	struct hr_source src;
	double t = hr_now_s();
	int rc;

	if (hr_source_find(r->o->image, &src))
		return 1;
	hr_progress("reading image %s%s%s", src.path, src.tag ? ":" : "", src.tag ? src.tag : "");
	rc = hr_layout_open(&r->layout, src.path, r->o->limits.max_entries)
		|| hr_oci_load(&r->layout, src.tag, r->o->target, r->o->limits.max_json, &r->img);
	hr_source_free(&src);
	if (rc)
		return 1;
	r->host_s[0] = hr_now_s() - t;
	return 0;
}

/* ---- the work directory ------------------------------------------------ */

/* --keep DIR: ours (0700, root's). Other users must not reach the image's
 * set-id files and device nodes in DIR/rootfs. */
static int keep_dir(struct run *r)
{
	const char *k = r->o->keep;
	struct stat st;

	if (mkdir(k, 0700) && errno != EEXIST) {
		hr_msg("--keep %s: %s", k, strerror(errno));
		return 1;
	}
	r->work = realpath(k, NULL);
	if (!r->work || stat(r->work, &st) || !S_ISDIR(st.st_mode)) {
		hr_msg("--keep %s: %s", k, r->work ? "not a directory" : strerror(errno));
		return 1;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 022)) {
		hr_msg("--keep %s: %s: refusing it (other users could change what is built there); "
			"use a new directory", k, st.st_uid != geteuid() ? "owned by another user"
			: "writable by other users");
		return 2;
	}
	if ((st.st_mode & 077) && chmod(r->work, 0700) == 0)
		hr_progress("--keep %s: made it 0700 (it will hold the image's set-id files and "
			"device nodes)", k);
	return 0;
}

static int temp_dir(struct run *r)
{
	const char *tmp = getenv("TMPDIR");

	r->work = hr_asprintf("%s/hypeman-run.XXXXXX", tmp && tmp[0] == '/' ? tmp : "/var/tmp");
	if (!mkdtemp(r->work)) {	/* 0700 */
		hr_msg("cannot make a work directory %s: %s", r->work, strerror(errno));
		return 1;
	}
	r->made_work = true;
	return 0;
}

static int make_work_dir(struct run *r)
{
	int rc = r->o->keep ? keep_dir(r) : temp_dir(r);

	if (rc)
		return rc;
	r->rootfs = hr_asprintf("%s/rootfs", r->work);
	r->cfgdir = hr_asprintf("%s/config", r->work);
	r->rootfs_img = hr_asprintf("%s/rootfs.img", r->work);
	r->overlay_img = hr_asprintf("%s/overlay.img", r->work);
	r->config_img = hr_asprintf("%s/config.img", r->work);
	hr_remove_tree(r->rootfs);
	hr_remove_tree(r->cfgdir);
	unlink(r->rootfs_img);
	if (mkdir(r->rootfs, 0700) || mkdir(r->cfgdir, 0700)) {
		hr_msg("%s: %s", r->work, strerror(errno));
		return 1;
	}
	/* from now on the host's notes (hr_note) go there, the init's lines
	 * after them (a log left by an earlier run in a kept DIR: replaced) */
	r->log = r->o->log ? hr_strdup(r->o->log) : hr_asprintf("%s/init.log", r->work);
	hr_tool.log_path = r->log;
	hr_tool.log_started = false;
	if (!r->o->log)
		unlink(r->log);
	return 0;
}

/* ---- 2, 3. the layers, 4. the rootfs disk ------------------------------------ */

static int unpack(struct run *r)
{
	double t = hr_now_s();

	if (hr_unpack_layers(&r->img, &r->layout, r->rootfs, &r->o->limits)) {
		hr_remove_tree(r->rootfs);	/* nothing unverified stays behind */
		return 1;
	}
	r->host_s[1] = hr_now_s() - t;
	return 0;
}

static int rootfs_disk(struct run *r)
{
	const char *fs;
	struct stat st;
	char sz[32];
	double t = hr_now_s();

	if (hr_mkfs_rootfs(r->rootfs, r->rootfs_img, r->o->rootfs_fs, &fs))
		return 1;
	stat(r->rootfs_img, &st);
	hr_progress("made the rootfs disk %s (%s, %s) in %.1f s", r->rootfs_img, fs,
		hr_human_size((uint64_t)st.st_size, sz), hr_now_s() - t);
	if (!r->o->keep)
		hr_remove_tree(r->rootfs);	/* the disk has it now; free the space early */
	r->disks[r->ndisks++] = (struct hr_disk){ r->rootfs_img, true };
	r->host_s[2] = hr_now_s() - t;
	return 0;
}

/* ---- 5. the other disks and config.json -------------------------------- */

static int add_disk(struct run *r, const char *path, bool readonly, char dev[HM_DEV_NAME_MAX])
{
	if (r->ndisks >= HM_DEV_MAX) {
		hr_msg("too many volumes (the devices end at /dev/vdz)");
		return 1;
	}
	if (dev)
		hm_dev_name(dev, (unsigned)r->ndisks);
	r->disks[r->ndisks++] = (struct hr_disk){ path, readonly };
	return 0;
}

static int other_disks(struct run *r)
{
	double t = hr_now_s();
	size_t i;

	if (hr_mkfs_empty(r->overlay_img, OVERLAY_SIZE, "overlay")
	 || add_disk(r, r->overlay_img, false, NULL) || add_disk(r, r->config_img, false, NULL))
		return 1;
	for (i = 0; i < (size_t)r->cfg->n_volumes; i++) {
		const char *mode = r->cfg->volumes[i].mode;

		if (add_disk(r, r->o->volume_disks[i], strcmp(mode, "rw") != 0, r->vol_dev[i]))
			return 1;
		if (strcmp(mode, "overlay"))
			continue;
		r->vol_upper[i] = hr_asprintf("%s/volume%zu-overlay.img", r->work, i + 1);
		if (hr_mkfs_empty(r->vol_upper[i], OVERLAY_SIZE, "voloverlay")
		 || add_disk(r, r->vol_upper[i], false, r->vol_upper_dev[i]))
			return 1;
	}
	r->host_s[3] = hr_now_s() - t;
	return 0;
}

/* A copy of the NULL-terminated V, and its length in *N. */
static char **strv_copy(char *const *v, int *n)
{
	char **c;

	for (*n = 0; v[*n]; (*n)++)
		continue;
	c = hr_calloc((size_t)*n + 1, sizeof(*c));
	for (int i = 0; i < *n; i++)
		c[i] = hr_strdup(v[i]);
	return c;
}

/* "K=V" into the env: a later value for a key replaces the earlier one
 * in its place (image env, then --env). */
static void env_set(struct hm_config *c, const char *kv)
{
	const char *eq = strchr(kv, '=');
	size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);
	int i;

	for (i = 0; i < c->n_env; i++)
		if (strlen(c->env[i].key) == klen && !strncmp(c->env[i].key, kv, klen))
			break;
	if (i == c->n_env) {
		c->env = hr_realloc(c->env, (size_t)(c->n_env + 1) * sizeof(*c->env));
		c->env[c->n_env++].key = hr_strndup(kv, klen);
	} else {
		free(c->env[i].value);
	}
	c->env[i].value = hr_strdup(eq ? eq + 1 : "");
}

/* config.json's content (contract: config.json): the options' (main.c),
 * the image's command, workdir and env, the disks' devices, the mode. */
static int make_config(struct run *r)
{
	const struct hr_ocidoc_config *img = &r->img.config;
	struct hm_config *c = r->cfg;
	const char *mode;
	size_t i;

	c->entrypoint = strv_copy(hr_strv_array(&img->entrypoint), &c->n_entrypoint);
	c->cmd = strv_copy(r->o->command ? r->o->command : hr_strv_array(&img->cmd), &c->n_cmd);
	c->workdir = hr_strdup(img->workdir && img->workdir[0] ? img->workdir : "/");
	for (i = 0; i < img->env.n; i++)
		env_set(c, img->env.v[i]);
	for (i = 0; i < r->o->env.n; i++)
		env_set(c, r->o->env.v[i]);
	for (i = 0; i < (size_t)c->n_volumes; i++) {
		c->volumes[i].device = hr_strdup(r->vol_dev[i]);
		if (r->vol_upper[i])
			c->volumes[i].overlay_device = hr_strdup(r->vol_upper_dev[i]);
	}
	/* the options were checked: an unknown --init-mode cannot get here */
	hm_resolve_mode(c->init_mode, c->entrypoint, c->cmd, &r->mode);
	mode = hm_mode_name(r->mode);
	free(c->init_mode);
	c->init_mode = hr_strdup(mode);
	return 0;
}

static int write_config(struct run *r)
{
	char *json, *path = hr_asprintf("%s/config.json", r->cfgdir), sz[32], err[160];
	size_t len = 0;
	double t = hr_now_s();
	int fd, rc = 1;

	json = hm_config_write(r->cfg, &len, err, sizeof(err));
	if (!json) {
		hr_msg("config.json: %s", err);
		goto out;
	}
	if (len > HM_CONFIG_MAX_BYTES) {
		hr_msg("config.json would be %s, over the 1 MiB the init accepts: the image's Env, "
			"--env or the command is too large", hr_human_size(len, sz));
		goto out;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 || hm_write_all(fd, json, len) || close(fd)) {
		hr_msg("%s: %s", path, strerror(errno));
		goto out;
	}
	if (hr_mkfs_from_dir(r->config_img, r->cfgdir, CONFIG_DISK_SIZE, "config"))
		goto out;
	hr_progress("made the overlay and config disks (init_mode %s)", r->cfg->init_mode);
	r->host_s[3] += hr_now_s() - t;
	rc = 0;
out:
	free(json);
	free(path);
	return rc;
}

/* ---- 6. boot --------------------------------------------------------------- */

static int boot_vm(struct run *r)
{
	struct hr_vm b = { 0 };
	const char *log = r->log;
	int status;

	if (r->o->no_boot) {
		hr_progress("--no-boot: not booting%s%s", r->o->keep ? "; the disks are in " : "",
			r->o->keep ? r->work : "");
		if (r->o->timings)
			hr_serial_host_timings(r->host_s);
		return 0;
	}
	/* Unix sockets need a short path. */
	r->sockdir = strlen(r->work) < 80 ? hr_strdup(r->work) : hr_strdup("/tmp/hypeman-sock.XXXXXX");
	if (strlen(r->work) >= 80 && !(r->made_sockdir = mkdtemp(r->sockdir) != NULL)) {
		hr_msg("cannot make a socket directory: %s", strerror(errno));
		return 1;
	}
	b = (struct hr_vm){ .target = r->o->target, .machine = r->o->machine, .kernel = r->bf.kernel, .initrd = r->bf.initrd,
		.append_extra = r->o->append, .disks = r->disks, .n_disks = r->ndisks,
		.network = r->cfg->network_enabled, .interactive = r->o->interactive,
		.systemd = r->mode == HM_MODE_SYSTEMD, .timings = r->o->timings,
		.mem_mb = r->o->memory, .cpus = r->o->cpus, .timeout_s = r->o->timeout,
		.sockdir = r->sockdir, .skip_guest_agent = r->cfg->skip_guest_agent, .log_path = log,
		.program = r->cfg->entrypoint[0] ? r->cfg->entrypoint[0] : r->cfg->cmd[0],
		.gpus = hr_strv_array(&r->o->gpus), .n_gpus = r->o->gpus.n,
		.print_only = r->o->print_qemu };
	memcpy(b.host_s, r->host_s, sizeof(b.host_s));
	status = hr_qemu_run(&b);
	if (r->o->print_qemu)
		hr_progress("--print-qemu: not booting; %s%s", r->o->keep ? "the disks are in "
			: "the disks are removed now (--keep keeps them for that command)",
			r->o->keep ? r->work : "");
	else if (r->o->keep)
		hr_progress("kept the disks and the init's log in %s", r->work);
	else if (r->o->log)
		hr_progress("the init's log: %s", log);
	return status;
}

/* ---- the end ----------------------------------------------------------------- */

static void run_free(struct run *r)
{
	size_t i;

	if (r->made_work)
		hr_remove_tree(r->work);
	if (r->made_sockdir)
		hr_remove_tree(r->sockdir);
	hr_oci_free(&r->img);
	hr_target_boot_files_free(&r->bf);
	hr_layout_close(&r->layout);
	for (i = 0; i < (size_t)r->cfg->n_volumes && r->vol_upper; i++)
		free(r->vol_upper[i]);
	free(r->vol_upper);
	free(r->vol_dev);
	free(r->vol_upper_dev);
	free(r->work);
	free(r->rootfs);
	free(r->cfgdir);
	free(r->rootfs_img);
	free(r->overlay_img);
	free(r->config_img);
	free(r->sockdir);
	hr_tool.log_path = NULL;
	hr_tool.log_started = false;
	free(r->log);
}

/* A step's status; an interrupt between steps ends the run (128+N). */
static int step(struct run *r, int (*fn)(struct run *))
{
	int status = fn(r);

	if (hr_tool.interrupted && (status == 0 || status == 1)) {
		hr_msg("interrupted");
		return 128 + hr_tool.interrupted;
	}
	return status;
}

int hr_run(struct hr_opts *o)
{
	struct run r = { .o = o, .cfg = &o->config, .layout = { .fd = -1 } };
	int status;

	status = step(&r, check_inputs);	/* kernel and initrd, GPUs, root */
	if (!status)
		status = step(&r, read_image);	/* 1. index.json, manifest, config */
	if (!status)
		status = step(&r, make_work_dir);
	if (!status)
		status = step(&r, unpack);	/* 2, 3. the layers, one verified pass each */
	if (!status)
		status = step(&r, rootfs_disk);	/* 4. */
	if (!status)
		status = step(&r, other_disks);	/* 5. overlay and volume disks */
	if (!status)
		status = step(&r, make_config);	/* 5. config.json's content */
	if (!status)
		status = step(&r, write_config);	/* 5. config.json on its disk */
	if (!status)
		status = boot_vm(&r);		/* 6. the program's status */
	run_free(&r);
	return status;
}
