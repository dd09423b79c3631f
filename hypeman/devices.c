/*
 * Waiting for devices. Drivers probe asynchronously after their module
 * loads (virtio_blk's disks appear in devtmpfs, virtio_net's interface in
 * sysfs), so init polls in short steps with a bound instead of sleeping a
 * fixed time.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += devices.o

#include "libbb.h"
#include "hypeman.h"

#define STEP_MS 2

int FAST_FUNC hm_wait_for(const char *phase, const char *what, const char *path, mode_t type)
{
	unsigned long long deadline = hm_uptime_ms() + HM_DEVICE_TIMEOUT_MS;
	struct stat st;

	for (;;) {
		if (stat(path, &st) == 0 && (st.st_mode & S_IFMT) == type)
			return 0;
		if (hm_uptime_ms() >= deadline) {
			hm_log(HM_ERROR, phase, "%s %s did not appear within %u ms",
				what, path, HM_DEVICE_TIMEOUT_MS);
			return -1;
		}
		/* A poll step, not a synchronisation sleep: there is no
		 * event to wait on without udev or netlink. */
		poll(NULL, 0, STEP_MS);
	}
}
