/*
 * hypeman run: a set of paths (open addressing, FNV-1a). It holds the
 * paths a layer has written, so that the layer's whiteouts only remove
 * what lower layers left (as umoci's "upperPaths" do).
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include "pathset.h"
#include "util.h"

static uint64_t hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

/* The slot of s: where it is, or the empty slot where it would go. */
static size_t slot(const struct hr_pathset *ps, const char *s)
{
	size_t i = hash(s) & (ps->cap - 1);

	while (ps->v[i] && strcmp(ps->v[i], s))
		i = (i + 1) & (ps->cap - 1);
	return i;
}

static void grow(struct hr_pathset *ps)
{
	struct hr_pathset bigger = { hr_calloc(ps->cap ? 2 * ps->cap : 1024, sizeof(char *)),
		0, ps->cap ? 2 * ps->cap : 1024 };
	size_t i;

	for (i = 0; i < ps->cap; i++)
		if (ps->v[i])
			bigger.v[slot(&bigger, ps->v[i])] = ps->v[i];
	bigger.n = ps->n;
	free(ps->v);
	*ps = bigger;
}

bool hr_pathset_has(const struct hr_pathset *ps, const char *s)
{
	return ps->cap && ps->v[slot(ps, s)];
}

bool hr_pathset_add(struct hr_pathset *ps, const char *s)
{
	size_t i;

	if (2 * (ps->n + 1) > ps->cap)
		grow(ps);
	i = slot(ps, s);
	if (ps->v[i])
		return false;
	ps->v[i] = hr_strdup(s);
	ps->n++;
	return true;
}

void hr_pathset_clear(struct hr_pathset *ps)
{
	size_t i;

	for (i = 0; i < ps->cap; i++)
		free(ps->v[i]);
	free(ps->v);
	memset(ps, 0, sizeof(*ps));
}
