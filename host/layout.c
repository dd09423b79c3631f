/*
 * hypeman run: reading the files of an image layout, each exactly once
 * (see layout.h): index.json and the blobs, opened relative to the
 * layout's directory descriptor.
 *
 * A blob is opened once (O_NOFOLLOW: a symlink could point anywhere on
 * the host; O_NONBLOCK: a FIFO must not hang us), must be a regular file
 * of the size its descriptor says, and every byte read from it goes
 * through SHA-256 (OpenSSL's EVP) on the way to its user: nothing is
 * read twice, so nothing can change between the check and the use. The
 * verdict comes at the end (hr_layout_finish); until then the caller treats
 * what it built as unverified.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "layout.h"
#include "util.h"

static const char *type_name(mode_t m)
{
	if (S_ISDIR(m)) return "a directory";
	if (S_ISFIFO(m)) return "a FIFO";
	if (S_ISSOCK(m)) return "a socket";
	if (S_ISCHR(m)) return "a character device";
	if (S_ISBLK(m)) return "a block device";
	if (S_ISLNK(m)) return "a symlink";
	return "not a regular file";
}

#define SHA256 "sha256:"

/* REL in the layout (PATH in messages, with WHAT), opened for reading
 * without following a final symlink and without blocking on a FIFO;
 * anything but a regular file is refused. The fd, or -1 (message
 * printed); ST filled. */
static int open_file(const struct hr_layout *l, const char *rel, const char *path,
		const char *what, struct stat *st)
{
	int fd = openat(l->dirfd, rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		if (errno == ELOOP)
			hr_msg("%s (%s) is a symlink: refusing it (the layout's files must be "
				"regular files)", what, path);
		else if (errno == ENXIO)	/* a socket */
			hr_msg("%s (%s) is a socket: refusing it", what, path);
		else
			hr_msg("%s (%s): %s", what, path, strerror(errno));
		return -1;
	}
	if (fstat(fd, st)) {
		hr_msg("%s (%s): %s", what, path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		hr_msg("%s (%s) is %s: refusing it (the layout's files must be regular files)",
			what, path, type_name(st->st_mode));
		close(fd);
		return -1;
	}
	return fd;
}

int hr_layout_open(struct hr_layout *l, const char *dir)
{
	memset(l, 0, sizeof(*l));
	l->dir = hr_strdup(dir);
	l->index_path = hr_asprintf("%s/index.json", dir);
	l->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->dirfd >= 0)
		return 0;
	if (errno == ENOTDIR)
		hr_msg("%s: not a directory (want an OCI image layout directory)", dir);
	else
		hr_msg("%s: %s (want an OCI image layout directory)", dir, strerror(errno));
	return -1;
}

void hr_layout_close(struct hr_layout *l)
{
	if (l->dirfd >= 0)
		close(l->dirfd);
	free(l->dir);
	free(l->index_path);
	memset(l, 0, sizeof(*l));
	l->dirfd = -1;
}

