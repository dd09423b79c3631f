/*
 * libFuzzer target: an image archive as hypeman run reads one (host/
 * layout.c, host/tarindex.c, then host/oci.c and host/unpack.c): the input
 * is the archive file (a tar of an OCI image layout, as skopeo copy ...
 * oci-archive: and docker save write it). It is indexed from its headers,
 * index.json, the manifest and the config are read in place and verified,
 * and the layers applied onto a temporary root, emptied after each input
 * (run.sh removes its TMPDIR at the end). The seeds are whole, valid
 * archives, so that mutations reach past the digests. Runs as root, as
 * the tool does.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "layout.h"
#include "oci.h"
#include "rmtree.h"
#include "target.h"
#include "unpack.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char dir[4096], file[4200], root[4200];	/* $TMPDIR may be long */
static int rootfd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "%s/hm-fuzz-archive.XXXXXX",
		getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		abort();
	snprintf(file, sizeof(file), "%s/image.tar", dir);
	snprintf(root, sizeof(root), "%s/rootfs", dir);
	if (mkdir(root, 0700) || (rootfd = open(root, O_RDONLY | O_DIRECTORY)) < 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* only the architecture's OCI name is read on this path */
	static const struct hr_target tg = { .name = "x86_64", .oci_arch = "amd64" };
	struct hr_limits lim = { 64 << 20, 10000, 1 << 20 };
	struct hr_layout l;
	struct hr_image img;
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || hm_write_all(fd, data, size) || close(fd))
		abort();
	if (hr_layout_open(&l, file, lim.max_entries) == 0) {
		if (hr_oci_load(&l, NULL, &tg, lim.max_json, &img) == 0)
			hr_unpack_layers(&img, &l, root, &lim);
		hr_oci_free(&img);
	}
	hr_layout_close(&l);
	/* the next input starts from an empty root */
	if (hm_remove_tree_contents(rootfd) != 0)
		abort();
	return 0;
}
