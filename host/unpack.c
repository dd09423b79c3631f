/*
 * hypeman run: applying the layers, lowest first, in one pass per layer.
 *
 * libarchive reads the blob through hr_layout_read() (blob.c), so every byte is
 * hashed as it is decompressed and its entries placed (tree.c). The layer
 * counts only if its digest and size match at the end; otherwise, or on
 * any error, the run fails naming the blob and the caller throws the
 * whole tree away: no disk is ever made from unverified bytes.
 *
 * Limits are checked on each header, before anything is written: the
 * total of the entries' sizes (a sparse file at its full size), the
 * number of entries, and the free space of the work directory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <archive.h>
#include <archive_entry.h>
#include "layout.h"
#include "meter.h"
#include "oci.h"
#include "tool.h"
#include "tree.h"
#include "unpack.h"

#define READ_CHUNK (1 << 20)

struct reader {
	struct hr_blob blob;
	struct hr_meter meter;
	char *buf;
};

static la_ssize_t read_cb(struct archive *a, void *arg, const void **out)
{
	struct reader *r = arg;
	ssize_t n = hr_layout_read(&r->blob, r->buf, READ_CHUNK);

	if (n < 0) {
		archive_set_error(a, errno, "%s", errno == EFBIG
			? "the blob grew while being read" : strerror(errno));
		return -1;
	}
	if (hr_tool.interrupted) {
		archive_set_error(a, EINTR, "interrupted");
		return -1;
	}
	hr_meter_tick(&r->meter, r->blob.got, r->blob.size);
	*out = r->buf;
	return n;
}

void hr_unpack_error(const char *what, struct archive *a)
{
	const char *e = archive_error_string(a);

	if (hr_tool.interrupted)
		return;
	if (!e)
		e = "unknown error";
	if (strstr(e, "Unrecognized archive format") || strstr(e, "Missing type keyword"))
		hr_msg("%s: not a tar archive (%s data holds no tar header)", what,
			archive_filter_count(a) > 1 ? archive_filter_name(a, 0) : "the");
	else if (strstr(e, "runcated"))
		hr_msg("%s is truncated: the data ends inside an entry (%s)", what, e);
	else if (strstr(e, "Damaged") || strstr(e, "checksum"))
		hr_msg("%s is damaged: %s", what, e);
	else if (strstr(e, "grew while"))
		hr_msg("%s: %s: refusing the image", what, e);
	else
		hr_msg("%s: reading the layer: %s", what, e);
}

struct archive *hr_unpack_archive(const char *what)
{
	struct archive *a = archive_read_new();

	/* Built in (libarchive would otherwise run an external program). */
	if (!a || archive_read_support_filter_gzip(a) || archive_read_support_filter_zstd(a)
	 || archive_read_support_filter_xz(a) || archive_read_support_filter_bzip2(a)
	 || archive_read_support_format_tar(a) || archive_read_support_format_empty(a)) {
		hr_msg("%s: this libarchive cannot read gzip, zstd, xz and bzip2 by itself: %s", what,
			a ? archive_error_string(a) : "out of memory");
		archive_read_free(a);
		return NULL;
	}
	return a;
}

static struct archive *open_archive(struct reader *r, const char *what)
{
	struct archive *a = hr_unpack_archive(what);

	if (!a)
		return NULL;
	if (archive_read_open2(a, r, NULL, read_cb, NULL, NULL) != ARCHIVE_OK) {
		hr_unpack_error(what, a);
		archive_read_free(a);
		return NULL;
	}
	return a;
}

/* The limits, before the entry is written. */
static int check_limits(struct hr_unpack_totals *tt, struct archive_entry *e, const char *what)
{
	uint64_t size = archive_entry_size_is_set(e) && archive_entry_size(e) > 0
		? (uint64_t)archive_entry_size(e) : 0;
	char a[32], b[32], c[32], name[300], n[64];

	hr_printable(archive_entry_pathname(e) ? archive_entry_pathname(e) : "?", name, sizeof(name));
	if (++tt->entries > tt->lim->max_entries) {
		hr_msg("%s: more than %s in the image (at %s): refusing it "
			"(--max-entries raises the limit)", what,
			hr_count(tt->lim->max_entries, "entry", "entries", n), name);
		return -1;
	}
	tt->size += size;
	if (tt->size > tt->lim->max_size) {
		hr_msg("%s: %s (%s) brings the unpacked image to %s, over the %s limit: refusing it "
			"(--max-size raises the limit)", what, name, hr_human_size(size, a),
			hr_human_size(tt->size, b), hr_human_size(tt->lim->max_size, c));
		return -1;
	}
	if (size > tt->free_left) {	/* look again, then decide */
		tt->free_left = hr_free_space(tt->root);
		if (size > tt->free_left) {
			hr_msg("%s: %s needs %s, and %s has only %s free: refusing to fill it", what,
				name, hr_human_size(size, a), tt->root, hr_human_size(tt->free_left, b));
			return -1;
		}
	}
	tt->free_left -= size;
	return 0;
}

