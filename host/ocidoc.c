/*
 * hypeman run: the JSON documents of an OCI image layout (see ocidoc.h):
 * index.json and image indexes, manifests, image configs, read from text.
 *
 * They are read with the contract layer's pull reader (contract/json.c)
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
#include "ocidoc.h"
#include "util.h"

#define REF_NAME "org.opencontainers.image.ref.name"
#define IMAGE_NAME "io.containerd.image.name"	/* docker save writes both */
#define LIST_MAX HR_OCIDOC_LIST_MAX

void hr_ocidoc_desc_free(struct hr_ocidoc_desc *d)
{
	free(d->media_type);
	free(d->digest);
	free(d->ref);
	free(d->image_name);
	free(d->os);
	free(d->arch);
	free(d->variant);
	memset(d, 0, sizeof(*d));
}

bool hr_ocidoc_is_index(const char *mt)
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
static int get_strings(struct hm_json *j, struct hr_strv *v, const char *key)
{
	enum hm_json_type t = hm_json_peek(j);
	char *s, why[80];
	int r;

	hr_strv_free(v);
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
		hr_strv_push(v, s);
		free(s);
	}
	return r;
}

/* Reads or skips the value of member KEY. */
typedef int member_fn(struct hm_json *j, const char *key, void *ctx);

/* The object that comes next in J (null too, when NULL_OK), with one call
 * of FN per member. WHAT names the object in the error. 0, or -1 with
 * j->err set. */
static int json_object(struct hm_json *j, const char *what, bool null_ok, member_fn *fn,
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
	struct hr_ocidoc_desc *d = ctx;

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
	struct hr_ocidoc_desc *d = ctx;

	if (!strcmp(key, REF_NAME))
		return get_string(j, &d->ref, key);
	return !strcmp(key, IMAGE_NAME) ? get_string(j, &d->image_name, key) : hm_json_skip(j);
}

static int read_size(struct hm_json *j, struct hr_ocidoc_desc *d)
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
	struct hr_ocidoc_desc *d = ctx;

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
static int read_desc(struct hm_json *j, struct hr_ocidoc_desc *d)
{
	memset(d, 0, sizeof(*d));
	return json_object(j, "a descriptor", false, desc_member, d);
}

/* ---- choosing a manifest ------------------------------------------------ */

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

/* NAME is TAG, or TAG without its ":latest". */
static bool same_name(const char *name, const char *tag)
{
	size_t n = strlen(tag);

	return !strcmp(name, tag) || (!strchr(tag, ':') && !strncmp(name, tag, n)
		&& !strcmp(name + n, ":latest"));
}

/* A full reference "docker.io/library/x:1.0" also answers to the short
 * names docker uses: "library/x:1.0", "x:1.0", and "x" for "x:latest". */
static bool name_matches(const char *name, const char *tag)
{
	const char *hub = name ? hr_after(name, "docker.io/") : NULL;
	const char *official = hub ? hr_after(hub, "library/") : NULL;

	return name && (tag_matches(name, tag) || same_name(name, tag)
		|| (hub && same_name(hub, tag)) || (official && same_name(official, tag)));
}

/* 2: the target's platform, 1: no platform given, 0: another platform. */
static int platform_rank(const struct hr_ocidoc_desc *d, const char *arch)
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

	for (p = list; (p = strstr(p, s)) != NULL; p++) {
		if ((p == list || (p - list >= 2 && p[-2] == ',')) && (p[n] == 0 || p[n] == ','))
			return true;
		if (*p == '\0')
			break;  /* an empty s matches at the end too: not past it */
	}
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

static void note_platform(struct hr_ocidoc_chooser *c, const struct hr_ocidoc_desc *d)
{
	char p[160];

	if (!d->has_platform)
		snprintf(p, sizeof(p), "(no platform)");
	else
		snprintf(p, sizeof(p), "%.40s/%.40s%s%.20s", d->os ? d->os : "?",
			d->arch ? d->arch : "?", d->variant ? "/" : "", d->variant ? d->variant : "");
	list_add(c->platforms, p);
}

void hr_ocidoc_consider(struct hr_ocidoc_chooser *c, struct hr_ocidoc_desc *d)
{
	int rank = platform_rank(d, c->arch);

	note_platform(c, d);
	if (rank > c->best_rank) {
		hr_ocidoc_desc_free(&c->best);
		c->best = *d;
		c->best_rank = rank;
		c->n_ties = 0;
	} else {
		hr_ocidoc_desc_free(d);
	}
}

/* Takes d (freed or kept). */
static void offer(struct hr_ocidoc_chooser *c, struct hr_ocidoc_desc *d)
{
	c->n++;
	if (!c->top) {
		hr_ocidoc_consider(c, d);
		return;
	}
	list_add(c->names, d->image_name ? d->image_name : d->ref ? d->ref : "(untagged)");
	if (tag_matches(d->ref, c->tag ? c->tag : "latest")
	 || name_matches(d->image_name, c->tag ? c->tag : "latest")) {
		c->n_tagged++;
		if (c->best_rank && platform_rank(d, c->arch) == c->best_rank
		 && (!d->digest || !c->best.digest || strcmp(d->digest, c->best.digest)))
			c->n_ties++;
		hr_ocidoc_consider(c, d);
	} else if (c->n == 1) {
		c->first = *d;
	} else {
		hr_ocidoc_desc_free(d);
	}
}

