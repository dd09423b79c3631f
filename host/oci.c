/*
 * hypeman run: reading an OCI image layout: index.json -> (image indexes)
 * -> manifest -> config and layers.
 *
 * The documents are read with the guest's pull reader (hypeman/json.c)
 * and only the fields used here are kept: a descriptor is judged as it
 * is read and dropped unless it is the best so far, so memory stays at
 * one document (at most --max-json bytes) plus the layer list, whatever
 * the document holds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "json.h"
#include "run.h"

#define REF_NAME "org.opencontainers.image.ref.name"
#define MAX_NESTING 4		/* image indexes above the manifest */
#define LIST_MAX 400		/* bytes of names listed in a message */

struct desc {
	char *media_type, *digest, *ref, *os, *arch, *variant;
	uint64_t size;
	bool has_size, has_platform, has_urls;
};

static void desc_free(struct desc *d)
{
	free(d->media_type);
	free(d->digest);
	free(d->ref);
	free(d->os);
	free(d->arch);
	free(d->variant);
	memset(d, 0, sizeof(*d));
}

static bool is_index_type(const char *mt)
{
	return mt && (!strcmp(mt, "application/vnd.oci.image.index.v1+json")
		|| !strcmp(mt, "application/vnd.docker.distribution.manifest.list.v2+json"));
}

/* ---- small readers on top of hm_json ---------------------------------- */

static int json_fail(struct hm_json *j, const char *why)
{
	if (!j->err[0])
		snprintf(j->err, sizeof(j->err), "offset %lu: %s", (unsigned long)j->pos, why);
	return -1;
}

/* A string member (a repeated key: the last one wins). */
static int get_string(struct hm_json *j, char **dst, const char *key)
{
	char why[80];

	if (hm_json_peek(j) != HM_JSON_STRING) {
		snprintf(why, sizeof(why), "\"%s\" is not a string", key);
		return json_fail(j, why);
	}
	free(*dst);
	*dst = NULL;
	return hm_json_string(j, dst);
}

/* An array of strings, or null (nothing). */
static int get_strings(struct hm_json *j, struct strv *v, const char *key)
{
	enum hm_json_type t = hm_json_peek(j);
	char *s, why[80];
	int r;

	strv_free(v);
	if (t == HM_JSON_NULL)
		return hm_json_null(j);
	snprintf(why, sizeof(why), "\"%s\" is not an array of strings", key);
	if (t != HM_JSON_ARRAY || hm_json_enter(j))
		return json_fail(j, why);
	while ((r = hm_json_next(j, NULL)) == 1) {
		if (hm_json_peek(j) != HM_JSON_STRING)
			return json_fail(j, why);
		if (hm_json_string(j, &s))
			return -1;
		strv_push(v, s);
		free(s);
	}
	return r;
}

int json_object(struct hm_json *j, const char *what, bool null_ok, json_member_fn *fn,
		void *ctx)
{
	char *key, why[80];
	int r;

	if (null_ok && hm_json_peek(j) == HM_JSON_NULL)
		return hm_json_null(j);
	if (hm_json_peek(j) != HM_JSON_OBJECT) {
		snprintf(why, sizeof(why), "%s is not an object", what);
		return json_fail(j, why);
	}
	if (hm_json_enter(j))
		return -1;
	while ((r = hm_json_next(j, &key)) == 1) {
		r = fn(j, key, ctx);
		free(key);
		if (r)
			return -1;
	}
	return r;
}

static int platform_member(struct hm_json *j, const char *key, void *ctx)
{
	struct desc *d = ctx;

	if (!strcmp(key, "os"))
		return get_string(j, &d->os, key);
	if (!strcmp(key, "architecture"))
		return get_string(j, &d->arch, key);
	if (!strcmp(key, "variant"))
		return get_string(j, &d->variant, key);
	return hm_json_skip(j);
}

static int annotation_member(struct hm_json *j, const char *key, void *ctx)
{
	struct desc *d = ctx;

	return !strcmp(key, REF_NAME) ? get_string(j, &d->ref, key) : hm_json_skip(j);
}

