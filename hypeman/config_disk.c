/*
 * Phase 4 (config): the config disk (vdc, ext4, read-only) at /mnt/config
 * and its /config.json, parsed strictly (contract/config.c). Any problem
 * is fatal (the caller's call): without a trustworthy config there is
 * nothing sane to run. The disk stays mounted in the initramfs through the
 * switch: its unmount (an ext4 teardown, milliseconds of kernel code under
 * TCG) waits until the program runs (hm_release_initramfs).
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += config_disk.o

#include "libbb.h"
#include "hypeman.h"

/*
 * Reads at most HM_CONFIG_MAX_BYTES + 1, so that an oversized file is
 * detected without reading all of it, into a buffer the file's size and a
 * byte (the disk is read-only: a byte more means it changed): a 1 MiB
 * buffer would be an mmap and munmap of its own, milliseconds of kernel
 * code under TCG.
 */
static char *read_capped(const char *path, size_t *len)
{
	struct stat st;
	char *buf;
	size_t cap;
	int fd;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		hm_log_errno(HM_ERROR, "config", errno, "cannot open %s", path);
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		hm_log(HM_ERROR, "config", "%s is not a regular file", path);
		close(fd);
		return NULL;
	}
	cap = MIN(st.st_size, (off_t)HM_CONFIG_MAX_BYTES) + 1;
	buf = xmalloc(cap);
	n = full_read(fd, buf, cap);
	close(fd);
	if (n < 0) {
		hm_log_errno(HM_ERROR, "config", errno, "read %s failed", path);
	} else if (n > HM_CONFIG_MAX_BYTES) {
		hm_log(HM_ERROR, "config", "%s is too large: %lld bytes, the limit is %d",
			path, (long long)st.st_size, HM_CONFIG_MAX_BYTES);
	} else if ((size_t)n == cap) {
		hm_log(HM_ERROR, "config", "%s changed while it was read (more than its %lld bytes)",
			path, (long long)st.st_size);
	} else {
		*len = n;
		return buf;
	}
	free(buf);
	return NULL;
}

/* contract: config.json: env keys that are empty or contain '=' are rejected with a WARN,
 * here once for every later use (program, agent, /etc/hypeman/env). */
static void drop_bad_env_keys(struct hm_config *cfg)
{
	int i, n = 0;

	for (i = 0; i < cfg->n_env; i++) {
		struct hm_env *e = &cfg->env[i];
		if (hm_env_key_valid(e->key)) {
			cfg->env[n++] = *e;
			continue;
		}
		hm_log(HM_WARN, "config", "env: rejected key \"%s\" (empty or contains '=')", e->key);
		free(e->key);
		free(e->value);
	}
	cfg->n_env = n;
}

int FAST_FUNC hm_read_config(struct hm_boot *b)
{
	char err[256];
	char *text;
	size_t len;
	int rc;

	hm_phase_begin("config");
	if (hm_wait_for("config", "config disk", HM_DEV_CONFIG, S_IFBLK)
	 || hm_mkdir("config", HM_CONFIG_MNT, 0755)
	 || hm_mount_disk("config", "config disk", HM_DEV_CONFIG, HM_CONFIG_MNT,
			MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "noload"))
		return -1;
	text = read_capped(HM_CONFIG_FILE, &len);
	if (!text)
		return -1;
	rc = hm_config_parse(text, len, &b->cfg, err, sizeof(err));
	free(text);
	if (rc != 0) {
		hm_log(HM_ERROR, "config", "%s: %s", HM_CONFIG_FILE, err);
		return -1;
	}
	if (hm_resolve_mode(b->cfg.init_mode, b->cfg.entrypoint, b->cfg.cmd, &b->mode) != 0) {
		hm_log(HM_ERROR, "config", "%s: init_mode \"%s\" is not auto, exec or systemd",
			HM_CONFIG_FILE, b->cfg.init_mode);
		return -1;
	}
	drop_bad_env_keys(&b->cfg);
	hm_phase_end("config", "read %s (%zu bytes): mode %s%s", HM_CONFIG_FILE, len,
		hm_mode_name(b->mode), hm_init_mode_auto(b->cfg.init_mode)
			? " (detected from the command)" : " (from init_mode)");
	return 0;
}

void FAST_FUNC hm_unmount_config(int oldroot_fd, const char *phase)
{
	/* the initramfs is no longer /: its mount point relative to it,
	 * "./mnt/config" */
	if (fchdir(oldroot_fd) != 0 || umount2("." HM_CONFIG_MNT, 0) != 0)
		hm_log_errno(HM_WARN, phase, errno, "unmount of the config disk (%s in the initramfs) failed",
			HM_CONFIG_MNT);
	chdir("/");
}
