/*
 * hypeman run: where the image is (see source.h).
 *
 * IMAGE is a path first: the longest prefix before a ':' that exists is
 * the layout, the rest its tag. Only when nothing exists is IMAGE read as
 * a registry reference, with the grammar docker and skopeo use
 * (distribution's reference package: [HOST[:PORT]/]NAME[:TAG][@DIGEST],
 * NAME lower-case components joined by '.', '_', "__" or dashes), so that
 * the message can give the skopeo command for exactly that image.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "source.h"
#include "util.h"

#define EXAMPLE "debian:bookworm"
#define LOWER_DIGITS "abcdefghijklmnopqrstuvwxyz0123456789"
#define ALNUM LOWER_DIGITS "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

/* How many of the N bytes at S are in SET. */
static size_t span(const char *s, size_t n, const char *set)
{
	size_t i = 0;

	while (i < n && s[i] && strchr(set, s[i]))
		i++;
	return i;
}

/* A repository path component: [a-z0-9]+ joined by '.', '_', "__" or
 * dashes. */
static bool path_component(const char *s, size_t n)
{
	size_t i = 0, run;

	for (;;) {
		run = span(s + i, n - i, LOWER_DIGITS);
		if (run == 0)
			return false;
		i += run;
		if (i == n)
			return true;
		if (s[i] == '-')
			i += span(s + i, n - i, "-");
		else if (s[i] == '_')
			i += i + 1 < n && s[i + 1] == '_' ? 2 : 1;
		else if (s[i] == '.')
			i++;
		else
			return false;
	}
}

/* A registry host: alphanumeric labels (dashes inside) joined by '.',
 * and an optional :PORT. */
static bool domain(const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n);
	size_t host = colon ? (size_t)(colon - s) : n, i = 0, run;

	if (colon && (host + 1 == n || span(colon + 1, n - host - 1, "0123456789") != n - host - 1))
		return false;
	while (i < host) {
		run = span(s + i, host - i, ALNUM "-");
		if (run == 0 || s[i] == '-' || s[i + run - 1] == '-')
			return false;
		i += run;
		if (i < host && (s[i] != '.' || ++i == host))
			return false;
	}
	return host > 0;
}

/* NAME (N bytes): [HOST[:PORT]/]component[/component...]; its last
 * component into LAST. */
static bool repository(const char *s, size_t n, char last[HR_SOURCE_NAME_MAX])
{
	const char *slash = memchr(s, '/', n), *end = s + n, *c;
	size_t first = slash ? (size_t)(slash - s) : n;

	if (n == 0 || n >= HR_SOURCE_NAME_MAX)
		return false;
	c = s;
	/* docker's rule: the first component names a host when it has a '.'
	 * or a ':', or is "localhost", or has upper-case letters */
	if (slash && (memchr(s, '.', first) || memchr(s, ':', first)
	 || span(s, first, LOWER_DIGITS "-_") < first || (first == 9 && !memcmp(s, "localhost", 9)))) {
		if (!domain(s, first))
			return false;
		c = slash + 1;
	}
	for (;;) {
		const char *next = memchr(c, '/', (size_t)(end - c));
		size_t len = next ? (size_t)(next - c) : (size_t)(end - c);

		if (!path_component(c, len))
			return false;
		if (!next) {
			snprintf(last, HR_SOURCE_NAME_MAX, "%.*s", (int)len, c);
			return true;
		}
		c = next + 1;
	}
}

bool hr_source_reference(const char *arg, char name[HR_SOURCE_NAME_MAX],
		char tag[HR_SOURCE_NAME_MAX])
{
	const char *at = strchr(arg, '@'), *end = at ? at : arg + strlen(arg), *slash, *colon;
	const char *hex = at ? hr_after(at + 1, "sha256:") : NULL;

	if (at && !(hex && strlen(hex) == 64 && strspn(hex, "0123456789abcdef") == 64))
		return false;
	slash = memrchr(arg, '/', (size_t)(end - arg));
	colon = memrchr(slash ? slash : arg, ':', (size_t)(end - (slash ? slash : arg)));
	snprintf(tag, HR_SOURCE_NAME_MAX, "latest");
	if (colon) {
		size_t len = (size_t)(end - colon - 1);

		if (len == 0 || len > 128 || colon[1] == '.' || colon[1] == '-'
		 || span(colon + 1, len, ALNUM "_.-") < len)
			return false;
		snprintf(tag, HR_SOURCE_NAME_MAX, "%.*s", (int)len, colon + 1);
	}
	return repository(arg, (size_t)((colon ? colon : end) - arg), name);
}

void hr_source_how(const char *ref)
{
	char name[HR_SOURCE_NAME_MAX], tag[HR_SOURCE_NAME_MAX];
	bool example = !ref || !hr_source_reference(ref, name, tag);

	if (example)
		hr_source_reference(ref = EXAMPLE, name, tag);
	hr_msg("make an OCI image layout with skopeo (apt-get install skopeo)%s, then run it:\n"
		"    skopeo copy docker://%s oci:%s:%s\n    hypeman run %s:%s", example
		? ", e.g. of Debian's image on Docker Hub" : "", ref, name, tag, name, tag);
	if (example)
		hr_msg("an archive of one works too: skopeo copy ... oci-archive:FILE, or docker save "
			"-o FILE IMAGE from Docker 25 on");
}

/* Nothing at ARG: what it may have been meant as. A bare word with a
 * dot ("image.tar") is taken as a file name, not as a repository. */
static void not_found(const char *arg, int err)
{
	char name[HR_SOURCE_NAME_MAX], tag[HR_SOURCE_NAME_MAX];

	if (err == ENOENT && hr_source_reference(arg, name, tag)
	 && (strpbrk(arg, ":/@") || !strchr(arg, '.'))) {
		hr_msg("%s: no such file or directory here; hypeman run does not pull images from "
			"registries", arg);
		hr_source_how(arg);
		return;
	}
	hr_msg("%s: %s (want an OCI image layout: a directory, or an archive of one)", arg,
		strerror(err));
}

int hr_source_find(const char *arg, struct hr_source *s)
{
	const char *colon;
	struct stat st;
	int err;

	memset(s, 0, sizeof(*s));
	if (stat(arg, &st) == 0) {
		s->path = hr_strdup(arg);
		return 0;
	}
	err = errno;
	for (colon = strrchr(arg, ':'); colon; colon = memrchr(arg, ':', (size_t)(colon - arg))) {
		char *p = hr_strndup(arg, (size_t)(colon - arg));

		if (colon[1] && stat(p, &st) == 0) {
			s->path = p;
			s->tag = hr_strdup(colon + 1);
			return 0;
		}
		free(p);
	}
	not_found(arg, err);
	return 1;
}

void hr_source_free(struct hr_source *s)
{
	free(s->path);
	free(s->tag);
	memset(s, 0, sizeof(*s));
}
