/*
 * Phase 2 (modules): load what this VM needs of the initrd's boot set
 * (build-time list in /etc/hypeman/modules), decided at boot from each
 * module's modules.alias lines (moddep.c):
 *  - device drivers (a device pattern: "pci:...", "virtio:..."): those a
 *    present device asks for, found as mdev/udev coldplug finds them, by
 *    matching the modaliases in sysfs; a driver that brings new devices
 *    (virtio_pci: the virtio ones) starts another round. No NIC: no
 *    virtio_net; no vsock device: no vsock stack.
 *  - filesystems (an "fs-TYPE" alias): ext4 and overlay, which every boot
 *    mounts (contract: Devices: the overlay and config disks are ext4, the root an
 *    overlay), and the types the disks' superblocks show: erofs only for
 *    an erofs disk.
 *  - anything else: always.
 * A driver the kernel command line gives options to loads too: there the
 * options name its devices (Firecracker's virtio_mmio.device=, which no
 * firmware table announces). Every module gets its options from the
 * command line as modprobe gives them (moddep.c): the kernel applies them
 * by itself only to built-in code.
 * Dependencies and softdeps come from modules.dep and modules.softdep.
 * One finit_module(2) per module file, in PID 1, one after the other, no
 * modprobe. Measured under TCG: loading the filesystems in a forked child
 * alongside the drivers saved nothing with one vCPU (module loading is CPU
 * work, with few device waits to fill), and with two vCPUs made the phase
 * slower and erratic (the concurrent loads wait on each other in the
 * kernel).
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += modules.o

#include "libbb.h"
#include "../../modutils/modutils.h"
#include "hypeman.h"
#include "moddep.h"

/* Every boot mounts these (see above); other filesystems on demand. */
static const char *const always_fs[] = { "ext4", "overlay" };

/* Rounds of coldplug: a bus driver, its devices' drivers, and a margin. */
#define MAX_ROUNDS 8

enum { PENDING, TAKEN };        /* per boot module */

struct modset {
	char *dir;                      /* /lib/modules/<release> */
	struct hm_moddb *db;            /* modules.dep, .softdep, .alias (what a module
	                                 * is for), .builtin */
	char *list;                     /* the boot list's text */
	const char *cmdline;            /* /proc/cmdline ("" when unreadable) */
	char **names;                   /* its names (pointers into LIST) */
	int n;
	unsigned char *state;           /* PENDING, TAKEN */
	enum hm_modkind *kind;
	int loaded, builtins;           /* files this process loaded; built in */
	int refused;                    /* the kernel loads no modules (nomodule) */
	char failed[256];               /* names, space-separated */
};

static char *read_index(const char *dir, const char *name)
{
	char *path = concat_path_file(dir, name);
	char *text = xmalloc_open_read_close(path, NULL);

	free(path);
	return text;
}

static void add_failed(struct modset *ms, const char *name)
{
	size_t len = strlen(ms->failed);

	snprintf(ms->failed + len, sizeof(ms->failed) - len, "%s%s", len ? " " : "", name);
}

/* NAME's options on the kernel command line (malloc'ed, maybe ""). */
static char *cmdline_options(const struct modset *ms, const char *name)
{
	char *opts = hm_module_cmdline_options(ms->cmdline, name);

	if (!opts)
		bb_die_memory_exhausted();
	return opts;
}

static void load_failed(struct modset *ms, const struct hm_modload *m, int rc)
{
	if (!m->optional)
		add_failed(ms, m->name);
	if (ms->refused)
		return;         /* said once, below */
	/* PID 1 may load modules, so EPERM is the kernel refusing them all:
	 * kernel.modules_disabled, set by `nomodule` on its command line
	 * (Firecracker's default boot arguments have it) */
	if (rc == EPERM) {
		ms->refused = 1;
		hm_log(HM_ERROR, "modules", "loading %s failed: the kernel loads no modules "
			"(`nomodule` on its command line, as in Firecracker's default boot "
			"arguments, or kernel.modules_disabled=1); none of the initrd's will load",
			m->name);
		return;
	}
	/* a softdep alternative (crc32c-intel on a CPU without SSE4.2)
	 * may fail: the other one serves */
	hm_log_errno(m->optional ? HM_WARN : HM_ERROR, "modules", rc < 0 ? -rc : rc,
		"loading %s (%s) failed", m->name, m->path);
}

/* One finit_module, with the module's command line options; a module
 * already there (a dependency of an earlier plan) is not read again.
 * Whether the module is there now. */
