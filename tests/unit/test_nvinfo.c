// needs: hypeman/nvinfo.c hypeman/confine.c contract/fdio.c contract/config.c contract/json.c
/* Unit tests for hypeman/nvinfo.c: /proc/devices of both driver
 * generations, the NVIDIA driver's information, params and capability
 * files (as the 535 and 550 drivers write them), PCI ids from sysfs, and
 * the initrd's bundle lists. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include "check.h"
#include "nvinfo.h"

static const char DEVICES[] =
	"Character devices:\n"
	"  1 mem\n"
	"  4 /dev/vc/0\n"
	"195 nvidia-frontend\n"
	"226 drm\n"
	"234 nvidia-uvm\n"
	"235 nvidia-caps\n"
	"236 nvidia-uvm-tools-not\n"
	"\n"
	"Block devices:\n"
	"  7 loop\n"
	"237 nvidia-uvm-block\n"
	"254 virtblk\n";

static void test_devices(void)
{
	CHECK_INT(hm_proc_devices_major(DEVICES, "nvidia-frontend"), 195);
	CHECK_INT(hm_proc_devices_major(DEVICES, "nvidia-uvm"), 234);
	CHECK_INT(hm_proc_devices_major(DEVICES, "nvidia-caps"), 235);
	CHECK_INT(hm_proc_devices_major(DEVICES, "mem"), 1);
	/* whole names only, character section only: "nvidia" is not a
	 * prefix of "nvidia-frontend" */
	CHECK_INT(hm_proc_devices_major(DEVICES, "nvidia"), -1);
	CHECK_INT(hm_proc_devices_major(DEVICES, "nvidia-uvm-tools"), -1);
	CHECK_INT(hm_proc_devices_major(DEVICES, "loop"), -1);
	CHECK_INT(hm_proc_devices_major(DEVICES, "nvidia-uvm-block"), -1);
	CHECK_INT(hm_proc_devices_major("", "mem"), -1);
	CHECK_INT(hm_proc_devices_major("  1 mem\n", "mem"), -1);  /* no section header */
	CHECK_INT(hm_proc_devices_major("Character devices:\r\n 10 misc\r\n", "misc"), 10);
	CHECK_INT(hm_proc_devices_major("Character devices:\n99999 big\n", "big"), -1);
	CHECK_INT(hm_proc_devices_major("Character devices:\nx1 bad\n", "bad"), -1);
	CHECK_INT(hm_proc_devices_major("Character devices:\n12 last", "last"), 12);
}

/* 550.40 and later: "nvidia" and "nvidiactl", the same major */
static const char DEVICES_550[] =
	"Character devices:\n"
	"  1 mem\n"
	"195 nvidia\n"
	"195 nvidiactl\n"
	"226 drm\n"
	"508 nvidia-uvm\n"
	"509 nvidia-caps\n"
	"\n"
	"Block devices:\n"
	"  7 loop\n";

static void test_frontend_major(void)
{
	const char *name = "x";

	CHECK_INT(hm_proc_devices_major(DEVICES_550, "nvidia"), 195);
	CHECK_INT(hm_proc_devices_major(DEVICES_550, "nvidiactl"), 195);
	CHECK_INT(hm_proc_devices_major(DEVICES_550, "nvidia-uvm"), 508);
	CHECK_INT(hm_nv_frontend_major(DEVICES_550, &name), 195);
	CHECK_STR(name, "nvidiactl");
	CHECK_INT(hm_nv_frontend_major(DEVICES, &name), 195);
	CHECK_STR(name, "nvidia-frontend");
	/* a driver that registered another major under the new name */
	CHECK_INT(hm_nv_frontend_major("Character devices:\n200 nvidia\n", &name), 200);
	CHECK_STR(name, "nvidia");
	/* none listed: the fixed major, no name */
	CHECK_INT(hm_nv_frontend_major("Character devices:\n  1 mem\nBlock devices:\n195 nvidia\n", &name),
		HM_NV_MAJOR);
	CHECK(name == NULL);
}

/* The 535 driver's layout: key, colon, tabs and spaces, value. */
static const char INFO[] =
	"Model: \t\t NVIDIA A100-SXM4-40GB\n"
	"IRQ:   \t\t 45\n"
	"GPU UUID: \t GPU-6f4b1b1c-2a1c-7d2b-0000-000000000000\n"
	"Video BIOS: \t 92.00.36.00.01\n"
	"Bus Type: \t PCIe\n"
	"DMA Size: \t 47 bits\n"
	"DMA Mask: \t 0x7fffffffffff\n"
	"Bus Location: \t 0000:00:05.0\n"
	"Device Minor: \t 3\n"
	"GPU Excluded:\t No\n";

