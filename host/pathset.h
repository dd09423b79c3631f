/*
 * hypeman run: a set of strings (pathset.c): the paths a layer wrote.
 */
#ifndef HR_PATHSET_H
#define HR_PATHSET_H 1

#include <stdbool.h>
#include <stddef.h>

struct hr_pathset {
	char **v;
	size_t n, cap;		/* cap: 0 or a power of two */
};

bool hr_pathset_has(const struct hr_pathset *ps, const char *s);
bool hr_pathset_add(struct hr_pathset *ps, const char *s);	/* false: was there */
void hr_pathset_clear(struct hr_pathset *ps);

#endif
