/*
 * libFuzzer target: the JSON documents of an OCI image layout as
 * hypeman run reads them (host/ocidoc.c): the input as index.json (a tag
 * asked for, and none), as an image index or manifest, and as an image
 * config (its rootfs checked against one and two layers). The documents come from whoever made the image; the tool reads
 * them as root.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ocidoc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* TEXT as an index or manifest, with a chooser of its manifests. */
static void document(const char *text, int top, const char *tag)
{
	struct hr_ocidoc_chooser c = { .top = top, .tag = tag, .arch = "amd64" };
	struct hr_ocidoc d = { 0 };
	char err[160];

	if (hr_ocidoc_parse(text, &d, &c, err, sizeof(err)) == 0) {
		hr_ocidoc_take_only(&c);
		if (c.best_rank < 0 || c.best_rank > 2 || strlen(c.names) >= sizeof(c.names)
		 || (d.n_layers && !d.layers))
			abort();
	}
	hr_ocidoc_desc_free(&c.best);
	hr_ocidoc_desc_free(&c.first);
	hr_ocidoc_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hr_ocidoc_config cfg = { 0 };
	char *text = malloc(size + 1), err[160];

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';	/* as the tool reads a document: NUL-terminated */
	document(text, 1, NULL);
	document(text, 1, "latest");
	document(text, 0, NULL);
	if (hr_ocidoc_config(text, &cfg, err, sizeof(err)) == 0) {
		if (!cfg.workdir)
			abort();
		/* accepted: as many diff_ids as layers, each 71 bytes */
		if (hr_ocidoc_rootfs(&cfg, 1, err, sizeof(err)) == 0
		 && (cfg.diff_ids.n != 1 || strlen(cfg.diff_ids.v[0]) != 71))
			abort();
		if (hr_ocidoc_rootfs(&cfg, 2, err, sizeof(err)) == 0 && cfg.diff_ids.n != 2)
			abort();
	}
	hr_ocidoc_config_free(&cfg);
	free(text);
	return 0;
}