static int read_size(struct hm_json *j, struct desc *d)
{
	const char *lit;
	size_t len;
	long v;

	if (hm_json_peek(j) != HM_JSON_NUMBER)
		return json_fail(j, "\"size\" is not a number");
	if (hm_json_number(j, &lit, &len))
		return -1;
	if (hm_json_to_long(lit, len, &v) || v < 0)
		return json_fail(j, "\"size\" is not a byte count");
	d->size = (uint64_t)v;
	d->has_size = true;
	return 0;
}

static int desc_member(struct hm_json *j, const char *key, void *ctx)
{
	struct desc *d = ctx;

	if (!strcmp(key, "mediaType"))
		return get_string(j, &d->media_type, key);
	if (!strcmp(key, "digest"))
		return get_string(j, &d->digest, key);
	if (!strcmp(key, "size"))
		return read_size(j, d);
	if (!strcmp(key, "platform")) {
		d->has_platform = true;
		return json_object(j, "\"platform\"", false, platform_member, d);
	}
	if (!strcmp(key, "annotations"))
		return json_object(j, "\"annotations\"", true, annotation_member, d);
	d->has_urls |= !strcmp(key, "urls");
	return hm_json_skip(j);
}

/* One descriptor object. */
static int read_desc(struct hm_json *j, struct desc *d)
{
	memset(d, 0, sizeof(*d));
	return json_object(j, "a descriptor", false, desc_member, d);
}

/* ---- choosing a manifest ------------------------------------------------ */

struct chooser {
	bool top;		/* index.json: the tag decides first */
	const char *tag;	/* NULL: none given (then "latest") */
	const char *arch;	/* the target's OCI architecture */
	struct desc best, first;
	int best_rank;		/* 0: none yet */
	size_t n, n_tagged;
	char names[LIST_MAX], platforms[LIST_MAX];
};

/* "docker.io/library/x:1.0" has the tag "1.0": the part after the last
 * ':' that follows the last '/'. */
static bool tag_matches(const char *ref, const char *tag)
{
	const char *colon, *slash;

	if (!ref)
		return false;
	if (!strcmp(ref, tag))
		return true;
	colon = strrchr(ref, ':');
	slash = strrchr(ref, '/');
	return colon && (!slash || slash < colon) && !strcmp(colon + 1, tag);
}

/* 2: the target's platform, 1: no platform given, 0: another platform. */
static int platform_rank(const struct desc *d, const char *arch)
{
	if (!d->has_platform)
		return 1;
	return d->os && d->arch && !strcmp(d->os, "linux") && !strcmp(d->arch, arch) ? 2 : 0;
}

/* True when list (", "-separated) already holds s. */
static bool listed(const char *list, const char *s)
{
	size_t n = strlen(s);
	const char *p;

	for (p = list; (p = strstr(p, s)) != NULL; p++)
		if ((p == list || (p - list >= 2 && p[-2] == ',')) && (p[n] == 0 || p[n] == ','))
			return true;
	return false;
}

/* Appends s to a bounded ", "-separated list (once). */
static void list_add(char *list, const char *s)
{
	size_t used = strlen(list);

	if (listed(list, s))
		return;
	if (used + strlen(s) + 8 >= LIST_MAX) {
		if (!strstr(list, ", ..."))
			snprintf(list + used, LIST_MAX - used, ", ...");
		return;
	}
	snprintf(list + used, LIST_MAX - used, "%s%s", used ? ", " : "", s);
}

static void note_platform(struct chooser *c, const struct desc *d)
{
	char p[160];

	if (!d->has_platform)
		snprintf(p, sizeof(p), "(no platform)");
	else
		snprintf(p, sizeof(p), "%.40s/%.40s%s%.20s", d->os ? d->os : "?",
			d->arch ? d->arch : "?", d->variant ? "/" : "", d->variant ? d->variant : "");
	list_add(c->platforms, p);
}

static void consider(struct chooser *c, struct desc *d)
{
	int rank = platform_rank(d, c->arch);

	note_platform(c, d);
	if (rank > c->best_rank) {
		desc_free(&c->best);
		c->best = *d;
		c->best_rank = rank;
	} else {
		desc_free(d);
	}
}

/* Takes d (freed or kept). */
static void offer(struct chooser *c, struct desc *d)
{
	c->n++;
	if (!c->top) {
		consider(c, d);
		return;
	}
	list_add(c->names, d->ref ? d->ref : "(untagged)");
	if (tag_matches(d->ref, c->tag ? c->tag : "latest")) {
		c->n_tagged++;
		consider(c, d);
	} else if (c->n == 1) {
		c->first = *d;
	} else {
		desc_free(d);
	}
}

