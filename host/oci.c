/*
 * hypeman run: reading an OCI image through its layout (see oci.h): the
 * documents come from layout.c, verified, and are parsed by ocidoc.c;
 * here is the order they are read in and what is said when one is wrong.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "layout.h"
#include "oci.h"
#include "target.h"
#include "util.h"

#define MAX_NESTING 4		/* image indexes above the manifest */

/* The manifest descriptor that index.json names for tag. */
static int pick_from_index(const struct hr_layout *l, const char *tag, const char *arch,
		uint64_t max, struct hr_ocidoc_desc *out)
{
	const char *path = l->index_path;
	struct hr_ocidoc_chooser c = { .top = true, .tag = tag, .arch = arch };
	struct hr_ocidoc d = { 0 };
	char *text, err[160];
	int rc = -1;

	text = hr_layout_index(l, max);
	if (!text)
		goto out;
	if (hr_ocidoc_parse(text, &d, &c, err, sizeof(err))) {
		hr_msg("%s: malformed JSON: %s", path, err);
		goto out;
	}
	if (!d.has_manifests || c.n == 0) {
		hr_msg("%s: %s", path, d.has_manifests ? "the \"manifests\" array is empty"
			: "no \"manifests\" array (not an OCI image layout?)");
		goto out;
	}
	hr_ocidoc_take_only(&c);
	if (!c.n_tagged && c.top) {
		hr_msg("%s: no manifest tagged \"%s\" (the index has: %s)", path,
			tag ? tag : "latest", c.names);
		goto out;
	}
	if (c.best_rank == 0) {
		hr_msg("%s: no manifest for linux/%s%s%s (it has: %s); this tool boots %s guests",
			path, arch, tag ? " tagged " : "", tag ? tag : "", c.platforms, arch);
		goto out;
	}
	if (c.n_ties) {	/* docker save of several images: each is "latest" */
		hr_msg("%s: %zu images answer to \"%s\" (the index has: %s): name one, as "
			"IMAGE:NAME", path, c.n_ties + 1, tag ? tag : "latest", c.names);
		goto out;
	}
	*out = c.best;
	memset(&c.best, 0, sizeof(c.best));
	rc = 0;
out:
	hr_ocidoc_desc_free(&c.best);
	hr_ocidoc_desc_free(&c.first);
	hr_ocidoc_free(&d);
	free(text);
	return rc;
}

/* Follows image indexes down from *m to a manifest, parsed into d. */
static int read_manifest(const struct hr_layout *l, const char *arch, uint64_t max,
		struct hr_ocidoc_desc *m, struct hr_ocidoc *d)
{
	int depth;

	for (depth = 0; depth <= MAX_NESTING; depth++) {
		struct hr_ocidoc_chooser c = { .arch = arch };
		char *text = NULL, err[160];

		if (!m->has_size) {
			hr_msg("manifest %s: its descriptor has no \"size\"", m->digest ? m->digest : "?");
			return -1;
		}
		if (hr_layout_slurp(l, m->digest, m->size, max, "manifest", &text))
			return -1;
		hr_ocidoc_free(d);
		if (hr_ocidoc_parse(text, d, &c, err, sizeof(err))) {
			hr_msg("manifest %s: not valid JSON: %s", m->digest, err);
			free(text);
			hr_ocidoc_desc_free(&c.best);
			return -1;
		}
		free(text);
		if (!hr_ocidoc_is_index(m->media_type) && !hr_ocidoc_is_index(d->media_type)
		 && !(d->has_manifests && !d->has_layers)) {
			hr_ocidoc_desc_free(&c.best);
			return 0;
		}
		if (c.best_rank == 0) {
			hr_msg("image index %s has no manifest for linux/%s (it has: %s)", m->digest,
				arch, c.n ? c.platforms : "nothing");
			hr_ocidoc_desc_free(&c.best);
			return -1;
		}
		hr_ocidoc_desc_free(m);
		*m = c.best;
	}
	hr_msg("image indexes nested more than %d deep", MAX_NESTING);
	return -1;
}

/* A config that names its platform (both fields are optional) must name
 * the target's: a manifest picked without a platform may be another's. */
static bool platform_ok(const struct hr_ocidoc_config *img, const struct hr_target *tg)
{
	return (!img->os || !img->os[0] || !strcmp(img->os, "linux"))
		&& (!img->arch || !img->arch[0] || !strcmp(img->arch, tg->oci_arch));
}

