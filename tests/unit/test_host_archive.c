// needs: host/layout.c host/tarindex.c host/magic.c host/source.c host/util.c host/tool.c contract/json.c contract/rmtree.c contract/fdio.c contract/logline.c
/*
 * Unit tests for hypeman run's image archives and what names an image:
 * host/magic.c (the kernel's compressed formats, cpio headers),
 * host/source.c (registry references and the layout skopeo makes of one),
 * host/tarindex.c (a tar file indexed from its headers: the data offsets,
 * long names, types, duplicates, truncation, limits) and host/layout.c
 * reading blobs in place from an archive (verified, refused when a member
 * is not a regular file, a compressed archive or a layout one level down
 * named). The archives are written with libarchive into temporary files.
 */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "check.h"
#include "layout.h"
#include "magic.h"
#include "source.h"
#include "tarindex.h"

/* ---- stderr captured ----------------------------------------------------- */

static char errfile[64];
static int saved_stderr = -1;

static void capture(void)
{
	int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	fflush(stderr);
	saved_stderr = dup(2);
	dup2(fd, 2);
	close(fd);
}

/* What was written to stderr since capture() (static buffer). */
static const char *captured(void)
{
	static char text[8192];
	int fd;
	ssize_t n;

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	fd = open(errfile, O_RDONLY);
	n = fd >= 0 ? read(fd, text, sizeof(text) - 1) : 0;
	text[n > 0 ? n : 0] = 0;
	if (fd >= 0)
		close(fd);
	return text;
}

#define CHECK_HAS(text, want) CHECKF(strstr((text), (want)) != NULL, "%s: no \"%s\" in: %s", \
	#text, (want), (text))

/* ---- magic.c -------------------------------------------------------------- */

static void test_magic(void)
{
	static const struct {
		const char *bytes;
		size_t n;
		const char *name;	/* NULL: none */
		bool kernel;
	} cases[] = {
		{ "\x1f\x8b\x08\x00", 4, "gzip", true },
		{ "\x1f\x8b\x07", 3, NULL, false },	/* not deflate: gunzip refuses it */
		{ "BZh9", 4, "bzip2", true },
		{ "\x5d\x00\x00\x80\x00", 5, "lzma", true },
		{ "\xfd" "7zXZ\x00", 6, "xz", true },
		{ "\xfd" "7zXZ", 5, NULL, false },	/* too short to tell */
		{ "\x89LZO\x00\x0d\x0a\x1a\x0a", 9, "lzo", true },
		{ "\x02\x21\x4c\x18", 4, "lz4", true },
		{ "\x28\xb5\x2f\xfd", 4, "zstd", true },
		{ "\x04\x22\x4d\x18", 4, "lz4 (frame format)", false },
		{ "070701", 6, NULL, false },
		{ "hello", 5, NULL, false },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct hr_magic *m = hr_magic_compression((const unsigned char *)cases[i].bytes,
			cases[i].n);

		CHECK_STR(m ? m->name : NULL, cases[i].name);
		if (m)
			CHECK_INT(m->kernel, cases[i].kernel);
	}
	CHECK_STR(hr_magic_kernel_names(), "gzip, bzip2, lzma, xz, lzo, lz4, zstd");
	CHECK_INT(hr_magic_cpio((const unsigned char *)"070701", 6), HR_CPIO_NEWC);
	CHECK_INT(hr_magic_cpio((const unsigned char *)"070702", 6), HR_CPIO_NEWC);
	CHECK_INT(hr_magic_cpio((const unsigned char *)"070707", 6), HR_CPIO_ODC);
	CHECK_INT(hr_magic_cpio((const unsigned char *)"070703", 6), HR_CPIO_NONE);
	CHECK_INT(hr_magic_cpio((const unsigned char *)"07070", 5), HR_CPIO_NONE);
}

/* ---- source.c ------------------------------------------------------------- */

