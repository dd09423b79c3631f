/*
 * hypeman run: the layers onto the rootfs tree (unpack.c): each blob read
 * once through libarchive, its entries placed by tree.c, bounded.
 */
#ifndef HR_UNPACK_H
#define HR_UNPACK_H 1

#include <stddef.h>
#include <stdint.h>
#include "util.h"

struct archive;
struct hr_image;
struct hr_layout;
struct hr_tree;

struct hr_limits {
	uint64_t max_size;	/* sum of the entries' sizes (sparse: full size) */
	uint64_t max_entries;	/* entries in all layers */
	uint64_t max_json;	/* each JSON document */
};
#define HR_DEFAULT_MAX_SIZE (4 * GiB)
#define HR_DEFAULT_MAX_ENTRIES 1000000ULL
#define HR_DEFAULT_MAX_JSON (4 * MiB)

/* Applies the layers in order onto root (an empty 0700 directory), reading
 * each blob once; root's own metadata (the image's "/") is set at the end.
 * 0, or -1 after printing why (root may then hold a partial tree). */
int hr_unpack_layers(const struct hr_image *img, const struct hr_layout *l, const char *root,
		const struct hr_limits *lim);

/* What the layers add up to so far, against the limits. */
struct hr_unpack_totals {
	const struct hr_limits *lim;
	const char *root;	/* for the free-space check */
	uint64_t size, entries;
	uint64_t free_left;	/* free space at the last check, minus writes since */
};
/* A layer's uncompressed stream: OUTER decompresses the blob (libarchive's
 * "raw" format), TAR reads the tar archive from it, and every block TAR
 * takes goes through SHA-256 on the way: the layer's diff_id, from the one
 * read of the blob. */
struct hr_unpack_stream {
	struct archive *outer, *tar;
	void *md;		/* EVP_MD_CTX */
	uint64_t bytes;		/* uncompressed bytes hashed so far */
	int eof;		/* OUTER has no more */
};
/* The outer reader for a layer's blob: the filters built in (gzip, zstd,
 * xz, bzip2), the data as it is. NULL after a message naming WHAT. */
struct archive *hr_unpack_archive(const char *what);
/* S reading the tar archive in OUTER (open; S owns it from now on, even on
 * failure). 0, or -1 after a message; hr_unpack_stream_close() either way. */
int hr_unpack_stream_open(struct hr_unpack_stream *s, struct archive *outer, const char *what);
/* Reads and hashes the rest of the uncompressed stream (what follows the
 * tar's end: its end blocks, padding); its SHA-256 as "sha256:<hex>" in
 * DIFF_ID. 0, or -1 after a message. */
int hr_unpack_stream_end(struct hr_unpack_stream *s, const char *what, char diff_id[72]);
void hr_unpack_stream_close(struct hr_unpack_stream *s);
/* The entries of one layer's tar archive (S open) onto T, each checked
 * against TT first; *N counts them. 0, or -1 after a message. */
int hr_unpack_entries(struct hr_unpack_stream *s, struct hr_tree *t, struct hr_unpack_totals *tt,
		const char *what, size_t *n);
/* Prints what went wrong reading a layer, in words. */
void hr_unpack_error(const char *what, const struct hr_unpack_stream *s);

#endif
