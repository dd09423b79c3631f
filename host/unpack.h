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
/* A libarchive reader for a layer: the filters built in (gzip, zstd, xz,
 * bzip2), tar. NULL after a message naming WHAT. */
struct archive *hr_unpack_archive(const char *what);
/* The entries of one layer's archive A (open) onto T, each checked
 * against TT first; *N counts them. 0, or -1 after a message. */
int hr_unpack_entries(struct archive *a, struct hr_tree *t, struct hr_unpack_totals *tt,
		const char *what, size_t *n);
/* Prints what went wrong reading a layer, in words. */
void hr_unpack_error(const char *what, struct archive *a);

#endif
