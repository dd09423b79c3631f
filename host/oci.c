/*
 * hypeman run: reading an OCI image layout (index.json -> manifest ->
 * config and layers). Every blob read is checked against its sha256
 * digest and size before anything is built from it; layer blobs stay
 * open so that what tar reads later is the file that was checked.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "json.h"
#include "hypeman.h"

#define REF_NAME "org.opencontainers.image.ref.name"
#define MAX_JSON_BLOB (16 * MiB)
#define MAX_NESTING 4		/* manifest documents: image indexes and the manifest */

static bool is_index_type(const char *mt)
{
	return mt && (!strcmp(mt, "application/vnd.oci.image.index.v1+json")
		|| !strcmp(mt, "application/vnd.docker.distribution.manifest.list.v2+json"));
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
		if (strchr(d, ':') && strlen(d) < 200 && utf8_valid(d))
			msg("%s: unsupported digest algorithm in \"%s\" (only sha256)", what, d);
		else
			msg("%s: malformed digest", what);
		return -1;
	}
	for (i = 7; d[i]; i++)
		if (!((d[i] >= '0' && d[i] <= '9') || (d[i] >= 'a' && d[i] <= 'f')))
			break;
	if (i != 7 + 64 || d[i]) {
		msg("%s: malformed digest \"%.80s\"", what, d);
		return -1;
	}
	return 0;
}

/* The descriptor's size (required by the OCI spec). */
static int desc_size(const struct jt *desc, const char *what, uint64_t *size)
{
	const struct jt *s = jt_get(desc, "size");
	long v;

	if (!jt_is(s, HM_JSON_NUMBER) || hm_json_to_long(s->str, strlen(s->str), &v) || v < 0) {
		msg("%s: descriptor %s has no valid \"size\"", what,
			jt_str(desc, "digest") ? jt_str(desc, "digest") : "(no digest)");
		return -1;
	}
	*size = (uint64_t)v;
	return 0;
}

/*
 * Opens the blob of desc and checks its size and sha256. When buf is not
 * NULL the content is returned there (for JSON blobs) and the fd closed;
 * otherwise the open fd is returned in *fdout. 0 or -1 (message printed).
 */
static int verify_blob(struct image *img, const struct jt *desc, const char *what,
		char **buf, int *fdout, struct layer *info)
{
	const char *digest = jt_str(desc, "digest");
	unsigned char sum[32], *chunk = NULL;
	char hex[65], sz[32];
	struct sha256 c;
	struct stat st;
	uint64_t size, got = 0;
	char *path, *data = NULL;
	int fd;

	if (!jt_is(desc, HM_JSON_OBJECT)) {
		msg("%s: descriptor is not an object", what);
		return -1;
	}
	if (check_digest(digest, what) || desc_size(desc, what, &size))
		return -1;
	path = xasprintf("%s/blobs/sha256/%s", img->dir, digest + 7);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		msg("%s: blob %s: %s (%s)", what, digest,
			fd < 0 ? strerror(errno) : "not a regular file", path);
		goto fail;
	}
	if ((uint64_t)st.st_size != size) {
		msg("%s: blob %s is %llu bytes, its descriptor says %llu: refusing the image",
			what, digest, (unsigned long long)st.st_size, (unsigned long long)size);
		goto fail;
	}
	if (buf && size > MAX_JSON_BLOB) {
		msg("%s: blob %s is %s, too large for a JSON document", what, digest,
			human_size(size, sz));
		goto fail;
	}
	if (buf)
		data = xmalloc(size + 1);
	else
		chunk = xmalloc(MiB);
	sha256_init(&c);
	for (;;) {
		unsigned char *to = buf ? (unsigned char *)data + got : chunk;
		size_t room = buf ? size - got : MiB;
		ssize_t r = room ? read(fd, to, room) : 0;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			msg("%s: reading blob %s: %s", what, digest, strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		sha256_update(&c, to, r);
		got += r;
	}
	sha256_final(&c, sum);
	sha256_hex(sum, hex);
	if (got != size || strcmp(hex, digest + 7)) {
		if (got != size)
			msg("%s: blob %s: read %llu bytes, its descriptor says %llu: refusing the image",
				what, digest, (unsigned long long)got, (unsigned long long)size);
		else
			msg("%s: blob %s: digest mismatch, the content hashes to sha256:%s: "
				"refusing the image", what, digest, hex);
		goto fail;
	}
	img->n_blobs++;
	img->blob_bytes += size;
	free(chunk);
	if (info) {
		snprintf(info->digest, sizeof(info->digest), "%s", digest);
		info->path = path;
		info->size = size;
		path = NULL;
	}
	free(path);
	if (buf) {
		data[size] = 0;
		*buf = data;
		close(fd);
	} else {
		*fdout = fd;
	}
	return 0;
fail:
	free(chunk);
	free(data);
	free(path);
	if (fd >= 0)
		close(fd);
	return -1;
}

