/*
 * hypeman run: --volume DISK:PATH[:ro|:rw|:overlay] (contract: config.json, volume_mounts).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "run.h"

/* contract: config.json: absolute, no "..", not "/". NULL, or what is wrong. */
static const char *bad_mount_path(const char *path)
{
	const char *p = path;
	bool any = false;

	if (path[0] != '/')
		return "is not absolute";
	while (*p) {
		size_t n;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return "may not contain \"..\"";
		any |= n && !(n == 1 && p[0] == '.');
		p += n;
	}
	return any ? NULL : "may not be \"/\"";
}

const char *parse_volume(const char *spec, struct volume *v, char *why, size_t whylen)
{
	const char *colon = strchr(spec, ':'), *path, *last, *bad;
	struct stat st;
	size_t plen;

	memset(v, 0, sizeof(*v));
	if (!colon || colon == spec || !colon[1] || colon[1] == ':') {
		snprintf(why, whylen, "--volume '%s': %s (want DISK:PATH[:ro|:rw|:overlay])",
			spec, colon == spec ? "no disk file" : "no mount path");
		return why;
	}
	v->disk = hr_strndup(spec, colon - spec);
	path = colon + 1;
	last = strrchr(path, ':');
	if (last && (!strcmp(last + 1, "ro") || !strcmp(last + 1, "rw") || !strcmp(last + 1, "overlay"))) {
		plen = last - path;
		v->mode = hr_strdup(last + 1);
	} else if (last) {
		snprintf(why, whylen, "--volume '%s': unknown mode '%s' (want ro, rw or overlay)",
			spec, last + 1);
		return why;
	} else {
		plen = strlen(path);
		v->mode = hr_strdup("rw");
	}
	if (plen == 0) {
		snprintf(why, whylen, "--volume '%s': no mount path (want DISK:PATH[:ro|:rw|:overlay])",
			spec);
		return why;
	}
	v->path = hr_strndup(path, plen);
	if ((bad = bad_mount_path(v->path)) != NULL) {
		snprintf(why, whylen, "--volume '%s': the mount path '%s' %s", spec, v->path, bad);
		return why;
	}
	if (!hm_utf8_valid(v->path)) {
		snprintf(why, whylen, "--volume: the mount path is not valid UTF-8");
		return why;
	}
	if (stat(v->disk, &st)) {
		snprintf(why, whylen, "--volume '%s': disk %s: %s", spec, v->disk, strerror(errno));
		return why;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		snprintf(why, whylen, "--volume '%s': disk %s is not a file or block device",
			spec, v->disk);
		return why;
	}
	return NULL;
}

void free_volume(struct volume *v)
{
	free(v->disk);
	free(v->path);
	free(v->mode);
	free(v->overlay_img);
}
