/*
 * hypeman run: the host-side command of hypeman-init (see README.md).
 * Declarations shared by the host tool's files; nothing here is used by
 * the guest init (whose header is hypeman/hypeman.h).
 */
#ifndef HOST_RUN_H
#define HOST_RUN_H 1

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define KiB 1024ULL
#define MiB (1024ULL * KiB)
#define GiB (1024ULL * MiB)

/* ---- util.c: messages, memory, strings, files ------------------------- */

extern bool hr_quiet;			/* -q: no progress lines */

/* "hypeman: ..." on stderr, unless -q. */
void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "hypeman: ..." on stderr, always (errors and warnings). */
void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Allocation that ends the tool on failure ("out of memory"). */
void *hr_malloc(size_t n);
void *hr_calloc(size_t n, size_t size);
void *hr_realloc(void *p, size_t n);
char *hr_strdup(const char *s);
char *hr_strndup(const char *s, size_t n);
char *hr_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A NULL-terminated, growable vector of malloc'd strings. */
struct strv {
	char **v;		/* NULL when empty and never pushed to */
	size_t n, cap;
};
void strv_push(struct strv *s, const char *str);	/* copies str */
void strv_free(struct strv *s);
/* s->v, or a static empty vector when nothing was pushed. */
char *const *strv_array(const struct strv *s);

/* "12.3 MB" (decimal units, as the progress lines show sizes). */
const char *human_size(uint64_t bytes, char buf[32]);
/* "4G", "512M", "100k" or bytes (binary units); false when malformed. */
bool parse_size(const char *s, uint64_t *out);
/* Seconds on the monotonic clock. */
double now_s(void);

/* Writes all n bytes to fd (retrying short writes); 0 or -1. */
int write_all(int fd, const void *buf, size_t n);
/* True when s is well-formed UTF-8 (no overlongs, surrogates, > U+10FFFF). */
bool utf8_valid(const char *s);
/* The safe form of an image path for messages ("\x0a" for control bytes). */
const char *printable(const char *s, char *out, size_t outlen);

/* Bytes free for root on the file system holding path (statvfs). */
uint64_t free_space(const char *path);

/*
 * Removes name in dirfd and everything below it, never following a
 * symlink and never crossing into another mount; ENOENT is not an error.
 * 0 or -1 (errno set).
 */
int remove_at(int dirfd, const char *name);
/* Removes everything inside the directory dirfd (the directory stays). */
int clear_dir(int dirfd);
/* remove_at() for a path. */
int remove_tree(const char *path);
/* Space the tree below path takes in 4 KiB blocks (hard links once);
 * also the number of entries and the sum of the file sizes. */
uint64_t tree_usage(const char *path, uint64_t *entries, uint64_t *apparent);

/* ---- meter.c: progress of a step that may take long ------------------- */

/* Silent for the first 2 s of a step, then one line every 2 s (rewritten
 * in place on a terminal). */