/* Reads N bytes from FD into BUF; the count read (short at the end). */
static size_t read_full(int fd, char *buf, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

char *hr_layout_index(const struct hr_layout *l, uint64_t max)
{
	struct stat st;
	char *text, a[32], b[32];
	int fd = open_file(l, "index.json", l->index_path, "index.json", &st);

	if (fd < 0)
		return NULL;
	if ((uint64_t)st.st_size > max) {
		hr_msg("%s is %s, over the %s limit for JSON documents (--max-json raises it)",
			l->index_path, hr_human_size((uint64_t)st.st_size, a), hr_human_size(max, b));
		close(fd);
		return NULL;
	}
	text = hr_malloc((size_t)st.st_size + 1);
	text[read_full(fd, text, (size_t)st.st_size)] = 0;
	close(fd);
	return text;
}

bool hr_layout_has_blob(const struct hr_layout *l, const char *digest)
{
	const char *hex = hr_after(digest, SHA256);
	char *rel = hr_asprintf("blobs/sha256/%s", hex ? hex : "");
	struct stat st;
	bool has = fstatat(l->dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0;

	free(rel);
	return has;
}

/* "sha256:" and 64 lower-case hex digits: anything else could also
 * name a path outside blobs/. */
static int check_digest(const char *d, const char *what)
{
	const char *hex;
	size_t i;

	if (!d) {
		hr_msg("%s: descriptor without a digest", what);
		return -1;
	}
	if (!(hex = hr_after(d, SHA256))) {
		if (strchr(d, ':') && strlen(d) < 200 && hm_utf8_valid(d))
			hr_msg("%s: unsupported digest algorithm in \"%s\" (only sha256)", what, d);
		else
			hr_msg("%s: malformed digest", what);
		return -1;
	}
	for (i = 0; hex[i]; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
			break;
	if (i != 64 || hex[i]) {
		char shown[100];

		hr_msg("%s: malformed digest \"%s\"", what, hr_printable(d, shown, sizeof(shown)));
		return -1;
	}
	return 0;
}

int hr_layout_blob(struct hr_blob *b, const struct hr_layout *l, const char *digest,
		uint64_t size, const char *what)
{
	struct stat st;
	char named[128], *rel, *path;

	memset(b, 0, sizeof(*b));
	b->fd = -1;
	b->what = what;
	if (check_digest(digest, what))
		return -1;
	snprintf(b->digest, sizeof(b->digest), "%s", digest);
	b->size = size;
	rel = hr_asprintf("blobs/sha256/%s", hr_after(digest, SHA256));
	path = hr_asprintf("%s/%s", l->dir, rel);
	snprintf(named, sizeof(named), "%s: blob %s", what, digest);
	b->fd = open_file(l, rel, path, named, &st);
	free(rel);
	free(path);
	if (b->fd < 0)
		return -1;
	if ((uint64_t)st.st_size != size) {
		hr_msg("%s: blob %s is %llu bytes, its descriptor says %llu: refusing the image",
			what, digest, (unsigned long long)st.st_size, (unsigned long long)size);
		return -1;
	}
	b->md = EVP_MD_CTX_new();
	if (!b->md || !EVP_DigestInit_ex(b->md, EVP_sha256(), NULL)) {
		hr_msg("%s: cannot set up SHA-256 (OpenSSL)", what);
		return -1;
	}
	return 0;
}

ssize_t hr_layout_read(struct hr_blob *b, void *buf, size_t n)
{
	ssize_t r;

	do
		r = read(b->fd, buf, n);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return r;
	b->got += (uint64_t)r;
	if (b->got > b->size) {	/* rewritten while we read it */
		errno = EFBIG;
		return -1;
	}
	EVP_DigestUpdate(b->md, buf, (size_t)r);
	return r;
}

int hr_layout_finish(struct hr_blob *b)
{
	unsigned char sum[EVP_MAX_MD_SIZE], buf[65536];
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	unsigned len = 0, i;
	ssize_t r;

	while ((r = hr_layout_read(b, buf, sizeof(buf))) > 0)
		;
	if (r < 0) {
		hr_msg("%s: reading blob %s: %s", b->what, b->digest,
			errno == EFBIG ? "it grew while being read: refusing the image" : strerror(errno));
		return -1;
	}
	if (b->got != b->size) {
		hr_msg("%s: blob %s: read %llu bytes, its descriptor says %llu "
			"(it changed while being read): refusing the image", b->what, b->digest,
			(unsigned long long)b->got, (unsigned long long)b->size);
		return -1;
	}
	EVP_DigestFinal_ex(b->md, sum, &len);
	for (i = 0; i < len; i++)
		sprintf(hex + 2 * i, "%02x", sum[i]);
	if (strcmp(hex, hr_after(b->digest, SHA256))) {
		hr_msg("%s: blob %s: digest mismatch, the content hashes to sha256:%s: "
			"refusing the image", b->what, b->digest, hex);
		return -1;
	}
	return 0;
}

void hr_layout_blob_close(struct hr_blob *b)
{
	if (b->fd >= 0)
		close(b->fd);
	EVP_MD_CTX_free(b->md);
	memset(b, 0, sizeof(*b));
	b->fd = -1;
}

int hr_layout_slurp(const struct hr_layout *l, const char *digest, uint64_t size,
		uint64_t max, const char *what, char **text)
{
	struct hr_blob b;
	char *buf = NULL, a[32], c[32];
	uint64_t got = 0;
	int rc = -1;

	if (hr_layout_blob(&b, l, digest, size, what))
		goto out;
	if (size > max) {
		hr_msg("%s: blob %s is %s, over the %s limit for JSON documents "
			"(--max-json raises it)", what, digest, hr_human_size(size, a), hr_human_size(max, c));
		goto out;
	}
	buf = hr_malloc(size + 1);
	while (got < size) {
		ssize_t r = hr_layout_read(&b, buf + got, size - got);

		if (r <= 0)
			break;
		got += (uint64_t)r;
	}
	if (hr_layout_finish(&b))
		goto out;
	buf[size] = 0;
	*text = buf;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	hr_layout_blob_close(&b);
	return rc;
}