void hr_ocidoc_take_only(struct hr_ocidoc_chooser *c)
{
	if (c->top && !c->n_tagged && !c->tag && c->n == 1) {
		c->top = false;
		hr_ocidoc_consider(c, &c->first);
		memset(&c->first, 0, sizeof(c->first));
	}
}

/* ---- documents ---------------------------------------------------------- */

void hr_ocidoc_free(struct hr_ocidoc *d)
{
	size_t i;

	free(d->media_type);
	hr_ocidoc_desc_free(&d->config);
	for (i = 0; i < d->n_layers; i++)
		hr_ocidoc_desc_free(&d->layers[i]);
	free(d->layers);
	memset(d, 0, sizeof(*d));
}

static int read_descs(struct hm_json *j, struct hr_ocidoc *d, struct hr_ocidoc_chooser *c,
		const char *key)
{
	struct hr_ocidoc_desc one;
	char why[80];
	int r;

	snprintf(why, sizeof(why), "\"%s\" is not an array", key);
	if (hm_json_peek(j) != HM_JSON_ARRAY || hm_json_enter(j))
		return json_fail(j, why);
	while ((r = hm_json_next(j, NULL)) == 1) {
		if (read_desc(j, &one)) {
			hr_ocidoc_desc_free(&one);
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
	struct hr_ocidoc *d;
	struct hr_ocidoc_chooser *c;
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
		hr_ocidoc_desc_free(&x->d->config);
		return read_desc(j, &x->d->config);
	}
	return hm_json_skip(j);
}

int hr_ocidoc_parse(const char *text, struct hr_ocidoc *d, struct hr_ocidoc_chooser *c, char *err,
		size_t errlen)
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
	struct hr_ocidoc_config *img = ctx;

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

static int rootfs_member(struct hm_json *j, const char *key, void *ctx)
{
	struct hr_ocidoc_config *img = ctx;

	if (!strcmp(key, "type"))
		return get_string(j, &img->rootfs_type, key);
	if (!strcmp(key, "diff_ids"))
		return get_strings(j, &img->diff_ids, key);
	return hm_json_skip(j);
}

static int config_member(struct hm_json *j, const char *key, void *ctx)
{
	struct hr_ocidoc_config *img = ctx;

	if (!strcmp(key, "rootfs")) {
		img->has_rootfs = true;
		return json_object(j, "\"rootfs\"", false, rootfs_member, ctx);
	}
	if (!strcmp(key, "architecture"))
		return get_string(j, &img->arch, key);
	if (!strcmp(key, "os"))
		return get_string(j, &img->os, key);
	if (strcmp(key, "config"))
		return hm_json_skip(j);
	return json_object(j, "\"config\"", true, run_config_member, ctx);
}

int hr_ocidoc_config(const char *text, struct hr_ocidoc_config *img, char *err, size_t errlen)
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

/* "sha256:" and 64 lower-case hex digits, as the digest of a blob. */
static bool sha256_digest(const char *d)
{
	const char *hex = hr_after(d, "sha256:");

	return hex && strlen(hex) == 64 && strspn(hex, "0123456789abcdef") == 64;
}

int hr_ocidoc_rootfs(const struct hr_ocidoc_config *cfg, size_t n_layers, char *err,
		size_t errlen)
{
	char shown[100], n1[64], n2[64];
	size_t i;

	if (!cfg->has_rootfs || !cfg->rootfs_type) {
		snprintf(err, errlen, "no \"rootfs\"%s (the layers' uncompressed digests)",
			cfg->has_rootfs ? " \"type\"" : "");
		return -1;
	}
	if (strcmp(cfg->rootfs_type, "layers")) {
		snprintf(err, errlen, "rootfs.type is \"%s\", not \"layers\"",
			hr_printable(cfg->rootfs_type, shown, 40));
		return -1;
	}
	if (cfg->diff_ids.n != n_layers) {
		snprintf(err, errlen, "rootfs.diff_ids lists %s, the manifest %s",
			hr_count(cfg->diff_ids.n, "layer", "layers", n1),
			hr_count(n_layers, "layer", "layers", n2));
		return -1;
	}
	for (i = 0; i < n_layers; i++)
		if (!sha256_digest(cfg->diff_ids.v[i])) {
			snprintf(err, errlen, "rootfs.diff_ids[%zu] is \"%s\", not sha256: and 64 "
				"lower-case hex digits", i, hr_printable(cfg->diff_ids.v[i], shown, 90));
			return -1;
		}
	return 0;
}

void hr_ocidoc_config_free(struct hr_ocidoc_config *cfg)
{
	hr_strv_free(&cfg->entrypoint);
	hr_strv_free(&cfg->cmd);
	hr_strv_free(&cfg->env);
	free(cfg->workdir);
	free(cfg->os);
	free(cfg->arch);
	free(cfg->rootfs_type);
	hr_strv_free(&cfg->diff_ids);
	memset(cfg, 0, sizeof(*cfg));
}