/* A JSON blob, verified and parsed. */
static int read_json_blob(struct image *img, const struct jt *desc, const char *what,
		struct jt *out)
{
	char *text, err[160];
	int r;

	if (verify_blob(img, desc, what, &text, NULL, NULL))
		return -1;
	r = jt_parse(text, strlen(text), out, err, sizeof(err));
	if (r)
		msg("%s: blob %s is not valid JSON: %s", what, jt_str(desc, "digest"), err);
	free(text);
	return r;
}

/* Among manifest descriptors, linux/amd64 first, then one without a
 * platform, then the first. */
static const struct jt *pick_platform(const struct jt **c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct jt *p = jt_get(c[i], "platform");
		const char *os = jt_str(p, "os"), *arch = jt_str(p, "architecture");

		if (os && arch && !strcmp(os, "linux") && !strcmp(arch, "amd64"))
			return c[i];
	}
	for (i = 0; i < n; i++)
		if (!jt_get(c[i], "platform"))
			return c[i];
	return c[0];
}

/* Appends the strings of array a (null or absent: nothing) to v. */
static int string_array(const struct jt *a, struct strv *v, const char *what)
{
	size_t i;

	if (!a || a->type == HM_JSON_NULL)
		return 0;
	if (a->type != HM_JSON_ARRAY) {
		msg("image config: %s is not an array of strings", what);
		return -1;
	}
	for (i = 0; i < a->n; i++) {
		if (a->kids[i].type != HM_JSON_STRING) {
			msg("image config: %s[%zu] is not a string", what, i);
			return -1;
		}
		strv_push(v, a->kids[i].str);
	}
	return 0;
}

static int read_config(struct image *img, const struct jt *cfgdoc)
{
	const struct jt *cfg = jt_get(cfgdoc, "config");
	const struct jt *wd;

	if (!jt_is(cfgdoc, HM_JSON_OBJECT)) {
		msg("image config is not a JSON object");
		return -1;
	}
	if (cfg && cfg->type == HM_JSON_NULL)
		cfg = NULL;
	if (cfg && cfg->type != HM_JSON_OBJECT) {
		msg("image config: \"config\" is not an object");
		return -1;
	}
	if (string_array(jt_get(cfg, "Entrypoint"), &img->entrypoint, "Entrypoint")
	 || string_array(jt_get(cfg, "Cmd"), &img->cmd, "Cmd")
	 || string_array(jt_get(cfg, "Env"), &img->env, "Env"))
		return -1;
	wd = jt_get(cfg, "WorkingDir");
	if (wd && wd->type != HM_JSON_NULL && wd->type != HM_JSON_STRING) {
		msg("image config: WorkingDir is not a string");
		return -1;
	}
	img->workdir = xstrdup(wd && wd->str ? wd->str : "");
	return 0;
}

static int read_layers(struct image *img, const struct jt *manifest, const char *mdigest)
{
	const struct jt *layers = jt_get(manifest, "layers");
	size_t i;

	if (!jt_is(layers, HM_JSON_ARRAY)) {
		msg("manifest %s has no \"layers\" array", mdigest);
		return -1;
	}
	img->layers = xmalloc((layers->n ? layers->n : 1) * sizeof(*img->layers));
	for (i = 0; i < layers->n; i++) {
		const struct jt *d = &layers->kids[i];
		struct layer *l = &img->layers[i];
		char what[64];
		const char *mt = jt_str(d, "mediaType");

		memset(l, 0, sizeof(*l));
		l->fd = -1;
		snprintf(what, sizeof(what), "layer %zu/%zu", i + 1, layers->n);
		if (mt && (strstr(mt, "nondistributable") || strstr(mt, "foreign"))
		 && jt_get(d, "urls")) {
			const char *dg = jt_str(d, "digest");
			struct stat st;
			char *p = xasprintf("%s/blobs/sha256/%s", img->dir,
				dg && strlen(dg) > 7 ? dg + 7 : "");
			int missing = stat(p, &st) != 0;

			free(p);
			if (missing) {
				msg("%s: %s is a non-distributable layer that is not in the layout "
					"(hypeman does not download)", what, dg ? dg : "?");
				return -1;
			}
		}
		if (verify_blob(img, d, what, NULL, &l->fd, l))
			return -1;
		l->media_type = xstrdup(mt ? mt : "");
		img->n_layers = i + 1;
	}
	return 0;
}

