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
	const char *tcg_cpu;	/* -cpu under TCG ("max"); "max" with KVM */
	const char *console;	/* "ttyS0" */
	const char *keyboard;	/* a -device for Ctrl-Alt-Del, NULL: built in */
	const char *kernel_subdir;	/* under $HYPEMAN_CACHE: "kernel" */
	const char *kernel_flavour;	/* Debian's linux-image-*-<flavour>: "amd64" */
};
/*
 * The machines a guest boots on (--machine; docs/kernel.md: Machines):
 * q35 and virt (virtio-pci), QEMU's microvm (virtio-mmio announced by
 * ACPI) and firecracker (microvm as Firecracker presents a guest: no
 * ACPI, the virtio-mmio devices named on the kernel command line, which
 * QEMU adds, and Firecracker's boot arguments).
 */
struct hr_machine {
	const char *name;	/* --machine: "q35" */
	const char *arch;	/* the target's name: "x86_64" */
	const char *qemu;	/* -machine */
	bool mmio;		/* virtio-*-device on virtio-mmio, not virtio-*-pci */
	bool cmdline_devices;	/* the kernel needs CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES */
	bool no_modules;	/* its command line has nomodule */
	const char *tcg_append;	/* kernel command line under TCG, or NULL */
	const char *append;	/* kernel command line, or NULL */
	const char *device;	/* one more -device, or NULL */
};
/* By name; NULL when unknown. */
const struct hr_machine *hr_machine_named(const char *name);
/* The target's default (q35, virt). */
const struct hr_machine *hr_machine_of(const struct hr_target *tg);

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
 * kernel needs on machine M (none when the kernel has its disk drivers
 * built in) and that the kernel can boot there at all. 0, or the exit
 * status (2) after printing why and what to do.
 */
int hr_target_boot_files(const struct hr_target *tg, const struct hr_machine *m,
		const char *kernel_opt, const char *initrd_opt, struct hr_boot_files *bf);
void hr_target_boot_files_free(struct hr_boot_files *bf);
/* $HYPEMAN_CACHE or /var/cache/hypeman-init; NULL (message printed) when
 * HYPEMAN_CACHE is not an absolute path. */
const char *hr_target_cache_dir(void);

#endif