/* ---- documents ---------------------------------------------------------- */

/* What a manifest or an index holds (the parts used here). */
struct doc {
	char *media_type;
	bool has_manifests, has_layers;
	struct desc config;
	struct desc *layers;
	size_t n_layers, cap_layers;
};

static void doc_free(struct doc *d)
{
	size_t i;

	free(d->media_type);
	desc_free(&d->config);
	for (i = 0; i < d->n_layers; i++)
		desc_free(&d->layers[i]);
	free(d->layers);
	memset(d, 0, sizeof(*d));
}

static int read_descs(struct hm_json *j, struct doc *d, struct chooser *c, const char *key)
{
	struct desc one;
	char why[80];
	int r;

	snprintf(why, sizeof(why), "\"%s\" is not an array", key);
	if (hm_json_peek(j) != HM_JSON_ARRAY || hm_json_enter(j))
		return json_fail(j, why);
	while ((r = hm_json_next(j, NULL)) == 1) {
		if (read_desc(j, &one)) {
			desc_free(&one);
			return -1;
		}
		if (c) {
			offer(c, &one);
			continue;
		}
		if (d->n_layers == d->cap_layers) {
			d->cap_layers = d->cap_layers ? 2 * d->cap_layers : 16;
			d->layers = hr_realloc(d->layers, d->cap_layers * sizeof(*d->layers));
		}
		d->layers[d->n_layers++] = one;
	}
	return r;
}

struct doc_ctx {
	struct doc *d;
	struct chooser *c;
};

static int doc_member(struct hm_json *j, const char *key, void *ctx)
{
	struct doc_ctx *x = ctx;

	if (!strcmp(key, "mediaType"))
		return get_string(j, &x->d->media_type, key);
	if (!strcmp(key, "manifests")) {
		x->d->has_manifests = true;
		return read_descs(j, x->d, x->c, key);
	}
	if (!strcmp(key, "layers")) {
		x->d->has_layers = true;
		return read_descs(j, x->d, NULL, key);
	}
	if (!strcmp(key, "config")) {
		desc_free(&x->d->config);
		return read_desc(j, &x->d->config);
	}
	return hm_json_skip(j);
}

/* A manifest or an index; its "manifests" go to c. */
static int parse_doc(const char *text, struct doc *d, struct chooser *c, char *err, size_t errlen)
{
	struct doc_ctx x = { d, c };
	struct hm_json j;

	hm_json_init(&j, text, strlen(text));
	if (json_object(&j, "the document", false, doc_member, &x) == 0 && hm_json_end(&j) == 0)
		return 0;
	snprintf(err, errlen, "%s", j.err[0] ? j.err : "invalid JSON");
	return -1;
}

/* ---- the image config ---------------------------------------------------- */

static int run_config_member(struct hm_json *j, const char *key, void *ctx)
{
	struct image *img = ctx;

	if (!strcmp(key, "Entrypoint"))
		return get_strings(j, &img->entrypoint, key);
	if (!strcmp(key, "Cmd"))
		return get_strings(j, &img->cmd, key);
	if (!strcmp(key, "Env"))
		return get_strings(j, &img->env, key);
	if (strcmp(key, "WorkingDir"))
		return hm_json_skip(j);
	if (hm_json_peek(j) != HM_JSON_NULL)
		return get_string(j, &img->workdir, key);
	free(img->workdir);
	img->workdir = NULL;
	return hm_json_null(j);
}

static int config_member(struct hm_json *j, const char *key, void *ctx)
{
	struct image *img = ctx;

	if (!strcmp(key, "architecture"))
		return get_string(j, &img->arch, key);
	if (!strcmp(key, "os"))
		return get_string(j, &img->os, key);
	if (strcmp(key, "config"))
		return hm_json_skip(j);
	return json_object(j, "\"config\"", true, run_config_member, ctx);
}

