/*
 * libFuzzer target: the module indexes (hypeman/moddep.c). The input is
 * five NUL-separated texts: modules.dep, modules.softdep, modules.alias,
 * modules.builtin and the initrd's module list; missing ones are NULL
 * (the list: empty). Built and run by run.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "moddep.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *part[5] = { NULL }, *p, **wanted = NULL;
	struct hm_modplan plan;
	int i, n;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	/* split on NUL: each part is a C string in COPY */
	for (i = 0, p = copy; i < 5 && p <= copy + size; i++) {
		part[i] = p;
		p += strlen(p) + 1;
	}
	/* no list: the empty string at the end of COPY (written in place) */
	n = hm_modlist_parse(part[4] ? part[4] : copy + size, &wanted);
	if (n >= 0) {
		hm_modplan_build(part[0], part[1], part[2], part[3], wanted, n, &plan);
		hm_modplan_free(&plan);
	}
	free(wanted);
	free(copy);
	return 0;
}
