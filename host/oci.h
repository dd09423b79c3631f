/*
 * hypeman run: reading an OCI image (oci.c): index.json -> (image
 * indexes) -> the manifest for the tag and the target's platform -> the
 * image config and the layers, each document read once through the
 * layout (layout.h), parsed by ocidoc.c.
 */
#ifndef HR_OCI_H
#define HR_OCI_H 1

#include <stddef.h>
#include <stdint.h>
#include "ocidoc.h"

struct hr_layout;
struct hr_target;

struct hr_layer {
	char digest[72];
	char diff_id[72];	/* the config's rootfs.diff_ids[i]: its uncompressed digest */
	uint64_t size;
	char *media_type;
};

struct hr_image {
	char *tag;			/* NULL when none was given */
	struct hr_ocidoc_config config;	/* entrypoint, cmd, env, workdir */
	struct hr_layer *layers;
	size_t n_layers;
	uint64_t layer_bytes;		/* sum of the layer blob sizes */
};

/* Reads index.json, the manifest and the config (each document at most
 * max_json bytes, verified), picking the manifest for tag and the
 * target's platform. 0, or -1 after printing why. */
int hr_oci_load(const struct hr_layout *l, const char *tag, const struct hr_target *tg,
		uint64_t max_json, struct hr_image *img);
void hr_oci_free(struct hr_image *img);

#endif
