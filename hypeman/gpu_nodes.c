/*
 * Phase 6 (gpu): the /dev/nvidia* nodes, made as nvidia-modprobe makes
 * them (the driver registers character majors but creates no devices):
 * nvidiactl 195:255, nvidia-modeset 195:254, nvidiaN for each GPU in
 * /proc/driver/nvidia/gpus (N its "Device Minor"), nvidia-uvm and
 * nvidia-uvm-tools (minors 0 and 1 of the dynamic "nvidia-uvm" major in
 * /proc/devices), and /dev/nvidia-caps/nvidia-capN for the driver's
 * capability files (major "nvidia-caps", minors up to 8191). The major
 * is "nvidia-frontend" before driver 550.40, "nvidiactl"/"nvidia" from
 * it on, 195 either way. Owner and mode come from the driver's params
 * (DeviceFileUID, DeviceFileGID, DeviceFileMode: root and 0666 by
 * default), and none is made with ModifyDeviceFiles 0; a capability node
 * gets the mode its file names and root, as nvidia-modprobe does. They
 * live in devtmpfs, which moves into the new root: both modes see them.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += gpu_nodes.o

#include "libbb.h"
#include "hypeman.h"
#include "nvinfo.h"

#define NV_PROC       "/proc/driver/nvidia"
#define CAPS_DIR      "/dev/nvidia-caps"

/* mknod PATH (replacing anything else there), then the exact MODE and
 * the owner. */
static int make_node(const char *path, int major, int minor, mode_t mode, uid_t uid, gid_t gid)
{
	dev_t dev = makedev(major, minor);
	struct stat st;

	if (lstat(path, &st) == 0 && !(S_ISCHR(st.st_mode) && st.st_rdev == dev))
		unlink(path);
	if (mknod(path, S_IFCHR | mode, dev) != 0 && errno != EEXIST) {
		hm_log_errno(HM_ERROR, "gpu", errno, "mknod %s (%d:%d) failed", path, major, minor);
		return -1;
	}
	/* mknod's mode went through the umask */
	if (chmod(path, mode) != 0 || chown(path, uid, gid) != 0) {
		hm_log_errno(HM_ERROR, "gpu", errno, "chmod/chown %s failed", path);
		return -1;
	}
	return 0;
}

struct gpu_walk {
	int major;
	int count;
	struct hm_nv_params params;
};

static int make_dev(struct gpu_walk *w, const char *path, int major, int minor)
{
	return make_node(path, major, minor, w->params.mode, w->params.uid, w->params.gid);
}

/* One GPU directory: /dev/nvidiaN and its log line. */
static int FAST_FUNC one_gpu(const char *dir, struct dirent *de, void *arg)
{
	struct gpu_walk *w = arg;
	struct hm_nv_gpu gpu;
	char *path, *text, node[32];

	if (DOT_OR_DOTDOT(de->d_name))
		return 0;
	path = xasprintf("%s/%s/information", dir, de->d_name);
	text = xmalloc_open_read_close(path, NULL);
	if (!text) {
		hm_log_errno(HM_ERROR, "gpu", errno, "cannot read %s", path);
		free(path);
		return 0;
	}
	hm_nv_gpu_parse(text, &gpu);
	if (gpu.minor < 0) {
		hm_log(HM_ERROR, "gpu", "%s has no valid \"Device Minor:\" line", path);
	} else {
		sprintf(node, "/dev/nvidia%d", gpu.minor);
		if (make_dev(w, node, w->major, gpu.minor) == 0)
			w->count++;
		hm_log(HM_INFO, "gpu", "GPU %s: %s (%s)", gpu.bus[0] ? gpu.bus : de->d_name,
			gpu.model[0] ? gpu.model : "unknown model", node);
	}
	free(text);
	free(path);
	return 0;
}

/* One capability file: /dev/nvidia-caps/nvidia-capN. */
static int FAST_FUNC one_cap(struct recursive_state *state, const char *file, struct stat *st UNUSED_PARAM)
{
	int major = *(int *)state->userData, minor;
	unsigned mode;
	char *text = xmalloc_open_read_close(file, NULL);
	char node[sizeof(CAPS_DIR "/nvidia-cap") + 8];

	if (text && hm_nv_cap_parse(text, &minor, &mode) == 0) {
		sprintf(node, CAPS_DIR "/nvidia-cap%d", minor);
		make_node(node, major, minor, mode, 0, 0);
	}
	free(text);
	return TRUE;
}

static void make_cap_nodes(int major)
{
	if (access(NV_PROC "/capabilities", F_OK) != 0)
		return;
	if (major < 0) {
		hm_log(HM_ERROR, "gpu", "the driver has capabilities but no nvidia-caps major in /proc/devices");
		return;
	}
	if (hm_mkdir("gpu", CAPS_DIR, 0755) == 0)
		recursive_action(NV_PROC "/capabilities", ACTION_RECURSE | ACTION_QUIET, one_cap, NULL, &major);
}

/* The owner and mode the driver's params name (without the file: the
 * defaults, as nvidia-modprobe). */
static void read_params(struct hm_nv_params *p)
{
	char *text = xmalloc_open_read_close(NV_PROC "/params", NULL);

	hm_nv_params_parse(text ? text : "", p);
	free(text);
}

int FAST_FUNC hm_gpu_make_nodes(void)
{
	char *devices = xmalloc_open_read_close("/proc/devices", NULL);
	struct gpu_walk w = { HM_NV_MAJOR, 0 };
	const char *name = NULL;
	int uvm = -1, caps = -1, rc = 0;

	if (devices) {
		w.major = hm_nv_frontend_major(devices, &name);
		uvm = hm_proc_devices_major(devices, "nvidia-uvm");
		caps = hm_proc_devices_major(devices, "nvidia-caps");
		free(devices);
	}
	if (!name)
		hm_log(HM_WARN, "gpu", "no nvidia-frontend, nvidiactl or nvidia major in /proc/devices: using %d", w.major);
	read_params(&w.params);
	if (!w.params.modify) {
		hm_log(HM_INFO, "gpu", "the driver's ModifyDeviceFiles is 0: no device nodes made");
		return 0;
	}
	rc |= make_dev(&w, "/dev/nvidiactl", w.major, 255);
	rc |= make_dev(&w, "/dev/nvidia-modeset", w.major, 254);
	if (uvm < 0) {
		hm_log(HM_ERROR, "gpu", "no \"nvidia-uvm\" major in /proc/devices: no /dev/nvidia-uvm");
	} else {
		rc |= make_dev(&w, "/dev/nvidia-uvm", uvm, 0);
		rc |= make_dev(&w, "/dev/nvidia-uvm-tools", uvm, 1);
	}
	make_cap_nodes(caps);
	if (iterate_on_dir(NV_PROC "/gpus", one_gpu, &w) != 0)
		hm_log_errno(HM_ERROR, "gpu", errno, "cannot list %s/gpus", NV_PROC);
	if (w.count == 0)
		hm_log(HM_ERROR, "gpu", "the driver lists no GPU in %s/gpus", NV_PROC);
	return rc ? -1 : w.count;
}