static int read_config(const struct hr_layout *l, struct hr_ocidoc_config *img,
		const struct hr_ocidoc *man, const char *mdigest, uint64_t max,
		const struct hr_target *tg)
{
	const struct hr_ocidoc_desc *cd = &man->config;
	char *text = NULL, err[160];
	int rc;

	if (!cd->digest) {
		hr_msg("manifest %s has no \"config\" descriptor", mdigest);
		return -1;
	}
	if (!cd->has_size) {
		hr_msg("manifest %s: the config descriptor has no \"size\"", mdigest);
		return -1;
	}
	if (hr_layout_slurp(l, cd->digest, cd->size, max, "image config", &text))
		return -1;
	rc = hr_ocidoc_config(text, img, err, sizeof(err));
	if (rc)
		hr_msg("image config %s: not valid: %s", cd->digest, err);
	else if (!platform_ok(img, tg)) {
		hr_msg("image config %s is for %s/%s, not linux/%s: this image has no manifest for "
			"linux/%s (--arch picks the guest)", cd->digest, img->os ? img->os : "linux",
			img->arch ? img->arch : "?", tg->oci_arch, tg->oci_arch);
		rc = -1;
	}
	free(text);
	return rc;
}

static int take_layers(const struct hr_layout *lo, struct hr_image *img,
		const struct hr_ocidoc *man, const char *mdigest)
{
	size_t i;

	if (!man->has_layers) {
		hr_msg("manifest %s has no \"layers\" array", mdigest);
		return -1;
	}
	img->layers = hr_calloc(man->n_layers, sizeof(*img->layers));
	for (i = 0; i < man->n_layers; i++) {
		const struct hr_ocidoc_desc *d = &man->layers[i];
		struct hr_layer *l = &img->layers[i];
		const char *mt = d->media_type ? d->media_type : "";

		if (!d->digest || !d->has_size || strlen(d->digest) >= sizeof(l->digest)) {
			hr_msg("manifest %s: layer %zu has no valid digest and size", mdigest, i + 1);
			return -1;
		}
		if ((strstr(mt, "nondistributable") || strstr(mt, "foreign")) && d->has_urls
		 && !hr_layout_has_blob(lo, d->digest)) {
			hr_msg("layer %zu/%zu: %s is a non-distributable layer that is not in the "
				"layout (hypeman does not download)", i + 1, man->n_layers, d->digest);
			return -1;
		}
		snprintf(l->digest, sizeof(l->digest), "%s", d->digest);
		l->size = d->size;
		l->media_type = hr_strdup(mt);
		img->n_layers = i + 1;
		img->layer_bytes += d->size;
	}
	return 0;
}

/* Each layer's rootfs.diff_ids entry, checked against the manifest. */
static int take_diff_ids(struct hr_image *img, const char *cdigest)
{
	char err[300];
	size_t i;

	if (hr_ocidoc_rootfs(&img->config, img->n_layers, err, sizeof(err))) {
		hr_msg("image config %s: %s: refusing the image", cdigest, err);
		return -1;
	}
	for (i = 0; i < img->n_layers; i++)
		snprintf(img->layers[i].diff_id, sizeof(img->layers[i].diff_id), "%s",
			img->config.diff_ids.v[i]);
	return 0;
}

int hr_oci_load(const struct hr_layout *l, const char *tag, const struct hr_target *tg,
		uint64_t max_json, struct hr_image *img)
{
	struct hr_ocidoc_desc m = { 0 };
	struct hr_ocidoc man = { 0 };
	char digest[80];
	int rc = -1;

	memset(img, 0, sizeof(*img));
	img->tag = tag ? hr_strdup(tag) : NULL;
	if (pick_from_index(l, tag, tg->oci_arch, max_json, &m)
	 || read_manifest(l, tg->oci_arch, max_json, &m, &man))
		goto out;
	snprintf(digest, sizeof(digest), "%s", m.digest);
	if (read_config(l, &img->config, &man, digest, max_json, tg)
	 || take_layers(l, img, &man, digest) || take_diff_ids(img, man.config.digest))
		goto out;
	rc = 0;
out:
	hr_ocidoc_desc_free(&m);
	hr_ocidoc_free(&man);
	return rc;
}

void hr_oci_free(struct hr_image *img)
{
	size_t i;

	for (i = 0; i < img->n_layers; i++)
		free(img->layers[i].media_type);
	free(img->layers);
	hr_ocidoc_config_free(&img->config);
	free(img->tag);
	memset(img, 0, sizeof(*img));
}
