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
	int alt;	/* optional, and one of the modules of an alias that names
			 * several (crypto-crc32c: crc32c-intel, crc32c_generic):
			 * the group's number (1, 2...), shared with the others;
			 * once one of them loads, the rest are not needed.
			 * 0: not such an alternative */
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

/* The same in two steps, for several plans from one set of files: the
 * texts parsed once (NULL with errno ENOMEM; any text may be NULL), then
 * hm_moddb_plan as hm_modplan_build. */
struct hm_moddb;
struct hm_moddb *hm_moddb_new(const char *dep, const char *softdep,
		const char *alias, const char *builtin);
int hm_moddb_plan(const struct hm_moddb *db, char *const *wanted, int n_wanted,
		struct hm_modplan *plan);
void hm_moddb_free(struct hm_moddb *db);

/*
 * What decides whether a boot module is needed, from its modules.alias
 * lines (as DB parsed them; NAME a module name, '-' == '_'):
 *   HM_MOD_DRIVER  it has a device pattern ("pci:v00001AF4d*...",
 *                  "virtio:d00000002v*"): needed when a device's modalias
 *                  matches one (hm_module_matches);
 *   HM_MOD_FS      it has an "fs-TYPE" alias: needed when a disk of that
 *                  type is to be mounted (hm_module_serves_fs);
 *   HM_MOD_OTHER   neither: always needed.
 * Patterns longer than 511 bytes are ignored.
 */
enum hm_modkind { HM_MOD_OTHER, HM_MOD_DRIVER, HM_MOD_FS };
enum hm_modkind hm_module_kind(const struct hm_moddb *db, const char *name);
/* Whether one of NAME's patterns matches one of MODALIASES[0..N) (the
 * devices', as sysfs shows them), with fnmatch(3) as modprobe does. */
bool hm_module_matches(const struct hm_moddb *db, const char *name,
		char *const *modaliases, int n);
/*
 * The buses NAME's device patterns name (the "pci" of "pci:v0000...",
 * up to the first ':' or wildcard),
 * each appended once to BUSES[*N..CAP) as a malloc'ed string; those past
 * CAP are left out. 0, or -1 (ENOMEM).
 */
int hm_module_buses(const struct hm_moddb *db, const char *name, char **buses, int cap, int *n);
/* Whether NAME has the alias "fs-FSTYPE". */
bool hm_module_serves_fs(const struct hm_moddb *db, const char *name, const char *fstype);

/*
 * The options the kernel command line CMDLINE gives module NAME, as
 * finit_module(2) takes them (modprobe passes them the same way: the
 * kernel applies them by itself only to built-in code). Each word
 * "NAME.PARAM" or "NAME.PARAM=VALUE" ('-' == '_' in NAME; a word runs to
 * a blank outside double quotes, as the kernel splits the line) gives
 * "PARAM" or "PARAM=VALUE" with its quotes, which the kernel's parser of
 * module options reads the same way ("NAME.P=a b" gives "P=a b"), joined
 * by spaces. Every other word (root=, ro, console=, another module's
 * options) is left out. Returns a malloc'ed string, "" when there are
 * none, or NULL (ENOMEM).
 */
char *hm_module_cmdline_options(const char *cmdline, const char *name);

/*
 * Split the text of the initrd's module list in place: one name per line,
 * '#' starts a comment, blank lines skipped.  *NAMES gets a malloc'ed
 * array of pointers into TEXT (free it, not the names).  Returns the count,
 * or -1 (ENOMEM).
 */
int hm_modlist_parse(char *text, char ***names);

#endif