struct meter {
	char what[160];
	double start, next;
	bool shown;
};
void meter_start(struct meter *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* done of total bytes (total 0: unknown). Cheap enough for every read. */
void meter_tick(struct meter *m, uint64_t done, uint64_t total);
/* Ends the meter's line on a terminal; returns the step's seconds. */
double meter_end(struct meter *m);

/* ---- proc.c: child processes ------------------------------------------ */

/*
 * Runs argv[0] (looked up in PATH) with stdin from in_fd and stdout to
 * out_fd (-1: /dev/null for either). Its stderr is captured (the last
 * 4 KiB); on return *errtext (when not NULL) holds it, malloc'd, trailing
 * newlines removed. While it runs, m (when not NULL) is ticked with the
 * size of the file watch (the output being made). Returns the exit
 * status 0..255, or -1 when the program could not be run or was killed by
 * a signal (the reason is then in *errtext, or printed when errtext is
 * NULL). SIGINT/SIGTERM received meanwhile are forwarded to the child.
 */
int run_cmd(char *const argv[], int in_fd, int out_fd, char **errtext,
		struct meter *m, const char *watch);
/* In a forked child: the signals the tool catches back to their defaults. */
void child_default_signals(void);
/* True when prog is an executable in PATH. */
bool have_program(const char *prog);
/* The directory holding this executable (from /proc/self/exe), malloc'd. */
char *self_dir(void);
/* Set by SIGINT/SIGTERM (the signal number); checked between steps. */
extern volatile sig_atomic_t hr_interrupted;
void install_signal_handlers(void);

/* ---- target.c: the guest architecture and its boot files -------------- */

/* What differs between guest architectures (x86_64, aarch64). */
enum kernel_format { KERNEL_BZIMAGE, KERNEL_ARM64_IMAGE };
struct target {
	const char *name;	/* "x86_64": uname -m, build.sh --arch */
	const char *oci_arch;	/* "amd64": the OCI platform architecture */
	unsigned elf_machine;	/* e_machine of its programs (EM_X86_64) */
	enum kernel_format kernel_format;
	const char *qemu;	/* "qemu-system-x86_64" */
	const char *machine;	/* "q35" */
	const char *tcg_cpu;	/* -cpu under TCG ("max"); "max" with KVM */
	const char *console;	/* "ttyS0" */
	const char *keyboard;	/* a -device for Ctrl-Alt-Del, NULL: built in */
	const char *kernel_subdir;	/* under $HYPEMAN_CACHE: "kernel" */
	const char *kernel_flavour;	/* Debian's linux-image-*-<flavour>: "amd64" */
};
/* "x86_64", "aarch64" (or Debian's "amd64", "arm64"); NULL when unknown. */
const struct target *target_named(const char *name);
/* The machine's own (uname -m); NULL when neither. */
const struct target *target_host(void);

struct boot_files {
	char *kernel, *initrd;
	char release[128];	/* from the kernel image */
	char *modules_dir;	/* <kernel tree>/lib/modules/<release>, or NULL */
	const char *initrd_env;	/* " ($HYPEMAN_INITRD)" when it came from there, else "" */
	bool initrd_has_gpu;	/* it carries a GPU driver bundle (etc/hypeman/gpu) */
};

/*
 * Finds the kernel (--kernel, $HYPEMAN_KERNEL, or the newest kernel in
 * $HYPEMAN_CACHE) and the initrd that matches it (--initrd,
 * $HYPEMAN_INITRD, or initrd-<release> / initrd next to this binary), and
 * checks before anything boots that the initrd carries the modules the
 * kernel needs. Nothing is looked up relative to the current directory.
 * 0, or the exit status (2) after printing why and what to do.
 */
int find_boot_files(const struct target *tg, const char *kernel_opt,
		const char *initrd_opt, struct boot_files *bf);
void boot_files_free(struct boot_files *bf);
/* $HYPEMAN_CACHE or /var/cache/hypeman-init; NULL (message printed) when
 * HYPEMAN_CACHE is not an absolute path. */
const char *cache_dir(void);

/* kimage.c: the kernel's release ("6.1.0-57-amd64") from its image, which
 * must be the target's format (an x86 bzImage; an arm64 Image, maybe
 * gzip'ed). 0, or -1 with the reason in *why. */
int kernel_release(const struct target *tg, const char *path, char *rel, size_t rellen,
		const char **why);

/* initrd.c: what an initrd carries, read once from its first cpio archive. */
struct initrd_info {
	char releases[512];	/* lib/modules/<release>, ", "-separated */
	unsigned elf_machine;	/* e_machine of its init or bin/busybox; 0: unknown */
	bool has_gpu;		/* etc/hypeman/gpu: a GPU driver bundle */
};
/* 0, or -1 when it cannot be read as a cpio archive (QEMU will say why). */
int initrd_scan(const char *path, struct initrd_info *info);

/* ---- blob.c: files of the image layout, each read once ---------------- */

/*
 * Opens path for reading without following a final symlink and without
 * blocking on a FIFO; refuses anything but a regular file with a message
 * naming what (e.g. "index.json" or the blob) and the file type.
 * The fd, or -1 (message printed). st is filled.
 */
struct stat;
int open_regular(const char *path, const char *what, struct stat *st);

/* A blob being read: every byte goes through the hash exactly once. */
struct blob {
	char digest[72];	/* "sha256:<hex>" */
	char *path;
	const char *what;	/* "layer 2/3", "manifest", ... */
	uint64_t size;		/* from the descriptor (and fstat) */
	uint64_t got;		/* bytes read and hashed so far */
	int fd;
	void *md;		/* EVP_MD_CTX */
};
/* Opens the blob of digest (checked: sha256 and 64 lower-case hex digits)
 * whose descriptor says size. 0 or -1 (message printed). */
int blob_open(struct blob *b, const char *layout, const char *digest, uint64_t size,
		const char *what);
/* Reads and hashes up to n bytes; 0 at the end; -1 with errno (EFBIG when
 * the file grew past its size). */
ssize_t blob_read(struct blob *b, void *buf, size_t n);
/* Reads and hashes what is left, then checks size and digest. 0, or -1
 * after printing which blob and why. */
int blob_finish(struct blob *b);
void blob_close(struct blob *b);
/* A whole small blob (a JSON document of at most max bytes), verified,
 * NUL-terminated. 0 or -1 (message printed). */
int blob_slurp(const char *layout, const char *digest, uint64_t size, uint64_t max,
		const char *what, char **text);

/* ---- oci.c: the image layout -------------------------------------------- */

struct layer {
	char digest[72];
	uint64_t size;
	char *media_type;
};

struct image {
	char *dir, *tag;	/* tag NULL when none was given */
	struct strv entrypoint, cmd;
	struct strv env;	/* "K=V", image order */
	char *workdir;		/* "" when the image sets none */
	char *os, *arch;	/* the config's platform; NULL when not given */
	struct layer *layers;
	size_t n_layers;
	uint64_t layer_bytes;	/* sum of the layer blob sizes */
};

/* The object that comes next in j (null too, when null_ok), with one call
 * of fn per member; fn reads or skips the member's value. what names the
 * object in the error. 0, or -1 with j->err set. */
struct hm_json;
typedef int json_member_fn(struct hm_json *j, const char *key, void *ctx);
int json_object(struct hm_json *j, const char *what, bool null_ok, json_member_fn *fn,
		void *ctx);

/* Reads index.json, the manifest and the config (each document at most
 * max_json bytes, verified), picking the manifest for tag and the
 * target's platform. 0, or -1 after printing why. */
int oci_load(const char *dir, const char *tag, const struct target *tg,
		uint64_t max_json, struct image *img);
void oci_free(struct image *img);

/* ---- unpack.c + tree.c: the layers onto the rootfs tree ---------------- */

struct limits {
	uint64_t max_size;	/* sum of the entries' sizes (sparse: full size) */
	uint64_t max_entries;	/* entries in all layers */
	uint64_t max_json;	/* each JSON document */
};
#define DEFAULT_MAX_SIZE (4 * GiB)
#define DEFAULT_MAX_ENTRIES 1000000ULL
#define DEFAULT_MAX_JSON (4 * MiB)

/* Applies the layers in order onto root (an empty 0700 directory), reading
 * each blob once; root's own metadata (the image's "/") is set at the end.
 * 0, or -1 after printing why (root may then hold a partial tree). */
int unpack_layers(const struct image *img, const char *root, const struct limits *lim);
/* Prints what went wrong reading a layer, in words (unpack.c). */
struct archive;
void layer_error(const char *what, struct archive *a);

/* pathset.c: a set of strings. */
struct pathset {
	char **v;
	size_t n, cap;		/* cap: 0 or a power of two */
};
bool pathset_has(const struct pathset *ps, const char *s);
bool pathset_add(struct pathset *ps, const char *s);	/* false: was there */
void pathset_clear(struct pathset *ps);

/* tree.c: placing a layer's entries in the tree, confined to its root. */
struct tree;
struct archive_entry;
struct tree *tree_open(const char *root);	/* NULL after a message */
/* A new layer (what names it in messages, e.g. "layer 2/3 (sha256:...)"). */
void tree_layer(struct tree *t, const char *what);
/* Applies one entry (its data read from a); 0, or -1 after a message. */
int tree_entry(struct tree *t, struct archive *a, struct archive_entry *e);
/* Ends the layer (the last parent directory's times restored). */
void tree_layer_end(struct tree *t);
/* Sets the root's metadata (the image's "/", else 0755 root:root). */
int tree_finish(struct tree *t);
void tree_close(struct tree *t);

/* ---- disks.c ------------------------------------------------------------ */

/* fs: "erofs", "ext4" or NULL (erofs when mkfs.erofs exists). *used
 * is set to the file system made. 0, or -1 after printing why. */
int make_rootfs_disk(const char *root, const char *img, const char *fs,
		const char **used);
int make_empty_ext4(const char *img, uint64_t size, const char *label);
/* An ext4 disk holding the files of dir (the config disk). */
int make_ext4_from_dir(const char *img, const char *dir, uint64_t size,
		const char *label);

/* ---- volumes.c ------------------------------------------------------------ */

struct volume {
	char *disk;		/* host file */
	char *path;		/* mount point in the guest */
	char *mode;		/* "ro", "rw" or "overlay" */
	char device[16];	/* "/dev/vdd" ... (HM_DEV_NAME_MAX) */
	char overlay_device[16];	/* overlay mode only */
	char *overlay_img;	/* the upper disk we made (overlay mode) */
};
/* "DISK:PATH[:MODE]" -> v; NULL, or the reason (in why) for a usage error. */
const char *parse_volume(const char *spec, struct volume *v, char *why, size_t whylen);
void free_volume(struct volume *v);

/* ---- gpu.c: --gpu, host PCI devices passed through with VFIO ----------- */

#define PCI_ADDR_LEN 13		/* "0000:01:00.0" and its NUL */
/* "DDDD:BB:DD.F" or "BB:DD.F" (hex) as "dddd:bb:dd.f"; false when malformed. */
bool gpu_address(const char *arg, char out[PCI_ADDR_LEN]);
/* 0 when the host's device addr is bound to vfio-pci (read in
 * $HYPEMAN_SYSFS, default /sys); else 2 after saying why and what to do. */
int gpu_check_vfio(const char *addr);

/* ---- qemu.c, console.c: the VM ----------------------------------------- */

struct disk {
	const char *path;
	bool readonly;
};

#define HOST_STEPS 4
struct boot {
	const struct target *target;
	const char *kernel, *initrd, *append_extra;
	struct disk *disks;
	size_t n_disks;
	bool network, interactive, systemd, timings;
	unsigned mem_mb, cpus;
	unsigned timeout_s;	/* 0: none */
	const char *sockdir;	/* QMP and agent sockets */
	bool agent_port;
	const char *log_path;	/* the init's JSON log lines go there */
	const char *program;	/* argv[0] of the program, for the notices */
	char *const *gpus;	/* host PCI addresses for vfio-pci */
	size_t n_gpus;
	bool print_only;	/* --print-qemu: print the command, do not run it */
	double host_s[HOST_STEPS];	/* --timings: the host steps (seconds) */
};

/* The host steps --timings reports: reading the image, the layers, the
 * rootfs disk, the other disks (console.c prints them). */
void host_timings(const double host_s[HOST_STEPS]);

/* Boots the VM, shows its console, returns the exit status for
 * `hypeman run` (see README.md). With print_only, prints QEMU's command
 * line (shell-quoted, one line) on stdout instead and returns 0. */
int qemu_run(const struct boot *b);

/* ---- main.c, run.c: the command ----------------------------------------- */

struct opts {
	const struct target *target;	/* --arch; NULL: the machine is neither */
	const char *init_mode;
	struct strv env;
	struct strv volume_specs;
	struct strv gpus;		/* --gpu, as "dddd:bb:dd.f" */
	bool network, interactive, no_agent, no_boot, timings, print_qemu;
	const char *kernel, *initrd, *keep, *rootfs_fs, *append, *log;
	unsigned memory, cpus, timeout;
	struct limits limits;
	const char *image;
	char **command;		/* after IMAGE, or NULL */
};

/* The steps of `hypeman run`, in the order of README.md; the exit status. */
int run(const struct opts *o);
/* "hypeman: <message>\n(see hypeman run --help)" on stderr; returns 2. */
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