static void test_gpu_info(void)
{
	struct hm_nv_gpu g;

	hm_nv_gpu_parse(INFO, &g);
	CHECK_STR(g.model, "NVIDIA A100-SXM4-40GB");
	CHECK_STR(g.bus, "0000:00:05.0");
	CHECK_INT(g.minor, 3);

	hm_nv_gpu_parse("", &g);
	CHECK_STR(g.model, "");
	CHECK_STR(g.bus, "");
	CHECK_INT(g.minor, -1);

	/* minors 254/255 belong to nvidia-modeset/nvidiactl; junk is no minor */
	hm_nv_gpu_parse("Device Minor: 255\n", &g);
	CHECK_INT(g.minor, -1);
	hm_nv_gpu_parse("Device Minor: 2x\n", &g);
	CHECK_INT(g.minor, -1);
	hm_nv_gpu_parse("Device Minor:\n", &g);
	CHECK_INT(g.minor, -1);
	/* "Model:" must be the key, not a prefix of another one */
	hm_nv_gpu_parse("Model Name: x\nModel:Tesla T4\r\n", &g);
	CHECK_STR(g.model, "Tesla T4");
	/* a long model is cut, not overflowed */
	{
		char big[400];
		memset(big, 'M', sizeof(big));
		memcpy(big, "Model: ", 7);
		big[sizeof(big) - 1] = '\0';
		hm_nv_gpu_parse(big, &g);
		CHECK_INT(strlen(g.model), sizeof(g.model) - 1);
	}
}

static void test_cap(void)
{
	int minor = -1;
	unsigned mode = 0;

	CHECK_INT(hm_nv_cap_parse("DeviceFileMinor: 1\nDeviceFileMode: 256\nDeviceFileModify: 1\n",
		&minor, &mode), 0);
	CHECK_INT(minor, 1);
	CHECK_INT(mode, 0400);
	CHECK_INT(hm_nv_cap_parse("DeviceFileMinor: 2\n", &minor, &mode), 0);
	CHECK_INT(minor, 2);
	CHECK_INT(mode, 0444);
	CHECK_INT(hm_nv_cap_parse("DeviceFileMode: 256\n", &minor, &mode), -1);
	/* MIG instances of several GPUs: minors above 255, up to 8191 */
	CHECK_INT(hm_nv_cap_parse("DeviceFileMinor: 256\n", &minor, &mode), 0);
	CHECK_INT(minor, 256);
	CHECK_INT(hm_nv_cap_parse("DeviceFileMinor: 8191\nDeviceFileMode: 292\n", &minor, &mode), 0);
	CHECK_INT(minor, 8191);
	CHECK_INT(mode, 0444);
	CHECK_INT(hm_nv_cap_parse("DeviceFileMinor: 8192\n", &minor, &mode), -1);
	CHECK_INT(hm_nv_cap_parse("DeviceFileMinor: -1\n", &minor, &mode), -1);
	CHECK_INT(hm_nv_cap_parse("DeviceFileMinor: 3\nDeviceFileMode: 99999\n", &minor, &mode), -1);
}

/* The start of the 550 driver's params file, as it writes it. */
static const char PARAMS[] =
	"ResmanDebugLevel: 4294967295\n"
	"RmLogonRC: 1\n"
	"ModifyDeviceFiles: 1\n"
	"DeviceFileUID: 0\n"
	"DeviceFileGID: 44\n"
	"DeviceFileMode: 432\n"
	"InitializeSystemMemoryAllocations: 1\n"
	"RegistryDwords: \"\"\n";

static void test_params(void)
{
	struct hm_nv_params p;

	hm_nv_params_parse(PARAMS, &p);
	CHECK_INT(p.uid, 0);
	CHECK_INT(p.gid, 44);
	CHECK_INT(p.mode, 0660);
	CHECK_INT(p.modify, 1);
	/* nvidia-modprobe's defaults: root, 0666, modify */
	hm_nv_params_parse("", &p);
	CHECK(p.uid == 0 && p.gid == 0 && p.mode == 0666 && p.modify == 1);
	hm_nv_params_parse("DeviceFileUID: 1000\r\nModifyDeviceFiles: 0\nDeviceFileMode: 438", &p);
	CHECK(p.uid == 1000 && p.gid == 0 && p.mode == 0666 && p.modify == 0);
	/* bad values keep the default; keys are whole */
	hm_nv_params_parse("DeviceFileMode: 99999\nDeviceFileGID: x\nDeviceFileUIDs: 5\n"
		"ModifyDeviceFiles: 2\n", &p);
	CHECK(p.uid == 0 && p.gid == 0 && p.mode == 0666 && p.modify == 1);
}

