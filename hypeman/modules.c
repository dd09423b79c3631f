/*
 * Phase 2 (modules): load the modules the initrd lists (build-time list in
 * /etc/hypeman/modules), with their dependencies and softdeps resolved
 * from the initrd's modules.dep, modules.softdep, modules.alias and
 * modules.builtin (moddep.c). One finit_module(2) per module, in-process:
 * no fork, no modprobe.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += modules.o

#include "libbb.h"
#include "../../modutils/modutils.h"
#include "hypeman.h"
#include "moddep.h"

static char *read_index(const char *dir, const char *name)
{
	char *path = concat_path_file(dir, name);
	char *text = xmalloc_open_read_close(path, NULL);

	free(path);
	return text;
}

void FAST_FUNC hm_load_modules(void)
{
	struct utsname uts;
	struct hm_modplan plan;
	char *list, *dir, *dep, *softdep, *alias, *builtin;
	char **wanted = NULL;
	int n_wanted, i, loaded = 0, failed = 0;

	hm_phase_begin("modules");
	list = xmalloc_open_read_close(HM_MODULE_LIST, NULL);
	if (!list) {
		hm_phase_end("modules", "no module list in the initrd (%s): nothing to load", HM_MODULE_LIST);
		return;
	}
	uname(&uts);
	dir = concat_path_file("/lib/modules", uts.release);
	dep = read_index(dir, "modules.dep");
	if (!dep) {
		hm_log(HM_ERROR, "modules", "no %s/modules.dep: the initrd's modules are not for kernel %s",
			dir, uts.release);
		free(list);
		free(dir);
		return;
	}
	softdep = read_index(dir, "modules.softdep");
	alias = read_index(dir, "modules.alias");
	builtin = read_index(dir, "modules.builtin");
	n_wanted = hm_modlist_parse(list, &wanted);
	if (n_wanted < 0 || hm_modplan_build(dep, softdep, alias, builtin, wanted, n_wanted, &plan) != 0) {
		hm_log(HM_ERROR, "modules", "cannot resolve module dependencies (out of memory)");
		goto out;
	}
	for (i = 0; i < plan.n_missing; i++)
		hm_log(HM_ERROR, "modules", "module %s: not in the initrd and not built in", plan.missing[i]);
	for (i = 0; i < plan.n_builtin; i++)
		hm_log(HM_INFO, "modules", "module %s: built into the kernel", plan.builtin[i]);
	for (i = 0; i < plan.n; i++) {
		char *path = concat_path_file(dir, plan.items[i].path);
		int rc = bb_init_module(path, "");
		free(path);
		if (rc == 0) {
			loaded++;
			hm_log(HM_INFO, "modules", "loaded %s", plan.items[i].name);
		} else if (rc == EEXIST) {
			hm_log(HM_INFO, "modules", "%s already loaded", plan.items[i].name);
		} else {
			int err = rc < 0 ? -rc : rc;
			/* a softdep alternative (crc32c-intel on a CPU
			 * without SSE4.2) may fail: the other one serves */
			if (!plan.items[i].optional)
				failed++;
			hm_log_errno(plan.items[i].optional ? HM_WARN : HM_ERROR, "modules", err,
				"loading %s (%s) failed", plan.items[i].name, plan.items[i].path);
		}
	}
	hm_modplan_free(&plan);
	hm_phase_end("modules", "%d modules loaded, %d failed", loaded, failed);
 out:
	free(wanted);
	free(list);
	free(dir);
	free(dep);
	free(softdep);
	free(alias);
	free(builtin);
}