static int parse_config(const char *text, struct image *img, char *err, size_t errlen)
{
	struct hm_json j;

	hm_json_init(&j, text, strlen(text));
	if (json_object(&j, "the image config", false, config_member, img) == 0
	 && hm_json_end(&j) == 0) {
		if (!img->workdir)
			img->workdir = hr_strdup("");
		return 0;
	}
	snprintf(err, errlen, "%s", j.err[0] ? j.err : "invalid JSON");
	return -1;
}

/* ---- the steps ------------------------------------------------------------ */

/* index.json: small, regular, read once. */
static char *read_index(const char *path, uint64_t max)
{
	struct stat st;
	char *text, a[32], b[32];
	size_t got = 0;
	int fd = open_regular(path, "index.json", &st);

	if (fd < 0)
		return NULL;
	if ((uint64_t)st.st_size > max) {
		msg("%s is %s, over the %s limit for JSON documents (--max-json raises it)", path,
			human_size((uint64_t)st.st_size, a), human_size(max, b));
		close(fd);
		return NULL;
	}
	text = hr_malloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, text + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	text[got] = 0;
	return text;
}

/* The manifest descriptor that index.json names for tag. */
static int pick_from_index(const char *dir, const char *tag, const char *arch, uint64_t max,
		struct desc *out)
{
	char *path = hr_asprintf("%s/index.json", dir), *text, err[160];
	struct chooser c = { .top = true, .tag = tag, .arch = arch };
	struct doc d = { 0 };
	int rc = -1;

	text = read_index(path, max);
	if (!text)
		goto out;
	if (parse_doc(text, &d, &c, err, sizeof(err))) {
		msg("%s: malformed JSON: %s", path, err);
		goto out;
	}
	if (!d.has_manifests || c.n == 0) {
		msg("%s: %s", path, d.has_manifests ? "the \"manifests\" array is empty"
			: "no \"manifests\" array (not an OCI image layout?)");
		goto out;
	}
	if (!c.n_tagged && !tag && c.n == 1) {	/* the only manifest */
		c.top = false;
		consider(&c, &c.first);
		memset(&c.first, 0, sizeof(c.first));
	}
	if (!c.n_tagged && c.top) {
		msg("%s: no manifest tagged \"%s\" (the index has: %s)", path,
			tag ? tag : "latest", c.names);
		goto out;
	}
	if (c.best_rank == 0) {
		msg("%s: no manifest for linux/%s%s%s (it has: %s); this tool boots %s guests",
			path, arch, tag ? " tagged " : "", tag ? tag : "", c.platforms, arch);
		goto out;
	}
	*out = c.best;
	memset(&c.best, 0, sizeof(c.best));
	rc = 0;
out:
	desc_free(&c.best);
	desc_free(&c.first);
	doc_free(&d);
	free(text);
	free(path);
	return rc;
}

/* Follows image indexes down from *m to a manifest, parsed into d. */
static int read_manifest(struct image *img, const char *arch, uint64_t max,
		struct desc *m, struct doc *d)
{
	int depth;

	for (depth = 0; depth <= MAX_NESTING; depth++) {
		struct chooser c = { .arch = arch };
		char *text = NULL, err[160];

		if (!m->has_size) {
			msg("manifest %s: its descriptor has no \"size\"", m->digest ? m->digest : "?");
			return -1;
		}
		if (blob_slurp(img->dir, m->digest, m->size, max, "manifest", &text))
			return -1;
		doc_free(d);
		if (parse_doc(text, d, &c, err, sizeof(err))) {
			msg("manifest %s: not valid JSON: %s", m->digest, err);
			free(text);
			desc_free(&c.best);
			return -1;
		}
		free(text);
		if (!is_index_type(m->media_type) && !is_index_type(d->media_type)
		 && !(d->has_manifests && !d->has_layers)) {
			desc_free(&c.best);
			return 0;
		}
		if (c.best_rank == 0) {
			msg("image index %s has no manifest for linux/%s (it has: %s)", m->digest,
				arch, c.n ? c.platforms : "nothing");
			desc_free(&c.best);
			return -1;
		}
		desc_free(m);
		*m = c.best;
	}
	msg("image indexes nested more than %d deep", MAX_NESTING);
	return -1;
}

/* A config that names its platform (both fields are optional) must name
 * the target's: a manifest picked without a platform may be another's. */
