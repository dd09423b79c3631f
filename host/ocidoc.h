/*
 * hypeman run: the JSON documents of an OCI image layout, read from text
 * (ocidoc.c): descriptors, index.json and image indexes (one manifest
 * chosen as they are read), manifests, image configs. Pure: no files, no
 * messages of their own (errors come back in ERR); oci.c reads the
 * documents and says what went wrong where.
 */
#ifndef HR_OCIDOC_H
#define HR_OCIDOC_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util.h"

#define HR_OCIDOC_LIST_MAX 400	/* bytes of names listed in a message */

struct hr_ocidoc_desc {
	char *media_type, *digest, *os, *arch, *variant;
	char *ref;		/* org.opencontainers.image.ref.name: "1.0", or a reference */
	char *image_name;	/* io.containerd.image.name (docker save): a reference */
	uint64_t size;
	bool has_size, has_platform, has_urls;
};
void hr_ocidoc_desc_free(struct hr_ocidoc_desc *d);

/* Choosing a manifest from an index's "manifests", as they are read. */
struct hr_ocidoc_chooser {
	bool top;		/* index.json: the tag decides first */
	const char *tag;	/* NULL: none given (then "latest") */
	const char *arch;	/* the target's OCI architecture */
	struct hr_ocidoc_desc best, first;
	int best_rank;		/* 0: none yet; 2: the target's platform, 1: none named */
	size_t n, n_tagged;
	size_t n_ties;		/* top: other manifests as good as best (another digest) */
	char names[HR_OCIDOC_LIST_MAX], platforms[HR_OCIDOC_LIST_MAX];
};
/* Takes D as a candidate (kept as the best, or freed). */
void hr_ocidoc_consider(struct hr_ocidoc_chooser *c, struct hr_ocidoc_desc *d);
/* index.json with one manifest and no tag asked for: that one counts,
 * whatever its name (then C is no longer top). */
void hr_ocidoc_take_only(struct hr_ocidoc_chooser *c);

/* What a manifest or an index holds (the parts used here). */
struct hr_ocidoc {
	char *media_type;
	bool has_manifests, has_layers;
	struct hr_ocidoc_desc config;
	struct hr_ocidoc_desc *layers;
	size_t n_layers, cap_layers;
};
/* A manifest or an index (TEXT, NUL-terminated); its "manifests" go to C.
 * 0, or -1 with the reason in ERR. */
int hr_ocidoc_parse(const char *text, struct hr_ocidoc *d, struct hr_ocidoc_chooser *c,
		char *err, size_t errlen);
void hr_ocidoc_free(struct hr_ocidoc *d);
/* Whether MT is an image index's media type (OCI's or Docker's list). */
bool hr_ocidoc_is_index(const char *mt);

/* What the tool takes of an image config. */
struct hr_ocidoc_config {
	struct hr_strv entrypoint, cmd;
	struct hr_strv env;	/* "K=V", image order */
	char *workdir;		/* "" when the image sets none */
	char *os, *arch;	/* the config's platform; NULL when not given */
	bool has_rootfs;
	char *rootfs_type;	/* rootfs.type: "layers"; NULL when not given */
	struct hr_strv diff_ids;	/* rootfs.diff_ids: each layer's uncompressed digest */
};
/* An image config (TEXT, NUL-terminated). 0, or -1 with the reason in ERR. */
int hr_ocidoc_config(const char *text, struct hr_ocidoc_config *cfg, char *err, size_t errlen);
/* Whether CFG's rootfs fits a manifest of N_LAYERS layers: type "layers",
 * one diff_id per layer, each "sha256:" and 64 lower-case hex digits.
 * 0, or -1 with what is wrong in ERR. */
int hr_ocidoc_rootfs(const struct hr_ocidoc_config *cfg, size_t n_layers, char *err,
		size_t errlen);
void hr_ocidoc_config_free(struct hr_ocidoc_config *cfg);

#endif
