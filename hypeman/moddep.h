/*
 * Kernel module load order from depmod's text files, modprobe style.
 *
 * Pure: takes the file contents, allocates the plan, does no I/O, so the
 * caller decides how to read files and load modules (finit_module).
 */
#ifndef HM_MODDEP_H
#define HM_MODDEP_H 1

#include <stdbool.h>

struct hm_modload {
	char *path;	/* as in modules.dep: relative to /lib/modules/<release> */
	char *name;	/* module name, '-' turned into '_' (as in /sys/module) */
	bool optional;	/* pulled in by a softdep: a failed load is a WARN */
};

struct hm_modplan {
	struct hm_modload *items;	/* load in this order */
	int n;
	char **missing;		/* requested names found nowhere (as given) */
	int n_missing;
	char **builtin;		/* requested or softdep modules built in */
	int n_builtin;
};

/*
 * Plan the loads for WANTED[0..N_WANTED) in order.  DEP, SOFTDEP, ALIAS,
 * BUILTIN are the texts of modules.dep, modules.softdep, modules.alias and
 * modules.builtin; any may be NULL.  For each module, recursively: its
 * softdep "pre:" modules (a line without pre:/post: counts as pre:), its
 * modules.dep dependencies in load order (the reverse of how they are
 * listed), the module itself, its "post:" modules.  Each file appears once,
 * at its first place.  A name is a module name ('-' == '_'), a module in
 * modules.builtin (counted as loaded, listed in ->builtin, never loaded), or
 * an exact alias from modules.alias (all its modules).  Softdep modules, and
 * the modules of a requested alias that has several, are optional; a
 * requested module and its modules.dep dependencies are not.  A requested
 * name found nowhere goes to ->missing; an unknown softdep name is
 * ignored, as modprobe does.  Unlike kmod 30, all softdep lines of a
 * module count (not only the first) and words before "pre:" are used.
 * Returns 0, or -1 with errno (ENOMEM; ELOOP for an absurdly deep chain)
 * and PLAN emptied.  Free with hm_modplan_free() in both cases.
 */
int hm_modplan_build(const char *dep, const char *softdep, const char *alias,
		const char *builtin, char *const *wanted, int n_wanted,
		struct hm_modplan *plan);
void hm_modplan_free(struct hm_modplan *plan);

/*
 * Split the text of the initrd's module list in place: one name per line,
 * '#' starts a comment, blank lines skipped.  *NAMES gets a malloc'ed
 * array of pointers into TEXT (free it, not the names).  Returns the count,
 * or -1 (ENOMEM).
 */
int hm_modlist_parse(char *text, char ***names);

#endif
