/*
 * libFuzzer target: the module indexes (hypeman/moddep.c). The input is
 * five NUL-separated texts: modules.dep, modules.softdep, modules.alias,
 * modules.builtin and the initrd's module list; missing ones are NULL
 * (the list: empty). Also what the modules phase asks of the parsed
 * modules.alias for each listed name (its kind, buses, patterns against
 * the list's names as modaliases). Built and run by run.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "moddep.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void aliases(char **part, char **names, int n)
{
	struct hm_moddb *db = hm_moddb_new(part[0], part[1], part[2], part[3]);
	char *buses[4];
	int i, nb = 0;

	if (!db)
		return;
	for (i = 0; i < n; i++) {
		(void)hm_module_kind(db, names[i]);
		(void)hm_module_matches(db, names[i], names, n);
		(void)hm_module_serves_fs(db, names[i], "ext4");
		hm_module_buses(db, names[i], buses, 4, &nb);
	}
	while (nb > 0)
		free(buses[--nb]);
	hm_moddb_free(db);
}

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
		aliases(part, wanted, n);
	}
	free(wanted);
	free(copy);
	return 0;
}