static bool load_one(struct modset *ms, const struct hm_modload *m)
{
	unsigned long long t0 = hm_uptime_ms();
	char *sysfs = concat_path_file("/sys/module", m->name);
	char *path = concat_path_file(ms->dir, m->path);
	char *opts = cmdline_options(ms, m->name);
	struct stat st;
	int rc = EEXIST;

	if (stat(sysfs, &st) != 0)
		rc = bb_init_module(path, opts);
	if (rc == 0) {
		ms->loaded++;
		hm_debug("modules", "loaded %s (%llu ms)", m->name, hm_uptime_ms() - t0);
	} else if (rc != EEXIST) {
		load_failed(ms, m, rc);
	}
	free(opts);
	free(sysfs);
	free(path);
	return rc == 0 || rc == EEXIST;
}

/* Whether an alternative of ITEMS[I] (same group) before it is there. */
static bool served(const struct hm_modplan *plan, const bool *there, int i)
{
	int k;

	for (k = 0; k < i && plan->items[i].alt; k++)
		if (there[k] && plan->items[k].alt == plan->items[i].alt)
			return true;
	return false;
}

/* NAMES[0..N) with what they need, in modules.dep/.softdep order. */
static void load_names(struct modset *ms, char **names, int n)
{
	struct hm_modplan plan;
	bool *there;
	int i;

	if (hm_moddb_plan(ms->db, names, n, &plan) != 0) {
		/* ENOMEM, or ELOOP for an absurdly deep chain */
		hm_log_errno(HM_ERROR, "modules", errno, "cannot resolve the dependencies of %s", names[0]);
		for (i = 0; i < n; i++)
			add_failed(ms, names[i]);
		return;
	}
	for (i = 0; i < plan.n_missing; i++) {
		hm_log(HM_ERROR, "modules", "module %s: not in the initrd and not built in", plan.missing[i]);
		add_failed(ms, plan.missing[i]);
	}
	for (i = 0; i < plan.n_builtin; i++)
		hm_debug("modules", "module %s: built into the kernel", plan.builtin[i]);
	ms->builtins += plan.n_builtin;
	there = xzalloc(plan.n * sizeof(there[0]) + 1);
	for (i = 0; i < plan.n; i++) {
		/* crc32c-intel loaded: crc32c_generic is not needed */
		if (served(&plan, there, i))
			hm_debug("modules", "%s not needed: an alternative is loaded", plan.items[i].name);
		else
			there[i] = load_one(ms, &plan.items[i]);
	}
	free(there);
	hm_modplan_free(&plan);
}

/* Takes (state TAKEN) the pending modules that TAKE says are needed;
 * returns them in *OUT (malloc'ed), their count. */
static int take(struct modset *ms, bool (*need)(struct modset *, int, const void *),
		const void *arg, char ***out)
{
	int i, n = 0;

	*out = xzalloc(ms->n * sizeof(char *) + 1);
	for (i = 0; i < ms->n; i++) {
		if (ms->state[i] == PENDING && need(ms, i, arg)) {
			ms->state[i] = TAKEN;
			(*out)[n++] = ms->names[i];
		}
	}
	return n;
}

/* Anything but a driver; a filesystem every boot mounts, or FSTYPE's. */
static bool need_now(struct modset *ms, int i, const void *fstype)
{
	unsigned k;

	if (ms->kind[i] != HM_MOD_FS)
		return ms->kind[i] == HM_MOD_OTHER;
	for (k = 0; k < ARRAY_SIZE(always_fs); k++)
		if (hm_module_serves_fs(ms->db, ms->names[i], always_fs[k]))
			return true;
	return fstype && hm_module_serves_fs(ms->db, ms->names[i], fstype);
}

struct devices { char **modaliases; int n; };

/* A present device asks for it, or the command line names its devices. */
static bool need_for_device(struct modset *ms, int i, const void *arg)
{
	const struct devices *d = arg;
	char *opts;
	bool named;

	if (ms->kind[i] != HM_MOD_DRIVER)
		return false;
	if (hm_module_matches(ms->db, ms->names[i], d->modaliases, d->n))
		return true;
	opts = cmdline_options(ms, ms->names[i]);
	named = opts[0] != '\0';
	free(opts);
	return named;
}

/* The buses the pending drivers' patterns name, in BUSES; their count. */
static int pending_buses(struct modset *ms, char **buses, int cap)
{
	int i, n = 0;

	for (i = 0; i < ms->n; i++)
		if (ms->state[i] == PENDING && ms->kind[i] == HM_MOD_DRIVER
		 && hm_module_buses(ms->db, ms->names[i], buses, cap, &n) != 0)
			bb_die_memory_exhausted();
	return n;
}

/* The drivers the present devices ask for, until a round finds none. */
static void coldplug(struct modset *ms)
{
	struct hm_devscan scan = { NULL, 0, 0 };
	char *buses[HM_MAX_BUSES];
	struct devices d;
	char **names;
	int round, n = 1, i, n_buses;

	for (round = 0; round < MAX_ROUNDS && n; round++) {
		n_buses = pending_buses(ms, buses, ARRAY_SIZE(buses));
		if (n_buses == 0)
			break;
		d.n = hm_device_modaliases(&scan, buses, n_buses, &d.modaliases);
		if (d.n < 0)
			hm_log_errno(HM_ERROR, "modules", errno, "cannot read /sys/bus: no device drivers loaded");
		for (i = 0; i < n_buses; i++)
			free(buses[i]);
		n = take(ms, need_for_device, &d, &names);
		free(d.modaliases);
		if (n)
			load_names(ms, names, n);
		free(names);
	}
	hm_devscan_free(&scan);
}

