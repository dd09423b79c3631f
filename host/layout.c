/*
 * hypeman run: reading the files of an image layout, each exactly once.
 *
 * A blob is opened once (O_NOFOLLOW: a symlink could point anywhere on
 * the host; O_NONBLOCK: a FIFO must not hang us), must be a regular file
 * of the size its descriptor says, and every byte read from it goes
 * through SHA-256 (OpenSSL's EVP) on the way to its user: nothing is
 * read twice, so nothing can change between the check and the use. The
 * verdict comes at the end (blob_finish); until then the caller treats
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
#include "run.h"

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

int open_regular(const char *path, const char *what, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		if (errno == ELOOP)
			msg("%s (%s) is a symlink: refusing it (the layout's files must be "
				"regular files)", what, path);
		else if (errno == ENXIO)	/* a socket */
			msg("%s (%s) is a socket: refusing it", what, path);
		else
			msg("%s (%s): %s", what, path, strerror(errno));
		return -1;
	}
	if (fstat(fd, st)) {
		msg("%s (%s): %s", what, path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		msg("%s (%s) is %s: refusing it (the layout's files must be regular files)",
			what, path, type_name(st->st_mode));
		close(fd);
		return -1;
	}
	return fd;
}

/* "sha256:" and 64 lower-case hex digits: anything else could also
 * name a path outside blobs/. */
static int check_digest(const char *d, const char *what)
{
	size_t i;

	if (!d) {
		msg("%s: descriptor without a digest", what);
		return -1;
	}
	if (strncmp(d, "sha256:", 7)) {
		if (strchr(d, ':') && strlen(d) < 200 && hm_utf8_valid(d))
			msg("%s: unsupported digest algorithm in \"%s\" (only sha256)", what, d);
		else
			msg("%s: malformed digest", what);
		return -1;
	}
	for (i = 7; d[i]; i++)
		if (!((d[i] >= '0' && d[i] <= '9') || (d[i] >= 'a' && d[i] <= 'f')))
			break;
	if (i != 7 + 64 || d[i]) {
		char shown[100];

		msg("%s: malformed digest \"%s\"", what, printable(d, shown, sizeof(shown)));
		return -1;
	}
	return 0;
}

int blob_open(struct blob *b, const char *layout, const char *digest, uint64_t size,
		const char *what)
{
	struct stat st;
	char named[128];

	memset(b, 0, sizeof(*b));
	b->fd = -1;
	b->what = what;
	if (check_digest(digest, what))
		return -1;
	snprintf(b->digest, sizeof(b->digest), "%s", digest);
	b->size = size;
	b->path = hr_asprintf("%s/blobs/sha256/%s", layout, digest + 7);
	snprintf(named, sizeof(named), "%s: blob %s", what, digest);
	b->fd = open_regular(b->path, named, &st);
	if (b->fd < 0)
		return -1;
	if ((uint64_t)st.st_size != size) {
		msg("%s: blob %s is %llu bytes, its descriptor says %llu: refusing the image",
			what, digest, (unsigned long long)st.st_size, (unsigned long long)size);
		return -1;
	}
	b->md = EVP_MD_CTX_new();
	if (!b->md || !EVP_DigestInit_ex(b->md, EVP_sha256(), NULL)) {
		msg("%s: cannot set up SHA-256 (OpenSSL)", what);
		return -1;
	}
	return 0;
}

ssize_t blob_read(struct blob *b, void *buf, size_t n)
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

int blob_finish(struct blob *b)
{
	unsigned char sum[EVP_MAX_MD_SIZE], buf[65536];
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	unsigned len = 0, i;
	ssize_t r;

	while ((r = blob_read(b, buf, sizeof(buf))) > 0)
		;
	if (r < 0) {
		msg("%s: reading blob %s: %s", b->what, b->digest,
			errno == EFBIG ? "it grew while being read: refusing the image" : strerror(errno));
		return -1;
	}
	if (b->got != b->size) {
		msg("%s: blob %s: read %llu bytes, its descriptor says %llu "
			"(it changed while being read): refusing the image", b->what, b->digest,
			(unsigned long long)b->got, (unsigned long long)b->size);
		return -1;
	}
	EVP_DigestFinal_ex(b->md, sum, &len);
	for (i = 0; i < len; i++)
		sprintf(hex + 2 * i, "%02x", sum[i]);
	if (strcmp(hex, b->digest + 7)) {
		msg("%s: blob %s: digest mismatch, the content hashes to sha256:%s: "
			"refusing the image", b->what, b->digest, hex);
		return -1;
	}
	return 0;
}

void blob_close(struct blob *b)
{
	if (b->fd >= 0)
		close(b->fd);
	EVP_MD_CTX_free(b->md);
	free(b->path);
	memset(b, 0, sizeof(*b));
	b->fd = -1;
}

int blob_slurp(const char *layout, const char *digest, uint64_t size, uint64_t max,
		const char *what, char **text)
{
	struct blob b;
	char *buf = NULL, a[32], c[32];
	uint64_t got = 0;
	int rc = -1;

	if (blob_open(&b, layout, digest, size, what))
		goto out;
	if (size > max) {
		msg("%s: blob %s is %s, over the %s limit for JSON documents "
			"(--max-json raises it)", what, digest, human_size(size, a), human_size(max, c));
		goto out;
	}
	buf = hr_malloc(size + 1);
	while (got < size) {
		ssize_t r = blob_read(&b, buf + got, size - got);

		if (r <= 0)
			break;
		got += (uint64_t)r;
	}
	if (blob_finish(&b))
		goto out;
	buf[size] = 0;
	*text = buf;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	blob_close(&b);
	return rc;
}
