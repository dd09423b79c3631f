/*
 * Runs in a test image (glibc, dynamic): prints what a program sees of the
 * GPU stack hypeman-init set up, one fact per line, for tests/vm/test_gpu.py:
 *   node PATH MAJOR MINOR MODE UID:GID   (or "node PATH missing ERRNO")
 *   open PATH ok|ERRNO             (the stand-in driver reads its firmware here)
 *   dlopen SONAME VERSION FILE|error TEXT    (FILE: where the library was found)
 *   write FILE ok|ERRNO            (opening that file for writing)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static const char *const nodes[] = {
	"/dev/nvidiactl", "/dev/nvidia0", "/dev/nvidia-modeset", "/dev/nvidia-uvm",
	"/dev/nvidia-uvm-tools", "/dev/nvidia-caps/nvidia-cap1", "/dev/nvidia-caps/nvidia-cap2",
	"/dev/nvidia-caps/nvidia-cap300", "/dev/nvidia-caps/nvidia-cap8191",
};

int main(int argc, char **argv)
{
	const char *soname = argc > 1 ? argv[1] : "libhypeman-gpu-test.so.1";
	const char *(*version)(void);
	struct stat st;
	Dl_info info;
	unsigned i;
	void *h;
	int fd;

	for (i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		if (stat(nodes[i], &st) != 0)
			printf("node %s missing %s\n", nodes[i], strerror(errno));
		else
			printf("node %s %u %u %04o %u:%u%s\n", nodes[i], major(st.st_rdev), minor(st.st_rdev),
				st.st_mode & 07777, (unsigned)st.st_uid, (unsigned)st.st_gid,
				S_ISCHR(st.st_mode) ? "" : " not-a-char-device");
	}
	fd = open("/dev/nvidia0", O_RDWR);
	printf("open /dev/nvidia0 %s\n", fd >= 0 ? "ok" : strerror(errno));
	if (fd >= 0)
		close(fd);
	h = dlopen(soname, RTLD_NOW);
	version = h ? (const char *(*)(void))dlsym(h, "hypeman_gpu_test_version") : NULL;
	if (version && dladdr((void *)version, &info) && info.dli_fname) {
		printf("dlopen %s %s %s\n", soname, version(), info.dli_fname);
		fd = open(info.dli_fname, O_WRONLY | O_APPEND);
		printf("write %s %s\n", info.dli_fname, fd >= 0 ? "ok" : strerror(errno));
		if (fd >= 0)
			close(fd);
	} else {
		printf("dlopen %s error %s\n", soname, dlerror());
	}
	return 0;
}
