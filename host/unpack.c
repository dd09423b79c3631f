/*
 * hypeman run: applying the layers, lowest first, in one pass per layer.
 *
 * libarchive reads the blob through hr_layout_read() (layout.c), so every
 * byte is hashed as it is read. Two readers are chained: the outer one
 * decompresses (format "raw"), the tar reader takes the uncompressed
 * stream from it block by block, hashing each (the diff_id), and its
 * entries are placed (tree.c). After the tar's end the rest of the stream
 * is read too (end blocks, padding), then the rest of the blob. The layer
 * counts only if the blob's digest and size match its descriptor and the
 * stream's digest matches the config's rootfs.diff_ids; otherwise, or on
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
#include <openssl/evp.h>
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

void hr_unpack_error(const char *what, const struct hr_unpack_stream *s)
{
	struct archive *a = s->tar && archive_error_string(s->tar) ? s->tar : s->outer;
	const char *e = archive_error_string(a);

	if (hr_tool.interrupted)
		return;
	if (!e)
		e = "unknown error";
	if (strstr(e, "Unrecognized archive format") || strstr(e, "Missing type keyword"))
		hr_msg("%s: not a tar archive (%s data holds no tar header)", what,
			archive_filter_count(s->outer) > 1 ? archive_filter_name(s->outer, 0) : "the");
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
	 || archive_read_support_format_raw(a) || archive_read_support_format_empty(a)) {
		hr_msg("%s: this libarchive cannot read gzip, zstd, xz and bzip2 by itself: %s", what,
			a ? archive_error_string(a) : "out of memory");
		archive_read_free(a);
		return NULL;
	}
	return a;
}

/* The tar reader's read callback: the next block of the uncompressed
 * stream, hashed. 0 at its end; -1 with the outer reader's error. */
static la_ssize_t take_cb(struct archive *tar, void *arg, const void **out)
{
	struct hr_unpack_stream *s = arg;
	size_t n = 0;
	la_int64_t off;
	int r = ARCHIVE_OK;

	while (!s->eof && n == 0 && r == ARCHIVE_OK)
		r = archive_read_data_block(s->outer, out, &n, &off);
	if (s->eof || r == ARCHIVE_EOF) {
		s->eof = 1;
		return 0;
	}
	if (r != ARCHIVE_OK) {
		archive_set_error(tar, archive_errno(s->outer) > 0 ? archive_errno(s->outer) : EIO, "%s",
			archive_error_string(s->outer) ? archive_error_string(s->outer) : "decompressing");
		return -1;
	}
	EVP_DigestUpdate(s->md, *out, n);
	s->bytes += n;
	return (la_ssize_t)n;
}

int hr_unpack_stream_open(struct hr_unpack_stream *s, struct archive *outer, const char *what)
{
	struct archive_entry *e;
	int r;

	memset(s, 0, sizeof(*s));
	s->outer = outer;
	s->md = EVP_MD_CTX_new();
	if (!s->md || !EVP_DigestInit_ex(s->md, EVP_sha256(), NULL)) {
		hr_msg("%s: cannot set up SHA-256 (OpenSSL)", what);
		return -1;
	}
	r = archive_read_next_header(outer, &e);	/* raw: the one entry; empty: none */
	if (r != ARCHIVE_OK && r != ARCHIVE_EOF) {
		hr_unpack_error(what, s);
		return -1;
	}
	s->eof = r == ARCHIVE_EOF;
	s->tar = archive_read_new();
	if (!s->tar || archive_read_support_format_tar(s->tar)
	 || archive_read_support_format_empty(s->tar)) {
		hr_msg("%s: libarchive: %s", what, s->tar ? archive_error_string(s->tar) : "out of memory");
		return -1;
	}
	if (archive_read_open2(s->tar, s, NULL, take_cb, NULL, NULL) != ARCHIVE_OK) {
		hr_unpack_error(what, s);
		return -1;
	}
	return 0;
}

