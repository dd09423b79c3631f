/*
 * hypeman run: reading the files of an image layout, each exactly once
 * (see layout.h): index.json and the blobs, through one descriptor, the
 * layout's directory or the archive.
 *
 * In a directory, a blob is opened once (O_NOFOLLOW: a symlink could point
 * anywhere on the host; O_NONBLOCK: a FIFO must not hang us) and must be a
 * regular file. In an archive, a blob is a regular member stored in one
 * piece, read in place with pread(): the archive is indexed once
 * (tarindex.c: its headers only, the data skipped) and never extracted.
 * Docker and skopeo write index.json after the blobs, so a single
 * streaming pass could not know which blobs matter before reading them
 * all; a compressed archive, which cannot be read in place, is refused
 * with the command that decompresses it.
 *
 * Either way a blob must have the size its descriptor says, and every
 * byte read from it goes through SHA-256 (OpenSSL's EVP) on the way to its
 * user: nothing is read twice, so nothing can change between the check
 * and the use. The verdict comes at the end (hr_layout_finish); until then
 * the caller treats what it built as unverified.
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
#include "magic.h"
#include "source.h"
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
#define BLOBS "blobs/sha256/"

/* 64 lower-case hex digits, and nothing else. */
static bool hex64(const char *hex)
{
	size_t i;

	for (i = 0; hex[i]; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
			return false;
	return i == 64;
}

/* ---- where a file of the layout is ----------------------------------------- */

/* A file of the layout: its own descriptor (in a directory), or a piece
 * of the archive. */
struct place {
	int fd;
	bool own;
	uint64_t off, size;
};

/* REL as messages name it: "DIR/REL", or "REL in FILE". */
static char *where(const struct hr_layout *l, const char *rel)
{
	return l->archive ? hr_asprintf("%s in %s", rel, l->name) : hr_asprintf("%s/%s", l->name, rel);
}

static int not_regular(const char *what, const char *path, const char *kind)
{
	hr_msg("%s (%s) is %s: refusing it (the layout's files must be regular files)", what, path,
		kind);
	return -1;
}

/* REL in the directory, opened for reading without following a final
 * symlink and without blocking on a FIFO; anything but a regular file is
 * refused. 0, or -1 (message printed). */
static int open_in_dir(const struct hr_layout *l, const char *rel, const char *path,
		const char *what, struct place *p)
{
	int fd = openat(l->fd, rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	struct stat st;

	if (fd < 0) {
		if (errno == ELOOP)
			return not_regular(what, path, "a symlink");
		if (errno == ENXIO)
			return not_regular(what, path, "a socket");
		hr_msg("%s (%s): %s", what, path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st)) {
		hr_msg("%s (%s): %s", what, path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return not_regular(what, path, type_name(st.st_mode));
	}
	*p = (struct place){ fd, true, 0, (uint64_t)st.st_size };
	return 0;
}

/* REL in the archive's index: a regular member stored in one piece. */
static int find_in_archive(const struct hr_layout *l, const char *rel, const char *path,
		const char *what, struct place *p)
{
	const struct hr_tarindex_member *m = hr_tarindex_find(&l->ix, rel);

	if (!m) {
		hr_msg("%s (%s): not in the archive", what, path);
		return -1;
	}
	if (m->hardlink)
		return not_regular(what, path, "a hard link");
	if (!S_ISREG(m->type))
		return not_regular(what, path, type_name(m->type));
	if (m->sparse)
		return not_regular(what, path, "a sparse file");
	*p = (struct place){ l->fd, false, m->off, m->size };
	return 0;
}

static int locate(const struct hr_layout *l, const char *rel, const char *what, struct place *p)
{
	char *path = where(l, rel);
	int rc = l->archive ? find_in_archive(l, rel, path, what, p)
		: open_in_dir(l, rel, path, what, p);

	free(path);
	return rc;
}

/* ---- the layout ------------------------------------------------------------ */

/* What the archive's members say besides the layout's own files. */
struct seen {
	bool docker_legacy;	/* manifest.json: docker save's own format */
	char nested[128];	/* DIR of DIR/index.json: a layout one level down */
};

static bool want_member(void *ctx, const char *name)
{
	struct seen *s = ctx;
	const char *slash = strchr(name, '/'), *hex = hr_after(name, BLOBS);

	if (!strcmp(name, "manifest.json"))
		s->docker_legacy = true;
	if (slash && !strcmp(slash + 1, "index.json") && !s->nested[0] && slash - name < 100)
		snprintf(s->nested, sizeof(s->nested), "%.*s", (int)(slash - name), name);
	return !strcmp(name, "index.json") || (hex && hex64(hex));
}

/* An archive without index.json: what it is, and what to do. */
static int no_index(const struct hr_layout *l, const struct seen *s)
{
	char shown[300];

	if (s->nested[0]) {
		hr_printable(s->nested, shown, sizeof(shown));
		hr_msg("%s holds a layout in its directory %s/, not at its top: make the archive "
			"from inside the layout (tar -C %s -cf %s .), or unpack it and give the "
			"directory", l->name, shown, shown, l->name);
	} else if (s->docker_legacy) {
		hr_msg("%s is a `docker save` archive of Docker before 25 (manifest.json, no "
			"index.json): make an OCI image layout of it with\n    skopeo copy "
			"docker-archive:%s oci:image:latest\nand run that: hypeman run image:latest",
			l->name, l->name);
	} else {
		hr_msg("%s is a tar archive, but not of an OCI image layout: it has no index.json",
			l->name);
		hr_source_how(NULL);
	}
	return -1;
}

static int open_archive(struct hr_layout *l, uint64_t max)
{
	unsigned char head[16];
	ssize_t n = pread(l->fd, head, sizeof(head), 0);
	const struct hr_magic *c = n > 0 ? hr_magic_compression(head, (size_t)n) : NULL;
	struct seen s = { 0 };
	char err[400];

	l->archive = true;
	l->index_path = where(l, "index.json");
	if (c) {
		hr_msg("%s is compressed (%s): hypeman run reads an image archive uncompressed, "
			"each blob in place; decompress it first (%s %s)", l->name, c->name, c->unpack,
			l->name);
		return -1;
	}
	if (hr_tarindex_read(&l->ix, l->fd, max, want_member, &s, err, sizeof(err))) {
		hr_msg("%s: %s; want an OCI image layout: a directory, or an archive of one "
			"(skopeo copy ... oci-archive:FILE, docker save)", l->name, err);
		return -1;
	}
	return hr_tarindex_find(&l->ix, "index.json") ? 0 : no_index(l, &s);
}

static int open_dir(struct hr_layout *l)
{
	struct stat st;

	l->index_path = where(l, "index.json");
	if (fstatat(l->fd, "index.json", &st, AT_SYMLINK_NOFOLLOW) && errno == ENOENT) {
		hr_msg("%s is a directory, but not an OCI image layout: it has no index.json",
			l->name);
		hr_source_how(NULL);
		return -1;
	}
	return 0;
}

int hr_layout_open(struct hr_layout *l, const char *path, uint64_t max)
{
	struct stat st;

	memset(l, 0, sizeof(*l));
	l->name = hr_strdup(path);
	l->fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (l->fd < 0 && errno == ENXIO)
		st.st_mode = S_IFSOCK;
	else if (l->fd < 0 || fstat(l->fd, &st)) {
		hr_msg("%s: %s (want an OCI image layout: a directory, or an archive of one)", path,
			strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode))
		return open_dir(l);
	if (S_ISREG(st.st_mode))
		return open_archive(l, max);
	hr_msg("%s is %s: refusing it (an image archive must be a regular file: hypeman run "
		"reads each blob in place)", path, type_name(st.st_mode));
	return -1;
}

void hr_layout_close(struct hr_layout *l)
{
	if (l->fd >= 0)
		close(l->fd);
	hr_tarindex_free(&l->ix);
	free(l->name);
	free(l->index_path);
	memset(l, 0, sizeof(*l));
	l->fd = -1;
}

/* N bytes of P from its start into BUF; the count read (short at the end). */
static size_t read_place(const struct place *p, char *buf, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = pread(p->fd, buf + got, n - got, (off_t)(p->off + got));
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
	struct place p;
	char *text, a[32], b[32];

	if (locate(l, "index.json", "index.json", &p))
		return NULL;
	if (p.size > max) {
		hr_msg("%s is %s, over the %s limit for JSON documents (--max-json raises it)",
			l->index_path, hr_human_size(p.size, a), hr_human_size(max, b));
		text = NULL;
	} else {
		text = hr_malloc((size_t)p.size + 1);
		text[read_place(&p, text, (size_t)p.size)] = 0;
	}
	if (p.own)
		close(p.fd);
	return text;
}

bool hr_layout_has_blob(const struct hr_layout *l, const char *digest)
{
	const char *hex = hr_after(digest, SHA256);
	char *rel = hr_asprintf(BLOBS "%s", hex ? hex : "");
	struct stat st;
	bool has = l->archive ? hr_tarindex_find(&l->ix, rel) != NULL
		: fstatat(l->fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0;

	free(rel);
	return has;
}

/* "sha256:" and 64 lower-case hex digits: anything else could also
 * name a path outside blobs/. */
static int check_digest(const char *d, const char *what)
{
	const char *hex;

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
	if (!hex64(hex)) {
		char shown[100];

		hr_msg("%s: malformed digest \"%s\"", what, hr_printable(d, shown, sizeof(shown)));
		return -1;
	}
	return 0;
}

int hr_layout_blob(struct hr_blob *b, const struct hr_layout *l, const char *digest,
		uint64_t size, const char *what)
{
	struct place p;
	char named[128], *rel, n1[64], n2[64];
	int rc;

	memset(b, 0, sizeof(*b));
	b->fd = -1;
	b->what = what;
	if (check_digest(digest, what))
		return -1;
	snprintf(b->digest, sizeof(b->digest), "%s", digest);
	b->size = size;
	rel = hr_asprintf(BLOBS "%s", hr_after(digest, SHA256));
	snprintf(named, sizeof(named), "%s: blob %s", what, digest);
	rc = locate(l, rel, named, &p);
	free(rel);
	if (rc)
		return -1;
	b->fd = p.fd;
	b->own_fd = p.own;
	b->off = p.off;
	if (p.size != size) {
		hr_msg("%s: blob %s is %s, its descriptor says %s: refusing the image", what, digest,
			hr_count(p.size, "byte", "bytes", n1), hr_count(size, "byte", "bytes", n2));
		return -1;
	}
	b->md = EVP_MD_CTX_new();
	if (!b->md || !EVP_DigestInit_ex(b->md, EVP_sha256(), NULL)) {
		hr_msg("%s: cannot set up SHA-256 (OpenSSL)", what);
		return -1;
	}
	return 0;
}

/* A blob of its own file is read on, and may have grown (rewritten while
 * read); one in the archive is read in place, to its size. */
ssize_t hr_layout_read(struct hr_blob *b, void *buf, size_t n)
{
	ssize_t r;

	if (!b->own_fd && n > b->size - b->got)
		n = (size_t)(b->size - b->got);
	do
		r = b->own_fd ? read(b->fd, buf, n) : pread(b->fd, buf, n, (off_t)(b->off + b->got));
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
	char hex[2 * EVP_MAX_MD_SIZE + 1], n1[64], n2[64];
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
		hr_msg("%s: blob %s: read %s, its descriptor says %s (it changed while being "
			"read): refusing the image", b->what, b->digest,
			hr_count(b->got, "byte", "bytes", n1), hr_count(b->size, "byte", "bytes", n2));
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
	if (b->fd >= 0 && b->own_fd)
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
