/*
 * hypeman run: an uncompressed tar file indexed in one pass over its
 * headers (tarindex.c): where the data of each member that matters
 * starts and how long it is, so that it can be read in place (pread)
 * without extracting the archive. layout.c reads image archives with it.
 */
#ifndef HR_TARINDEX_H
#define HR_TARINDEX_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hr_tarindex_member {
	char *name;		/* as in the archive, without leading "./" */
	uint64_t off, size;	/* its data in the file */
	unsigned type;		/* its file type (S_IFREG, S_IFLNK, ...) */
	bool hardlink;		/* a hard link to another member */
	bool sparse;		/* its data is not stored in one piece */
};

struct hr_tarindex {
	struct hr_tarindex_member *m;	/* the members kept, sorted by name */
	size_t n;
	uint64_t headers;		/* members read, kept or not */
};

/* Whether to keep the member NAME (called once per member, in order). */
typedef bool hr_tarindex_want(void *ctx, const char *name);

/*
 * Reads the headers of the tar file FD (from its start; the data is
 * skipped, not read), keeping the members WANT takes. At most MAX members
 * in all. 0, or -1 with the reason in ERR: not a tar archive, damaged or
 * truncated (a member's data past the end of the file), too many members,
 * a name kept twice.
 */
int hr_tarindex_read(struct hr_tarindex *ix, int fd, uint64_t max, hr_tarindex_want *want,
		void *ctx, char *err, size_t errlen);
/* The member NAME, or NULL. */
const struct hr_tarindex_member *hr_tarindex_find(const struct hr_tarindex *ix, const char *name);
void hr_tarindex_free(struct hr_tarindex *ix);

#endif