int hr_unpack_stream_end(struct hr_unpack_stream *s, const char *what, char diff_id[72])
{
	unsigned char sum[EVP_MAX_MD_SIZE];
	unsigned len = 0, i;
	const void *p;
	la_ssize_t r;

	while ((r = take_cb(s->tar, s, &p)) > 0)
		;
	if (r < 0) {
		hr_unpack_error(what, s);
		return -1;
	}
	EVP_DigestFinal_ex(s->md, sum, &len);
	strcpy(diff_id, "sha256:");
	for (i = 0; i < len && i < 32; i++)
		sprintf(diff_id + 7 + 2 * i, "%02x", sum[i]);
	return 0;
}

void hr_unpack_stream_close(struct hr_unpack_stream *s)
{
	archive_read_free(s->tar);
	archive_read_free(s->outer);
	EVP_MD_CTX_free(s->md);
	memset(s, 0, sizeof(*s));
}

/* The blob through READ_CB into S. 0, or -1 after a message. */
static int open_stream(struct reader *r, struct hr_unpack_stream *s, const char *what)
{
	struct archive *a = hr_unpack_archive(what);

	memset(s, 0, sizeof(*s));
	if (!a)
		return -1;
	if (archive_read_open2(a, r, NULL, read_cb, NULL, NULL) != ARCHIVE_OK) {
		s->outer = a;
		hr_unpack_error(what, s);
		return -1;
	}
	return hr_unpack_stream_open(s, a, what);
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

int hr_unpack_entries(struct hr_unpack_stream *s, struct hr_tree *t, struct hr_unpack_totals *tt,
		const char *what, size_t *n)
{
	struct archive *a = s->tar;
	struct archive_entry *e;
	la_int64_t before = 0;
	int r;

	for (;;) {
		before = archive_filter_bytes(a, 0);
		r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			hr_unpack_error(what, s);
			return -1;
		}
		if (r == ARCHIVE_WARN && archive_error_string(a))
			hr_msg("warning: %s: %s", what, archive_error_string(a));
		if (hr_tool.interrupted || check_limits(tt, e, what))
			return -1;
		r = hr_tree_entry(t, a, e);
		if (r == HR_TREE_EREAD)
			hr_unpack_error(what, s);
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

/* The stream's digest against the config's rootfs.diff_ids[i]. */
static int check_diff_id(const struct hr_image *img, size_t i, const char *what,
		const char *got)
{
	if (!strcmp(got, img->layers[i].diff_id))
		return 0;
	hr_msg("%s: its uncompressed content has %s, the config's rootfs.diff_ids[%zu] says %s: "
		"refusing the image", what, got, i, img->layers[i].diff_id);
	return -1;
}

static int unpack_layer(const struct hr_image *img, const struct hr_layout *l, size_t i,
		struct hr_tree *t, struct hr_unpack_totals *tt)
{
	const struct hr_layer *ly = &img->layers[i];
	struct reader r = { .buf = hr_malloc(READ_CHUNK) };
	struct hr_unpack_stream s = { 0 };
	char what[128], which[32], sz[32], count[64];	/* "layer 2/3 (sha256:...)", "layer 2/3" */
	char diff_id[72];
	size_t n = 0;
	int rc = -1;

	snprintf(which, sizeof(which), "layer %zu/%zu", i + 1, img->n_layers);
	snprintf(what, sizeof(what), "%s (%s)", which, ly->digest);
	hr_meter_start(&r.meter, "%s", which);	/* the step has begun: its line counts */
	hr_progress("applying %s (%s, %s)", which, ly->digest, hr_human_size(ly->size, sz));
	hr_tree_layer(t, what);
	if (hr_layout_blob(&r.blob, l, ly->digest, ly->size, which))
		goto out;
	if (open_stream(&r, &s, what) || hr_unpack_entries(&s, t, tt, what, &n))
		goto out;
	hr_tree_layer_end(t);
	/* the blob's own digest first: a changed blob is said as such */
	if (hr_unpack_stream_end(&s, what, diff_id) || hr_layout_finish(&r.blob)
	 || check_diff_id(img, i, what, diff_id))
		goto out;
	hr_progress("applied %s: %s in %.1f s", which, hr_count(n, "entry", "entries", count),
		hr_meter_end(&r.meter));
	rc = 0;
out:
	if (rc)
		hr_meter_end(&r.meter);
	hr_unpack_stream_close(&s);
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