static void test_references(void)
{
	static const struct {
		const char *arg, *name, *tag;	/* name NULL: not a reference */
	} cases[] = {
		{ "debian:bookworm", "debian", "bookworm" },
		{ "debian", "debian", "latest" },
		{ "docker.io/library/nginx:latest", "nginx", "latest" },
		{ "ghcr.io/owner/sub/app:v1.2-rc_3", "app", "v1.2-rc_3" },
		{ "localhost:5000/img", "img", "latest" },
		{ "localhost/img:2", "img", "2" },
		{ "Registry.Example.com:443/a/b", "b", "latest" },
		{ "a__b.c-d---e:T", "a__b.c-d---e", "T" },
		{ "nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		  "nginx", "latest" },
		{ "nginx:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		  "nginx", "1" },
		{ "nginx@sha256:0123", NULL, NULL },
		{ "Debian:bookworm", NULL, NULL },	/* upper case outside a host */
		{ "/srv/image", NULL, NULL },
		{ "./image", NULL, NULL },
		{ "a//b", NULL, NULL },
		{ "a/", NULL, NULL },
		{ "a:", NULL, NULL },
		{ "a:.x", NULL, NULL },
		{ "a:-x", NULL, NULL },
		{ "a_:x", NULL, NULL },
		{ "a___b", NULL, NULL },
		{ "a b", NULL, NULL },
		{ "x:y:z", NULL, NULL },
		{ "-host.io/x", NULL, NULL },
		{ "host.io:/x", NULL, NULL },
		{ "host.io:80a/x", NULL, NULL },
		{ "", NULL, NULL },
	};
	char name[HR_SOURCE_NAME_MAX], tag[HR_SOURCE_NAME_MAX], longer[400];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool is = hr_source_reference(cases[i].arg, name, tag);

		CHECKF(is == (cases[i].name != NULL), "%s: reference %d", cases[i].arg, is);
		if (is && cases[i].name) {
			CHECK_STR(name, cases[i].name);
			CHECK_STR(tag, cases[i].tag);
		}
	}
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = 0;
	CHECK(!hr_source_reference(longer, name, tag));	/* a name is at most 255 */
}

/* hr_source_find: an existing path first (DIR:TAG too), else the message. */
static void test_find(const char *dir)
{
	struct hr_source s;
	char *arg = NULL;
	const char *err;

	CHECK_INT(hr_source_find(dir, &s), 0);
	CHECK_STR(s.path, dir);
	CHECK_STR(s.tag, NULL);
	hr_source_free(&s);
	if (asprintf(&arg, "%s:docker.io/x:1.0", dir) < 0)
		return;
	CHECK_INT(hr_source_find(arg, &s), 0);
	CHECK_STR(s.path, dir);
	CHECK_STR(s.tag, "docker.io/x:1.0");
	hr_source_free(&s);
	free(arg);
	capture();
	CHECK_INT(hr_source_find("hypeman-test-no-such-image:bookworm", &s), 1);
	err = captured();
	CHECK_HAS(err, "hypeman-test-no-such-image:bookworm: no such file or directory here; "
		"hypeman run does not pull images from registries");
	CHECK_HAS(err, "skopeo copy docker://hypeman-test-no-such-image:bookworm "
		"oci:hypeman-test-no-such-image:bookworm\n");
	capture();
	CHECK_INT(hr_source_find("no-such-image.tar", &s), 1);
	err = captured();
	CHECK_HAS(err, "no-such-image.tar: No such file or directory (want an OCI image layout");
	CHECK(!strstr(err, "skopeo"));
}

/* ---- archives ------------------------------------------------------------- */

struct member {
	const char *name;
	mode_t type;		/* AE_IFREG, AE_IFDIR, AE_IFLNK; 0: a hard link */
	const char *data;	/* content, symlink or hard link target */
};

/* The tar of MEMBERS (ended by a NULL name) into the file PATH, in FORMAT
 * (ARCHIVE_FORMAT_TAR_*). */
static void write_tar(const char *path, int format, const struct member *m)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e;

	archive_write_set_format(a, format);
	archive_write_open_filename(a, path);
	for (; m->name; m++) {
		e = archive_entry_new();
		archive_entry_set_pathname(e, m->name);
		archive_entry_set_mode(e, (m->type ? m->type : AE_IFREG) | 0644);
		if (m->type == AE_IFLNK)
			archive_entry_set_symlink(e, m->data);
		else if (!m->type)
			archive_entry_set_hardlink(e, m->data);
		else if (m->type == AE_IFREG)
			archive_entry_set_size(e, (la_int64_t)strlen(m->data));
		archive_write_header(a, e);
		if (m->type == AE_IFREG)
			archive_write_data(a, m->data, strlen(m->data));
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
}

static bool want_all(void *ctx, const char *name)
{
	(void)ctx;
	return strcmp(name, "skip-me") != 0;
}

/* The data of member NAME of the indexed file FD. */
static char *member_data(int fd, const struct hr_tarindex *ix, const char *name)
{
	const struct hr_tarindex_member *m = hr_tarindex_find(ix, name);
	char *buf;

	if (!m)
		return NULL;
	buf = calloc(1, m->size + 1);
	if (pread(fd, buf, m->size, (off_t)m->off) != (ssize_t)m->size) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void test_index_format(const char *path, int format)
{
	char longname[300], *got, err[400];
	struct hr_tarindex ix;
	int fd;

	/* ustar: a prefix field and a name field; pax and GNU: any length */
	memset(longname, 0, sizeof(longname));
	memset(longname, 'd', 120);
	longname[120] = '/';
	memset(longname + 121, 'n', format == ARCHIVE_FORMAT_TAR_USTAR ? 90 : 150);
	{
		const struct member m[] = {
			{ "./", AE_IFDIR, NULL }, { "./blobs/", AE_IFDIR, NULL },
			{ "./blobs/one", AE_IFREG, "first member's data" },
			{ "skip-me", AE_IFREG, "not kept" },
			{ longname, AE_IFREG, "long name" },
			{ "./blobs/empty", AE_IFREG, "" },
			{ "link", AE_IFLNK, "blobs/one" },
			{ "hard", 0, "blobs/one" },
			{ "././index.json", AE_IFREG, "{\"last\": true}" },
			{ NULL, 0, NULL },
		};

		write_tar(path, format, m);
	}
	fd = open(path, O_RDONLY);
	CHECK_INT(hr_tarindex_read(&ix, fd, 100, want_all, NULL, err, sizeof(err)), 0);
	CHECK_INT(ix.headers, 9);
	CHECK_INT(ix.n, 8);
	CHECK_STR(got = member_data(fd, &ix, "blobs/one"), "first member's data");
	free(got);
	CHECK_STR(got = member_data(fd, &ix, longname), "long name");
	free(got);
	CHECK_STR(got = member_data(fd, &ix, "index.json"), "{\"last\": true}");
	free(got);
	CHECK_STR(got = member_data(fd, &ix, "blobs/empty"), "");
	free(got);
	CHECK(hr_tarindex_find(&ix, "skip-me") == NULL);
	CHECK(hr_tarindex_find(&ix, "./blobs/one") == NULL);
	if (CHECK(ix.n == 8)) {
		CHECK_INT(hr_tarindex_find(&ix, "link")->type, AE_IFLNK);
		CHECK(hr_tarindex_find(&ix, "hard")->hardlink);
		CHECK_INT(hr_tarindex_find(&ix, "blobs/")->type, AE_IFDIR);
	}
	hr_tarindex_free(&ix);
	close(fd);
}

static void test_index_refusals(const char *path)
{
	const struct member twice[] = {
		{ "index.json", AE_IFREG, "1" }, { "./index.json", AE_IFREG, "2" }, { NULL, 0, NULL },
	};
	const struct member three[] = {
		{ "a", AE_IFREG, "1" }, { "b", AE_IFREG, "2" }, { "c", AE_IFREG, "3" },
		{ NULL, 0, NULL },
	};
	struct hr_tarindex ix;
	char err[400];
	int fd;

	write_tar(path, ARCHIVE_FORMAT_TAR_USTAR, twice);
	fd = open(path, O_RDONLY);
	CHECK_INT(hr_tarindex_read(&ix, fd, 100, want_all, NULL, err, sizeof(err)), -1);
	CHECK_HAS(err, "it holds index.json twice");
	hr_tarindex_free(&ix);
	close(fd);

	write_tar(path, ARCHIVE_FORMAT_TAR_USTAR, three);
	fd = open(path, O_RDWR);
	CHECK_INT(hr_tarindex_read(&ix, fd, 2, want_all, NULL, err, sizeof(err)), -1);
	CHECK_HAS(err, "it has more than 2 members (--max-entries raises the limit)");
	hr_tarindex_free(&ix);
	CHECK_INT(hr_tarindex_read(&ix, fd, 1, want_all, NULL, err, sizeof(err)), -1);
	CHECK_HAS(err, "more than 1 member (");
	hr_tarindex_free(&ix);
	/* cut inside c's data: the header is there, the data is not */
	CHECK_INT(ftruncate(fd, 5 * 512), 0);
	CHECK_INT(hr_tarindex_read(&ix, fd, 100, want_all, NULL, err, sizeof(err)), -1);
	CHECK_HAS(err, "it is truncated (");
	hr_tarindex_free(&ix);
	CHECK_INT(pwrite(fd, "not a tar header at all", 23, 0), 23);
	CHECK_INT(hr_tarindex_read(&ix, fd, 100, want_all, NULL, err, sizeof(err)), -1);
	CHECK_HAS(err, "it is not a tar archive");
	hr_tarindex_free(&ix);
	close(fd);
	/* the second header's checksum broken */
	write_tar(path, ARCHIVE_FORMAT_TAR_USTAR, three);
	fd = open(path, O_RDWR);
	CHECK_INT(pwrite(fd, "7", 1, 1024 + 148), 1);
	CHECK_INT(hr_tarindex_read(&ix, fd, 100, want_all, NULL, err, sizeof(err)), -1);
	CHECK_HAS(err, "it is damaged (");
	hr_tarindex_free(&ix);
	close(fd);
}

/* A file cut inside the data of its last member, past whole blocks of it:
 * the headers read are all whole, the data is skipped, not read;
 * libarchive knows the file's size and says so. */
static void test_index_cut_in_data(const char *path)
{
	static char big[4097];
	const struct member m[] = {
		{ "a", AE_IFREG, "1" }, { "big", AE_IFREG, big }, { NULL, 0, NULL },
	};
	struct hr_tarindex ix;
	char err[400];
	int fd;

	memset(big, 'b', sizeof(big) - 1);
	write_tar(path, ARCHIVE_FORMAT_TAR_USTAR, m);
	fd = open(path, O_RDWR);
	CHECK_INT(ftruncate(fd, 3 * 512 + 1024), 0);
	CHECK_INT(hr_tarindex_read(&ix, fd, 100, want_all, NULL, err, sizeof(err)), -1);
	CHECK_HAS(err, "it is truncated (Truncated input file (needed 4096 bytes, only 1024 "
		"available))");
	hr_tarindex_free(&ix);
	close(fd);
}

/* ---- layout.c on an archive ------------------------------------------------ */

static void sha256_of(const char *data, char out[72])
{
	unsigned char sum[32];
	unsigned len = 0, i;

	EVP_Digest(data, strlen(data), sum, &len, EVP_sha256(), NULL);
	strcpy(out, "sha256:");
	for (i = 0; i < len; i++)
		sprintf(out + 7 + 2 * i, "%02x", sum[i]);
}

static void test_layout_archive(const char *path)
{
	const char *blob = "{\"schemaVersion\": 2}", *err;
	char digest[72], member[100], other[72], *text = NULL;
	struct hr_layout l;

	sha256_of(blob, digest);
	sha256_of("other", other);
	snprintf(member, sizeof(member), "blobs/sha256/%s", digest + 7);
	{
		const struct member m[] = {
			{ member, AE_IFREG, blob },
			{ "index.json", AE_IFREG, "{}" },
			{ NULL, 0, NULL },
		};

		write_tar(path, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, m);
	}
	CHECK_INT(hr_layout_open(&l, path, 100), 0);
	CHECK(l.archive);
	CHECK_STR(text = hr_layout_index(&l, 100), "{}");
	free(text);
	text = NULL;
	CHECK(hr_layout_has_blob(&l, digest));
	CHECK(!hr_layout_has_blob(&l, other));
	CHECK_INT(hr_layout_slurp(&l, digest, strlen(blob), 1000, "manifest", &text), 0);
	CHECK_STR(text, blob);
	free(text);
	capture();
	CHECK_INT(hr_layout_slurp(&l, digest, strlen(blob) + 1, 1000, "manifest", &text), -1);
	err = captured();
	CHECK_HAS(err, "is 20 bytes, its descriptor says 21 bytes: refusing the image");
	capture();
	CHECK_INT(hr_layout_slurp(&l, other, 5, 1000, "image config", &text), -1);
	err = captured();
	CHECK_HAS(err, "image config: blob ");
	CHECK_HAS(err, "in ");
	CHECK_HAS(err, "): not in the archive");
	capture();
	CHECK(hr_layout_index(&l, 1) == NULL);
	err = captured();
	CHECK_HAS(err, "index.json in ");
	CHECK_HAS(err, "over the 1 B limit for JSON documents (--max-json raises it)");
	hr_layout_close(&l);
}

/* hr_layout_open on the archive of M, refused saying WANT (and WANT2). */
static void open_refused(const char *path, const struct member *m, const char *want,
		const char *want2)
{
	struct hr_layout l;
	const char *err;

	write_tar(path, ARCHIVE_FORMAT_TAR_USTAR, m);
	capture();
	CHECK_INT(hr_layout_open(&l, path, 100), -1);
	err = captured();
	CHECK_HAS(err, want);
	CHECK_HAS(err, want2);
	hr_layout_close(&l);
}

/* The blob "x" as a member of TYPE (0: a hard link) to TARGET: refused
 * when read, saying WANT. */
static void blob_refused(const char *path, mode_t type, const char *target, const char *want)
{
	char digest[72], member[100], *text = NULL;
	struct hr_layout l;
	const char *err;

	sha256_of("x", digest);
	snprintf(member, sizeof(member), "blobs/sha256/%s", digest + 7);
	{
		const struct member m[] = {
			{ "index.json", AE_IFREG, "{}" }, { member, type, target }, { NULL, 0, NULL },
		};

		write_tar(path, ARCHIVE_FORMAT_TAR_USTAR, m);
	}
	CHECK_INT(hr_layout_open(&l, path, 100), 0);
	capture();
	CHECK_INT(hr_layout_slurp(&l, digest, 1, 100, "layer 1/1", &text), -1);
	err = captured();
	CHECK_HAS(err, want);
	hr_layout_close(&l);
}

/* What is no layout, or no blob: each says what it is and what to do. */
static void test_layout_archive_refusals(const char *path)
{
	const struct member nested[] = {
		{ "img/", AE_IFDIR, NULL }, { "img/index.json", AE_IFREG, "{}" }, { NULL, 0, NULL },
	};
	const struct member legacy[] = {
		{ "manifest.json", AE_IFREG, "[]" }, { "repositories", AE_IFREG, "{}" },
		{ NULL, 0, NULL },
	};
	const struct member other[] = { { "hello.txt", AE_IFREG, "hi" }, { NULL, 0, NULL } };
	struct hr_layout l;
	int fd;

	blob_refused(path, AE_IFLNK, "/etc/passwd",
		"is a symlink: refusing it (the layout's files must be regular files)");
	blob_refused(path, 0, "index.json", "is a hard link: refusing it");
	open_refused(path, nested, "holds a layout in its directory img/, not at its top: make "
		"the archive from inside the layout (tar -C img -cf ", ", or unpack it");
	open_refused(path, legacy, "is a `docker save` archive of Docker before 25",
		"skopeo copy docker-archive:");
	open_refused(path, other, "is a tar archive, but not of an OCI image layout: it has no "
		"index.json", "skopeo copy docker://debian:bookworm oci:debian:bookworm");
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK_INT(write(fd, "\x28\xb5\x2f\xfd\x00\x00", 6), 6);
	close(fd);
	capture();
	CHECK_INT(hr_layout_open(&l, path, 100), -1);
	CHECK_HAS(captured(), "is compressed (zstd): hypeman run reads an image archive "
		"uncompressed, each blob in place; decompress it first (unzstd ");
	hr_layout_close(&l);
}

int main(void)
{
	char dir[] = "/tmp/hm-archive.XXXXXX", path[96];

	if (!mkdtemp(dir))
		return 2;
	snprintf(errfile, sizeof(errfile), "%s/stderr", dir);
	snprintf(path, sizeof(path), "%s/image.tar", dir);
	CHECK_CASE(test_magic());
	CHECK_CASE(test_references());
	CHECK_CASE(test_find(dir));
	CHECK_CASE(test_index_format(path, ARCHIVE_FORMAT_TAR_USTAR));
	CHECK_CASE(test_index_format(path, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED));
	CHECK_CASE(test_index_format(path, ARCHIVE_FORMAT_TAR_GNUTAR));
	CHECK_CASE(test_index_refusals(path));
	CHECK_CASE(test_index_cut_in_data(path));
	CHECK_CASE(test_layout_archive(path));
	CHECK_CASE(test_layout_archive_refusals(path));
	unlink(path);
	unlink(errfile);
	rmdir(dir);
	return check_done();
}
