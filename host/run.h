/*
 * hypeman run: the host-side command of hypeman-init (see README.md).
 * Declarations shared by the host tool's files; nothing here is used by
 * the guest init.
 */
#ifndef HOST_HYPEMAN_H
#define HOST_HYPEMAN_H 1

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MiB (1024ULL * 1024ULL)
#define GiB (1024ULL * MiB)

/* ---- util.c: messages, memory, strings, files ------------------------- */

extern bool hm_quiet;			/* -q: no progress lines */

/* "hypeman: ..." on stderr, unless -q. */
void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "hypeman: ..." on stderr, always (errors and warnings). */
void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

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
/* Seconds on the monotonic clock. */
double now_s(void);

/* Reads a whole file (at most max bytes; larger is an error, errno EFBIG). */
int read_file(const char *path, size_t max, char **out, size_t *len);
/* Writes all n bytes to fd (retrying short writes); 0 or -1. */
int write_all(int fd, const void *buf, size_t n);
/* True when s is well-formed UTF-8 (no overlongs, surrogates, > U+10FFFF). */
bool utf8_valid(const char *s);

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

/* ---- proc.c: child processes ------------------------------------------ */

/*
 * Runs argv[0] (looked up in PATH) with stdin from in_fd and stdout to
 * out_fd (-1: /dev/null for either). Its stderr is captured; on return
 * *errtext (when errtext is not NULL) holds the captured text, malloc'd,
 * trailing newlines removed. Returns the exit status 0..255, or -1 when
 * the program could not be run or was killed by a signal (the reason is
 * then in *errtext, or printed when errtext is NULL). SIGINT/SIGTERM
 * received meanwhile are forwarded to the child.
 */
int run_cmd(char *const argv[], int in_fd, int out_fd, char **errtext);
/* In a forked child: the signals the tool catches back to their defaults. */
void child_default_signals(void);
/* True when prog is an executable in PATH. */
bool have_program(const char *prog);
/* The directory holding this executable (from /proc/self/exe), malloc'd. */
char *self_dir(void);
/* Set by SIGINT/SIGTERM (the signal number); checked between steps. */
extern volatile sig_atomic_t hm_interrupted;
void install_signal_handlers(void);

/* ---- sha256.c ----------------------------------------------------------- */

struct sha256 {
	uint32_t h[8];
	uint64_t len;		/* bytes hashed so far */
	unsigned char buf[64];
	size_t used;
};
void sha256_init(struct sha256 *c);
void sha256_update(struct sha256 *c, const void *data, size_t n);
void sha256_final(struct sha256 *c, unsigned char out[32]);
/* The lower-case hex form of a digest (65 bytes with the NUL). */
void sha256_hex(const unsigned char d[32], char hex[65]);

/* ---- jtree.c: a JSON tree built with the shared pull reader ------------ */

struct jt {
	int type;		/* enum hm_json_type */
	char *str;		/* string value, or the literal of a number */
	bool b;
	size_t n;		/* members / elements */
	char **keys;		/* object member names (NULL for arrays) */
	struct jt *kids;
};
/* 0, or -1 with the reason in err ("offset 17: expected ',' or '}'"). */
int jt_parse(const char *text, size_t len, struct jt *out, char *err, size_t errlen);
void jt_free(struct jt *t);
/* The member key of object o (the last one when repeated), or NULL. */
const struct jt *jt_get(const struct jt *o, const char *key);
/* The string member key of o, or NULL when absent or not a string. */
const char *jt_str(const struct jt *o, const char *key);
bool jt_is(const struct jt *t, int type);

/* ---- oci.c: the image layout -------------------------------------------- */

struct layer {
	char digest[72];	/* "sha256:<hex>" */
	char *path;		/* the blob file */
	uint64_t size;
	char *media_type;
	int fd;			/* the verified blob, open; tar reads /dev/fd/N */
};

struct image {
	char *dir, *tag;	/* tag NULL when none was given */
	struct strv entrypoint, cmd;
	struct strv env;	/* "K=V", image order */
	char *workdir;		/* "" when the image sets none */
	struct layer *layers;
	size_t n_layers;
	unsigned n_blobs;	/* blobs verified (manifests, config, layers) */
	uint64_t blob_bytes;
};

/* Reads index.json, the manifest, the config and checks every blob
 * (digest and size) it names. 0, or -1 after printing why. */
int oci_load(const char *dir, const char *tag, struct image *img);
void oci_free(struct image *img);

/* ---- layers.c ----------------------------------------------------------- */

/* Applies the layers in order onto root (an empty directory); scratch is
 * an empty directory on the same filesystem. 0, or -1 after printing why. */
int apply_layers(const struct image *img, const char *root, const char *scratch);

/* ---- disks.c ------------------------------------------------------------ */

/* fs: "erofs", "ext4" or NULL (erofs when mkfs.erofs exists). *used
 * is set to the file system made. 0, or -1 after printing why. */
int make_rootfs_disk(const char *root, const char *img, const char *fs,
		const char **used);
int make_empty_ext4(const char *img, uint64_t size, const char *label);
/* An ext4 disk holding the files of dir (the config disk). */
int make_ext4_from_dir(const char *img, const char *dir, uint64_t size,
		const char *label);

/* ---- config_json.c ------------------------------------------------------ */

struct volume {
	char *disk;		/* host file */
	char *path;		/* mount point in the guest */
	char *mode;		/* "ro", "rw" or "overlay" */
	char device[16];	/* "/dev/vdd" ... */
	char overlay_device[16];	/* overlay mode only */
	char *overlay_img;	/* the upper disk we made (overlay mode) */
};

struct run_config {
	char *const *entrypoint, *const *cmd;
	const char *workdir;
	struct strv env_keys, env_values;	/* merged, first position kept */
	bool network;
	struct volume *volumes;
	size_t n_volumes;
	const char *init_mode;	/* "exec" or "systemd" */
	bool skip_guest_agent;
};

/* Sets key=value in rc's env (a later value for a key replaces it). */
void env_set(struct run_config *rc, const char *key, const char *value);
/* The config.json text (malloc'd). */
char *config_json(const struct run_config *rc);
/* Appends s as a JSON string literal (quotes included) to buf. */
void json_quote(char **buf, size_t *len, size_t *cap, const char *s);

/* ---- qemu.c ------------------------------------------------------------- */

struct disk {
	const char *path;
	bool readonly;
};

struct boot {
	const char *kernel, *initrd, *append_extra;
	struct disk *disks;
	size_t n_disks;
	bool network, interactive, systemd;
	unsigned mem_mb, cpus;
	unsigned timeout_s;	/* 0: none */
	const char *sockdir;	/* QMP and agent sockets */
	bool agent_port;
};

/* Boots the VM, shows its console, returns the exit status for
 * `hypeman run` (see README.md). */
int qemu_run(const struct boot *b);

#endif