static bool platform_ok(const struct image *img, const struct target *tg)
{
	return (!img->os || !img->os[0] || !strcmp(img->os, "linux"))
		&& (!img->arch || !img->arch[0] || !strcmp(img->arch, tg->oci_arch));
}

static int read_config(struct image *img, const struct doc *man, const char *mdigest,
		uint64_t max, const struct target *tg)
{
	const struct desc *cd = &man->config;
	char *text = NULL, err[160];
	int rc;

	if (!cd->digest) {
		msg("manifest %s has no \"config\" descriptor", mdigest);
		return -1;
	}
	if (!cd->has_size) {
		msg("manifest %s: the config descriptor has no \"size\"", mdigest);
		return -1;
	}
	if (blob_slurp(img->dir, cd->digest, cd->size, max, "image config", &text))
		return -1;
	rc = parse_config(text, img, err, sizeof(err));
	if (rc)
		msg("image config %s: not valid: %s", cd->digest, err);
	else if (!platform_ok(img, tg)) {
		msg("image config %s is for %s/%s, not linux/%s: this image has no manifest for "
			"linux/%s (--arch picks the guest)", cd->digest, img->os ? img->os : "linux",
			img->arch ? img->arch : "?", tg->oci_arch, tg->oci_arch);
		rc = -1;
	}
	free(text);
	return rc;
}

static int take_layers(struct image *img, const struct doc *man, const char *mdigest)
{
	size_t i;

	if (!man->has_layers) {
		msg("manifest %s has no \"layers\" array", mdigest);
		return -1;
	}
	img->layers = hr_calloc(man->n_layers, sizeof(*img->layers));
	for (i = 0; i < man->n_layers; i++) {
		const struct desc *d = &man->layers[i];
		struct layer *l = &img->layers[i];
		const char *mt = d->media_type ? d->media_type : "";

		if (!d->digest || !d->has_size || strlen(d->digest) >= sizeof(l->digest)) {
			msg("manifest %s: layer %zu has no valid digest and size", mdigest, i + 1);
			return -1;
		}
		if ((strstr(mt, "nondistributable") || strstr(mt, "foreign")) && d->has_urls) {
			char *p = hr_asprintf("%s/blobs/sha256/%s", img->dir,
				strlen(d->digest) > 7 ? d->digest + 7 : "");
			struct stat st;
			bool missing = lstat(p, &st) != 0;

			free(p);
			if (missing) {
				msg("layer %zu/%zu: %s is a non-distributable layer that is not in the "
					"layout (hypeman does not download)", i + 1, man->n_layers, d->digest);
				return -1;
			}
		}
		snprintf(l->digest, sizeof(l->digest), "%s", d->digest);
		l->size = d->size;
		l->media_type = hr_strdup(mt);
		img->n_layers = i + 1;
		img->layer_bytes += d->size;
	}
	return 0;
}

int oci_load(const char *dir, const char *tag, const struct target *tg,
		uint64_t max_json, struct image *img)
{
	struct desc m = { 0 };
	struct doc man = { 0 };
	struct stat st;
	char digest[80];
	int rc = -1;

	memset(img, 0, sizeof(*img));
	img->dir = hr_strdup(dir);
	img->tag = tag ? hr_strdup(tag) : NULL;
	if (stat(dir, &st)) {
		msg("%s: %s (want an OCI image layout directory)", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		msg("%s: not a directory (want an OCI image layout directory)", dir);
		return -1;
	}
	if (pick_from_index(dir, tag, tg->oci_arch, max_json, &m)
	 || read_manifest(img, tg->oci_arch, max_json, &m, &man))
		goto out;
	snprintf(digest, sizeof(digest), "%s", m.digest);
	if (read_config(img, &man, digest, max_json, tg) || take_layers(img, &man, digest))
		goto out;
	rc = 0;
out:
	desc_free(&m);
	doc_free(&man);
	return rc;
}

void oci_free(struct image *img)
{
	size_t i;

	for (i = 0; i < img->n_layers; i++)
		free(img->layers[i].media_type);
	free(img->layers);
	strv_free(&img->entrypoint);
	strv_free(&img->cmd);
	strv_free(&img->env);
	free(img->workdir);
	free(img->os);
	free(img->arch);
	free(img->dir);
	free(img->tag);
	memset(img, 0, sizeof(*img));
}