static void test_pci(void)
{
	CHECK(hm_pci_nvidia_display("0x10de\n", "0x030200\n"));	/* 3D controller (H100) */
	CHECK(hm_pci_nvidia_display("0x10de\n", "0x030000\n"));	/* VGA */
	CHECK(hm_pci_nvidia_display("0x10de", "0x038000"));
	CHECK(!hm_pci_nvidia_display("0x10de\n", "0x068000\n"));	/* NVSwitch bridge */
	CHECK(!hm_pci_nvidia_display("0x10de\n", "0x040300\n"));	/* the GPU's audio */
	CHECK(!hm_pci_nvidia_display("0x1af4\n", "0x030000\n"));	/* virtio-gpu */
	CHECK(!hm_pci_nvidia_display("0x10dea\n", "0x030000\n"));
	CHECK(!hm_pci_nvidia_display("0x10de\n", "0x0302\n"));
	CHECK(!hm_pci_nvidia_display("0x10de\n", "0x0302000\n"));
	CHECK(!hm_pci_nvidia_display("", ""));
}

static void test_bundle_list(void)
{
	struct hm_bundle_list l;
	char err[128];
	char text[] =
		"# kernel headers in this initrd\n"
		"release 6.1.0-57-amd64\n"
		"tree /usr/src/linux-headers-6.1.0-57-amd64\n"
		"path  /usr/src/linux-headers-6.1.0-57-common \n"
		"\n"
		"path\t/usr/lib/linux-kbuild-6.1\r\n";

	CHECK_INT(hm_bundle_list_parse(text, &l, err, sizeof(err)), 0);
	CHECK_STR(l.release, "6.1.0-57-amd64");
	CHECK_STR(l.tree, "/usr/src/linux-headers-6.1.0-57-amd64");
	CHECK_INT(l.n_paths, 2);
	CHECK_STR(l.paths[0], "/usr/src/linux-headers-6.1.0-57-common");
	CHECK_STR(l.paths[1], "/usr/lib/linux-kbuild-6.1");
	CHECK(l.version == NULL);

	{
		char t[] = "version 535.309.01\nrelease 6.1.0-57-amd64";
		CHECK_INT(hm_bundle_list_parse(t, &l, err, sizeof(err)), 0);
		CHECK_STR(l.version, "535.309.01");
		CHECK_STR(l.release, "6.1.0-57-amd64");
	}
	{
		char t[] = "release x\nfoo bar\n";
		CHECK_INT(hm_bundle_list_parse(t, &l, err, sizeof(err)), -1);
		CHECK_STR(err, "line 2: unknown key \"foo\"");
	}
	{
		char t[] = "tree usr/src/x\n";
		CHECK_INT(hm_bundle_list_parse(t, &l, err, sizeof(err)), -1);
		CHECK_STR(err, "line 1: path is not absolute \"usr/src/x\"");
	}
	{
		char t[] = "path /usr/src/../../etc\n";
		CHECK_INT(hm_bundle_list_parse(t, &l, err, sizeof(err)), -1);
	}
	{
		char t[] = "release ../../x\n";
		CHECK_INT(hm_bundle_list_parse(t, &l, err, sizeof(err)), -1);
	}
	{
		char t[] = "release\n";
		CHECK_INT(hm_bundle_list_parse(t, &l, err, sizeof(err)), -1);
		CHECK_STR(err, "line 1: no value for \"release\"");
	}
	{
		char t[2048] = "";
		int i;
		for (i = 0; i < HM_BUNDLE_MAX_PATHS + 1; i++)
			sprintf(t + strlen(t), "path /p%d\n", i);
		CHECK_INT(hm_bundle_list_parse(t, &l, err, sizeof(err)), -1);
		CHECK_INT(l.n_paths, HM_BUNDLE_MAX_PATHS);
	}
	{
		char t[] = "";
		CHECK_INT(hm_bundle_list_parse(t, &l, err, sizeof(err)), 0);
		CHECK(l.release == NULL && l.tree == NULL && l.n_paths == 0);
	}
}

int main(void)
{
	CHECK_CASE(test_devices());
	CHECK_CASE(test_frontend_major());
	CHECK_CASE(test_params());
	CHECK_CASE(test_pci());
	CHECK_CASE(test_gpu_info());
	CHECK_CASE(test_cap());
	CHECK_CASE(test_bundle_list());
	return check_done();
}
