/*
 * The state the boot phases share (struct hm_boot), after busybox init's
 * struct globals: one instance, every default set here and nowhere else,
 * then the kernel command line's hypeman.* options on top (cmdline.c).
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += state.o

#include "libbb.h"
#include "hypeman.h"

struct hm_boot *hm_boot_state;

struct hm_boot* FAST_FUNC hm_boot_init(void)
{
	static struct hm_boot b;

	b.cmdline.rescue = true;
	b.cmdline.grace_s = HM_GRACE_DEFAULT_S;
	b.cmdline.debug = false;
	b.cmdline.ca_timeout_s = HM_CA_TIMEOUT_DEFAULT_S;
	b.cmdline_text = "";
	b.rootfs_type = NULL;
	b.newroot_fd = -1;
	b.oldroot_fd = -1;
	hm_boot_state = &b;
	return &b;
}

static void bad_option(const char *word, int len, const char *wanted)
{
	hm_log(HM_WARN, "boot", "ignoring bad option '%.*s' (want %s)", len, word, wanted);
}

void FAST_FUNC hm_read_cmdline(struct hm_boot *b)
{
	char *text = xmalloc_open_read_close("/proc/cmdline", NULL);

	if (!text) {
		hm_log_errno(HM_WARN, "boot", errno, "cannot read /proc/cmdline, using defaults");
		return;
	}
	hm_cmdline_parse(text, &b->cmdline, bad_option);
	b->cmdline_text = text;         /* kept for the boot's lifetime */
}

void FAST_FUNC hm_stage_mount(struct hm_boot *b, const char *path, const char *name)
{
	if (b->n_staged >= (int)ARRAY_SIZE(b->staged))
		return;
	b->staged[b->n_staged].path = xstrdup(path);
	b->staged[b->n_staged].name = xstrdup(name);
	b->n_staged++;
}
