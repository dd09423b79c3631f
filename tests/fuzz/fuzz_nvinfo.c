/*
 * libFuzzer target: what the GPU and headers phases read (hypeman/nvinfo.c).
 * The input is NUL-separated texts, each given to one parser: /proc/devices
 * (the NVIDIA major by each name), a GPU's information file, a capability
 * file, the params file, a PCI vendor and class, a bundle list (parsed in
 * place, as init does). Missing parts are empty. Built and run by run.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "nvinfo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *part[7], *p, err[128];
	struct hm_bundle_list list;
	struct hm_nv_params params;
	struct hm_nv_gpu gpu;
	const char *name;
	unsigned mode;
	int i, minor;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	/* split on NUL; the parts past the end are the empty string at its end */
	for (i = 0, p = copy; i < 7; i++) {
		part[i] = p <= copy + size ? p : copy + size;
		p += strlen(part[i]) + 1;
	}
	(void)hm_nv_frontend_major(part[0], &name);
	(void)hm_proc_devices_major(part[0], "nvidia-uvm");
	hm_nv_gpu_parse(part[1], &gpu);
	if (strlen(gpu.model) >= sizeof(gpu.model) || strlen(gpu.bus) >= sizeof(gpu.bus)
			|| gpu.minor > 253)
		abort();
	if (hm_nv_cap_parse(part[2], &minor, &mode) == 0 && (minor > HM_NV_CAP_MINOR_MAX || mode > 07777))
		abort();
	hm_nv_params_parse(part[3], &params);
	if (params.mode > 07777 || params.modify > 1)
		abort();
	(void)hm_pci_nvidia_display(part[4], part[5]);
	(void)hm_bundle_list_parse(part[6], &list, err, sizeof(err));
	free(copy);
	return 0;
}