int hr_unpack_entries(struct archive *a, struct hr_tree *t, struct hr_unpack_totals *tt,
		const char *what, size_t *n)
{
	struct archive_entry *e;
	la_int64_t before = 0;
	int r;

	for (;;) {
		before = archive_filter_bytes(a, 0);
		r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			hr_unpack_error(what, a);
			return -1;
		}
		if (r == ARCHIVE_WARN && archive_error_string(a))
			hr_msg("warning: %s: %s", what, archive_error_string(a));
		if (hr_tool.interrupted || check_limits(tt, e, what))
			return -1;
		r = hr_tree_entry(t, a, e);
		if (r == HR_TREE_EREAD)
			hr_unpack_error(what, a);
		if (r)
			return -1;
		(*n)++;
		if (hr_tree_layer_ended(t)) {
			char name[300];

			hr_note("%s ends inside the padding of its last entry, /%s (as Debian's umoci "
				"0.4.7 writes layers): the entry's data is complete, taken as the layer's end",
				what, hr_printable(archive_entry_pathname(e), name, sizeof(name)));
			return 0;
		}
	}
	/* GNU and BSD tar end with two zero blocks; umoci 0.4.7 writes none,
	 * and reads such layers itself: a detail for the log, not a warning. */
	if (*n && archive_filter_bytes(a, 0) == before)
		hr_note("%s has no end-of-archive blocks (as Debian's umoci 0.4.7 writes layers): "
			"taken as complete", what);
	return 0;
}

static int unpack_layer(const struct hr_image *img, const struct hr_layout *l, size_t i,
		struct hr_tree *t, struct hr_unpack_totals *tt)
{
	const struct hr_layer *ly = &img->layers[i];
	struct reader r = { .buf = hr_malloc(READ_CHUNK) };
	struct archive *a = NULL;
	char what[128], which[32], sz[32], count[64];	/* "layer 2/3 (sha256:...)", "layer 2/3" */
	size_t n = 0;
	int rc = -1;

	snprintf(which, sizeof(which), "layer %zu/%zu", i + 1, img->n_layers);
	snprintf(what, sizeof(what), "%s (%s)", which, ly->digest);
	hr_meter_start(&r.meter, "%s", which);	/* the step has begun: its line counts */
	hr_progress("applying %s (%s, %s)", which, ly->digest, hr_human_size(ly->size, sz));
	hr_tree_layer(t, what);
	if (hr_layout_blob(&r.blob, l, ly->digest, ly->size, which))
		goto out;
	if (!(a = open_archive(&r, what)) || hr_unpack_entries(a, t, tt, what, &n))
		goto out;
	hr_tree_layer_end(t);
	if (hr_layout_finish(&r.blob))
		goto out;
	hr_progress("applied %s: %s in %.1f s", which, hr_count(n, "entry", "entries", count),
		hr_meter_end(&r.meter));
	rc = 0;
out:
	if (rc)
		hr_meter_end(&r.meter);
	archive_read_free(a);
	hr_layout_blob_close(&r.blob);
	free(r.buf);
	return rc;
}

int hr_unpack_layers(const struct hr_image *img, const struct hr_layout *l, const char *root,
		const struct hr_limits *lim)
{
	struct hr_unpack_totals tt = { .lim = lim, .root = root };
	struct hr_tree *t = hr_tree_open(root);
	size_t i;
	int rc = 0;

	if (!t)
		return -1;
	for (i = 0; i < img->n_layers && rc == 0; i++)
		rc = unpack_layer(img, l, i, t, &tt);
	if (rc == 0)
		rc = hr_tree_finish(t);
	hr_tree_close(t);
	return rc;
}
