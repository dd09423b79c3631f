/*
 * hypeman run: where the image is (source.c). IMAGE[:TAG] names a path
 * that exists, an OCI image layout directory or an archive of one, and a
 * tag. hypeman run does not pull from registries: for a registry reference
 * it says so, with the skopeo command that makes a layout of the image.
 */
#ifndef HR_SOURCE_H
#define HR_SOURCE_H 1

#include <stdbool.h>
#include <stddef.h>

struct hr_source {
	char *path;	/* a directory or a file, as given */
	char *tag;	/* NULL: none given */
};

/* PATH or PATH:TAG, where PATH is the longest prefix before a ':' that
 * exists and TAG may itself hold ':' ("DIR:docker.io/x:1.0"). 0, or 1
 * after a message (nothing there: what it may be, and what to do). */
int hr_source_find(const char *arg, struct hr_source *s);
void hr_source_free(struct hr_source *s);

/* Whether ARG reads as a registry reference, as docker and skopeo read one
 * ([HOST[:PORT]/]NAME[:TAG][@sha256:HEX]), and the layout skopeo would make
 * of it: NAME's last component and the tag ("latest" when none). Pure. */
#define HR_SOURCE_NAME_MAX 256
bool hr_source_reference(const char *arg, char name[HR_SOURCE_NAME_MAX],
		char tag[HR_SOURCE_NAME_MAX]);

/* How to make a layout of the registry image REF (NULL: an example):
 * the skopeo command, then the hypeman run command, on stderr. */
void hr_source_how(const char *ref);

#endif
