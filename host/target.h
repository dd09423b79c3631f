/*
 * hypeman run: the guest architectures, and the kernel and initrd a boot
 * takes (target.c). Nothing is looked up relative to the current
 * directory.
 */
#ifndef HR_TARGET_H
#define HR_TARGET_H 1

#include <stdbool.h>
#include "kimage.h"

/* What differs between guest architectures (x86_64, aarch64). */
struct hr_target {
	const char *name;	/* "x86_64": uname -m, build.sh --arch */
	const char *oci_arch;	/* "amd64": the OCI platform architecture */
	unsigned elf_machine;	/* e_machine of its programs (EM_X86_64) */
	enum hr_kimage_format kernel_format;
	const char *qemu;	/* "qemu-system-x86_64" */
	const char *machine;	/* "q35" */
	const char *tcg_cpu;	/* -cpu under TCG ("max"); "max" with KVM */
	const char *console;	/* "ttyS0" */
	const char *keyboard;	/* a -device for Ctrl-Alt-Del, NULL: built in */
	const char *kernel_subdir;	/* under $HYPEMAN_CACHE: "kernel" */
	const char *kernel_flavour;	/* Debian's linux-image-*-<flavour>: "amd64" */
};
/* "x86_64", "aarch64" (or Debian's "amd64", "arm64"); NULL when unknown. */
const struct hr_target *hr_target_named(const char *name);
/* The machine's own (uname -m); NULL when neither. */
const struct hr_target *hr_target_host(void);

struct hr_boot_files {
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
 * kernel needs. 0, or the exit status (2) after printing why and what to
 * do.
 */
int hr_target_boot_files(const struct hr_target *tg, const char *kernel_opt,
		const char *initrd_opt, struct hr_boot_files *bf);
void hr_target_boot_files_free(struct hr_boot_files *bf);
/* $HYPEMAN_CACHE or /var/cache/hypeman-init; NULL (message printed) when
 * HYPEMAN_CACHE is not an absolute path. */
const char *hr_target_cache_dir(void);

#endif
