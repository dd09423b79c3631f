/*
 * hypeman run: the files of an OCI image layout, each read exactly once
 * (layout.c). Everything the tool reads of an image comes through here:
 * index.json and the blobs, refused unless regular files, hashed as they
 * are read. A layout is a directory, or an archive of one (a tar file, as
 * `skopeo copy ... oci-archive:FILE` and `docker save` from Docker 25 on
 * write it), indexed once (tarindex.c) and read in place.
 */
#ifndef HR_LAYOUT_H
#define HR_LAYOUT_H 1

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "tarindex.h"

struct hr_layout {
	char *name;		/* the directory or archive, as given, for messages */
	char *index_path;	/* where index.json is, for messages */
	int fd;			/* the directory, or the archive */
	bool archive;
	struct hr_tarindex ix;	/* an archive's blobs and index.json */
};

/* The layout at PATH, a directory or an archive of at most MAX members
 * (--max-entries). 0, or -1 after a message (with what to do when PATH is
 * no layout). */
int hr_layout_open(struct hr_layout *l, const char *path, uint64_t max);
void hr_layout_close(struct hr_layout *l);
/* index.json, at most MAX bytes, NUL-terminated, malloc'd; NULL after a
 * message. */
char *hr_layout_index(const struct hr_layout *l, uint64_t max);
/* Whether the layout holds the blob of DIGEST (a non-distributable
 * layer may be absent). */
bool hr_layout_has_blob(const struct hr_layout *l, const char *digest);

/* A blob being read: every byte goes through the hash exactly once. */
struct hr_blob {
	char digest[72];	/* "sha256:<hex>" */
	const char *what;	/* "layer 2/3", "manifest", ... */
	uint64_t size;		/* from the descriptor (and fstat or the tar header) */
	uint64_t got;		/* bytes read and hashed so far */
	int fd;			/* its own file, or the archive (own_fd false) */
	bool own_fd;
	uint64_t off;		/* in the archive: where its data starts */
	void *md;		/* EVP_MD_CTX */
};
/* Opens the blob of digest (checked: sha256 and 64 lower-case hex digits)
 * whose descriptor says size. 0 or -1 (message printed). */
int hr_layout_blob(struct hr_blob *b, const struct hr_layout *l, const char *digest,
		uint64_t size, const char *what);
/* Reads and hashes up to n bytes; 0 at the end; -1 with errno (EFBIG when
 * the file grew past its size). */
ssize_t hr_layout_read(struct hr_blob *b, void *buf, size_t n);
/* Reads and hashes what is left, then checks size and digest. 0, or -1
 * after printing which blob and why. */
int hr_layout_finish(struct hr_blob *b);
void hr_layout_blob_close(struct hr_blob *b);
/* A whole small blob (a JSON document of at most max bytes), verified,
 * NUL-terminated. 0 or -1 (message printed). */
int hr_layout_slurp(const struct hr_layout *l, const char *digest, uint64_t size,
		uint64_t max, const char *what, char **text);

#endif
