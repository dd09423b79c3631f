/*
 * libFuzzer target: applying a layer as hypeman run does (host/unpack.c,
 * host/tree.c): the input is the layer's blob, read from memory through
 * libarchive (any of its filters, then the tar reader on the decompressed
 * stream, hashed to its end: the diff_id) and placed onto a temporary root,
 * which is emptied after each input (run.sh removes its TMPDIR at the end).
 * Runs as root (owners, device nodes), as the tool does.
 */
#define _GNU_SOURCE
#include <archive.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "rmtree.h"
#include "tree.h"
#include "unpack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char root[4096];	/* $TMPDIR may be long (run.sh: $HYPEMAN_OUT/fuzz/...) */
static int rootfd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(root, sizeof(root), "%s/hm-fuzz-layer.XXXXXX",
		getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(root) || (rootfd = open(root, O_RDONLY | O_DIRECTORY)) < 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hr_limits lim = { 64 << 20, 10000, 4 << 20 };
	struct hr_unpack_totals tt = { .lim = &lim, .root = root, .free_left = 64 << 20 };
	struct hr_tree *t = hr_tree_open(root);
	struct archive *a = hr_unpack_archive("fuzz layer");
	struct hr_unpack_stream s = { 0 };
	char diff_id[72];
	size_t n = 0;

	if (!t || !a)
		abort();
	hr_tree_layer(t, "fuzz layer");
	if (archive_read_open_memory(a, data, size) != ARCHIVE_OK)
		archive_read_free(a);
	else if (hr_unpack_stream_open(&s, a, "fuzz layer") == 0
	 && hr_unpack_entries(&s, t, &tt, "fuzz layer", &n) == 0
	 && hr_unpack_stream_end(&s, "fuzz layer", diff_id) == 0
	 && (strlen(diff_id) != 71 || (s.bytes == 0) != !strcmp(diff_id, "sha256:"
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")))
		abort();	/* a digest, of the empty stream only when nothing was read */
	hr_tree_layer_end(t);
	hr_tree_finish(t);
	hr_tree_close(t);
	hr_unpack_stream_close(&s);
	/* the next input starts from an empty root */
	if (hm_remove_tree_contents(rootfd) != 0)
		abort();
	return 0;
}
