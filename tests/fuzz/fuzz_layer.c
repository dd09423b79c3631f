/*
 * libFuzzer target: applying a layer as hypeman run does (host/unpack.c,
 * host/tree.c): the input is the layer's blob, read from memory through
 * libarchive (any of its filters, tar) and placed onto a temporary root,
 * which is emptied after each input (run.sh removes its TMPDIR at the end).
 * Runs as root (owners, device nodes), as the tool does.
 */
#define _GNU_SOURCE
#include <archive.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "rmtree.h"
#include "tree.h"
#include "unpack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char root[4096];	/* as long as TMPDIR may be */
static int rootfd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if ((size_t)snprintf(root, sizeof(root), "%s/hm-fuzz-layer.XXXXXX",
			getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp") >= sizeof(root) || !mkdtemp(root) || (rootfd = open(root, O_RDONLY | O_DIRECTORY)) < 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hr_limits lim = { 64 << 20, 10000, 4 << 20 };
	struct hr_unpack_totals tt = { .lim = &lim, .root = root, .free_left = 64 << 20 };
	struct hr_tree *t = hr_tree_open(root);
	struct archive *a = hr_unpack_archive("fuzz layer");
	size_t n = 0;

	if (!t || !a)
		abort();
	hr_tree_layer(t, "fuzz layer");
	if (archive_read_open_memory(a, data, size) == ARCHIVE_OK)
		hr_unpack_entries(a, t, &tt, "fuzz layer", &n);
	hr_tree_layer_end(t);
	hr_tree_finish(t);
	hr_tree_close(t);
	archive_read_free(a);
	/* the next input starts from an empty root */
	if (hm_remove_tree_contents(rootfd) != 0)
		abort();
	return 0;
}
