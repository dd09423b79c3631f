// needs: host/unpack.c host/tree.c host/pathset.c host/layout.c host/tarindex.c host/magic.c host/source.c host/meter.c host/util.c host/tool.c contract/rmtree.c contract/json.c contract/fdio.c contract/logline.c
/*
 * Unit tests for host/unpack.c and host/tree.c: layers made in memory with
 * libarchive, applied onto a temporary root as hypeman run applies a
 * blob's archive: files, directories, symlinks, hard links, missing
 * parents, whiteouts, refused names, the entry limit. Needs root (chown).
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
#include "tree.h"
#include "unpack.h"

static char root[64];

struct entry {
	const char *name;
	mode_t type;		/* AE_IFREG, AE_IFDIR, AE_IFLNK; 0: a hard link */
	const char *data;	/* content, symlink or hard link target */
};

/* A tar of ENTRIES (ended by a NULL name), gzip'd when GZ, malloc'd,
 * length in *N. */
static void *layer_as(const struct entry *entries, size_t *n, int gz)
{
	size_t cap = 1 << 20;
	char *buf = malloc(cap);
	struct archive *a = archive_write_new();
	struct archive_entry *e;

	archive_write_set_format_pax_restricted(a);
	if (gz)
		archive_write_add_filter_gzip(a);
	archive_write_open_memory(a, buf, cap, n);
	for (; entries->name; entries++) {
		e = archive_entry_new();
		archive_entry_set_pathname(e, entries->name);
		archive_entry_set_mode(e, (entries->type ? entries->type : AE_IFREG) | 0644);
		archive_entry_set_mtime(e, 1700000000, 0);
		if (entries->type == AE_IFLNK)
			archive_entry_set_symlink(e, entries->data);
		else if (!entries->type)
			archive_entry_set_hardlink(e, entries->data);
		else if (entries->type == AE_IFREG)
			archive_entry_set_size(e, (la_int64_t)strlen(entries->data));
		archive_write_header(a, e);
		if (entries->type == AE_IFREG)
			archive_write_data(a, entries->data, strlen(entries->data));
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
	return buf;
}

static void *layer(const struct entry *entries, size_t *n)
{
	return layer_as(entries, n, 0);
}

/* "sha256:<hex>" of DATA in OUT. */
static const char *sha256_of(const void *data, size_t n, char out[72])
{
	unsigned char sum[EVP_MAX_MD_SIZE];
	unsigned len = 0, i;

	EVP_Digest(data, n, sum, &len, EVP_sha256(), NULL);
	strcpy(out, "sha256:");
	for (i = 0; i < len; i++)
		sprintf(out + 7 + 2 * i, "%02x", sum[i]);
	return out;
}

/* Applies the layer of ENTRIES onto T, as hypeman run reads a layer (the
 * outer reader, the tar reader on its stream); hr_unpack_entries's result,
 * and the stream must hash to the tar's own sha256. */
static int apply(struct hr_tree *t, struct hr_unpack_totals *tt, const struct entry *entries)
{
	size_t n, count = 0;
	void *tar = layer(entries, &n);
	struct archive *a = hr_unpack_archive("test layer");
	struct hr_unpack_stream s = { 0 };
	char diff_id[72], want[72];
	int rc = -1;

	hr_tree_layer(t, "test layer");
	if (a && archive_read_open_memory(a, tar, n) == ARCHIVE_OK
	 && hr_unpack_stream_open(&s, a, "test layer") == 0) {
		a = NULL;
		rc = hr_unpack_entries(&s, t, tt, "test layer", &count);
		if (rc == 0 && CHECK(hr_unpack_stream_end(&s, "test layer", diff_id) == 0))
			CHECK_STR(diff_id, sha256_of(tar, n, want));
	}
	hr_tree_layer_end(t);
	hr_unpack_stream_close(&s);
	archive_read_free(a);
	free(tar);
	return rc;
}

/* apply() for a layer that must be refused: its message not shown. */
static int refused(struct hr_tree *t, struct hr_unpack_totals *tt, const struct entry *entries)
{
	int saved = dup(2), null = open("/dev/null", O_WRONLY), rc;

	dup2(null, 2);
	rc = apply(t, tt, entries);
	dup2(saved, 2);
	close(saved);
	close(null);
	return rc;
}

static int there(const char *rel, mode_t type)
{
	char p[256];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	return lstat(p, &st) == 0 && (st.st_mode & S_IFMT) == type;
}

static void test_layers(void)
{
	static const struct entry lower[] = {
		{ "etc/", AE_IFDIR, NULL }, { "etc/a", AE_IFREG, "A" }, { "./etc/l", AE_IFLNK, "/etc/a" },
		{ "etc/h", 0, "etc/a" }, { "d/x", AE_IFREG, "x" }, { "usr/bin/deep/f", AE_IFREG, "f" },
		{ NULL, 0, NULL },
	};
	static const struct entry upper[] = {
		{ ".wh.d", AE_IFREG, "" }, { "etc/.wh.a", AE_IFREG, "" }, { "etc/b", AE_IFREG, "B" },
		{ NULL, 0, NULL },
	};
	static const struct entry climbing[] = { { "../x", AE_IFREG, "x" }, { NULL, 0, NULL } };
	struct hr_limits lim = { HR_DEFAULT_MAX_SIZE, 100, HR_DEFAULT_MAX_JSON };
	struct hr_unpack_totals tt = { .lim = &lim, .root = root, .free_left = UINT64_MAX };
	struct hr_tree *t = hr_tree_open(root);
	struct stat a, h;
	char p[256];

	if (!CHECK(t != NULL))
		return;
	CHECK_INT(apply(t, &tt, lower), 0);
	CHECK(there("etc/a", S_IFREG) && there("etc/l", S_IFLNK) && there("d/x", S_IFREG)
		&& there("usr/bin/deep/f", S_IFREG));
	snprintf(p, sizeof(p), "%s/etc/a", root);
	stat(p, &a);
	snprintf(p, sizeof(p), "%s/etc/h", root);
	CHECK(stat(p, &h) == 0 && h.st_ino == a.st_ino && a.st_nlink == 2);
	CHECK_INT(apply(t, &tt, upper), 0);
	CHECK(!there("d", S_IFDIR) && !there("etc/a", S_IFREG) && there("etc/h", S_IFREG)
		&& there("etc/b", S_IFREG));
	CHECK_INT(refused(t, &tt, climbing), -1);
	CHECK(tt.entries == 10);
	/* the entry limit */
	lim.max_entries = 11;
	CHECK_INT(refused(t, &tt, upper), -1);
	CHECK_INT(hr_tree_finish(t), 0);
	snprintf(p, sizeof(p), "%s", root);
	CHECK(stat(p, &a) == 0 && (a.st_mode & 07777) == 0755);
	hr_tree_close(t);
}

/* A gzip'd layer: the stream the tar reader takes is the tar itself,
 * hashed whole, end blocks included: its sha256 is the tar's, not the
 * blob's. */
static void test_diff_id_of_a_compressed_layer(void)
{
	static const struct entry ents[] = {
		{ "etc/", AE_IFDIR, NULL }, { "etc/z", AE_IFREG, "zipped" }, { NULL, 0, NULL },
	};
	size_t n, gn, count = 0;
	void *tar = layer_as(ents, &n, 0), *gz = layer_as(ents, &gn, 1);
	struct hr_limits lim = { HR_DEFAULT_MAX_SIZE, 100, HR_DEFAULT_MAX_JSON };
	struct hr_unpack_totals tt = { .lim = &lim, .root = root, .free_left = UINT64_MAX };
	struct hr_tree *t = hr_tree_open(root);
	struct archive *a = hr_unpack_archive("gz layer");
	struct hr_unpack_stream s = { 0 };
	char got[72], want[72], blob[72];

	CHECKF(n == 2560 && gn < n, "%zu %zu", n, gn);	/* 3 blocks, 2 end blocks */
	CHECK(t && a && archive_read_open_memory(a, gz, gn) == ARCHIVE_OK);
	CHECK(hr_unpack_stream_open(&s, a, "gz layer") == 0);
	hr_tree_layer(t, "gz layer");
	CHECK(hr_unpack_entries(&s, t, &tt, "gz layer", &count) == 0 && count == 2);
	hr_tree_layer_end(t);
	CHECK(hr_unpack_stream_end(&s, "gz layer", got) == 0);
	CHECK_STR(got, sha256_of(tar, n, want));
	CHECK(strcmp(got, sha256_of(gz, gn, blob)) != 0);
	CHECK(s.bytes == n);
	hr_unpack_stream_close(&s);
	hr_tree_finish(t);
	hr_tree_close(t);
	free(tar);
	free(gz);
}

int main(void)
{
	snprintf(root, sizeof(root), "%s/hm-unpack.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!CHECK(mkdtemp(root) != NULL))
		return check_done();
	CHECK_CASE(test_layers());
	CHECK_CASE(test_diff_id_of_a_compressed_layer());
	hr_remove_tree(root);
	return check_done();
}
