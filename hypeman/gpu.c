/*
 * Phase 6 (gpu), only when config has_gpu: as nvidia-modprobe, nothing is
 * loaded unless the PCI bus has an NVIDIA display-class device. Then the
 * initrd's NVIDIA bundle (build.sh --gpu-driver) is mounted, its kernel
 * modules loaded in order (nvidia-drm with modeset=1), the /dev/nvidia*
 * nodes made as nvidia-modprobe makes them, and its userspace (libraries,
 * tools) bind-mounted read-only into the image (gpu_inject.c). The bundle
 * stays mounted after the switch (/run/hypeman/disks/gpu): the driver
 * reads its GSP firmware when a program first opens a GPU, and the
 * kernel's firmware search path points there. Every failure is an ERROR
 * and boot goes on: the program may not need the GPU.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += gpu.o

#include "libbb.h"
#include "hypeman.h"
#include "moddep.h"
#include "nvinfo.h"

#define GPU_MNT      "/gpu"
#define GPU_FIRMWARE HM_DISKS_DIR "/gpu/lib/firmware"
#define FW_PATH_PARAM "/sys/module/firmware_class/parameters/path"
#define PCI_DEVICES  "/sys/bus/pci/devices"

/* contract: GPU and kernel headers: the stack, in load order */
static const char *const nvidia_stack[] = { "nvidia", "nvidia_uvm", "nvidia_modeset", "nvidia_drm" };

static const char *stack_options(const char *name)
{
	return strcmp(name, "nvidia_drm") == 0 ? "modeset=1" : "";
}

/* The bundle's list (/etc/hypeman/gpu), checked against the running kernel. */
static char *read_list(struct hm_bundle_list *list)
{
	struct utsname uts;
	char err[128];
	char *text = xmalloc_open_read_close(HM_GPU_LIST, NULL);

	if (!text) {
		hm_log(HM_ERROR, "gpu", "has_gpu is set but this initrd has no GPU driver bundle (%s missing; build it with build.sh --gpu-driver)",
			HM_GPU_LIST);
		return NULL;
	}
	uname(&uts);
	if (hm_bundle_list_parse(text, list, err, sizeof(err)) != 0 || !list->release || !list->version) {
		hm_log(HM_ERROR, "gpu", "%s: %s", HM_GPU_LIST, list->release && list->version ? err : "no release or version");
	} else if (strcmp(list->release, uts.release) != 0) {
		hm_log(HM_ERROR, "gpu", "the GPU bundle's modules are for kernel %s, this is %s", list->release, uts.release);
	} else {
		return text;
	}
	free(text);
	return NULL;
}

static int FAST_FUNC count_nvidia(const char *dir, struct dirent *de, void *arg)
{
	char *path = xasprintf("%s/%s/vendor", dir, de->d_name);
	char *vendor = xmalloc_open_read_close(path, NULL), *class;

	strcpy(strrchr(path, '/'), "/class");	/* shorter than "/vendor" */
	class = xmalloc_open_read_close(path, NULL);
	if (vendor && class && hm_pci_nvidia_display(vendor, class))
		(*(int *)arg)++;
	free(class);
	free(vendor);
	free(path);
	return 0;
}

/* nvidia-modprobe's check: PCI devices of vendor 0x10de, class 0x03xx. */
static int nvidia_pci_devices(void)
{
	int n = 0;

	if (iterate_on_dir(PCI_DEVICES, count_nvidia, &n) != 0)
		hm_log_errno(HM_WARN, "gpu", errno, "cannot list %s", PCI_DEVICES);
	return n;
}

/* firmware_class.path: searched before /lib/firmware, in PID 1's root
 * (the kernel's firmware loader resolves paths in init's fs root). */
static void set_firmware_path(void)
{
	int fd = open(FW_PATH_PARAM, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || full_write(fd, GPU_FIRMWARE, strlen(GPU_FIRMWARE)) < 0)
		hm_log_errno(HM_ERROR, "gpu", errno, "cannot set the firmware path in %s", FW_PATH_PARAM);
	if (fd >= 0)
		close(fd);
}

/* Loop and squashfs from the initrd's tree, then the bundle on GPU_MNT,
 * handed over at the switch so that its firmware stays reachable. */
static int mount_bundle(struct hm_boot *b)
{
	int fds[8], n, fd, rc;

	n = hm_image_modules_open("gpu", fds, ARRAY_SIZE(fds));
	if (n < 0 || hm_image_modules_load("gpu", fds, n) != 0)
		return -1;
	fd = open(HM_GPU_IMAGE, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		hm_log_errno(HM_ERROR, "gpu", errno, "open %s failed", HM_GPU_IMAGE);
		return -1;
	}
	rc = hm_mount_initrd_image("gpu", fd, GPU_MNT);
	close(fd);
	if (rc != 0)
		return -1;
	hm_stage_mount(b, GPU_MNT, "gpu");
	/* the firmware: from the initramfs until the switch (the default
	 * /lib/firmware), from the handed-over mount after it */
	if (symlink(GPU_MNT "/lib/firmware", "/lib/firmware") != 0 && errno != EEXIST)
		hm_log_errno(HM_WARN, "gpu", errno, "symlink /lib/firmware failed");
	set_firmware_path();
	return 0;
}

static int load_stack(const char *release)
{
	struct hm_modplan plan;
	char *dir = xasprintf(GPU_MNT "/lib/modules/%s", release);
	int rc;

	rc = hm_plan_modules("gpu", dir, (char *const *)nvidia_stack, ARRAY_SIZE(nvidia_stack), &plan);
	if (rc == 0)
		rc = hm_load_plan("gpu", dir, &plan, stack_options);
	hm_modplan_free(&plan);
	free(dir);
	return rc;
}

/* The bundle mounted, the stack loaded, the nodes made, the userspace
 * in the image: the summary of the phase. */
static const char *setup(struct hm_boot *b, const struct hm_bundle_list *list, char *sum, size_t len)
{
	int gpus = -1;

	if (nvidia_pci_devices() == 0) {
		hm_log(HM_ERROR, "gpu", "has_gpu, but no NVIDIA display controller on the PCI bus "
			"(vendor 0x10de, class 0x03xx in %s): no driver loaded", PCI_DEVICES);
		return "no NVIDIA PCI device";
	}
	if (mount_bundle(b) != 0)
		return "bundle not mounted";
	if (load_stack(list->release) == 0)
		gpus = hm_gpu_make_nodes();
	else
		hm_log(HM_ERROR, "gpu", "NVIDIA driver %s not loaded: no GPU device nodes", list->version);
	hm_gpu_inject(b, GPU_MNT);
	if (gpus < 0)
		return "no GPU set up";
	snprintf(sum, len, "NVIDIA driver %s: %d GPU(s)", list->version, gpus);
	return sum;
}

void FAST_FUNC hm_setup_gpu(struct hm_boot *b)
{
	struct hm_bundle_list list;
	char *text, sum[96];

	if (!b->cfg.has_gpu)
		return;
	hm_phase_begin("gpu");
	text = read_list(&list);
	hm_phase_end("gpu", "%s", text ? setup(b, &list, sum, sizeof(sum)) : "no usable GPU bundle");
	free(text);
}
