/*
 * hypeman-init: the initrd's optional bundles, the GPU driver and the
 * kernel headers (gpu*.c, headers.c, initrd_image.c): their modules,
 * their squashfs images, the GPU's nodes, userspace and persistence.
 * hypeman.h, which every phase includes, includes it.
 */
#ifndef HM_BUNDLES_H
#define HM_BUNDLES_H 1

struct hm_boot;

PUSH_AND_SET_FUNCTION_VISIBILITY_TO_HIDDEN

struct hm_modplan;
/* The load plan for WANTED from DIR's depmod files; a missing module is
 * an ERROR under PHASE. 0 or -1; free PLAN with hm_modplan_free either way. */
int hm_plan_modules(const char *phase, const char *dir, char *const *wanted,
		int n_wanted, struct hm_modplan *plan) FAST_FUNC;
/* finit_module of each planned module under DIR, with OPTIONS(name)
 * (may be NULL); stops at the first required one that fails. 0 or -1. */
int hm_load_plan(const char *phase, const char *dir, const struct hm_modplan *plan,
		const char *(*options)(const char *name)) FAST_FUNC;
/* Opens the files of the modules that mounting an image needs (the list
 * HM_IMAGE_MODULES, in load order), at most MAX: the count, or -1 (logged). */
int hm_image_modules_open(const char *phase, int *fds, int max) FAST_FUNC;
/* finit_module of each of FDS[0..N) (closed); 0 or -1 (logged). */
int hm_image_modules_load(const char *phase, int *fds, int n) FAST_FUNC;
/* Mounts the squashfs image open as FD read-only on TARGET (made) through
 * an autoclear loop device. 0 or -1 (logged). */
int hm_mount_initrd_image(const char *phase, int fd, const char *target) FAST_FUNC;
/* The /dev/nvidia* nodes; the number of GPUs, or -1 (logged). */
int hm_gpu_make_nodes(void) FAST_FUNC;
/* The bundle mounted at BUNDLE: its userspace into the image, read-only. */
void hm_gpu_inject(struct hm_boot *b, const char *bundle) FAST_FUNC;
/* nvidia-persistenced (gpu_persistenced.c), when the bundle carries it
 * and the driver loaded: started after the switch (exec mode: waited
 * for; systemd mode: a unit); stopped at shutdown before the rest gets
 * SIGTERM. */
void hm_gpu_start_persistenced(struct hm_boot *b) FAST_FUNC;
void hm_gpu_stop_persistenced(void) FAST_FUNC;
/* The hypeman-headers-wait applet: exit status. */
int hm_headers_wait(void) FAST_FUNC;

POP_SAVED_FUNCTION_VISIBILITY

#endif
