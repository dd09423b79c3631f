/*
 * hypeman run: placing a layer's entries in the rootfs tree, confined to
 * its root, with the semantics of umoci unpack (tree.c).
 */
#ifndef HR_TREE_H
#define HR_TREE_H 1

struct archive;
struct archive_entry;
struct hr_tree;

/* hr_tree_entry's result when reading the entry's data from the archive
 * failed: the caller, who has the archive, says why (hr_unpack_error). */
#define HR_TREE_EREAD (-3)

struct hr_tree *hr_tree_open(const char *root);	/* NULL after a message */
/* A new layer (what names it in messages, e.g. "layer 2/3 (sha256:...)"). */
void hr_tree_layer(struct hr_tree *t, const char *what);
/* Applies one entry (its data read from a): 0, -1 after a message, or
 * HR_TREE_EREAD. */
int hr_tree_entry(struct hr_tree *t, struct archive *a, struct archive_entry *e);
/* Ends the layer (the last parent directory's times restored). */
void hr_tree_layer_end(struct hr_tree *t);
/* Sets the root's metadata (the image's "/", else 0755 root:root). */
int hr_tree_finish(struct hr_tree *t);
void hr_tree_close(struct hr_tree *t);

#endif