/*
 * The filesystems every boot mounts and the image disk's type, by its
 * superblock: the only disk whose type varies, since the overlay, config
 * and volume disks are ext4 (contract: Devices). Also the modules that are
 * neither drivers nor filesystems.
 */
static void load_filesystems(struct modset *ms, struct hm_boot *b)
{
	const char *type;
	char **names;
	int n, err;

	type = b->rootfs_type = hm_disk_fstype(HM_DEV_ROOTFS, &err);
	if (err && err != ENOENT)
		hm_log_errno(HM_WARN, "modules", err, "cannot read the superblock of %s", HM_DEV_ROOTFS);
	hm_debug("modules", "%s holds %s", HM_DEV_ROOTFS, type ? type : "no filesystem init knows");
	n = take(ms, need_now, type, &names);
	if (n)
		load_names(ms, names, n);
	free(names);
}

/* "virtio_net virtio_console (no device), erofs (no disk of its type)" */
static void skipped(const struct modset *ms, char *buf, size_t cap)
{
	static const char *const why[] = { "(no device)", "(no disk of its type)" };
	enum hm_modkind kinds[] = { HM_MOD_DRIVER, HM_MOD_FS };
	size_t len = 0;
	int k, i, any;

	buf[0] = '\0';
	for (k = 0; k < 2; k++) {
		any = 0;
		for (i = 0; i < ms->n; i++) {
			if (ms->state[i] != PENDING || ms->kind[i] != kinds[k])
				continue;
			len += snprintf(buf + len, cap - len, "%s%s", len && !any ? ", " : len ? " " : "",
				ms->names[i]);
			any = 1;
			if (len >= cap)
				return;
		}
		if (any)
			len += snprintf(buf + len, cap - len, " %s", why[k]);
		if (len >= cap)
			return;
	}
}

/* The boot list and the indexes; -1 (logged) when there is nothing to do. */
static int read_boot_set(struct modset *ms, const struct hm_boot *b)
{
	char *dep, *softdep, *alias, *builtin;
	struct utsname uts;
	int i;

	ms->list = xmalloc_open_read_close(HM_MODULE_LIST, NULL);
	if (!ms->list) {
		hm_phase_end("modules", "no module list in the initrd (%s): nothing to load", HM_MODULE_LIST);
		return -1;
	}
	ms->cmdline = b->cmdline_text;
	uname(&uts);
	ms->dir = concat_path_file("/lib/modules", uts.release);
	dep = read_index(ms->dir, "modules.dep");
	if (!dep) {
		hm_log(HM_ERROR, "modules", "no %s/modules.dep: the initrd's modules are not for this kernel",
			ms->dir);
		hm_phase_end("modules", "no module loaded");
		return -1;
	}
	softdep = read_index(ms->dir, "modules.softdep");
	builtin = read_index(ms->dir, "modules.builtin");
	alias = read_index(ms->dir, "modules.alias");
	ms->db = hm_moddb_new(dep, softdep, alias, builtin);
	free(dep);
	free(softdep);
	free(alias);
	free(builtin);
	if (!ms->db)
		bb_die_memory_exhausted();
	ms->n = hm_modlist_parse(ms->list, &ms->names);
	if (ms->n < 0)
		bb_die_memory_exhausted();
	ms->state = xzalloc(ms->n + 1);
	ms->kind = xzalloc((ms->n + 1) * sizeof(ms->kind[0]));
	for (i = 0; i < ms->n; i++)
		ms->kind[i] = hm_module_kind(ms->db, ms->names[i]);
	return 0;
}

static void free_boot_set(struct modset *ms)
{
	free(ms->dir);
	hm_moddb_free(ms->db);
	free(ms->list);
	free(ms->names);
	free(ms->state);
	free(ms->kind);
}

void FAST_FUNC hm_load_modules(struct hm_boot *b)
{
	struct modset ms;
	char skip[512];

	hm_phase_begin("modules");
	memset(&ms, 0, sizeof(ms));
	if (read_boot_set(&ms, b) != 0) {
		free_boot_set(&ms);
		return;
	}
	/* the drivers first: the image disk's type needs virtio_blk */
	coldplug(&ms);
	load_filesystems(&ms, b);
	skipped(&ms, skip, sizeof(skip));
	hm_phase_end("modules", "%d modules loaded (%d built in); skipped: %s; failed: %s",
		ms.loaded, ms.builtins, skip[0] ? skip : "none", ms.failed[0] ? ms.failed : "none");
	free_boot_set(&ms);
}
