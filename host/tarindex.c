/*
 * hypeman run: indexing an uncompressed tar file (see tarindex.h).
 *
 * libarchive reads the headers (ustar, pax, GNU long names, v7) from the
 * file descriptor, a block at a time, and skips each member's data with
 * lseek: a pass over an image archive of gigabytes reads its headers and
 * not one byte of data, so that each byte of the file is read once. After each
 * header, the bytes libarchive has consumed are where the member's data
 * starts. Only the members the caller wants are kept, so memory grows with
 * them, not with the archive.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <archive.h>
#include <archive_entry.h>
#include "tarindex.h"
#include "util.h"

/* Read from the file at a time: a tar block, so that the pass reads the
 * headers and nothing of the data (skipped with lseek, by whole blocks). */
#define BLOCK 512

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* "./a/b" and "././a/b" are "a/b". */
static const char *strip_dot(const char *name)
{
	while (name[0] == '.' && name[1] == '/')
		name += 2;
	return name;
}

static void keep(struct hr_tarindex *ix, size_t *cap, const char *name, struct archive *a,
		struct archive_entry *e)
{
	struct hr_tarindex_member *m;

	if (ix->n == *cap) {
		*cap = *cap ? 2 * *cap : 16;
		ix->m = hr_realloc(ix->m, *cap * sizeof(*ix->m));
	}
	m = &ix->m[ix->n++];
	m->name = hr_strdup(name);
	m->off = (uint64_t)archive_filter_bytes(a, 0);
	m->size = archive_entry_size_is_set(e) && archive_entry_size(e) > 0
		? (uint64_t)archive_entry_size(e) : 0;
	m->type = archive_entry_filetype(e);
	m->hardlink = archive_entry_hardlink(e) != NULL;
	m->sparse = archive_entry_sparse_count(e) > 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct hr_tarindex_member *)a)->name,
		((const struct hr_tarindex_member *)b)->name);
}

/* Every kept member once (libarchive has checked that each one's data is
 * in the file: it knows the file's size, and says "Truncated input"). */
static int check(const struct hr_tarindex *ix, char *err, size_t errlen)
{
	char shown[300];
	size_t i;

	for (i = 1; i < ix->n; i++)
		if (!strcmp(ix->m[i].name, ix->m[i - 1].name))
			return fail(err, errlen, "it holds %s twice (which one counts would be a "
				"guess)", hr_printable(ix->m[i].name, shown, sizeof(shown)));
	return 0;
}

static int read_headers(struct hr_tarindex *ix, struct archive *a, uint64_t max,
		hr_tarindex_want *want, void *ctx, char *err, size_t errlen)
{
	struct archive_entry *e;
	const char *e_str;
	char count[64];
	size_t cap = 0;
	int r;

	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		const char *name = archive_entry_pathname(e);

		if (++ix->headers > max)
			return fail(err, errlen, "it has more than %s (--max-entries raises the "
				"limit)", hr_count(max, "member", "members", count));
		if (name && want(ctx, strip_dot(name)))
			keep(ix, &cap, strip_dot(name), a, e);
	}
	if (r == ARCHIVE_EOF)
		return 0;
	r = archive_errno(a);
	e_str = archive_error_string(a) ? archive_error_string(a) : strerror(r ? r : EIO);
	return fail(err, errlen, "%s (%s)", !ix->headers ? "it is not a tar archive"
		: strstr(e_str, "runcated") ? "it is truncated" : "it is damaged", e_str);
}

int hr_tarindex_read(struct hr_tarindex *ix, int fd, uint64_t max, hr_tarindex_want *want,
		void *ctx, char *err, size_t errlen)
{
	struct archive *a = archive_read_new();
	int rc = -1;

	memset(ix, 0, sizeof(*ix));
	if (lseek(fd, 0, SEEK_SET) != 0)
		return fail(err, errlen, "%s", strerror(errno));
	if (!a || archive_read_support_format_tar(a)
	 || archive_read_open_fd(a, fd, BLOCK) != ARCHIVE_OK)
		fail(err, errlen, "it is not a tar archive (%s)", a && archive_error_string(a)
			? archive_error_string(a) : "out of memory");
	else if (read_headers(ix, a, max, want, ctx, err, errlen) == 0) {
		if (ix->n)
			qsort(ix->m, ix->n, sizeof(*ix->m), by_name);
		rc = check(ix, err, errlen);
	}
	archive_read_free(a);
	return rc;
}

const struct hr_tarindex_member *hr_tarindex_find(const struct hr_tarindex *ix, const char *name)
{
	struct hr_tarindex_member key = { .name = (char *)name };

	return ix->n ? bsearch(&key, ix->m, ix->n, sizeof(*ix->m), by_name) : NULL;
}

void hr_tarindex_free(struct hr_tarindex *ix)
{
	size_t i;

	for (i = 0; i < ix->n; i++)
		free(ix->m[i].name);
	free(ix->m);
	memset(ix, 0, sizeof(*ix));
}