int oci_load(const char *dir, const char *tag, struct image *img)
{
	struct jt index = { 0 }, cfgdoc = { 0 };
	struct jt docs[MAX_NESTING + 1];	/* the manifest and the indexes above it */
	const struct jt *manifests, *desc, *manifest = NULL;
	const struct jt **cands = NULL;
	char *path, *text = NULL, err[160], digest[72] = "";
	size_t len, i, n = 0, ndocs = 0;
	int rc = -1;
	struct stat st;

	memset(img, 0, sizeof(*img));
	memset(docs, 0, sizeof(docs));
	img->dir = xstrdup(dir);
	img->tag = tag ? xstrdup(tag) : NULL;
	if (stat(dir, &st)) {
		msg("%s: %s (want an OCI image layout directory)", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		msg("%s: not a directory (want an OCI image layout directory)", dir);
		return -1;
	}
	path = xasprintf("%s/index.json", dir);
	if (read_file(path, MAX_JSON_BLOB, &text, &len)) {
		msg("%s: %s (not an OCI image layout?)", path,
			errno == EFBIG ? "larger than 16 MiB" : strerror(errno));
		goto out;
	}
	if (jt_parse(text, len, &index, err, sizeof(err))) {
		msg("%s: malformed JSON: %s", path, err);
		goto out;
	}
	manifests = jt_get(&index, "manifests");
	if (!jt_is(manifests, HM_JSON_ARRAY)) {
		msg("%s: no \"manifests\" array", path);
		goto out;
	}
	if (manifests->n == 0) {
		msg("%s: the \"manifests\" array is empty", path);
		goto out;
	}
	cands = xmalloc(manifests->n * sizeof(*cands));
	for (i = 0; i < manifests->n; i++) {
		const char *ref = jt_str(jt_get(&manifests->kids[i], "annotations"), REF_NAME);

		if (!jt_is(&manifests->kids[i], HM_JSON_OBJECT)) {
			msg("%s: manifests[%zu] is not an object", path, i);
			goto out;
		}
		if (ref && !strcmp(ref, tag ? tag : "latest"))
			cands[n++] = &manifests->kids[i];
	}
	if (!n && !tag && manifests->n == 1)
		cands[n++] = &manifests->kids[0];
	if (!n) {
		char names[512] = "";
		size_t used = 0;

		for (i = 0; i < manifests->n && used < sizeof(names) - 80; i++) {
			const char *ref = jt_str(jt_get(&manifests->kids[i], "annotations"), REF_NAME);

			used += snprintf(names + used, sizeof(names) - used, "%s%s",
				used ? ", " : "", ref ? ref : "(untagged)");
		}
		msg("%s: no manifest tagged \"%s\" (the index has: %s)", path,
			tag ? tag : "latest", names);
		goto out;
	}
	desc = pick_platform(cands, n);
	/* Follow image indexes (multi-platform images) down to a manifest;
	 * every document stays alive in docs[] (desc points into one). */
	for (;;) {
		struct jt *d;
		const struct jt *sub;

		if (ndocs == sizeof(docs) / sizeof(docs[0])) {
			msg("%s: image indexes nested too deep", path);
			goto out;
		}
		d = &docs[ndocs++];
		if (read_json_blob(img, desc, "manifest", d))
			goto out;
		snprintf(digest, sizeof(digest), "%s", jt_str(desc, "digest"));
		if (!is_index_type(jt_str(desc, "mediaType")) && !is_index_type(jt_str(d, "mediaType"))) {
			manifest = d;
			break;
		}
		sub = jt_get(d, "manifests");
		if (!jt_is(sub, HM_JSON_ARRAY) || sub->n == 0) {
			msg("image index %s lists no manifests", digest);
			goto out;
		}
		free(cands);
		cands = xmalloc(sub->n * sizeof(*cands));
		for (i = 0; i < sub->n; i++)
			cands[i] = &sub->kids[i];
		desc = pick_platform(cands, sub->n);
	}
	if (!jt_is(manifest, HM_JSON_OBJECT)) {
		msg("manifest %s is not a JSON object", digest);
		goto out;
	}
	if (!jt_is(jt_get(manifest, "config"), HM_JSON_OBJECT)) {
		msg("manifest %s has no \"config\" descriptor", digest);
		goto out;
	}
	if (read_json_blob(img, jt_get(manifest, "config"), "image config", &cfgdoc)
	 || read_config(img, &cfgdoc)
	 || read_layers(img, manifest, digest))
		goto out;
	rc = 0;
out:
	free(cands);
	free(text);
	free(path);
	jt_free(&index);
	for (i = 0; i < ndocs; i++)
		jt_free(&docs[i]);
	jt_free(&cfgdoc);
	return rc;
}

void oci_free(struct image *img)
{
	size_t i;

	for (i = 0; i < img->n_layers; i++) {
		if (img->layers[i].fd >= 0)
			close(img->layers[i].fd);
		free(img->layers[i].path);
		free(img->layers[i].media_type);
	}
	free(img->layers);
	strv_free(&img->entrypoint);
	strv_free(&img->cmd);
	strv_free(&img->env);
	free(img->workdir);
	free(img->dir);
	free(img->tag);
	memset(img, 0, sizeof(*img));
}
